/**
 * @module Peak metro: how many times Chongqing's record metro peak one node holds on one core.
 *
 * The record day: 6.148 million metro trips on 2024-12-31; a trip is a tap-in and a tap-out (two scans);
 * 15% of the day's scans fall in the peak hour: 6,148,000 × 2 × 0.15 / 3600 ≈ 512 scans/s.
 *
 * The load at multiple m: Poisson arrivals at m × 512 scans/s over 300 station gateways (each scan at a
 * uniformly chosen gateway); each gateway sends the scans that arrived since its last send every 50 ms
 * (its own phase), as one POST /v1/verify/batch (JSON, YK1 text), over its own keep-alive connection.
 * A scan's latency runs from its arrival at the gate to the answer, the wait for the batch included.
 * Trips, two models:
 * - "first sight": each trip is a new holder; its tap-in is the credential's first sight on this node
 *   (issuer and device signatures), its tap-out follows 0.5–3 s later (time compressed) and finds the
 *   credential in the verified-credential LRU (device signature only): 1.5 verifications per scan;
 * - "returning riders": 4,096 holders, each seen once before the run, ride again and again: every scan
 *   finds its credential verified (one verification per scan), as when the LRU holds the day's riders.
 *
 * The node holds m when every scan is answered (HTTP 200, a result) and the p99 latency is ≤ 150 ms. The
 * server runs pinned to core 0 (so without workers), the load generator on core 1; a fresh server for each
 * level; the first seconds of each level are a warm-up at the same load, not counted.
 */
import { closeSigners, codeAt, holderSet, presentations, type Plan } from "./codes.ts";
import { CodeSource } from "./http.ts";
import { diffCounts, pinSelf, resultCounts, sleep, startServer, summary, type Summary } from "./lib.ts";
import { latencyPercentiles, openLoop, openLoopWs } from "./load.ts";
import { readFileSync } from "node:fs";
import { toText } from "../src/wire/code.ts";
import { rng } from "../test/support/rng.ts";

export const PEAK_SCANS_PER_SECOND = (6_148_000 * 2 * 0.15) / 3600;
export const GATEWAYS = 300;
export const TICK_MS = 50;
export const P99_LIMIT_MS = 150;
export const TRIP_MIN_MS = 500;
export const TRIP_MAX_MS = 3000;

export interface MetroLevel {
  multiple: number;
  scansPerSec: number;
  /** Scans and requests in the counted window. */
  scans: number;
  requests: number;
  meanBatch: number;
  failures: number;
  notOk: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  /** How late the load generator sent its latest request (ms; counted in the latencies). */
  lateMs: number;
  /** Busy share of core 0 (server) and core 1 (load generator) over the run. */
  busy: { server: number; loadGenerator: number };
  pass: boolean;
}

export type MetroModel = "first-sight" | "returning";
/** HTTP: each gateway POSTs its batch; ws: each gateway holds one stream and sends a frame. */
export type MetroTransport = "http" | "ws";
export const RETURNING_HOLDERS = 4096;

export interface MetroResults {
  model: MetroModel;
  transport: MetroTransport;
  peak: number;
  held: number;
  levels: MetroLevel[];
  /** Repeats of the levels around the answer: multiple → p99 of each run. */
  repeats: { multiple: number; p99: Summary; passes: number; runs: number }[];
  seconds: number;
  warmSeconds: number;
  command: string;
}

/** Per core, the /proc/stat tick counters (user nice system idle iowait irq softirq steal). */
function coreTicks(): number[][] {
  return readFileSync("/proc/stat", "utf8").split("\n").filter((l) => /^cpu\d /.test(l)).map((l) => l.trim().split(/\s+/).slice(1, 9).map(Number));
}

function busyShare(a: number[], b: number[]): number {
  const d = b.map((x, i) => x - a[i]!);
  const total = d.reduce((x, y) => x + y, 0);
  return total > 0 ? 1 - (d[3]! + d[4]!) / total : NaN;
}


interface Schedule {
  plan: Plan;
  /** Per scan: arrival (ms from the start) and gateway. */
  arrival: Float64Array;
  /** Requests in send order: send time, gateway, scan indices. */
  sendAt: Float64Array;
  gatewayOf: Uint16Array;
  scansOf: Uint32Array[];
}

