/**
 * @module Sizing the shared replay store (spec §6): what a replay decision costs per scan, in this one
 * process, against real servers on loopback (`bun bench/replay-store.ts [--quick]`; JSON on the last line):
 *
 * - memory: MemoryReplayWindow (src/verify/replay-window.ts);
 * - redis (Bun client): RedisReplayStore (src/verify/redis-replay.ts) on one redis-server;
 * - redis (ioredis): that store's script on the same server through ioredis — the client alone compared;
 * - cluster (ioredis): RedisClusterReplayStore (src/verify/redis-cluster.ts) on a 3-master Redis Cluster
 *   (Bun's RedisClient has no cluster support, so the cluster store is on ioredis).
 *
 * Batches of 1, 16 and 256 scans of random holders (serials over a population of 50,000 per row, each
 * presentation the holder's next counter: the accepting path, existing keys), decided with 1 batch in flight
 * (latency: per-scan µs = batch time / batch size) and with 8 in flight (throughput: scans/s); each row is
 * the median of 3 runs of 1 s (`--quick`: 1 run of 0.3 s), with Redis' own time in the scripts per scan
 * (INFO commandstats: what sizes a shard). The servers and this process share the machine's
 * cores, so these are loopback costs, not a network's; the load average is printed with them.
 */
import { Redis } from "ioredis";
import { cpus, loadavg } from "node:os";
import { RedisClusterReplayStore } from "../src/verify/redis-cluster.ts";
import { RedisReplayStore, replayKey, SCRIPT } from "../src/verify/redis-replay.ts";
import { MemoryReplayWindow, type ReplayItem, type ReplayOutcome, type ReplayStore } from "../src/verify/replay-window.ts";
import { startRedis } from "../test/support/redis.ts";
import { clusterKeptSince, startRedisCluster } from "../test/support/redis-cluster.ts";
import { rng } from "../test/support/rng.ts";

interface Run {
  batches: number;
  /** Scans decided, warm-up included (what the servers' command time is divided by). */
  decided: number;
  /** Wall time per scan: elapsed / scans decided. */
  usPerScan: number;
  scansPerSecond: number;
  /** Per-batch latency percentiles (ms). */
  p50Ms: number;
  p99Ms: number;
}

/** The median run (by µs per scan) of `runs`, and every run's µs per scan. */
export interface ReplayStoreRow extends Run {
  store: "memory" | "redis (Bun client)" | "redis (ioredis)" | "cluster (ioredis)";
  batch: number;
  inFlight: number;
  usPerScanRuns: number[];
  /**
   * Redis' own time in the replay scripts per scan (INFO commandstats EVALSHA + EVAL usec, all masters, over
   * all runs): what sizes a shard — one Redis core decides about 10⁶ / serverUsPerScan scans a second.
   */
  serverUsPerScan: number | null;
}

export interface ReplayStoreResults {
  quick: boolean;
  cores: number;
  cpu: string;
  redis: string;
  /** 1-minute load average before and after: other work on the machine makes these numbers worse. */
  load: [number, number];
  msPerRun: number;
  rows: ReplayStoreRow[];
}

const BATCHES = [1, 16, 256] as const;
const IN_FLIGHT = [1, 8] as const;
const HOLDERS = 50_000;
const RETENTION = 380, WARM = 20;

/** The single store's own script (its decision and the arguments it takes), run through ioredis: the row measures the client. */
const SINGLE_SCRIPT = SCRIPT;
/** A deadline no run reaches (the script's "late" check still runs, as in the store). */
const NO_DEADLINE = Number.MAX_SAFE_INTEGER;

