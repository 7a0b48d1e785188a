/**
 * Safe retries (spec §4 `Idempotency-Key`): a resend with the same key and body gets the first answer byte for
 * byte with `Idempotent-Replayed: true` — so a retried tap-in is never REPLAY of itself — from any node
 * sharing the replay state; 422 on reuse with another body; 409 while the first is in flight; also for
 * stream frames ("idempotencyKey"). Without the header nothing changes.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { serveOptions } from "../../src/main.ts";
import { packr } from "../../src/routes/http.ts";
import { isIdempotencyKey, MemoryIdempotency } from "../../src/verify/idempotency.ts";
import { RedisReplayStore } from "../../src/verify/redis-replay.ts";
import { MemoryReplayWindow, type ReplayStore } from "../../src/verify/replay-window.ts";
import { json, type BatchAnswer, type ErrorAnswer } from "../support/api.ts";
import { GatedChecker } from "../support/gated-checker.ts";
import { PERSON_ID, PERSON_ID_2 } from "../support/ids.ts";
import { issue, makeGateway, makeNode, req, T0, type TestNode } from "../support/node.ts";
import { startRedis, type TestRedis } from "../support/redis.ts";

const nodes: TestNode[] = [];
const servers: Server<unknown>[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.stop(true);
  for (const n of nodes.splice(0)) n.close();
});
const node = (...a: Parameters<typeof makeNode>) => {
  const t = makeNode(...a);
  nodes.push(t);
  return t;
};

const batch = (t: TestNode, key: string, scans: unknown[], ik?: string, headers: Record<string, string> = {}) =>
  t.app.request("/v1/verify/batch", req("POST", { scans }, key, { ...(ik === undefined ? {} : { "idempotency-key": ik }), ...headers }));

describe("HTTP", () => {
  test("a resend with the same key and body gets the first answer, byte for byte, marked Idempotent-Replayed; without the key it is REPLAY", async () => {
    const t = node();
    const gw = await makeGateway(t, "metro");
    const h = await issue(t, { idNumber: PERSON_ID });
    const scans = [h.presentText(T0), "junk"];
    const first = await batch(t, gw, scans, "tap-0001");
    expect(first.status).toBe(200);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const firstBytes = await first.text();
    expect((JSON.parse(firstBytes) as BatchAnswer).results.map((r) => r.result)).toEqual(["OK", "MALFORMED"]);
    t.clock.advance(30);
    const again = await batch(t, gw, scans, "tap-0001");
    expect(again.status).toBe(200);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.headers.get("content-type")).toBe("application/json");
    expect(await again.text()).toBe(firstBytes);
    // the same body without the key, or under another key, is verified again: REPLAY
    expect((await json<BatchAnswer>(await batch(t, gw, scans))).results[0]!.result).toBe("REPLAY");
    expect((await json<BatchAnswer>(await batch(t, gw, scans, "tap-0002"))).results[0]!.result).toBe("REPLAY");
  });

  test("the single route and msgpack bodies too: the replayed answer keeps the first answer's format", async () => {
    const t = node();
    const gw = await makeGateway(t, "metro");
    const h = await issue(t, { idNumber: PERSON_ID });
    const code = h.presentText(T0);
    const one = await t.app.request("/v1/verify", req("POST", { code }, gw, { "idempotency-key": "one" }));
    const oneText = await one.text();
    const oneAgain = await t.app.request("/v1/verify", req("POST", { code }, gw, { "idempotency-key": "one" }));
    expect([oneAgain.status, oneAgain.headers.get("idempotent-replayed"), await oneAgain.text()]).toEqual([200, "true", oneText]);
    const body = packr.pack({ scans: [h.present(T0)] });
    const init = { method: "POST", headers: { "content-type": "application/msgpack", authorization: `Bearer ${gw}`, "idempotency-key": "mp" }, body };
    const mp = new Uint8Array(await (await t.app.request("/v1/verify/batch", init)).arrayBuffer());
    const mpAgain = await t.app.request("/v1/verify/batch", init);
    expect(mpAgain.headers.get("content-type")).toBe("application/msgpack");
    expect(new Uint8Array(await mpAgain.arrayBuffer())).toEqual(mp);
  });

  test("the same key with another body is 422 IDEMPOTENCY_KEY_REUSED; another route counts as another body", async () => {
    const t = node();
    const gw = await makeGateway(t, "metro");
    const h = await issue(t, { idNumber: PERSON_ID });
    await batch(t, gw, [h.presentText(T0)], "k1");
    const other = await batch(t, gw, [h.presentText(T0)], "k1"); // a new presentation (next counter): another body
    expect(other.status).toBe(422);
    expect((await json<ErrorAnswer>(other)).error.code).toBe("IDEMPOTENCY_KEY_REUSED");
    const single = await t.app.request("/v1/verify", req("POST", { code: h.presentText(T0) }, gw, { "idempotency-key": "k1" }));
    expect(single.status).toBe(422);
  });

  test("while the first is being answered, a resend is 409 IDEMPOTENCY_KEY_IN_FLIGHT; afterwards it gets the answer", async () => {
    const gate = new GatedChecker();
    const t = node({}, { checker: gate });
    const gw = await makeGateway(t, "metro");
    const h = await issue(t, { idNumber: PERSON_ID });
    const scans = [h.presentText(T0)];
    const first = batch(t, gw, scans, "slow");
    await gate.reached(1);
    const during = await batch(t, gw, scans, "slow");
    expect(during.status).toBe(409);
    expect(during.headers.get("retry-after")).toBe("1");
    expect((await json<ErrorAnswer>(during)).error.code).toBe("IDEMPOTENCY_KEY_IN_FLIGHT");
    gate.release();
    const firstText = await (await first).text();
    const after = await batch(t, gw, scans, "slow");
    expect([after.headers.get("idempotent-replayed"), await after.text()]).toEqual(["true", firstText]);
  });

  test("keys are per gateway; a record lasts 120 s", async () => {
    const t = node();
    const a = await makeGateway(t, "metro", "gate A");
    const b = await makeGateway(t, "metro", "gate B");
    const h = await issue(t, { idNumber: PERSON_ID });
    const scans = [h.presentText(T0)];
    expect((await json<BatchAnswer>(await batch(t, a, scans, "same"))).results[0]!.result).toBe("OK");
    const atB = await batch(t, b, scans, "same");
    expect([atB.headers.get("idempotent-replayed"), (await json<BatchAnswer>(atB)).results[0]!.result]).toEqual([null, "REPLAY"]);
    t.clock.advance(120);
    expect((await batch(t, a, scans, "same")).headers.get("idempotent-replayed")).toBe("true");
    t.clock.advance(1);
    const late = await batch(t, a, scans, "same");
    expect([late.headers.get("idempotent-replayed"), (await json<BatchAnswer>(late)).results[0]!.result]).toEqual([null, "STALE"]);
  });

  test("an answer other than 200 is not kept: a resend after a 503 is verified afresh", async () => {
    let down = true;
    const inner = new MemoryReplayWindow(1024, 380, T0 - 20);
    const flaky: ReplayStore = {
      apply: (items, now) => (down ? "UNAVAILABLE" : inner.apply(items, now)),
      ready: (now) => inner.ready(now),
      stats: () => inner.stats(),
    };
    const t = node({}, { replay: flaky });
    const gw = await makeGateway(t, "metro");
    const h = await issue(t, { idNumber: PERSON_ID });
    const scans = [h.presentText(T0)];
    const refused = await batch(t, gw, scans, "retry-me");
    expect([refused.status, (await json<ErrorAnswer>(refused)).error.code]).toEqual([503, "REPLAY_STORE_UNAVAILABLE"]);
    down = false;
    const ok = await batch(t, gw, scans, "retry-me");
    expect([ok.status, ok.headers.get("idempotent-replayed"), (await json<BatchAnswer>(ok)).results[0]!.result]).toEqual([200, null, "OK"]);
  });

  test("a key that is not 1–64 visible ASCII characters is 400 BAD_IDEMPOTENCY_KEY; no header, no change", async () => {
    const t = node();
    const gw = await makeGateway(t, "metro");
    // (a header value cannot carry non-ASCII through fetch; isIdempotencyKey refuses it below)
    for (const bad of ["", "x".repeat(65), "has space", "tab\tinside"]) {
      const r = await t.app.request("/v1/verify/batch", { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${gw}`, "idempotency-key": bad }, body: "{\"scans\":[]}" });
      expect([bad, r.status, (await json<ErrorAnswer>(r)).error.code]).toEqual([bad, 400, "BAD_IDEMPOTENCY_KEY"]);
    }
    for (const k of ["渝", "a\u0000", "\u007f", "é"]) expect([k, isIdempotencyKey(k)]).toEqual([k, false]);
    expect((await batch(t, gw, [], "x".repeat(64))).status).toBe(200);
    expect((await batch(t, gw, [], "!~")).status).toBe(200);
  });

  test("the memory store is bounded: past its bytes a new key is refused 503 REPLAY_STORE_FULL, never silently unguarded", async () => {
    const t = node({}, { idempotency: new MemoryIdempotency(64) });
    const gw = await makeGateway(t, "metro");
    const h = await issue(t, { idNumber: PERSON_ID });
    expect((await batch(t, gw, [h.presentText(T0)], "a")).status).toBe(200); // over 64 bytes of answer
    const full = await batch(t, gw, [h.presentText(T0)], "b");
    expect([full.status, (await json<ErrorAnswer>(full)).error.code]).toEqual([503, "REPLAY_STORE_FULL"]);
    t.clock.advance(121);
    expect((await batch(t, gw, [h.presentText(T0 + 121)], "b")).status).toBe(200);
  });
});

describe("stream frames", () => {
  test("\"idempotencyKey\" in a frame: a resend (any id) gets the first results, marked; another body is IDEMPOTENCY_KEY_REUSED; a bad key BAD_IDEMPOTENCY_KEY", async () => {
    const t = node();
    const gw = await makeGateway(t, "metro");
    const h = await issue(t, { idNumber: PERSON_ID });
    const srv = Bun.serve({ ...serveOptions(t.node, (r, s) => t.app.fetch(r, { server: s })), port: 0, hostname: "127.0.0.1" });
    servers.push(srv);
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/v1/verify/stream`, { headers: { authorization: `Bearer ${gw}` } } as never);
    const frames: Record<string, unknown>[] = [];
    const waiters: (() => void)[] = [];
    ws.onmessage = (e) => { frames.push(JSON.parse(String(e.data)) as Record<string, unknown>); waiters.shift()?.(); };
    await new Promise((r) => { ws.onopen = r; });
    const next = () => new Promise<Record<string, unknown>>((r) => { if (frames.length) r(frames.shift()!); else waiters.push(() => r(frames.shift()!)); });
    const code = h.presentText(T0);
    ws.send(JSON.stringify({ id: 1, scans: [code], idempotencyKey: "frame-k" }));
    const first = await next();
    expect((first.results as { result: string }[])[0]!.result).toBe("OK");
    ws.send(JSON.stringify({ id: 2, scans: [code], idempotencyKey: "frame-k" }));
    const again = await next();
    expect(again).toEqual({ ...first, id: 2, idempotentReplayed: true });
    ws.send(JSON.stringify({ id: 3, scans: [h.presentText(T0)], idempotencyKey: "frame-k" }));
    expect(await next()).toMatchObject({ id: 3, error: { code: "IDEMPOTENCY_KEY_REUSED" } });
    ws.send(JSON.stringify({ id: 4, scans: [code], idempotencyKey: "" }));
    expect(await next()).toMatchObject({ id: 4, error: { code: "BAD_IDEMPOTENCY_KEY" } });
    ws.send(JSON.stringify({ id: 5, scans: [code] }));
    expect(((await next()).results as { result: string }[])[0]!.result).toBe("REPLAY");
    ws.close();
  });
});

describe("shared by every node behind the load balancer", () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.close();
  });

  test("with Redis: a resend landing on another node gets the first node's answer; 30 concurrent claims, exactly one is new", async () => {
    await redis.cli("FLUSHALL");
    await redis.cli("SET", "yk:boot", String(T0 - 3600));
    const storeA = new RedisReplayStore(redis.url, 380, 20);
    const storeB = new RedisReplayStore(redis.url, 380, 20);
    await storeA.start();
    await storeB.start();
    const a = node({}, { replay: storeA, idempotency: storeA });
    const gw = await makeGateway(a, "metro");
    const h = await issue(a, { idNumber: PERSON_ID_2 });
    // b shares a's data dir (its gateways and keys), as a second node would share them through the feed
    const b = node({}, { replay: storeB, idempotency: storeB }, a.dir);
    const scans = [h.presentText(T0)];
    const first = await (await batch(a, gw, scans, "fleet-1")).text();
    const atB = await batch(b, gw, scans, "fleet-1");
    expect([atB.headers.get("idempotent-replayed"), await atB.text()]).toEqual(["true", first]);
    const claims = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? storeA : storeB).claim("gw:race", "fp", T0)));
    expect(claims.filter((c) => c.state === "new").length).toBe(1);
    expect(claims.filter((c) => c.state === "in-flight").length).toBe(29);
    // the record is one key beside the replay state, hash-tagged, and expires
    const keys = (await redis.cli("KEYS", "yk:i:*")).trim().split("\n").sort();
    expect(keys.length).toBe(2);
    const ttl = Number((await redis.cli("TTL", keys.find((k) => !k.includes("race"))!)).trim());
    expect(ttl).toBeGreaterThan(100);
    expect(ttl).toBeLessThanOrEqual(120);
    b.node.close();
    nodes.splice(nodes.indexOf(b), 1);
  });

  test("Redis unreachable: a keyed request is 503 REPLAY_STORE_UNAVAILABLE, never answered unguarded", async () => {
    const store = new RedisReplayStore(redis.url, 380, 20, 200);
    await store.start();
    const t = node({}, { replay: store, idempotency: store });
    const gw = await makeGateway(t, "metro");
    await redis.stop();
    try {
      const r = await batch(t, gw, [], "down");
      expect([r.status, (await json<ErrorAnswer>(r)).error.code]).toEqual([503, "REPLAY_STORE_UNAVAILABLE"]);
    } finally {
      await redis.start();
    }
  });
});
