/**
 * The replay store on a Redis Cluster of three masters (spec §6 "beyond one Redis"): the same answers as one
 * Redis and as memory on the same random sequences; one pipeline per master touched, one script per slot;
 * a killed master costs the batches that touch its slots (503 REPLAY_STORE_UNAVAILABLE) and nothing else;
 * the start-up rule per slot; evicting masters refused; retry records shared by nodes.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { loadConfig } from "../../src/config.ts";
import { sharedStoresOf } from "../../src/main.ts";
import { bootKey, parseClusterUrl, RedisClusterReplayStore, SLOTS, slotOfItem, slotOfTag } from "../../src/verify/redis-cluster.ts";
import { RedisReplayStore } from "../../src/verify/redis-replay.ts";
import { MemoryReplayWindow, type ReplayItem, type ReplayOutcome } from "../../src/verify/replay-window.ts";
import { json, type ErrorAnswer, type ReadyAnswer } from "../support/api.ts";
import { PERSON_ID } from "../support/ids.ts";
import { issue, makeGateway, makeNode, req, T0, verifyBatch } from "../support/node.ts";
import { pollUntil } from "../support/poll.ts";
import { startRedis, type TestRedis } from "../support/redis.ts";
import { clusterKeptSince as keptSince, startRedisCluster, type TestCluster, type TestClusterNode } from "../support/redis-cluster.ts";
import { ReplayModel } from "../support/replay-model.ts";
import { rng } from "../support/rng.ts";

let cluster: TestCluster;
let single: TestRedis;
beforeAll(async () => {
  [cluster, single] = await Promise.all([startRedisCluster(), startRedis()]);
});
afterAll(async () => {
  await Promise.all([cluster?.close(), single?.close()]);
});

const CQ = 500000, SC = 510000, GD = 440000;
/** §3 defaults: retention 380 s, warm-up 2 × skew = 20 s. */
const RETENTION = 380, WARM = 20;

async function clusterStore(timeoutMs = 1000): Promise<RedisClusterReplayStore> {
  const s = new RedisClusterReplayStore(cluster.url, RETENTION, WARM, timeoutMs);
  await s.start();
  return s;
}

/** A cluster that kept its data since `second`. */
const clusterKeptSince = (second: number) => keptSince(cluster, second);

const list = (o: ReplayOutcome): number[] | ReplayOutcome => (typeof o === "string" ? o : Array.from(o));
const nodeOfItem = (it: ReplayItem): TestClusterNode => cluster.nodeOf(slotOfItem(it));

/** Per master: EVALSHA calls, read events (one a pipeline written at once) and slot-table refreshes so far. */
async function counters(n: TestClusterNode): Promise<{ evalsha: number; reads: number; clusterCmds: number }> {
  const info = await n.cli("INFO", "stats", "commandstats");
  const num = (re: RegExp) => Number(re.exec(info)?.[1] ?? 0);
  let clusterCmds = 0;
  for (const m of info.matchAll(/cmdstat_cluster\|[a-z]+:calls=(\d+)/g)) clusterCmds += Number(m[1]);
  return { evalsha: num(/cmdstat_evalsha:calls=(\d+)/), reads: num(/total_reads_processed:(\d+)/), clusterCmds };
}