/** The scans of `ms` milliseconds at `rate` scans/s, as trips, batched per gateway tick. */
function schedule(model: MetroModel, rate: number, ms: number, epochSecond: number, seed: number): Schedule {
  const r = rng(seed);
  const exp = (mean: number) => -Math.log(1 - r()) * mean;
  // tap-ins at rate/2 from TRIP_MAX_MS before the start, so tap-outs arrive at rate/2 from the start on
  const scans: { at: number; holder: number; counter: number }[] = [];
  let trip = 0;
  for (let t = -TRIP_MAX_MS + exp(2000 / rate); t < ms; t += exp(2000 / rate)) {
    const k = trip++;
    // first sight: a holder per trip; returning: holders in turn, counters above the warm-up's
    const holder = model === "first-sight" ? k : k % RETURNING_HOLDERS;
    const base = model === "first-sight" ? 0 : 10 + 2 * Math.floor(k / RETURNING_HOLDERS);
    if (t >= 0) scans.push({ at: t, holder, counter: base + 1 });
    const out = t + TRIP_MIN_MS + r() * (TRIP_MAX_MS - TRIP_MIN_MS);
    if (out >= 0 && out < ms) scans.push({ at: out, holder, counter: base + 2 });
  }
  scans.sort((a, b) => a.at - b.at);
  const n = scans.length;
  const plan: Plan = { holder: new Uint32Array(n), counter: new Uint32Array(n), time: new Uint32Array(n) };
  const arrival = new Float64Array(n);
  const phase = Float64Array.from({ length: GATEWAYS }, () => r() * TICK_MS);
  const batches = new Map<string, { at: number; g: number; scans: number[] }>();
  for (let i = 0; i < n; i++) {
    const s = scans[i]!;
    plan.holder[i] = s.holder;
    plan.counter[i] = s.counter;
    plan.time[i] = epochSecond + Math.floor(s.at / 1000);
    arrival[i] = s.at;
    const g = Math.floor(r() * GATEWAYS);
    const tick = phase[g]! + Math.ceil((s.at - phase[g]!) / TICK_MS) * TICK_MS;
    const key = `${g}:${tick}`;
    const b = batches.get(key);
    if (b) b.scans.push(i);
    else batches.set(key, { at: tick, g, scans: [i] });
  }
  const reqs = [...batches.values()].sort((a, b) => a.at - b.at);
  return {
    plan, arrival, sendAt: Float64Array.from(reqs, (q) => q.at), gatewayOf: Uint16Array.from(reqs, (q) => q.g),
    scansOf: reqs.map((q) => Uint32Array.from(q.scans)),
  };
}

/** Tap-ins before the start have no scan in the window but use a holder; holders a level needs at most. */
function holdersFor(rate: number, ms: number): number {
  return Math.ceil(((rate / 2) * (ms + TRIP_MAX_MS)) / 1000 * 1.2) + 1000;
}

export async function level(model: MetroModel, transport: MetroTransport, multiple: number, seconds: number, warmSeconds: number, seed: number, log: (l: string) => void): Promise<{ level: MetroLevel; command: string }> {
  const rate = multiple * PEAK_SCANS_PER_SECOND;
  const ms = (warmSeconds + seconds) * 1000;
  const holders = await holderSet(model === "first-sight" ? holdersFor(rate, ms) : RETURNING_HOLDERS, log);
  const srv = await startServer({ cpus: "0", workers: 0 });
  try {
    if (model === "returning") await new CodeSource(holders, RETURNING_HOLDERS).warm(srv);
    // presentation times are the arrival seconds: fix the start ahead of signing
    const prepMs = 1500 + (rate * (ms / 1000)) / 60; // ~60k signatures/s/core, two cores, and the bodies
    const startEpochMs = Math.ceil((Date.now() + prepMs) / 1000) * 1000;
    const sch = schedule(model, rate, ms, startEpochMs / 1000, seed);
    const block = await presentations(holders, sch.plan);
    closeSigners();
    const texts = Array.from({ length: sch.arrival.length }, (_, i) => toText(codeAt(block, i)));
    const bodies = sch.scansOf.map((idx, k) => JSON.stringify(transport === "http" ? { scans: Array.from(idx, (i) => texts[i]!) } : { id: k, scans: Array.from(idx, (i) => texts[i]!) }));
    const origins = sch.scansOf.map((idx) => Float64Array.from(idx, (i) => sch.arrival[i]!));
    const waitMs = startEpochMs - Date.now();
    if (waitMs < 0) log(`  (metro ${multiple}×: preparation overran its estimate by ${-waitMs} ms; presentations are that much older)`);
    const before = await resultCounts(srv.url);
    pinSelf("1");
    const c0 = coreTicks();
    const common = { at: sch.sendAt, origins, countFrom: warmSeconds * 1000, startAt: performance.now() + Math.max(50, waitMs), maxSeconds: ms / 1000 + 30 };
    const res = transport === "http"
      ? await openLoop({ ...common, url: srv.url, path: "/v1/verify/batch", key: srv.gatewayKey, format: "json", bodies })
      : await openLoopWs({ ...common, host: `${srv.host}:${srv.port}`, key: srv.gatewayKey, frames: bodies, gatewayOf: sch.gatewayOf, gateways: GATEWAYS });
    const c1 = coreTicks();
    pinSelf("0-" + String(navigator.hardwareConcurrency - 1));
    const busy = { server: busyShare(c0[0]!, c1[0]!), loadGenerator: busyShare(c0[1]!, c1[1]!) };
    const d = diffCounts(before, await resultCounts(srv.url));
    const counted = sch.arrival.filter((a) => a >= warmSeconds * 1000).length;
    const countedReqs = sch.sendAt.filter((a) => a >= warmSeconds * 1000).length;
    const p = latencyPercentiles(res.latencies);
    const notOk = sch.arrival.length - (d.OK ?? 0);
    const lvl: MetroLevel = {
      multiple, scansPerSec: rate, scans: counted, requests: countedReqs, meanBatch: counted / Math.max(1, countedReqs),
      failures: res.failures, notOk, ...p, lateMs: res.lateStartMs, busy,
      pass: res.failures === 0 && res.latencies.length === counted && p.p99 <= P99_LIMIT_MS,
    };
    log(`  metro, ${model}, ${transport}, ${multiple}× (${Math.round(rate)} scans/s, ${lvl.meanBatch.toFixed(2)} scans/request): p50 ${p.p50.toFixed(1)} ms, p99 ${p.p99.toFixed(1)} ms, max ${p.max.toFixed(0)} ms, sender late ≤ ${res.lateStartMs.toFixed(0)} ms, cores busy ${(busy.server * 100).toFixed(0)}%/${(busy.loadGenerator * 100).toFixed(0)}%, ${res.failures} unanswered, ${notOk} not OK → ${lvl.pass ? "holds" : "does not hold"}`);
    return { level: lvl, command: srv.command };
  } finally {
    await srv.stop();
    await sleep(200);
  }
}

