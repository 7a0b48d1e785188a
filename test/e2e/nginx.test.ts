/**
 * Behind a real load balancer (README "Scaling out", spec §3 replay, §4 followers, §6 several nodes): an
 * nginx the test starts on loopback, round robin over an issuer node and two followers, all on one
 * redis-server. Through nginx a code accepted once is REPLAY on every node, and 30 concurrent copies of one
 * code give exactly one OK; a revocation and a gateway deletion made on the issuer apply on every node
 * (checked on each node directly) by the followers' next poll, every ≤ 500 ms; and a follower SIGKILLed in
 * the middle of a load of fresh scans costs only the requests it held, each answered 502/503 by nginx,
 * never a hang; a lost scan sent again is answered by a survivor, and no scan is ever OK twice.
 *
 * nginx adds `X-Upstream: $upstream_addr` to every answer (test/support/nginx.ts): the node, or the nodes
 * in the order tried, that served the request.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Holder } from "../../src/holder/holder.ts";
import { json, type BatchAnswer, type GatewayMade, type RevocationMade } from "../support/api.ts";
import { PERSON_ID, PERSON_ID_2 } from "../support/ids.ts";
import { startNginx, type TestNginx } from "../support/nginx.ts";
import { issueAt, post, spawnNode, stopNode, waitFor, type NodeProcess } from "../support/node-process.ts";
import { pollUntil } from "../support/poll.ts";
import { startRedis, type TestRedis } from "../support/redis.ts";

const ADMIN = "nginx-admin-token";
const FEED = "nginx-feed-token";
/** The followers' poll interval: §4 asks for changes applied within 1 s, so a poll every ≤ 500 ms. */
const FOLLOW_INTERVAL_MS = 200;
/**
 * The hang guard on every request the test makes: above the most nginx may take on its own (connect 1 s +
 * read 5 s, twice with proxy_next_upstream_tries 2). A request without an answer by then is a hang.
 */
const ANSWER_TIMEOUT_MS = 13_000;
// nginx at 127.0.0.1 is the load balancer whose X-Forwarded-For the nodes believe (per-source 429, §4)
const COMMON = { YUKUAI_FEED_TOKEN: FEED, YUKUAI_WORKERS: "0", YUKUAI_TRUSTED_PROXIES: "127.0.0.1" };
const now = () => Math.floor(Date.now() / 1000);

let redis: TestRedis | undefined;
let lb: TestNginx | undefined;
let issuer: NodeProcess;
let followers: NodeProcess[] = [];
/** Every node spawned, for afterAll. */
const spawned: NodeProcess[] = [];
/** issuer, follower 1, follower 2. */
let nodes: NodeProcess[] = [];
/** A metro gateway's key (made on the issuer, known to every node). */
let metro = "";

const addr = (n: NodeProcess) => new URL(n.base).host;

interface Answer {
  /** 0: no answer within the timeout, or the connection failed (`text` says which). */
  status: number;
  /** nginx's X-Upstream: the nodes tried, comma-separated, "" when not through nginx. */
  upstream: string;
  batch: BatchAnswer | null;
  text: string;
}

/** `POST /v1/verify/batch` at `base`; never throws, never waits beyond ANSWER_TIMEOUT_MS. */
async function batch(base: string, key: string, scans: unknown[]): Promise<Answer> {
  try {
    const res = await fetch(`${base}/v1/verify/batch`, {
      method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({ scans }), signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS),
    });
    const text = await res.text();
    const isJson = (res.headers.get("content-type") ?? "").includes("json");
    return { status: res.status, upstream: res.headers.get("x-upstream") ?? "", batch: res.status === 200 && isJson ? (JSON.parse(text) as BatchAnswer) : null, text };
  } catch (e) {
    return { status: 0, upstream: "", batch: null, text: String(e) };
  }
}

/** The one node that answered: the last address nginx tried. */
const servedBy = (a: Answer) => a.upstream.split(",").at(-1)!.trim();

