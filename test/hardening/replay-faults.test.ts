/**
 * Replay under faults (issue "Hardening"), through the HTTP interface (`app.request()` on makeNode's
 * manual clock): the node never answers OK when the replay store cannot be sure, never answers one
 * presentation OK twice, and recovers on its own when the store returns.
 *
 * - Redis stopped mid-load (killed, persisting with appendfsync always, so it comes back with its data), and
 *   Redis frozen mid-load (SIGSTOP: connection open, no answers; SIGCONT: it carries on with what it had).
 * - Redis restarted empty: the §3 start-up rule from the second it was found empty.
 * - A full in-memory window (YUKUAI_REPLAY_CAPACITY=16): 503 REPLAY_STORE_FULL, never forgetting.
 * - Clock steps on the node (forward 1 h, back 1 h, back 5 min), on the in-memory window and on Redis.
 *
 * Two tests here fail on purpose, each naming a fault of src/ (see their comments): a batch refused 503
 * while Redis is frozen is recorded once Redis thaws; and on the in-memory window a forward-then-back clock
 * step lets a presentation be OK twice.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock } from "../../src/clock.ts";
import type { Holder } from "../../src/holder/holder.ts";
import { RedisReplayStore } from "../../src/verify/redis-replay.ts";
import type { ReplayStore } from "../../src/verify/replay-window.ts";
import { json, type BatchAnswer, type ErrorAnswer, type ReadyAnswer } from "../support/api.ts";
import { residentId } from "../support/ids.ts";
import { issue, makeGateway, makeNode, req, T0, type TestNode } from "../support/node.ts";
import { pollUntil } from "../support/poll.ts";
import { startRedis, type TestRedis } from "../support/redis.ts";

/** Redis that keeps its data over a stop/start (AOF, fsync before each reply). */
let durable: TestRedis;
/** Redis that comes back empty. */
let volatile: TestRedis;
/** The pid of a frozen redis-server, so that cleanup thaws it. */
let frozen: number | null = null;

beforeAll(async () => {
  [durable, volatile] = await Promise.all([startRedis(["--appendonly", "yes", "--appendfsync", "always"]), startRedis()]);
  expect((await durable.cli("CONFIG", "GET", "appendonly")).split("\n")[1]).toBe("yes");
});
afterAll(async () => {
  if (frozen !== null) process.kill(frozen, "SIGCONT");
  await Promise.all([durable?.close(), volatile?.close()]);
});

/** redis-server's pid (INFO server), to SIGSTOP / SIGCONT it. */
async function pidOf(r: TestRedis): Promise<number> {
  return Number(/process_id:(\d+)/.exec(await r.cli("INFO", "server"))![1]);
}

/** An empty Redis whose memory began at `second` (§8.4 `yk:boot`): nodes on it are ready at once. */
async function keptSince(r: TestRedis, second: number): Promise<void> {
  await r.cli("FLUSHALL");
  await r.cli("SET", "yk:boot", String(second));
}

/** A RedisReplayStore with the §3 defaults (retention 380 s, warm-up 2 × skew = 20 s). */
async function storeOn(r: TestRedis, timeoutMs = 300): Promise<RedisReplayStore> {
  const s = new RedisReplayStore(r.url, 380, 20, timeoutMs);
  await s.start();
  return s;
}

interface Setup {
  t: TestNode;
  key: string;
  holders: Holder[];
}

/**
 * A node at T0 with a metro gateway and `n` holders whose credentials were issued at `issuedAt` (a clock
 * step back must not make them NOT_YET_VALID).
 */
async function setup(n: number, env: Record<string, string> = {}, opts: { replay?: ReplayStore; clock?: ManualClock } = {}, issuedAt = T0, dir?: string): Promise<Setup> {
  const t = makeNode(env, opts, dir);
  t.clock.set(issuedAt);
  const key = await makeGateway(t, "metro");
  const holders: Holder[] = [];
  for (let i = 0; i < n; i++) holders.push(await issue(t, { idNumber: residentId(`50010319900101${String(1000 + i).slice(1)}`) }));
  t.clock.set(T0);
  return { t, key, holders };
}

