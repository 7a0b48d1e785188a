/**
 * @module HTTP and WebSocket throughput and latency, the whole machine (server and load generator share
 * both cores; the server runs its default worker pool):
 *
 * - throughput against batch size (1, 16, 64, 256, 1000) for POST /v1/verify/batch in JSON and in msgpack
 *   (autocannon, closed loop) and for WebSocket msgpack frames — OK scans per second, counted by the node;
 * - the pool threshold: a server without workers against one with its worker pool (which takes every
 *   check), at small batch sizes: does a small batch pay for the trip to a worker?
 * - single-scan POST /v1/verify latency at 1,000 scans/s (open loop, Poisson arrivals).
 *
 * Credentials are warm (each holder was seen once, so a scan pays one signature check); every code is
 * unique and fresh.
 */
import { closeSigners, holderSet, presentations, roundRobinPlan, type HolderSet } from "./codes.ts";
import { diffCounts, median, resultCounts, startServer, summary, type ServerUnderTest, type Summary } from "./lib.ts";
import { autocannonRun, batchBodies, latencyPercentiles, openLoop, wsRun, type Format } from "./load.ts";
import { toText } from "../src/wire/code.ts";
import { codeAt } from "./codes.ts";

export const BATCH_SIZES = [1, 16, 64, 256, 1000] as const;
const HOLDERS = 4096;

export interface Point {
  batch: number;
  okPerSec: Summary;
  p99ms: Summary;
  notOk: number;
}

export interface Series {
  name: string;
  transport: "http" | "ws";
  format: Format;
  command: string;
  points: Point[];
}

export interface HttpResults {
  series: Series[];
  threshold: { batch: number; inline: Summary; pool: Summary }[];
  thresholdCommands: { inline: string; pool: string };
  single: { rate: number; seconds: number; runs: number; p50: Summary; p90: Summary; p99: Summary; p999: Summary; failures: number; command: string };
}

/** Unique fresh codes for one server: holders round robin, counters only ever rising. */
export class CodeSource {
  #counter = 0;
  constructor(readonly holders: HolderSet, readonly count: number) {}