describe("RedisClusterReplayStore", () => {
  test("slots and URLs: the hash tag is (issuer, serial) and Redis agrees on its slot; one boot marker per slot", async () => {
    const it = { issuer: CQ, serialHi: 0x01020304, serialLo: 0xa0b0c0d0, counter: 1, time: T0 };
    expect(slotOfItem(it)).toBe(Number((await cluster.nodes[0]!.cli("CLUSTER", "KEYSLOT", "yk:r:{500000:01020304a0b0c0d0}")).trim()));
    expect(slotOfItem({ ...it, issuer: SC })).toBe(Number((await cluster.nodes[0]!.cli("CLUSTER", "KEYSLOT", "yk:r:{510000:01020304a0b0c0d0}")).trim()));
    for (const s of [0, 1, 5460, 5461, 12182, SLOTS - 1]) {
      expect(Number((await cluster.nodes[0]!.cli("CLUSTER", "KEYSLOT", bootKey(s))).trim())).toBe(s);
    }
    expect(new Set(Array.from({ length: SLOTS }, (_, s) => bootKey(s))).size).toBe(SLOTS);
    expect(slotOfTag("foo")).toBe(12182);
    expect(parseClusterUrl("redis-cluster://10.0.0.1:7000,10.0.0.2,[::1]:7002")).toEqual({
      nodes: [{ host: "10.0.0.1", port: 7000 }, { host: "10.0.0.2", port: 6379 }, { host: "::1", port: 7002 }],
    });
    expect(parseClusterUrl("redis-cluster://app:s%40cret@h:1/").password).toBe("s@cret");
    expect(() => parseClusterUrl("redis://h:1")).toThrow("redis-cluster://");
  });

  test("the same random sequences give the same answers as one Redis, memory and the reference model, batch by batch", async () => {
    // memory began at M: presentations before it are BEFORE_MEMORY (2) in every store
    const M = T0 - 100;
    const c = await clusterStore();
    const r = new RedisReplayStore(single.url, RETENTION, WARM, 1000);
    await r.start();
    const touched = new Set<number>();
    let multiShard = 0;
    try {
      for (const seed of [1, 2, 3]) {
        await clusterKeptSince(M - WARM);
        await single.cli("FLUSHALL");
        await single.cli("SET", "yk:boot", String(M - WARM));
        const memory = new MemoryReplayWindow(1 << 14, RETENTION, M);
        const model = new ReplayModel({ retention: RETENTION, memoryBegins: M });
        const rnd = rng(seed);
        const n = (k: number) => Math.floor(rnd() * k);
        // 3 issuers × 16 serials: random 64-bit serials land on all three masters; an issuer's serial is another key elsewhere
        const serials = [CQ, SC, GD].flatMap((issuer) => Array.from({ length: 16 }, () => ({ issuer, serialHi: n(2 ** 32), serialLo: n(2 ** 32), high: 0 })));
        serials.push({ ...serials[0]!, issuer: SC, high: 0 }); // the same serial under another issuer
        let now = T0;
        expect(await c.ready(now)).toBe(true);
        for (let b = 0; b < 120; b++) {
          now += n(3); // far within the 380 s retention: Redis expires by its own clock
          const items: ReplayItem[] = [];
          const size = [1, 2, 3, 8, 16, 40, 64][n(7)]!;
          for (let k = 0; k < size; k++) {
            const s = serials[n(serials.length)]!;
            const jump = [0, 1, 2, 31, 32, 33, 63, 64, 65, 200][n(10)]!;
            const counter = n(3) === 0 ? s.high + jump : Math.max(0, s.high - n(70));
            s.high = Math.max(s.high, counter);
            const time = n(12) === 0 ? M - 1 - n(30) : Math.max(M, now - n(60));
            items.push({ issuer: s.issuer, serialHi: s.serialHi, serialLo: s.serialLo, counter, time });
          }
          const masters = new Set(items.map((it) => cluster.nodes.indexOf(nodeOfItem(it))));
          for (const m of masters) touched.add(m);
          if (masters.size > 1) multiShard++;
          const want = list(memory.apply(items, now));
          const got = { seed, b, cluster: list(await c.apply(items, now)), single: list(await r.apply(items, now)), model: model.apply(items, now) };
          expect(got).toEqual({ seed, b, cluster: want, single: want, model: want as number[] });
        }
      }
    } finally {
      c.close();
      r.close();
    }
    expect(touched.size).toBe(3);
    expect(multiShard).toBeGreaterThan(100);
  });

  test("a batch is one pipeline per master it touches, one EVALSHA per slot it touches there, in parallel", async () => {
    await clusterKeptSince(0);
    const c = await clusterStore();
    try {
      const rnd = rng(99);
      const batch = (size: number): ReplayItem[] =>
        Array.from({ length: size }, () => ({ issuer: CQ, serialHi: Math.floor(rnd() * 2 ** 32), serialLo: Math.floor(rnd() * 2 ** 32), counter: 1, time: T0 }));
      // a serial twice in one batch is decided in order, within its slot's script
      const twice = batch(1)[0]!;
      expect(list(await c.apply([twice, { ...twice, counter: 2 }, twice], T0))).toEqual([1, 1, 0]);
      for (const items of [batch(64), batch(16), [...batch(3), ...batch(3)]]) {
        // only masters the batch touches, and a single-master batch too
        const only = items.filter((it) => nodeOfItem(it) !== cluster.nodes[2]);
        for (const b of [items, only]) {
          for (let attempt = 0; ; attempt++) {
            const before = await Promise.all(cluster.nodes.map(counters));
            const answer = await c.apply(b, T0);
            const after = await Promise.all(cluster.nodes.map(counters));
            expect(list(answer)).toEqual(b.map(() => 1));
            // a slot-table refresh by ioredis meanwhile is another read: measure again
            if (after.some((a, k) => a.clusterCmds !== before[k]!.clusterCmds) && attempt < 3) {
              b.forEach((it) => { it.counter++; });
              continue;
            }
            cluster.nodes.forEach((node, k) => {
              const mine = b.filter((it) => nodeOfItem(it) === node);
              const slots = new Set(mine.map(slotOfItem)).size;
              expect({ node: k, evalsha: after[k]!.evalsha - before[k]!.evalsha, reads: after[k]!.reads - before[k]!.reads - 2 })
                .toEqual({ node: k, evalsha: slots, reads: mine.length > 0 ? 1 : 0 }); // − 2: redis-cli's INFO and its close
            });
            break;
          }
          b.forEach((it) => { it.counter++; });
        }
      }
      // in parallel: two masters each holding writes for 300 ms cost a batch touching both ~300 ms, not 600
      const both = batch(40).filter((it) => nodeOfItem(it) !== cluster.nodes[2]);
      expect(new Set(both.map(nodeOfItem)).size).toBe(2);
      await Promise.all([cluster.nodes[0]!.cli("CLIENT", "PAUSE", "300", "WRITE"), cluster.nodes[1]!.cli("CLIENT", "PAUSE", "300", "WRITE")]);
      const t = performance.now();
      expect(list(await c.apply(both, T0))).toEqual(both.map(() => 1));
      const ms = performance.now() - t;
      expect(ms).toBeGreaterThan(150);
      expect(ms).toBeLessThan(550);
    } finally {
      c.close();
    }
  });

  test("a slot resharded to another master: its keys and boot marker move with it, MOVED is followed, answers unchanged", async () => {
    await clusterKeptSince(0);
    const c = await clusterStore();
    const rnd = rng(21);
    const items = Array.from({ length: 24 }, () => ({ issuer: GD, serialHi: Math.floor(rnd() * 2 ** 32), serialLo: Math.floor(rnd() * 2 ** 32), counter: 3, time: T0 }));
    const moved = items[0]!;
    const slot = slotOfItem(moved);
    const from = nodeOfItem(moved);
    const to = cluster.nodes.find((n) => n !== from)!;
    try {
      expect(list(await c.apply(items, T0))).toEqual(items.map(() => 1));
      await cluster.moveSlot(slot, to);
      expect((await to.cli("EXISTS", bootKey(slot))).trim()).toBe("1");
      // the store's slot table is stale: that slot's script is answered MOVED, sent again to its new master
      const next = items.map((it) => ({ ...it, counter: 4 }));
      expect(list(await c.apply([...items, ...next], T0))).toEqual([...items.map(() => 0), ...next.map(() => 1)]);
      expect(list(await c.apply([moved, { ...moved, counter: 5 }], T0))).toEqual([0, 1]);
    } finally {
      await cluster.moveSlot(slot, from);
      c.close();
    }
  });

  test("a master that lost its scripts (SCRIPT FLUSH) is answered by EVAL, then by EVALSHA again", async () => {
    await clusterKeptSince(0);
    const c = await clusterStore();
    try {
      const rnd = rng(31);
      const items = Array.from({ length: 20 }, () => ({ issuer: CQ, serialHi: Math.floor(rnd() * 2 ** 32), serialLo: 7, counter: 1, time: T0 }));
      await Promise.all(cluster.nodes.map((n) => n.cli("SCRIPT", "FLUSH")));
      const evals = async () => Promise.all(cluster.nodes.map(async (n) => Number(/cmdstat_eval:calls=(\d+)/.exec(await n.cli("INFO", "commandstats"))?.[1] ?? 0)));
      const before = await evals();
      expect(list(await c.apply(items, T0))).toEqual(items.map(() => 1));
      const after = await evals();
      after.forEach((e, k) => expect(e).toBeGreaterThan(before[k]!));
      // loaded again meanwhile: no more EVAL
      expect(list(await c.apply(items, T0))).toEqual(items.map(() => 0));
      expect(await evals()).toEqual(after);
    } finally {
      c.close();
    }
  });

  test("a master that evicts keys is refused at start", async () => {
    const n = cluster.nodes[1]!;
    await n.cli("CONFIG", "SET", "maxmemory-policy", "volatile-lru");
    try {
      const s = new RedisClusterReplayStore(cluster.url, RETENTION, WARM);
      await expect(s.start()).rejects.toThrow(`${n.key} maxmemory-policy is "volatile-lru"`);
      s.close();
    } finally {
      await n.cli("CONFIG", "SET", "maxmemory-policy", "noeviction");
    }
  });

  test("retry records (Idempotency-Key) are shared by two stores: claim, in flight, done, mismatch, release", async () => {
    const a = await clusterStore();
    const b = await clusterStore();
    try {
      const answer = { status: 200, contentType: "application/json", body: new TextEncoder().encode('{"results":[]}') };
      // keys over several slots (and masters)
      for (const k of ["gw_1:tap-1", "gw_1:tap-2", "gw_2:tap-1", "gw_3:{odd}key"]) {
        expect(await a.claim(k, "fp1", T0)).toEqual({ state: "new" });
        expect(await b.claim(k, "fp1", T0)).toEqual({ state: "in-flight" });
        expect(await b.claim(k, "fp2", T0)).toEqual({ state: "mismatch" });
        await a.complete(k, "fp1", answer, T0);
        expect(await b.claim(k, "fp1", T0)).toEqual({ state: "done", answer });
        expect(await a.claim(k, "fp1", T0)).toEqual({ state: "done", answer });
      }
      expect(await b.claim("gw_1:tap-3", "fp", T0)).toEqual({ state: "new" });
      await b.release("gw_1:tap-3", "fp");
      expect(await a.claim("gw_1:tap-3", "fp", T0)).toEqual({ state: "new" });
    } finally {
      a.close();
      b.close();
    }
  });

  test("sharedStoresOf: redis-cluster:// builds the cluster store (replay and retry records in one)", async () => {
    const stores = await sharedStoresOf(loadConfig({ YUKUAI_REDIS_URL: cluster.url, YUKUAI_DATA_DIR: "/nonexistent" }));
    try {
      expect(stores.replay).toBeInstanceOf(RedisClusterReplayStore);
      expect(stores.idempotency).toBe(stores.replay as RedisClusterReplayStore);
    } finally {
      void stores.replay?.close?.();
    }
    await expect(sharedStoresOf(loadConfig({ YUKUAI_REDIS_URL: "redis-cluster://127.0.0.1:1", YUKUAI_DATA_DIR: "/nonexistent" })))
      .rejects.toThrow("YUKUAI_REDIS_URL");
  });
});

