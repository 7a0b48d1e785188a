/**
 * The shared replay store in Redis: the same answers as the in-memory window, shared by nodes, failing
 * closed when Redis is unreachable, full, or configured to evict.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { MemoryReplayWindow, type ReplayItem } from "../../src/verify/replay-window.ts";
import { RedisReplayStore } from "../../src/verify/redis-replay.ts";
import { issue, makeGateway, makeNode, PERSON_ID, req, T0, verifyBatch } from "../helpers.ts";
import { startRedis, type TestRedis } from "../support/redis.ts";

let redis: TestRedis;
beforeAll(async () => { redis = await startRedis(); });
afterAll(async () => { await redis?.close(); });

async function store(retention = 380, timeoutMs = 1000): Promise<RedisReplayStore> {
  const s = new RedisReplayStore(redis.url, retention, timeoutMs);
  await s.start();
  return s;
}

describe("RedisReplayStore", () => {
  test("agrees with the in-memory window over random batches", async () => {
    await redis.cli("FLUSHALL");
    const r = await store();
    const m = new MemoryReplayWindow(1024, 380, 0);
    let seed = 7;
    const rnd = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n; };
    const highs = [0, 0, 0, 0, 0];
    for (let round = 0; round < 300; round++) {
      const items: ReplayItem[] = [];
      const n = 1 + rnd(8);
      for (let k = 0; k < n; k++) {
        const s = rnd(5);
        const jump = [0, 1, 2, 31, 32, 33, 63, 64, 65, 200][rnd(10)]!;
        const c = rnd(3) === 0 ? highs[s]! + jump : Math.max(0, highs[s]! - rnd(70));
        highs[s] = Math.max(highs[s]!, c);
        items.push({ serialHi: 0x01020304, serialLo: s, counter: c, time: T0 });
      }
      const a = await r.apply(items, T0);
      const b = m.apply(items, T0);
      expect(a).toEqual(b);
    }
    r.close();
  });

  test("presentations made before Redis' memory began are answered STALE (code 2)", async () => {
    await redis.cli("FLUSHALL");
    const r = await store();
    const out = await r.apply([{ serialHi: 9, serialLo: 9, counter: 1, time: T0 - 1 }, { serialHi: 9, serialLo: 9, counter: 2, time: T0 }], T0);
    expect(out).toEqual(new Uint8Array([2, 1]));
    r.close();
  });

  test("keys live for the retention, then expire", async () => {
    await redis.cli("FLUSHALL");
    const r = await store(1);
    const it = { serialHi: 1, serialLo: 1, counter: 5, time: T0 };
    expect(await r.apply([it], T0)).toEqual(new Uint8Array([1]));
    expect(await r.apply([it], T0)).toEqual(new Uint8Array([0]));
    const ttl = Number((await redis.cli("PTTL", "yk:r:0000000100000001")).trim());
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1000);
    await Bun.sleep(1200);
    expect(await r.apply([it], T0)).toEqual(new Uint8Array([1]));
    r.close();
  });

  test("a Redis that may evict keys is refused at start", async () => {
    await redis.cli("CONFIG", "SET", "maxmemory-policy", "allkeys-lru");
    try {
      const s = new RedisReplayStore(redis.url, 380);
      await expect(s.start()).rejects.toThrow("noeviction");
      s.close();
    } finally {
      await redis.cli("CONFIG", "SET", "maxmemory-policy", "noeviction");
    }
  });

  test("out of memory is FULL: the batch is refused, not forgotten", async () => {
    await redis.cli("FLUSHALL");
    const r = await store();
    await redis.cli("CONFIG", "SET", "maxmemory", "1");
    try {
      expect(await r.apply([{ serialHi: 3, serialLo: 3, counter: 1, time: T0 }], T0)).toBe("FULL");
      expect(await r.ready(T0)).toBe(false);
    } finally {
      await redis.cli("CONFIG", "SET", "maxmemory", "0");
    }
    expect(await r.apply([{ serialHi: 3, serialLo: 3, counter: 1, time: T0 }], T0)).toEqual(new Uint8Array([1]));
    expect(await r.ready(T0)).toBe(true);
    r.close();
  });
});

describe("nodes sharing Redis", () => {
  test("a scan accepted by one node is REPLAY at another; Redis down is 503 and not ready; back up, served again", async () => {
    await redis.cli("FLUSHALL");
    const a = makeNode({}, { replay: await store() });
    const key = await makeGateway(a, "metro");
    const h = await issue(a, { idNumber: PERSON_ID });
    // b shares a's data dir: same gateways, issuer key and revocations
    const b = makeNode({}, { replay: await store(380, 300) }, a.dir);
    try {
      const code = h.presentText(T0);
      expect((await verifyBatch(a, key, [code])).body.results[0].result).toBe("OK");
      const again = await verifyBatch(b, key, [code, h.presentText(T0)]);
      expect(again.body.results.map((r: any) => r.result)).toEqual(["REPLAY", "OK"]);
      await redis.stop();
      const down = await b.app.request("/v1/verify/batch", req("POST", { scans: [h.presentText(T0)] }, key));
      expect(down.status).toBe(503);
      expect((await down.json()).error.code).toBe("REPLAY_STORE_UNAVAILABLE");
      expect((await b.app.request("/readyz")).status).toBe(503);
      await redis.start();
      let ok = false;
      for (let i = 0; i < 40 && !ok; i++) {
        await Bun.sleep(100);
        ok = (await b.app.request("/readyz")).status === 200;
      }
      expect(ok).toBe(true);
      // Redis came back empty: what was made before its memory began (T0 + 5) is STALE, fresh codes pass
      b.clock.advance(5);
      const after = await verifyBatch(b, key, [code, h.presentText(T0 + 5)]);
      expect(after.body.results.map((r: any) => r.result)).toEqual(["STALE", "OK"]);
    } finally {
      b.node.close();
      a.close();
    }
  });
});
