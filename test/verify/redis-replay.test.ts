/**
 * The shared replay store in Redis: the same answers as the in-memory window, shared by nodes, failing
 * closed when Redis is unreachable, full, or configured to evict.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { MemoryReplayWindow, type ReplayItem } from "../../src/verify/replay-window.ts";
import { RedisReplayStore } from "../../src/verify/redis-replay.ts";
import { json, type ErrorAnswer, type ReadyAnswer } from "../support/api.ts";
import { PERSON_ID } from "../support/ids.ts";
import { issue, makeGateway, makeNode, req, T0, verifyBatch } from "../support/node.ts";
import { pollUntil } from "../support/poll.ts";
import { startRedis, type TestRedis } from "../support/redis.ts";

let redis: TestRedis;
beforeAll(async () => { redis = await startRedis(); });
afterAll(async () => { await redis?.close(); });

/** §3 defaults: retention 380 s, warm-up 2 × skew = 20 s. */
async function store(retention = 380, timeoutMs = 1000, warm = 20): Promise<RedisReplayStore> {
  const s = new RedisReplayStore(redis.url, retention, warm, timeoutMs);
  await s.start();
  return s;
}

/** An empty Redis that "kept its data" since long before T0 (its memory began then). */
async function keptSince(second: number): Promise<void> {
  await redis.cli("FLUSHALL");
  await redis.cli("SET", "yk:boot", String(second));
}

const CQ = 500000, SC = 510000;

describe("RedisReplayStore", () => {
  test("agrees with the in-memory window over random batches, keyed by (issuer, serial)", async () => {
    await keptSince(0);
    const r = await store();
    const m = new MemoryReplayWindow(1024, 380, 0);
    let seed = 7;
    const rnd = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n; };
    const highs = [0, 0, 0, 0, 0];
    expect(await r.ready(T0)).toBe(true);
    for (let round = 0; round < 300; round++) {
      const items: ReplayItem[] = [];
      const n = 1 + rnd(8);
      for (let k = 0; k < n; k++) {
        const s = rnd(5);
        const jump = [0, 1, 2, 31, 32, 33, 63, 64, 65, 200][rnd(10)]!;
        const c = rnd(3) === 0 ? highs[s]! + jump : Math.max(0, highs[s]! - rnd(70));
        highs[s] = Math.max(highs[s]!, c);
        // serials 0-4 under two issuers: the same serial of another issuer is another key
        items.push({ issuer: rnd(2) === 0 ? CQ : SC, serialHi: 0x01020304, serialLo: s, counter: c, time: T0 });
      }
      const a = await r.apply(items, T0);
      const b = m.apply(items, T0);
      expect(a).toEqual(b);
    }
    r.close();
  });

  test("a Redis found empty applies the start-up rule from then: STALE (code 2) before boot + 2 × skew, warming until then", async () => {
    await redis.cli("FLUSHALL");
    const r = await store();
    const it = (counter: number, time: number) => ({ issuer: CQ, serialHi: 9, serialLo: 9, counter, time });
    expect(await r.ready(T0)).toBe("warming"); // found empty at T0: memory begins at T0 + 20
    expect(await r.apply([it(1, T0 - 1), it(2, T0 + 19), it(3, T0 + 20)], T0)).toEqual(new Uint8Array([2, 2, 1]));
    expect(await r.ready(T0 + 19)).toBe("warming");
    expect(await r.ready(T0 + 20)).toBe(true);
    expect(Number((await redis.cli("GET", "yk:boot")).trim())).toBe(T0);
    r.close();
    // a node that starts on a Redis that kept its data starts ready
    const again = await store();
    expect(await again.ready(T0 + 20)).toBe(true);
    again.close();
  });

  test("keys are hash-tagged by (issuer, serial) and live through r + retention (TTL retention + 2 s), then expire", async () => {
    await keptSince(0);
    const r = await store(380);
    const it = { issuer: CQ, serialHi: 1, serialLo: 1, counter: 5, time: T0 };
    expect(await r.apply([it], T0)).toEqual(new Uint8Array([1]));
    expect(await r.apply([it], T0)).toEqual(new Uint8Array([0]));
    const key = "yk:r:{500000:0000000100000001}";
    const ttl = Number((await redis.cli("PTTL", key)).trim());
    expect(ttl).toBeGreaterThan(381_000); // a scan at receive second r + 380 still finds it
    expect(ttl).toBeLessThanOrEqual(382_000);
    expect((await redis.cli("EXISTS", "yk:r:{510000:0000000100000001}")).trim()).toBe("0");
    await redis.cli("PEXPIRE", key, "1");
    await pollUntil(`${key} expired in redis-server`, async () => (await redis.cli("EXISTS", key)).trim() === "0", { pauseMs: 5 });
    expect(await r.apply([it], T0)).toEqual(new Uint8Array([1]));
    r.close();
  });

  test("a Redis that may evict keys is refused at start", async () => {
    await redis.cli("CONFIG", "SET", "maxmemory-policy", "allkeys-lru");
    try {
      const s = new RedisReplayStore(redis.url, 380, 20);
      await expect(s.start()).rejects.toThrow("noeviction");
      s.close();
    } finally {
      await redis.cli("CONFIG", "SET", "maxmemory-policy", "noeviction");
    }
  });

  test("out of memory is FULL: the batch is refused, not forgotten", async () => {
    await keptSince(0);
    const r = await store();
    await redis.cli("CONFIG", "SET", "maxmemory", "1");
    const it = { issuer: CQ, serialHi: 3, serialLo: 3, counter: 1, time: T0 };
    try {
      expect(await r.apply([it], T0)).toBe("FULL");
      expect(await r.ready(T0)).toBe("full");
    } finally {
      await redis.cli("CONFIG", "SET", "maxmemory", "0");
    }
    expect(await r.apply([it], T0)).toEqual(new Uint8Array([1]));
    expect(await r.ready(T0)).toBe(true);
    r.close();
  });
});