describe("a master down", () => {
  test("a master that does not answer in time: batches touching it UNAVAILABLE within the timeout, the others answered", async () => {
    await clusterKeptSince(0);
    const c = await clusterStore(300);
    const slow = cluster.nodes[1]!;
    try {
      const rnd = rng(11);
      const items = Array.from({ length: 30 }, () => ({ issuer: SC, serialHi: Math.floor(rnd() * 2 ** 32), serialLo: Math.floor(rnd() * 2 ** 32), counter: 7, time: T0 }));
      const others = items.filter((it) => nodeOfItem(it) !== slow);
      expect(others.length).toBeLessThan(items.length);
      await slow.cli("CLIENT", "PAUSE", "1200", "WRITE");
      const t = performance.now();
      expect(await c.apply(items, T0)).toBe("UNAVAILABLE");
      const ms = performance.now() - t;
      expect(ms).toBeGreaterThanOrEqual(250);
      expect(ms).toBeLessThan(600);
      // a batch not touching it is answered (the refused batch's items on the shards that did answer stay
      // recorded, as on one Redis whose answer was lost: REPLAY on a resend, never a second OK)
      expect(list(await c.apply([...others.map((it) => ({ ...it, counter: 8 })), ...others], T0))).toEqual([...others.map(() => 1), ...others.map(() => 0)]);
    } finally {
      await slow.cli("CLIENT", "UNPAUSE");
      c.close();
    }
  });

  test("batches on its slots are UNAVAILABLE (503, not ready) and nothing else; back up empty, its slots apply the start-up rule, the others keep their state", async () => {
    await clusterKeptSince(T0 - 3600);
    const dead = cluster.nodes[0]!;
    const c = await clusterStore(500);
    // a node whose replay store and retry records are the cluster
    const httpStore = await clusterStore(500);
    const a = makeNode({}, { replay: httpStore, idempotency: httpStore });
    try {
      const rnd = rng(5);
      const item = (issuer = CQ): ReplayItem => ({ issuer, serialHi: Math.floor(rnd() * 2 ** 32), serialLo: Math.floor(rnd() * 2 ** 32), counter: 1, time: T0 });
      const pool = Array.from({ length: 60 }, () => item());
      const onDead = pool.filter((it) => nodeOfItem(it) === dead);
      const onLive = pool.filter((it) => nodeOfItem(it) !== dead);
      expect(onDead.length).toBeGreaterThan(4);
      expect(new Set(onLive.map((it) => nodeOfItem(it))).size).toBe(2);
      const [kept, later] = [onDead.slice(0, 2), onDead.slice(2)];
      expect(list(await c.apply([...kept, ...onLive.slice(0, 10)], T0))).toEqual(Array(12).fill(1));

      // holders over HTTP: one whose serial is on the master to be killed, one elsewhere
      const key = await makeGateway(a, "metro");
      // serials are random: issue until there is one of each (a third of the slots are the dead master's)
      const holders: Awaited<ReturnType<typeof issue>>[] = [];
      const onDeadMaster: boolean[] = [];
      while (!(onDeadMaster.includes(true) && onDeadMaster.includes(false))) {
        expect(holders.length).toBeLessThan(100);
        const h = await issue(a, { idNumber: PERSON_ID });
        const r = (await verifyBatch(a, key, [h.presentText(T0)])).body.results[0]!;
        expect(r.result).toBe("OK");
        holders.push(h);
        onDeadMaster.push(dead.owns(slotOfTag(`${r.issuer}:${r.serial}`)));
      }
      const hDead = onDeadMaster.indexOf(true);
      const hLive = onDeadMaster.indexOf(false);

      await dead.kill();
      await pollUntil("the killed master seen down", async () => (await c.ready(T0)) === "unavailable");
      // batches on the other masters: decided as usual
      expect(list(await c.apply([...onLive.slice(0, 10), ...onLive.slice(10, 14)], T0))).toEqual([...Array(10).fill(0), ...Array(4).fill(1)]);
      // a batch with one item on the dead master: refused whole, at once, and nothing of it recorded
      const t = performance.now();
      expect(await c.apply([...onLive.slice(14, 20), later[0]!], T0)).toBe("UNAVAILABLE");
      expect(performance.now() - t).toBeLessThan(500);
      expect(list(await c.apply(onLive.slice(14, 20), T0))).toEqual(Array(6).fill(1));
      expect(await c.apply(kept, T0)).toBe("UNAVAILABLE");

      // over HTTP: 503 REPLAY_STORE_UNAVAILABLE for a batch touching it, the others answered; /readyz 503
      const live = await verifyBatch(a, key, [holders[hLive]!.presentText(T0)]);
      expect(live.status).toBe(200);
      expect(live.body.results[0]!.result).toBe("OK");
      const down = await a.app.request("/v1/verify/batch", req("POST", { scans: [holders[hLive]!.presentText(T0), holders[hDead]!.presentText(T0)] }, key));
      expect(down.status).toBe(503);
      expect((await json<ErrorAnswer>(down)).error.code).toBe("REPLAY_STORE_UNAVAILABLE");
      const ready = await a.app.request("/readyz");
      expect(ready.status).toBe(503);
      expect((await json<ReadyAnswer>(ready)).checks.replay).toBe("unavailable");

      // back, empty, at T1: its slots' memory begins at T1 + 2 × skew; the other shards kept theirs
      await dead.start();
      const T1 = T0 + 5;
      const back = await pollUntil("the restarted master answering", async () => {
        const r = await c.ready(T1);
        return r !== "unavailable" && r;
      });
      expect(back).toBe("warming");
      expect(list(await c.apply([...kept, ...onLive.slice(0, 10), { ...kept[0]!, counter: 2, time: T1 + WARM }], T1)))
        .toEqual([2, 2, ...Array(10).fill(0), 1]);
      expect(await c.ready(T1 + WARM - 1)).toBe("warming");
      expect(await c.ready(T1 + WARM)).toBe(true);
      // a slot of that master first touched long after: its memory began at T1 too (all its markers set then)
      const untouched = later.find((it) => slotOfItem(it) !== slotOfItem(kept[0]!) && slotOfItem(it) !== slotOfItem(kept[1]!))!;
      expect(list(await c.apply([{ ...untouched, time: T1 + WARM - 1 }, { ...untouched, counter: 2, time: T1 + WARM }], T1 + 60))).toEqual([2, 1]);
      // and the node serves every batch again once that shard's memory has begun (its store reconnected on its own)
      a.clock.set(T1 + WARM);
      await pollUntil("the node ready again", async () => (await a.app.request("/readyz")).status === 200);
      const again = await verifyBatch(a, key, [holders[hLive]!.presentText(T1 + WARM), holders[hDead]!.presentText(T1 + WARM), holders[hDead]!.presentText(T1)]);
      expect(again.status).toBe(200);
      expect(again.body.results.map((r) => r.result)).toEqual(["OK", "OK", "STALE"]);
    } finally {
      a.close();
      c.close();
      if (!(await dead.cli("PING").catch(() => ""))) await dead.start();
    }
  });
});