/** The multiples a run climbs (from the first at or above `from`). */
export const METRO_LADDER: { readonly quick: readonly number[]; readonly full: readonly number[] } = { quick: [1, 10, 20, 30, 40, 60], full: [1, 5, 10, 15, 20, 25, 30, 35, 40, 50, 60, 80, 100, 120] };

export async function runMetro(o: { quick: boolean; model: MetroModel; transport: MetroTransport; from?: number; log: (l: string) => void }): Promise<MetroResults> {
  const { quick, log, model, transport } = o;
  const seconds = quick ? 4 : 8;
  const warmSeconds = quick ? 2 : 3;
  const full = quick ? METRO_LADDER.quick : METRO_LADDER.full;
  // up the ladder from `from` until a level is not held (down it, if `from` itself is not held)
  const startAt = Math.max(0, full.findIndex((m) => m >= (o.from ?? 0)));
  const levels: MetroLevel[] = [];
  let command = "";
  let lastPass = 0;
  let firstFail = 0;
  for (let i = startAt; i < full.length; i++) {
    const m = full[i]!;
    const r = await level(model, transport, m, seconds, warmSeconds, m * 7919, log);
    command = r.command;
    levels.push(r.level);
    if (r.level.pass) { lastPass = m; continue; }
    firstFail = m;
    if (lastPass === 0) {
      for (let j = i - 1; j >= 0; j--) {
        const d = await level(model, transport, full[j]!, seconds, warmSeconds, full[j]! * 7919, log);
        levels.push(d.level);
        if (d.level.pass) { lastPass = full[j]!; break; }
        firstFail = full[j]!;
      }
    }
    break;
  }
  // one bisection step between the last level held and the first not held
  if (!quick && firstFail > 0 && firstFail - lastPass > 2) {
    const mid = Math.round((lastPass + firstFail) / 2);
    const r = await level(model, transport, mid, seconds, warmSeconds, mid * 7919, log);
    levels.push(r.level);
    if (r.level.pass) lastPass = mid;
    else firstFail = mid;
  }
  // repeats: the answer is the largest multiple held in at least two of three runs
  const repeats: MetroResults["repeats"] = [];
  let held = 0;
  // levels held once, largest first; then every lower rung of the ladder, so a level held once but not
  // confirmed falls back to the next one below instead of to 0×
  const passed = [...new Set(levels.filter((l) => l.pass).map((l) => l.multiple))].sort((a, b) => b - a);
  const below = full.filter((m) => m < (passed.at(-1) ?? Infinity) && !passed.includes(m)).sort((a, b) => b - a);
  for (const m of [...passed, ...below]) {
    let first = levels.find((l) => l.multiple === m && l.pass);
    if (first === undefined) {
      first = (await level(model, transport, m, seconds, warmSeconds, m * 7919, log)).level;
      levels.push(first);
    }
    const p99s = [first.p99];
    let passes = first.pass ? 1 : 0;
    for (let k = 1; k < (quick ? 1 : 3); k++) {
      const r = await level(model, transport, m, seconds, warmSeconds, m * 7919 + k, log);
      p99s.push(r.level.p99);
      if (r.level.pass) passes++;
    }
    repeats.push({ multiple: m, p99: summary(p99s), passes, runs: p99s.length });
    if (passes * 2 > p99s.length) { held = m; break; }
  }
  levels.sort((a, b) => a.multiple - b.multiple);
  return { model, transport, peak: PEAK_SCANS_PER_SECOND, held, levels, repeats, seconds, warmSeconds, command };
}
