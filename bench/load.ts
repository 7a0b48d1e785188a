/**
 * @module Load generators: closed-loop HTTP with autocannon, closed-loop WebSocket frames, and open-loop
 * (scheduled) HTTP requests with per-request latency. Every run is bounded by a request count and a time
 * limit; results are read from the node's own counters where exactness matters (OK scans).
 */
import autocannon from "autocannon";
import { Packr } from "msgpackr";
import { toText } from "../src/wire/code.ts";
import { codeAt } from "./codes.ts";
import { percentile, sleep } from "./lib.ts";

export type Format = "json" | "msgpack";
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/** Request bodies of `batch` scans each, from a block of signed codes (text in JSON, raw bytes in msgpack). */
export function batchBodies(block: Uint8Array, batch: number, format: Format): (string | Buffer)[] {
  const n = Math.floor(block.length / 212 / batch);
  const out: (string | Buffer)[] = new Array(n);
  for (let b = 0; b < n; b++) {
    const scans: (string | Uint8Array)[] = new Array(batch);
    for (let i = 0; i < batch; i++) {
      const code = codeAt(block, b * batch + i);
      scans[i] = format === "json" ? toText(code) : code.slice();
    }
    out[b] = format === "json" ? JSON.stringify({ scans }) : packr.pack({ scans });
  }
  return out;
}

export interface ClosedLoopResult {
  seconds: number;
  requests: number;
  non2xx: number;
  errors: number;
  /** autocannon's latency percentiles, ms (1 ms resolution). */
  latency: { p50: number; p99: number };
}

/** POSTs every body once over `connections` keep-alive connections (autocannon), as fast as answered. */
export async function autocannonRun(o: {
  url: string; path: string; key: string; format: Format; bodies: (string | Buffer)[]; connections: number; maxSeconds: number;
}): Promise<ClosedLoopResult> {
  let next = 0;
  const contentType = o.format === "json" ? "application/json" : "application/msgpack";
  // autocannon returns on its next 1 s tick after the last answer: time the run from the first request
  // to the last answer instead
  let first = 0, last = 0;
  const r = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon({
      url: o.url + o.path,
      connections: Math.min(o.connections, o.bodies.length),
      amount: o.bodies.length,
      duration: o.maxSeconds,
      timeout: 30,
      headers: { "content-type": contentType, authorization: `Bearer ${o.key}` },
      requests: [{
        method: "POST",
        setupRequest: (req: Record<string, unknown>) => {
          if (next === 0) first = performance.now();
          req.body = o.bodies[next++ % o.bodies.length];
          return req;
        },
      }],
    }, (err, result) => (err ? reject(err) : resolve(result)));
    instance.on("response", () => { last = performance.now(); });
  });
  return {
    seconds: (last - first) / 1000,
    requests: r.requests.total, non2xx: r.non2xx, errors: r.errors + r.timeouts,
    latency: { p50: r.latency.p50, p99: r.latency.p99 },
  };
}

/**
 * Sends every frame once over `connections` WebSockets, each keeping `inflight` frames outstanding (the
 * per-connection limit is 8), JSON text or msgpack binary. Latency per frame, ms.
 */