describe("nodes sharing Redis", () => {
  test("a scan accepted by one node is REPLAY at another; Redis down is 503 and not ready; back up empty, warming, then served again", async () => {
    await keptSince(T0 - 3600);
    const a = makeNode({}, { replay: await store() });
    const key = await makeGateway(a, "metro");
    const h = await issue(a, { idNumber: PERSON_ID });
    // b shares a's data dir: same gateways, issuer key and revocations
    const b = makeNode({}, { replay: await store(380, 300) }, a.dir);
    try {
      const code = h.presentText(T0);
      expect((await verifyBatch(a, key, [code])).body.results[0]!.result).toBe("OK");
      const again = await verifyBatch(b, key, [code, h.presentText(T0)]);
      expect(again.body.results.map((r) => r.result)).toEqual(["REPLAY", "OK"]);
      await redis.stop();
      const down = await b.app.request("/v1/verify/batch", req("POST", { scans: [h.presentText(T0)] }, key));
      expect(down.status).toBe(503);
      expect((await json<ErrorAnswer>(down)).error.code).toBe("REPLAY_STORE_UNAVAILABLE");
      expect((await b.app.request("/readyz")).status).toBe(503);
      await redis.start();
      // the client reconnects to the restarted redis-server on its own, with no event to await: poll readiness
      const ready = await pollUntil("the replay store answering again", async () => {
        const r = await json<ReadyAnswer>(await b.app.request("/readyz"));
        return r.checks.replay !== "unavailable" && r;
      });
      // Redis came back empty at T0: the start-up rule applies from then (§3), so it is warming for 2 × skew
      expect(ready.checks.replay).toBe("warming");
      expect((await verifyBatch(b, key, [h.presentText(T0)])).body.results[0]!.result).toBe("STALE");
      b.clock.advance(20);
      expect((await b.app.request("/readyz")).status).toBe(200);
      const after = await verifyBatch(b, key, [code, h.presentText(T0 + 19), h.presentText(T0 + 20)]);
      expect(after.body.results.map((r) => r.result)).toEqual(["STALE", "STALE", "OK"]);
    } finally {
      b.node.close();
      a.close();
    }
  });
});