  /** n codes stamped `time` (default: now); each holder's counters continue from the last call. */
  async next(n: number, time = Math.floor(Date.now() / 1000)): Promise<Uint8Array> {
    const block = await presentations(this.holders, roundRobinPlan(n, this.count, this.#counter, time));
    this.#counter += Math.ceil(n / this.count);
    closeSigners();
    return block;
  }

  /** Shows every holder to the server once, so later scans find their credential verified (§3 LRU). */
  async warm(srv: ServerUnderTest): Promise<void> {
    const block = await this.next(this.count);
    const r = await autocannonRun({ url: srv.url, path: "/v1/verify/batch", key: srv.gatewayKey, format: "msgpack", bodies: batchBodies(block, 256, "msgpack"), connections: 4, maxSeconds: 30 });
    if (r.non2xx || r.errors) throw new Error(`warm-up: ${r.non2xx} non-2xx, ${r.errors} errors`);
  }
}

export function connectionsFor(batch: number): number {
  return batch <= 1 ? 64 : batch <= 16 ? 32 : batch <= 64 ? 16 : batch <= 256 ? 8 : 4;
}

/** One closed-loop measurement: `seconds` worth of unique codes at the expected rate. */
async function closedLoop(srv: ServerUnderTest, src: CodeSource, transport: "http" | "ws", format: Format, batch: number, expected: number, seconds: number) {
  const conns = connectionsFor(batch);
  const n = Math.max(2 * conns * batch, Math.ceil((expected * seconds) / batch) * batch);
  const block = await src.next(n);
  const before = await resultCounts(srv.url);
  let secs: number, p99: number;
  if (transport === "http") {
    const r = await autocannonRun({ url: srv.url, path: "/v1/verify/batch", key: srv.gatewayKey, format, bodies: batchBodies(block, batch, format), connections: conns, maxSeconds: 60 });
    secs = r.seconds;
    p99 = r.latency.p99;
  } else {
    const r = await wsRun({ host: `${srv.host}:${srv.port}`, key: srv.gatewayKey, format, block, batch, connections: conns, inflight: 1, maxSeconds: 60 });
    secs = r.seconds;
    p99 = latencyPercentiles(r.latencies).p99;
  }
  const d = diffCounts(before, await resultCounts(srv.url));
  const ok = d.OK ?? 0;
  return { okPerSec: ok / secs, p99, notOk: n - ok };
}

export async function runHttp(o: { quick: boolean; log: (l: string) => void }): Promise<HttpResults> {
  const { quick, log } = o;
  const runs = quick ? 1 : 3;
  const seconds = quick ? 1.2 : 3;
  const holders = await holderSet(HOLDERS, log);
  const series: Series[] = [];

  // ── throughput against batch size ──
  const kinds: { name: string; transport: "http" | "ws"; format: Format }[] = [
    { name: "HTTP JSON", transport: "http", format: "json" },
    { name: "HTTP msgpack", transport: "http", format: "msgpack" },
    { name: "WebSocket msgpack", transport: "ws", format: "msgpack" },
  ];
  for (const k of kinds) {
    const srv = await startServer({ workers: navigator.hardwareConcurrency });
    const src = new CodeSource(holders, HOLDERS);
    await src.warm(srv);
    const s: Series = { ...k, command: srv.command, points: [] };
    let expected = 10_000;
    for (const batch of BATCH_SIZES) {
      const ok: number[] = [], p99: number[] = [];
      let notOk = 0;
      // a short unmeasured run first (JIT, connections)
      await closedLoop(srv, src, k.transport, k.format, batch, expected, 0.3);
      for (let r = 0; r < runs; r++) {
        const m = await closedLoop(srv, src, k.transport, k.format, batch, expected, seconds);
        ok.push(m.okPerSec);
        p99.push(m.p99);
        notOk += m.notOk;
        expected = median(ok);
      }
      s.points.push({ batch, okPerSec: summary(ok), p99ms: summary(p99), notOk });
      log(`  ${k.name}, batch ${batch}: ${Math.round(median(ok))} OK scans/s (p99 ${median(p99).toFixed(1)} ms)`);
    }
    series.push(s);
    await srv.stop();
  }

  // ── the pool threshold ──
  const threshold: HttpResults["threshold"] = [];
  const inlineSrv = await startServer({ workers: 0 });
  const poolSrv = await startServer({ workers: navigator.hardwareConcurrency });
  const srcs = new Map<ServerUnderTest, CodeSource>([[inlineSrv, new CodeSource(holders, HOLDERS)], [poolSrv, new CodeSource(holders, HOLDERS)]]);
  for (const [srv, src] of srcs) await src.warm(srv);
  for (const batch of [1, 4, 16, 64]) {
    const res = { inline: [] as number[], pool: [] as number[] };
    for (let r = 0; r < Math.max(2, runs - 1); r++) {
      for (const [name, srv] of [["inline", inlineSrv], ["pool", poolSrv]] as const) {
        await closedLoop(srv, srcs.get(srv)!, "http", "json", batch, 10_000, 0.2);
        res[name].push((await closedLoop(srv, srcs.get(srv)!, "http", "json", batch, 12_000, seconds * 0.8)).okPerSec);
      }
    }
    threshold.push({ batch, inline: summary(res.inline), pool: summary(res.pool) });
    log(`  pool threshold, batch ${batch}: inline ${Math.round(median(res.inline))}, pool ${Math.round(median(res.pool))} OK scans/s`);
  }
  const thresholdCommands = { inline: inlineSrv.command, pool: poolSrv.command };
  await inlineSrv.stop();
  await poolSrv.stop();

  // ── single scans at 1,000/s ──
  const rate = 1000;
  const singleSeconds = quick ? 3 : 10;
  const srv = await startServer({ workers: navigator.hardwareConcurrency });
  const src = new CodeSource(holders, HOLDERS);
  await src.warm(srv);
  const pct = { p50: [] as number[], p90: [] as number[], p99: [] as number[], p999: [] as number[] };
  let failures = 0;
  for (let r = 0; r < runs; r++) {
    const n = rate * singleSeconds;
    // Poisson arrivals: exponential gaps with mean 1/rate
    const at = new Float64Array(n);
    let t = 0;
    for (let i = 0; i < n; i++) { t += -Math.log(1 - Math.random()) * (1000 / rate); at[i] = t; }
    // stamped now: fresh for the whole run (window 60 s); a later stamp would make the first seconds' scans
    // future-dated (STALE), and the latency of wrong answers is not what this measures
    const block = await src.next(n);
    const bodies = Array.from({ length: n }, (_, i) => JSON.stringify({ code: toText(codeAt(block, i)) }));
    const before = await resultCounts(srv.url);
    const res = await openLoop({ url: srv.url, path: "/v1/verify", key: srv.gatewayKey, format: "json", at, bodies, maxSeconds: singleSeconds + 10 });
    const d = diffCounts(before, await resultCounts(srv.url));
    failures += res.failures + (n - (d.OK ?? 0));
    const p = latencyPercentiles(res.latencies);
    pct.p50.push(p.p50); pct.p90.push(p.p90); pct.p99.push(p.p99); pct.p999.push(p.p999);
    log(`  single scans at ${rate}/s: p50 ${p.p50.toFixed(2)} ms, p99 ${p.p99.toFixed(2)} ms, p99.9 ${p.p999.toFixed(2)} ms (${res.failures} failed, ${n - (d.OK ?? 0)} not OK)`);
  }
  const single = {
    rate, seconds: singleSeconds, runs, p50: summary(pct.p50), p90: summary(pct.p90), p99: summary(pct.p99), p999: summary(pct.p999), failures, command: srv.command,
  };
  await srv.stop();
  return { series, threshold, thresholdCommands, single };
}