export async function wsRun(o: {
  host: string; key: string; format: Format; block: Uint8Array; batch: number; connections: number; inflight: number; maxSeconds: number;
}): Promise<{ seconds: number; frames: number; errors: number; latencies: Float64Array }> {
  const nFrames = Math.floor(o.block.length / 212 / o.batch);
  const frames: (string | Buffer)[] = new Array(nFrames);
  for (let f = 0; f < nFrames; f++) {
    const scans: (string | Uint8Array)[] = new Array(o.batch);
    for (let i = 0; i < o.batch; i++) {
      const code = codeAt(o.block, f * o.batch + i);
      scans[i] = o.format === "json" ? toText(code) : code.slice();
    }
    frames[f] = o.format === "json" ? JSON.stringify({ id: f, scans }) : packr.pack({ id: f, scans });
  }
  const latencies = new Float64Array(nFrames);
  const sentAt = new Float64Array(nFrames);
  let next = 0, done = 0, errors = 0;
  let first = 0, last = 0;
  const deadline = performance.now() + o.maxSeconds * 1000;
  const sockets: WebSocket[] = [];
  await new Promise<void>((resolve) => {
    let finished = false;
    const finish = () => { if (!finished) { finished = true; resolve(); } };
    const timer = setTimeout(finish, o.maxSeconds * 1000 + 2000);
    const pump = (ws: WebSocket) => {
      if (next < nFrames && performance.now() < deadline) {
        const f = next++;
        sentAt[f] = performance.now();
        if (f === 0) first = sentAt[f]!;
        ws.send(frames[f]!);
      }
    };
    for (let c = 0; c < o.connections; c++) {
      const ws = new WebSocket(`ws://${o.host}/v1/verify/stream`, { headers: { authorization: `Bearer ${o.key}` } } as never);
      ws.binaryType = "arraybuffer";
      sockets.push(ws);
      ws.onopen = () => { for (let i = 0; i < o.inflight; i++) pump(ws); };
      ws.onmessage = (e) => {
        const body = typeof e.data === "string" ? JSON.parse(e.data) : packr.unpack(new Uint8Array(e.data as ArrayBuffer));
        if (body.error || typeof body.id !== "number") errors++;
        else latencies[body.id] = performance.now() - sentAt[body.id]!;
        done++;
        last = performance.now();
        if (done >= next && (next >= nFrames || performance.now() >= deadline)) { clearTimeout(timer); finish(); return; }
        pump(ws);
      };
      ws.onerror = () => { errors++; };
    }
  });
  const seconds = (last - first) / 1000;
  for (const ws of sockets) ws.close();
  const got = latencies.filter((x) => x > 0).sort();
  return { seconds, frames: done, errors, latencies: got };
}

/**
 * Open loop: each request is sent at its scheduled time (ms from the start), whatever the answers; the
 * latency of request i counts from `origin[i]` (its scheduled time, or an earlier arrival time the caller
 * gives, e.g. a scan's arrival before its gateway batched it) to its answer. Requests are POSTs of
 * prepared bodies over Bun's fetch (keep-alive).
 */
export async function openLoop(o: {
  url: string; path: string; key: string; format: Format; at: Float64Array; bodies: (string | Buffer)[];
  /** Per request, the ms offsets of its scans' arrivals, which their latency counts from (default: `at`). */
  origins?: Float64Array[];
  /** Only scans arriving at or after this offset (ms) are counted in the latencies (a warm-up before it). */
  countFrom?: number;
  /** performance.now() at which offset 0 falls (default: 50 ms from the call). */
  startAt?: number;
  maxSeconds: number;
}): Promise<{ latencies: Float64Array; statuses: Map<number, number>; lateStartMs: number; seconds: number; failures: number }> {
  const n = o.at.length;
  const contentType = o.format === "json" ? "application/json" : "application/msgpack";
  const headers = { "content-type": contentType, authorization: `Bearer ${o.key}` };
  const perScan: number[] = [];
  const statuses = new Map<number, number>();
  let failures = 0;
  const start = o.startAt ?? performance.now() + 50;
  const countFrom = o.countFrom ?? -Infinity;
  const pending: Promise<void>[] = [];
  const { sent: i, lateStartMs } = await sendOnSchedule(o.at, start, start + o.maxSeconds * 1000, (k) => {
    const origins = o.origins?.[k] ?? Float64Array.of(o.at[k]!);
    pending.push(fetch(o.url + o.path, { method: "POST", headers, body: o.bodies[k]! })
      .then(async (res) => {
        await res.arrayBuffer();
        const t = performance.now() - start;
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 200) { for (const at of origins) if (at >= countFrom) perScan.push(t - at); }
        else failures += origins.length;
      }, () => { failures += (o.origins?.[k] ?? [0]).length; }));
  });
  const unsent = n - i;
  await Promise.race([Promise.all(pending), sleep(30_000)]);
  const latencies = Float64Array.from(perScan).sort();
  return { latencies, statuses, lateStartMs, seconds: (performance.now() - start) / 1000, failures: failures + unsent };
}