interface Answer {
  status: number;
  results: string[];
  error?: string;
  retryAfter: string | null;
}

async function batch(t: TestNode, key: string, scans: unknown[]): Promise<Answer> {
  const res = await t.app.request("/v1/verify/batch", req("POST", { scans }, key));
  const retryAfter = res.headers.get("retry-after");
  if (res.status === 200) return { status: 200, results: (await json<BatchAnswer>(res)).results.map((r) => r.result), retryAfter };
  return { status: res.status, results: [], error: (await json<ErrorAnswer>(res)).error.code, retryAfter };
}

/** Results of `codes`, sent in batches of at most 1000 (all must be answered 200). */
async function resend(t: TestNode, key: string, codes: readonly unknown[]): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < codes.length; i += 1000) {
    const a = await batch(t, key, codes.slice(i, i + 1000));
    expect(a.status).toBe(200);
    out.push(...a.results);
  }
  return out;
}

async function readyz(t: TestNode): Promise<{ status: number; body: ReadyAnswer }> {
  const res = await t.app.request("/readyz");
  return { status: res.status, body: await json<ReadyAnswer>(res) };
}

const tally = (xs: readonly string[]) => xs.reduce<Record<string, number>>((m, x) => ((m[x] = (m[x] ?? 0) + 1), m), {});

/** One batch of the load: when it was sent and answered relative to the fault, and its codes. */
interface Sent {
  codes: string[];
  /** The fault had fully happened (stop() resolved / SIGSTOP sent) before this batch was sent. */
  afterFault: boolean;
  answer: Answer;
}

/**
 * `lanes` concurrent loops of batches of `size` fresh scans (random holders, each scan a new counter) at the
 * node's clock, until `done()`; `afterFault()` is read as each batch is sent.
 */