/** The single-Redis script through ioredis (the same keys and arguments as RedisReplayStore). */
class IoredisSingle implements ReplayStore {
  readonly #r: Redis;
  #sha = "";
  constructor(url: string) {
    this.#r = new Redis(url, { enableOfflineQueue: true, lazyConnect: true });
  }
  async start(): Promise<void> {
    await this.#r.connect();
    this.#sha = String(await this.#r.script("LOAD", SINGLE_SCRIPT));
  }
  async apply(items: readonly ReplayItem[], now: number): Promise<ReplayOutcome> {
    const args: (string | number)[] = items.map(replayKey);
    args.push(RETENTION + 2, now, WARM, NO_DEADLINE);
    for (const it of items) args.push(it.counter, it.time);
    return Uint8Array.from((await this.#r.evalsha(this.#sha, items.length, ...args)) as number[]);
  }
  ready(): true { return true; }
  stats() { return { held: -1, capacity: -1, bytes: -1 }; }
  close(): void { this.#r.disconnect(); }
}

/** Microseconds Redis spent in EVALSHA and EVAL since the last CONFIG RESETSTAT. */
async function scriptUsec(cli: (...args: string[]) => Promise<string>): Promise<number> {
  const info = await cli("INFO", "commandstats");
  let usec = 0;
  for (const m of info.matchAll(/cmdstat_(?:evalsha|eval):calls=\d+,usec=(\d+)/g)) usec += Number(m[1]);
  return usec;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Decides batches for `ms` (after a warm-up), `inFlight` at a time; every answer must be an acceptance. */
/** A row's holders: their serials (`serialLo` = the seed) and last counters, kept across its runs. */
interface Holders {
  seed: number;
  counters: Uint32Array;
}

async function measure(name: ReplayStoreRow["store"], store: ReplayStore, batch: number, inFlight: number, ms: number, holders: Holders, run: number): Promise<Run> {
  const { seed, counters } = holders;
  const r = rng(seed * 1000 + run);
  const now = Math.floor(Date.now() / 1000);
  const next = (): ReplayItem[] => {
    const items: ReplayItem[] = [];
    const seen = new Set<number>();
    while (items.length < batch) {
      const h = Math.floor(r() * HOLDERS);
      if (seen.has(h)) continue; // one presentation per holder in a batch: every answer is 1
      seen.add(h);
      items.push({ issuer: 500000 + (h % 3) * 10000, serialHi: h, serialLo: seed, counter: ++counters[h]!, time: now });
    }
    return items;
  };
  const latencies: number[] = [];
  let scans = 0;
  let decided = 0;
  let stopAt = 0;
  let record = false;
  const worker = async () => {
    while (performance.now() < stopAt) {
      const items = next();
      const t = performance.now();
      const out = await store.apply(items, now);
      const dt = performance.now() - t;
      if (typeof out === "string" || out.some((x) => x !== 1)) throw new Error(`${name}: batch of ${batch} answered ${typeof out === "string" ? out : Array.from(out).join(",")}`);
      decided += items.length;
      if (record) {
        latencies.push(dt);
        scans += items.length;
      }
    }
  };
  // warm-up (JIT, connections, first keys), then the measured run
  stopAt = performance.now() + Math.min(300, ms / 3);
  await Promise.all(Array.from({ length: inFlight }, worker));
  record = true;
  const t0 = performance.now();
  stopAt = t0 + ms;
  await Promise.all(Array.from({ length: inFlight }, worker));
  const elapsed = performance.now() - t0;
  latencies.sort((a, b) => a - b);
  return {
    batches: latencies.length,
    decided,
    usPerScan: (elapsed * 1000) / scans,
    scansPerSecond: scans / (elapsed / 1000),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
}

export async function runReplayStore(quick: boolean, log: (l: string) => void = () => {}): Promise<ReplayStoreResults> {
  const ms = quick ? 300 : 1000;
  const runs = quick ? 1 : 3;
  const load0 = loadavg()[0]!;
  const [redis, cluster] = await Promise.all([startRedis(), startRedisCluster()]);
  const rows: ReplayStoreRow[] = [];
  const stores: { name: ReplayStoreRow["store"]; store: ReplayStore & { close?(): void | Promise<void> } }[] = [];
  try {
    // both kept their data since long ago: the §3 start-up rule is past
    await redis.cli("SET", "yk:boot", "0");
    await clusterKeptSince(cluster, 0);
    const single = new RedisReplayStore(redis.url, RETENTION, WARM);
    await single.start();
    const io = new IoredisSingle(redis.url);
    await io.start();
    const clustered = new RedisClusterReplayStore(cluster.url, RETENTION, WARM);
    await clustered.start();
    stores.push(
      { name: "memory", store: new MemoryReplayWindow(1 << 20, RETENTION, 0) },
      { name: "redis (Bun client)", store: single },
      { name: "redis (ioredis)", store: io },
      { name: "cluster (ioredis)", store: clustered },
    );
    const version = (await redis.cli("INFO", "server")).match(/redis_version:(\S+)/)?.[1] ?? "?";
    log(`replay store per scan: median of ${runs} run(s) of ${ms} ms, one process, loopback (redis ${version}, ${cpus().length} cores, load ${load0.toFixed(2)})`);
    log(`${"store".padEnd(20)} ${"batch".padStart(5)} ${"flight".padStart(6)} ${"µs/scan".padStart(9)} ${"scans/s".padStart(10)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)} ${"redis µs/scan".padStart(13)}`);
    let seed = 1;
    for (const { name, store } of stores) {
      const servers = name === "memory" ? [] : name === "cluster (ioredis)" ? cluster.nodes.map((n) => n.cli) : [redis.cli];
      for (const batch of BATCHES) {
        for (const inFlight of IN_FLIGHT) {
          const all: Run[] = [];
          const holders = { seed: seed++, counters: new Uint32Array(HOLDERS) };
          await Promise.all(servers.map((cli) => cli("CONFIG", "RESETSTAT")));
          for (let k = 0; k < runs; k++) all.push(await measure(name, store, batch, inFlight, ms, holders, k));
          const usec = (await Promise.all(servers.map(scriptUsec))).reduce((a, b) => a + b, 0);
          const decided = all.reduce((a, r) => a + r.decided, 0);
          all.sort((a, b) => a.usPerScan - b.usPerScan);
          const row: ReplayStoreRow = {
            store: name, batch, inFlight, ...all[all.length >> 1]!, usPerScanRuns: all.map((r) => r.usPerScan),
            serverUsPerScan: servers.length > 0 ? usec / decided : null,
          };
          rows.push(row);
          log(`${name.padEnd(20)} ${String(batch).padStart(5)} ${String(inFlight).padStart(6)} ${row.usPerScan.toFixed(2).padStart(9)} ${Math.round(row.scansPerSecond).toLocaleString("en-US").padStart(10)} ${row.p50Ms.toFixed(3).padStart(8)} ${row.p99Ms.toFixed(3).padStart(8)} ${(row.serverUsPerScan === null ? "–" : row.serverUsPerScan.toFixed(2)).padStart(13)}`);
        }
      }
    }
    return { quick, cores: cpus().length, cpu: cpus()[0]?.model ?? "?", redis: version, load: [load0, loadavg()[0]!], msPerRun: ms, rows };
  } finally {
    for (const { store } of stores) await store.close?.();
    await Promise.all([redis.close(), cluster.close()]);
  }
}

if (import.meta.main) {
  const results = await runReplayStore(process.argv.includes("--quick"), console.log);
  console.log(JSON.stringify(results));
  process.exit(0);
}