/**
 * Open loop over WebSockets: one connection per gateway (`gatewayOf[i]` of request i), each frame sent at
 * its scheduled time as `{"id": i, "scans"}` (JSON text); latency per scan as in `openLoop`. An error frame
 * (e.g. OVERLOADED) leaves its scans unanswered.
 */
export async function openLoopWs(o: {
  host: string; key: string; at: Float64Array; frames: string[]; gatewayOf: Uint16Array; gateways: number;
  origins: Float64Array[]; countFrom?: number; startAt?: number; maxSeconds: number;
}): Promise<{ latencies: Float64Array; lateStartMs: number; failures: number }> {
  const sockets: WebSocket[] = [];
  const done = new Uint8Array(o.at.length);
  const perScan: number[] = [];
  let failures = 0, answered = 0;
  const countFrom = o.countFrom ?? -Infinity;
  let start = 0;
  await Promise.all(Array.from({ length: o.gateways }, (_, g) => new Promise<void>((resolve, reject) => {
    const ws = new WebSocket(`ws://${o.host}/v1/verify/stream`, { headers: { authorization: `Bearer ${o.key}` } } as never);
    sockets[g] = ws;
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("stream did not open"));
    ws.onmessage = (e) => {
      const body = JSON.parse(e.data as string) as { id?: number; results?: unknown[]; error?: unknown };
      answered++;
      if (typeof body.id !== "number") return; // an error frame without an id: its frame stays unanswered
      done[body.id] = 1;
      const origins = o.origins[body.id]!;
      if (!body.results) { failures += origins.length; return; }
      const t = performance.now() - start;
      for (const a of origins) if (a >= countFrom) perScan.push(t - a);
    };
  })));
  start = o.startAt ?? performance.now() + 50;
  const n = o.at.length;
  const { sent: i, lateStartMs } = await sendOnSchedule(o.at, start, start + o.maxSeconds * 1000, (k) => sockets[o.gatewayOf[k]!]!.send(o.frames[k]!));
  const deadline = performance.now() + 30_000;
  while (answered < i && performance.now() < deadline) await sleep(10);
  for (const ws of sockets) ws.close();
  for (let k = 0; k < n; k++) if (done[k] === 0) failures += o.origins[k]!.length;
  return { latencies: Float64Array.from(perScan).sort(), lateStartMs, failures };
}

/**
 * Open-loop sending: item k leaves at `start + at[k]` (ms, ascending), never early, whatever the answers;
 * everything already due leaves at once. Stops at `hardStop`. Returns how many were sent and the worst
 * lateness of a send (counted against the server, never for it).
 */
async function sendOnSchedule(at: Float64Array, start: number, hardStop: number, send: (k: number) => void): Promise<{ sent: number; lateStartMs: number }> {
  const n = at.length;
  let i = 0;
  let lateStartMs = 0;
  while (i < n) {
    const now = performance.now();
    if (now > hardStop) break;
    const due = start + at[i]!;
    if (due > now) {
      await sleep(Math.min(due - now, 20));
      continue;
    }
    while (i < n && start + at[i]! <= performance.now()) {
      lateStartMs = Math.max(lateStartMs, performance.now() - (start + at[i]!));
      send(i++);
    }
  }
  return { sent: i, lateStartMs };
}

export function latencyPercentiles(sorted: Float64Array): { p50: number; p90: number; p99: number; p999: number; max: number } {
  return {
    p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), p999: percentile(sorted, 99.9),
    max: sorted.length ? sorted[sorted.length - 1]! : NaN,
  };
}