async function load(s: Setup, lanes: number, size: number, afterFault: () => boolean, done: () => boolean, sent: Sent[]): Promise<void> {
  let pick = 1;
  const lane = async () => {
    while (!done()) {
      const now = Math.floor(s.t.clock.nowMs() / 1000);
      const codes = Array.from({ length: size }, () => s.holders[(pick = (pick * 48271) % 2147483647) % s.holders.length]!.presentText(now));
      const after = afterFault();
      sent.push({ codes, afterFault: after, answer: await batch(s.t, s.key, codes) });
      // app.request() needs no I/O for an answer that does not reach the store: yield, or timers starve
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
}

/**
 * The loop runs, the fault is injected once `warmup` batches were answered 200, the loop goes on until
 * `faulted` batches sent after the fault are answered (readiness is read meanwhile); then the loop stops.
 */
async function loadThroughFault(s: Setup, inject: () => Promise<void>, warmup = 16, faulted = 16): Promise<{ sent: Sent[]; readyDuring: { status: number; body: ReadyAnswer }[] }> {
  const sent: Sent[] = [];
  let fault = false;
  let stop = false;
  const readyDuring: { status: number; body: ReadyAnswer }[] = [];
  const running = load(s, 4, 8, () => fault, () => stop, sent);
  try {
    await pollUntil("load answered before the fault", () => sent.filter((x) => x.answer.status === 200).length >= warmup, { pauseMs: 5, attempts: 1000 });
    await inject();
    fault = true;
    await pollUntil("load answered after the fault", async () => {
      if (readyDuring.length < 2) readyDuring.push(await readyz(s.t));
      return sent.filter((x) => x.afterFault).length >= faulted;
    }, { pauseMs: 5, attempts: 1000 });
  } finally {
    stop = true;
    await running;
  }
  return { sent, readyDuring };
}

describe("Redis faults mid-load", () => {
  test("Redis stopped: every batch sent after the stop is 503 REPLAY_STORE_UNAVAILABLE, /readyz unavailable; back with its data, the node recovers; OK ⇔ recorded", async () => {
    await keptSince(durable, T0 - 3600);
    const s = await setup(24, {}, { replay: await storeOn(durable) });
    try {
      const { sent, readyDuring } = await loadThroughFault(s, () => durable.stop());
      const after = sent.filter((x) => x.afterFault);
      // never an OK (never a 200) for a batch the store could not have decided
      expect(after.map((x) => `${x.answer.status} ${x.answer.error}`)).toEqual(after.map(() => "503 REPLAY_STORE_UNAVAILABLE"));
      for (const x of after) expect(x.answer.retryAfter).toBe("5");
      for (const r of readyDuring) {
        expect(r.status).toBe(503);
        expect(r.body.checks.replay).toBe("unavailable");
      }
      await durable.start();
      // the client reconnects by itself: no restart, no event to await, so poll readiness (true: the data, yk:boot included, was kept)
      await pollUntil("the node ready again", async () => (await readyz(s.t)).status === 200, { attempts: 200 });
      expect((await readyz(s.t)).body.checks.replay).toBe(true);

      const ok = sent.flatMap((x) => x.answer.results.flatMap((r, i) => (r === "OK" ? [x.codes[i]!] : [])));
      const refusedAfter = after.flatMap((x) => x.codes);
      const refusedAround = sent.filter((x) => !x.afterFault && x.answer.status !== 200).flatMap((x) => x.codes);
      expect(sent.filter((x) => x.answer.status === 200).every((x) => x.answer.results.every((r) => r === "OK"))).toBe(true);
      // every code answered OK was recorded: OK again is REPLAY
      const again = await resend(s.t, s.key, ok);
      expect(tally(again)).toEqual({ REPLAY: ok.length });
      // no code of a batch refused after the stop was recorded: resent now, each is OK
      expect(tally(await resend(s.t, s.key, refusedAfter))).toEqual({ OK: refusedAfter.length });
      // refused while the stop was under way: may or may not have reached Redis
      const around = tally(await resend(s.t, s.key, refusedAround));
      console.log(`redis stopped: ${ok.length} scans OK before the stop, ${refusedAfter.length} refused after it, ${refusedAround.length} refused during it (resent: ${JSON.stringify(around)})`);
      // and batches are answered again
      const now = Math.floor(s.t.clock.nowMs() / 1000);
      const fresh = await batch(s.t, s.key, s.holders.map((h) => h.presentText(now)));
      expect(fresh.status).toBe(200);
      expect(tally(fresh.results)).toEqual({ OK: s.holders.length });
    } finally {
      s.t.close();
    }
  }, 15_000);

  test("Redis frozen (SIGSTOP): batches are 503 within the store timeout, /readyz unavailable; thawed, the node recovers without restart; every OK recorded", async () => {
    await keptSince(durable, T0 - 3600);
    const s = await setup(24, {}, { replay: await storeOn(durable, 300) });
    const pid = await pidOf(durable);
    try {
      const { sent, readyDuring } = await loadThroughFault(s, async () => {
        process.kill(pid, "SIGSTOP");
        frozen = pid;
      }, 16, 12);
      const after = sent.filter((x) => x.afterFault);
      expect(after.map((x) => `${x.answer.status} ${x.answer.error}`)).toEqual(after.map(() => "503 REPLAY_STORE_UNAVAILABLE"));
      for (const r of readyDuring) {
        expect(r.status).toBe(503);
        expect(r.body.checks.replay).toBe("unavailable");
      }
      process.kill(pid, "SIGCONT");
      frozen = null;
      await pollUntil("the node ready again", async () => (await readyz(s.t)).status === 200, { attempts: 200 });
      const ok = sent.flatMap((x) => x.answer.results.flatMap((r, i) => (r === "OK" ? [x.codes[i]!] : [])));
      expect(tally(await resend(s.t, s.key, ok))).toEqual({ REPLAY: ok.length });
      const refused = sent.filter((x) => x.answer.status !== 200).flatMap((x) => x.codes);
      const resent = tally(await resend(s.t, s.key, refused));
      console.log(`redis frozen: ${ok.length} scans OK before, ${refused.length} in refused batches; resent after the thaw: ${JSON.stringify(resent)}`);
      const now = Math.floor(s.t.clock.nowMs() / 1000);
      const fresh = await batch(s.t, s.key, s.holders.map((h) => h.presentText(now)));
      expect(fresh.status).toBe(200);
      expect(tally(fresh.results)).toEqual({ OK: s.holders.length });
    } finally {
      if (frozen !== null) process.kill(frozen, "SIGCONT");
      frozen = null;
      s.t.close();
    }
  }, 15_000);

  // README "When the node cannot be sure…": "Nothing of a refused batch is recorded, so resend it."
  test("Redis frozen: a batch answered 503 is not recorded, so its resend is OK (not REPLAY)", async () => {
    await keptSince(durable, T0 - 3600);
    const s = await setup(1, {}, { replay: await storeOn(durable, 300) });
    const pid = await pidOf(durable);
    try {
      const code = s.holders[0]!.presentText(T0);
      process.kill(pid, "SIGSTOP");
      frozen = pid;
      const refused = await batch(s.t, s.key, [code]);
      expect(`${refused.status} ${refused.error}`).toBe("503 REPLAY_STORE_UNAVAILABLE");
      process.kill(pid, "SIGCONT");
      frozen = null;
      await pollUntil("the node ready again", async () => (await readyz(s.t)).status === 200, { attempts: 200 });
      // the refused batch's EVALSHA was still queued in the connection when the store gave up on it; Redis runs
      // it after the thaw — past its deadline (in Redis' clock), so it records nothing (src/verify/redis-replay.ts)
      expect((await batch(s.t, s.key, [code])).results).toEqual(["OK"]);
    } finally {
      if (frozen !== null) process.kill(frozen, "SIGCONT");
      frozen = null;
      s.t.close();
    }
  }, 10_000);
});

describe("Redis restarted empty (§3 start-up rule from the second it is found empty)", () => {
  test("a code accepted before the restart is STALE after it, never OK; presentations before found-empty + 2 × skew are STALE; /readyz warming until then", async () => {
    await keptSince(volatile, T0 - 3600);
    const s = await setup(2, {}, { replay: await storeOn(volatile) });
    const [a, b] = s.holders as [Holder, Holder];
    try {
      const accepted = a.presentText(T0);
      const unseen = b.presentText(T0); // made before the restart, first sent after it
      expect((await batch(s.t, s.key, [accepted])).results).toEqual(["OK"]);
      await volatile.stop();
      s.t.clock.set(T0 + 3);
      const down = await batch(s.t, s.key, [unseen]);
      expect(`${down.status} ${down.error}`).toBe("503 REPLAY_STORE_UNAVAILABLE");
      await volatile.start();
      const r = await pollUntil("the store answering again", async () => {
        const x = await readyz(s.t);
        return x.body.checks.replay !== "unavailable" && x;
      }, { attempts: 200 });
      // found empty at T0 + 3: memory begins at T0 + 3 + 2 × skew = T0 + 23
      expect(r.status).toBe(503);
      expect(r.body.checks.replay).toBe("warming");
      expect(Number((await volatile.cli("GET", "yk:boot")).trim())).toBe(T0 + 3);
      const stale = [accepted, { code: accepted, at: T0 }, unseen, a.presentText(T0 + 3), b.presentText(T0 + 3)];
      expect(await resend(s.t, s.key, stale)).toEqual(stale.map(() => "STALE"));
      s.t.clock.set(T0 + 22);
      expect((await readyz(s.t)).body.checks.replay).toBe("warming");
      expect(await resend(s.t, s.key, [accepted, a.presentText(T0 + 22)])).toEqual(["STALE", "STALE"]);
      s.t.clock.set(T0 + 23);
      expect((await readyz(s.t)).status).toBe(200);
      // the code accepted before the restart is still within the 60 s window: the start-up rule keeps it STALE
      expect(await resend(s.t, s.key, [accepted, { code: accepted, at: T0 }, unseen, a.presentText(T0 + 23), b.presentText(T0 + 23)]))
        .toEqual(["STALE", "STALE", "STALE", "OK", "OK"]);
    } finally {
      s.t.close();
    }
  }, 10_000);
});

describe("a full in-memory window (YUKUAI_REPLAY_CAPACITY=16)", () => {
  test("new serials are 503 REPLAY_STORE_FULL and /readyz is full; nothing accepted is forgotten; after the retention new serials are taken", async () => {
    const s = await setup(20, { YUKUAI_REPLAY_CAPACITY: "16" });
    const [held, spare] = [s.holders.slice(0, 16), s.holders.slice(16)];
    try {
      const accepted = held.map((h) => h.presentText(T0));
      expect(await resend(s.t, s.key, accepted)).toEqual(accepted.map(() => "OK"));
      const full = async () => {
        const r = await readyz(s.t);
        expect(r.status).toBe(503);
        expect(r.body.checks.replay).toBe("full");
      };
      await full();
      const refuse = async (scans: unknown[]) => {
        const a = await batch(s.t, s.key, scans);
        expect(`${a.status} ${a.error}`).toBe("503 REPLAY_STORE_FULL");
        expect(a.retryAfter).toBe("5");
      };
      const now = () => Math.floor(s.t.clock.nowMs() / 1000);
      await refuse([spare[0]!.presentText(now())]);
      // a batch that needs one new serial is refused whole, nothing of it recorded
      const mixed = [held[0]!.presentText(T0), spare[1]!.presentText(T0)];
      await refuse(mixed);
      await full();
      // while full: every accepted code is still REPLAY; a held serial's next counter is still taken
      expect(await resend(s.t, s.key, accepted)).toEqual(accepted.map(() => "REPLAY"));
      expect(await resend(s.t, s.key, [mixed[0]!])).toEqual(["OK"]);
      s.t.clock.set(T0 + 60); // the end of the accepted codes' freshness window: still remembered
      expect(await resend(s.t, s.key, accepted)).toEqual(accepted.map(() => "REPLAY"));
      await refuse([spare[2]!.presentText(now())]);
      s.t.clock.set(T0 + 380); // r + 380: still held, still full
      await refuse([spare[2]!.presentText(now())]);
      await full();
      s.t.clock.set(T0 + 381); // past the retention: room again
      expect((await readyz(s.t)).status).toBe(200);
      const later = spare.map((h) => h.presentText(now()));
      expect(await resend(s.t, s.key, later)).toEqual(later.map(() => "OK"));
      expect(await resend(s.t, s.key, later)).toEqual(later.map(() => "REPLAY"));
    } finally {
      s.t.close();
    }
  });
});

/**
 * Clock steps on the node: its receive second jumps forward 1 h, back 1 h, back 5 min (then runs on
 * normally to +30 s). At each new "now" every holder shows a fresh code (made at that now, a new counter);
 * then every code ever made is sent again. No code may be OK twice. The node started 2 h before T0, so the
 * start-up rule is not what is tested here (the test after this one is about that).
 */
async function clockSteps(replay: "memory" | "redis"): Promise<{ doubles: string[]; fresh: Record<string, string[]> }> {
  const clock = new ManualClock((T0 - 7200) * 1000);
  if (replay === "redis") await keptSince(durable, T0 - 7200);
  const s = await setup(6, {}, { clock, replay: replay === "redis" ? await storeOn(durable) : undefined }, T0 - 7200);
  /** Per code: where it was made, and the steps at which it was answered OK. */
  const made = new Map<string, { name: string; oks: string[] }>();
  const fresh: Record<string, string[]> = {};
  try {
    const step = async (label: string, at: number) => {
      clock.set(at);
      const now = s.holders.map((h) => h.presentText(at));
      now.forEach((c, i) => made.set(c, { name: `holder ${i}'s code made at "${label}"`, oks: [] }));
      fresh[label] = await resend(s.t, s.key, now);
      const all = [...made.keys()];
      const again = await resend(s.t, s.key, all);
      for (const [codes, results] of [[now, fresh[label]!], [all, again]] as const) {
        results.forEach((r, i) => { if (r === "OK") made.get(codes[i]!)!.oks.push(label); });
      }
    };
    await step("T0", T0);
    await step("+1h", T0 + 3600);
    await step("back 1h", T0);
    await step("back 5min", T0 - 300);
    await step("runs on to T0+30", T0 + 30);
  } finally {
    s.t.close();
  }
  return { doubles: [...made.values()].filter((m) => m.oks.length > 1).map((m) => `${m.name}: OK at ${m.oks.join(", ")}`), fresh };
}

describe("clock steps on the node: no presentation is ever OK twice", () => {
  // Once failed on the in-memory window: an entry's expiry is a receive second, so at +1 h the T0 entries
  // looked expired and each holder's fresh code there re-created its serial's state; back at T0 the code
  // accepted at T0 — fresh again, its counter within 64 below the new H, its bit unset — was accepted twice.
  // Now the pipeline's "now" never goes back (src/verify/pipeline.ts): after a backward step codes are judged
  // against the latest second seen, so codes stamped by the stepped-back clock are STALE until it catches up,
  // while holders whose clocks stayed right keep passing.
  for (const replay of ["memory", "redis"] as const) {
    test(`${replay} replay store: forward 1 h, back 1 h, back 5 min`, async () => {
      const { doubles, fresh } = await clockSteps(replay);
      console.log(`clock steps (${replay}): fresh codes at each new now: ${JSON.stringify(Object.fromEntries(Object.entries(fresh).map(([k, v]) => [k, tally(v)])))}; codes OK twice: ${doubles.length}`);
      expect(doubles, "codes answered OK more than once").toEqual([]);
      // forward steps: codes of the new now pass; backward steps: codes stamped with the stepped-back time are STALE
      expect(Object.fromEntries(Object.entries(fresh).map(([k, v]) => [k, tally(v)]))).toEqual({
        T0: { OK: 6 }, "+1h": { OK: 6 }, "back 1h": { STALE: 6 }, "back 5min": { STALE: 6 }, "runs on to T0+30": { STALE: 6 },
      });
    });
  }

  test("memory store, a node restarted at T0 − 20 s: a step back to before its start + 2 × skew answers STALE (and /readyz warming) until the clock gets back there", async () => {
    // the data dir (issuer key, gateway, credentials) dates from T0 − 2 h; this node started on it at T0 − 20 s
    const dir = mkdtempSync(join(tmpdir(), "yukuai-steps-"));
    const old = await setup(3, {}, { clock: new ManualClock((T0 - 7200) * 1000) }, T0 - 7200, dir);
    old.t.close();
    const t = makeNode({}, {}, dir);
    const s: Setup = { ...old, t };
    try {
      const first = s.holders.map((h) => h.presentText(T0));
      expect(await resend(s.t, s.key, first)).toEqual(["OK", "OK", "OK"]);
      const seen: string[] = [];
      for (const back of [300, 3600]) {
        s.t.clock.set(T0 - back);
        const fresh = await resend(s.t, s.key, s.holders.map((h) => h.presentText(T0 - back)));
        const r = await readyz(s.t);
        seen.push(`back ${back} s: fresh codes ${JSON.stringify(tally(fresh))}, /readyz ${r.status} ${JSON.stringify(r.body.checks)}`);
        // safety: nothing made before the node's memory began is OK; and the node says it is not ready
        expect(fresh).toEqual(["STALE", "STALE", "STALE"]);
        expect(r.status).toBe(503);
        expect(r.body.checks.replay).toBe("warming");
      }
      s.t.clock.set(T0);
      expect(await resend(s.t, s.key, first)).toEqual(["REPLAY", "REPLAY", "REPLAY"]);
      console.log(`availability after a backward step past the start: ${seen.join("; ")}; served again once the clock is back at start + 2 × skew`);
    } finally {
      t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