/** `yukuai_batches_total{transport="http"}` on `n`: HTTP batches it answered 200. */
async function httpBatches(n: NodeProcess): Promise<number> {
  const text = await (await fetch(`${n.base}/metrics`)).text();
  const m = /^yukuai_batches_total\{transport="http"\} (\d+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** Until every follower accepts gateway `key` (it takes new gateways at its next poll). */
async function knownEverywhere(key: string): Promise<void> {
  for (const f of followers) {
    // each 401 here counts toward the source's 20 a minute (§4): 100 ms apart, a poll (200 ms) costs ≤ 3
    await pollUntil(`${f.base} accepting the new gateway key`, async () => (await post(f.base, "/v1/verify/batch", { scans: [] }, key)).status === 200, { attempts: 50, pauseMs: 100 });
  }
}

beforeAll(async () => {
  redis = await startRedis();
  // a shared store that kept its data (§3): nodes on it start ready, no 20 s warm-up
  await redis.cli("SET", "yk:boot", String(now() - 3600));
  issuer = await spawnNode({ ...COMMON, YUKUAI_ADMIN_TOKEN: ADMIN, YUKUAI_REDIS_URL: redis.url });
  spawned.push(issuer);
  await waitFor(issuer, "/healthz");
  const follow = { ...COMMON, YUKUAI_REDIS_URL: redis.url, YUKUAI_FOLLOW: issuer.base, YUKUAI_FOLLOW_INTERVAL_MS: String(FOLLOW_INTERVAL_MS) };
  for (let i = 0; i < 2; i++) {
    const f = await spawnNode(follow);
    spawned.push(f);
    followers.push(f);
  }
  nodes = [issuer, ...followers];
  await Promise.all(nodes.map((n) => waitFor(n, "/readyz")));
  lb = await startNginx({ upstreams: nodes.map(addr) });
  const gw = await post(issuer.base, "/v1/gateways", { name: "Line 2 Jiaochangkou", scene: "metro" }, ADMIN);
  expect(gw.status).toBe(201);
  metro = (await json<GatewayMade>(gw)).key;
  await knownEverywhere(metro);
}, 25_000);

afterAll(async () => {
  await lb?.close().catch(() => {});
  await Promise.all(spawned.map((n) => stopNode(n).catch(() => {})));
  await redis?.close().catch(() => {});
});

test("through nginx, a code accepted once is REPLAY on every node", async () => {
  const { holder } = await issueAt(issuer.base, ADMIN, PERSON_ID);
  const code = holder.presentText(now());
  const before = await Promise.all(nodes.map(httpBatches));
  const answers: Answer[] = [];
  for (let i = 0; i < 10; i++) answers.push(await batch(lb!.base, metro, [code]));
  expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
  expect(answers.map((a) => a.batch!.results[0]!.result)).toEqual(["OK", ...Array(9).fill("REPLAY")]);
  // round robin: the ten landed on all three nodes, and each node counted its share
  expect([...new Set(answers.map(servedBy))].sort()).toEqual(nodes.map(addr).sort());
  const after = await Promise.all(nodes.map(httpBatches));
  const served = after.map((a, i) => a - before[i]!);
  for (const s of served) expect(s).toBeGreaterThan(0);
  expect(served.reduce((a, b) => a + b, 0)).toBe(10);
  // and on each node directly
  for (const n of nodes) {
    const d = await batch(n.base, metro, [code]);
    expect(d.status).toBe(200);
    expect(d.batch!.results[0]!.result).toBe("REPLAY");
  }
  console.log(`nginx: one code 10× through nginx → OK then 9 REPLAY; batches per node ${JSON.stringify(served)}`);
}, 10_000);

test("through nginx, 30 concurrent copies of one code on three nodes: exactly one OK", async () => {
  const { holder } = await issueAt(issuer.base, ADMIN, PERSON_ID);
  const code = holder.presentText(now());
  const answers = await Promise.all(Array.from({ length: 30 }, () => batch(lb!.base, metro, [code])));
  expect(answers.map((a) => a.status)).toEqual(Array(30).fill(200));
  const results = answers.map((a) => a.batch!.results[0]!.result);
  expect(results.filter((r) => r === "OK")).toHaveLength(1);
  expect(results.filter((r) => r === "REPLAY")).toHaveLength(29);
  const byNode = new Map<string, number>();
  for (const a of answers) byNode.set(servedBy(a), (byNode.get(servedBy(a)) ?? 0) + 1);
  expect([...byNode.keys()].sort()).toEqual(nodes.map(addr).sort());
  console.log(`nginx: 30 concurrent copies → 1 OK, 29 REPLAY; per node ${JSON.stringify(Object.fromEntries(byNode))}, OK from ${servedBy(answers[results.indexOf("OK")]!)}`);
}, 10_000);

test("a revocation and a gateway deletion on the issuer apply on every node by the followers' next poll", async () => {
  // "within 1 s" (§4) is the followers' poll every ≤ 500 ms; below, the bounded polls only guard against a hang
  expect(FOLLOW_INTERVAL_MS).toBeLessThanOrEqual(500);
  const made = await post(issuer.base, "/v1/gateways", { name: "Line 6 Lijiatuo", scene: "metro" }, ADMIN);
  expect(made.status).toBe(201);
  const doomed = await json<GatewayMade>(made);
  await knownEverywhere(doomed.key);
  const { holder, serial } = await issueAt(issuer.base, ADMIN, PERSON_ID_2);
  for (const n of nodes) {
    const a = await batch(n.base, metro, [holder.presentText(now())]);
    expect(a.batch?.results[0]?.result).toBe("OK");
    expect((await batch(n.base, doomed.key, [])).status).toBe(200);
  }

  const revoked = await post(issuer.base, "/v1/revocations", { type: "credential", value: serial, reason: "lost phone" }, ADMIN);
  expect(revoked.status).toBe(201);
  const rev = await json<RevocationMade>(revoked);
  const deleted = await fetch(`${issuer.base}/v1/gateways/${doomed.id}`, { method: "DELETE", headers: { authorization: `Bearer ${ADMIN}` } });
  expect(deleted.status).toBe(204);

  // the issuer: at once
  const atIssuer = await batch(issuer.base, metro, [holder.presentText(now())]);
  expect(atIssuer.batch!.results[0]!.result).toBe("REVOKED");
  expect((await batch(issuer.base, doomed.key, [])).status).toBe(401);
  // each follower, directly (not through nginx): after its next poll
  for (const f of followers) {
    const seq = await pollUntil(`${f.base} applying revocation ${rev.seq} and the deletion of ${doomed.id}`, async () => {
      const a = await batch(f.base, metro, [holder.presentText(now())]);
      if (a.batch?.results[0]?.result !== "REVOKED") return false;
      // probed only once the revocation is in (a 401 counts toward the per-source limit)
      const d = await batch(f.base, doomed.key, []);
      return d.status === 401 ? a.batch.revocations.seq : false;
    }, { attempts: 60, pauseMs: 50 });
    expect(seq).toBeGreaterThanOrEqual(rev.seq);
  }
  // through nginx, whichever node answers
  for (let i = 0; i < nodes.length; i++) {
    const a = await batch(lb!.base, metro, [holder.presentText(now())]);
    expect(a.batch?.results[0]?.result).toBe("REVOKED");
    expect((await batch(lb!.base, doomed.key, [])).status).toBe(401);
  }
}, 15_000);

test("a follower SIGKILLed mid-load: nginx moves on, lost requests get a clean 502/503, no scan is OK twice", async () => {
  const CONCURRENCY = 6;
  /** Answers before the kill. */
  const KILL_AFTER = 150;
  /** Answers 200 from the surviving nodes after the kill, at least. */
  const OK_AFTER_KILL = 150;
  /** Hang guard: the load stops here whatever happened. */
  const MAX_REQUESTS = 40_000;
  const victim = followers[1]!;
  const victimAddr = addr(victim);
  const holders: { holder: Holder; serial: string }[] = [];
  for (let i = 0; i < CONCURRENCY; i++) holders.push(await issueAt(issuer.base, ADMIN, PERSON_ID));

  interface Shot { serial: string; counter: number; code: string; startedAfterKill: boolean; a: Answer }
  /** Each scan's first request. */
  const shots: Shot[] = [];
  /** A scan whose request got no verdict, sent again at once by its gateway (no Idempotency-Key). */
  const resent: Shot[] = [];
  let started = 0;
  let killed = false;
  let okAfterKill = 0;
  /** A request after the kill that nginx tried on the dead node, then sent on to another (a refused connect). */
  let movedOn: Shot | null = null;
  const enough = () => started >= MAX_REQUESTS || (killed && okAfterKill >= OK_AFTER_KILL && movedOn !== null);
  const tried = (a: Answer) => a.upstream.split(",").map((u) => u.trim());

  const loadStart = performance.now();
  let killAt = 0;
  await Promise.all(holders.map(async ({ holder, serial }) => {
    while (!enough()) {
      started++;
      const code = holder.presentText(now()); // a fresh presentation: the next counter
      const counter = holder.counter;
      const startedAfterKill = killed;
      const a = await batch(lb!.base, metro, [code]);
      const shot: Shot = { serial, counter, code, startedAfterKill, a };
      shots.push(shot);
      if (killed && a.status === 200) okAfterKill++;
      if (startedAfterKill && a.status === 200 && tried(a)[0] === victimAddr && servedBy(a) !== victimAddr) movedOn ??= shot;
      if (!killed && shots.length >= KILL_AFTER) {
        killed = true; // the others' requests are in flight, some on the victim
        killAt = performance.now();
        victim.proc.kill("SIGKILL");
      }
      if (a.status !== 200) resent.push({ ...shot, startedAfterKill: true, a: await batch(lb!.base, metro, [code]) });
    }
  }));
  const loadMs = performance.now() - loadStart;
  await victim.proc.exited;
  expect(victim.proc.signalCode).toBe("SIGKILL");
  expect(started).toBeLessThan(MAX_REQUESTS);

  const statuses: Record<string, number> = {};
  for (const s of shots) statuses[s.a.status] = (statuses[s.a.status] ?? 0) + 1;
  // every request got an answer, and every failure is nginx's own clean 502/503
  expect(shots.filter((s) => s.a.status === 0).map((s) => s.a.text)).toEqual([]);
  expect(shots.filter((s) => ![200, 502, 503].includes(s.a.status)).map((s) => `${s.a.status} ${s.a.upstream} ${s.a.text}`)).toEqual([]);
  const lost = shots.filter((s) => s.a.status !== 200);
  // only requests the dead node held: nginx resends a refused connect but never a POST already sent, and after
  // the first failure it sends the node nothing for fail_timeout, so at most one per concurrent sender
  expect(lost.length).toBeLessThanOrEqual(CONCURRENCY);
  for (const s of lost) expect(tried(s.a)).toEqual([victimAddr]);
  // every first request answered 200 is OK: each is a fresh presentation, so a REPLAY would mean nginx or a
  // node verified one request twice
  const oks = shots.filter((s) => s.a.status === 200);
  expect(oks.filter((s) => s.a.batch?.results[0]?.result !== "OK").map((s) => `${s.a.upstream} ${JSON.stringify(s.a.batch)}`)).toEqual([]);
  // a lost scan sent again: answered by a survivor, OK if the dead node had not recorded it, REPLAY if it had
  expect(resent.map((s) => s.a.status)).toEqual(lost.map(() => 200));
  for (const s of resent) expect(tried(s.a)).not.toContain(victimAddr);
  const resentResults = resent.map((s) => s.a.batch!.results[0]!.result);
  expect(resentResults.filter((r) => r !== "OK" && r !== "REPLAY")).toEqual([]);
  // no (serial, counter) is answered OK twice
  const okd = [...oks, ...resent.filter((s) => s.a.batch!.results[0]!.result === "OK")];
  for (const s of okd) expect(s.a.batch!.results[0]!.serial).toBe(s.serial);
  expect(new Set(okd.map((s) => `${s.serial}:${s.counter}`)).size).toBe(okd.length);
  // after the kill the survivors served, the dead node nothing
  const after = shots.filter((s) => s.startedAfterKill && s.a.status === 200);
  expect(new Set(after.map((s) => servedBy(s.a)))).toEqual(new Set([addr(issuer), addr(followers[0]!)]));
  expect(movedOn).not.toBeNull();

  // every OK'd code, sent again (through nginx, now two nodes): REPLAY, each one
  const again: string[] = [];
  for (let i = 0; i < okd.length; i += 500) {
    const a = await batch(lb!.base, metro, okd.slice(i, i + 500).map((s) => s.code));
    expect(a.status).toBe(200);
    again.push(...a.batch!.results.map((r) => r.result));
  }
  expect(again).toHaveLength(okd.length);
  expect(again.filter((r) => r !== "REPLAY")).toEqual([]);

  const tally = (rs: string[]) => JSON.stringify(rs.reduce<Record<string, number>>((t, r) => ({ ...t, [r]: (t[r] ?? 0) + 1 }), {}));
  console.log(`nginx: kill -9 mid-load: ${shots.length} scans (${CONCURRENCY} concurrent) in ${loadMs.toFixed(0)} ms, kill after ${KILL_AFTER} answers at ${(killAt - loadStart).toFixed(0)} ms; first requests ${JSON.stringify(statuses)}; lost ${lost.length} (${lost.filter((s) => s.startedAfterKill).length} sent after kill(), all at the dead node), resent at once → ${tally(resentResults)}; first retried past the dead node: ${movedOn!.a.upstream}; ${okd.length} OKs, all unique, all REPLAY when resent`);
}, 30_000);
