/**
 * @module Soak: minutes of mixed load on one node, sampled every second (`bun bench/soak.ts [--minutes=10]
 * [--out=PATH]`; progress on stderr, the results JSON as the last line of stdout; run.ts runs it as the
 * part "soak", which is not in its default set: `npm run bench -- --only=soak`).
 *
 * The server runs pinned to core 0 without workers (`startServer({ cpus: "0", workers: 0 })`), the load
 * generator pins itself to core 1. Open loop for the whole duration, every request bounded by a timeout:
 *
 * - transit: the metro gateway POSTs /v1/verify/batch (JSON and msgpack in turn), scans of bench holders
 *   signed each second a few seconds ahead on the sign workers (stamped with the second they are sent in;
 *   counters strictly increasing per holder, so no scan is a replay);
 * - stream: one WebSocket to /v1/verify/stream (metro gateway key), JSON text frames with ids, answers
 *   matched by id;
 * - licence scenes: a hotel gateway; credentials issued through POST /v1/credentials for generated resident
 *   IDs, each linked to an identity-card licence; scans with consent bit 0 must come back OK with it;
 * - junk: one request or frame in `junkEvery` is junk (bad JSON, a wrong content type, an oversized batch,
 *   a junk scan inside a batch, a frame that is not JSON): 4xx, MALFORMED or BAD_FRAME, counted apart;
 * - admin churn: a credential of a reserved set revoked every few seconds (revocation checks each second:
 *   a revoked one must be REVOKED, the next one still OK), a gateway created and used, then deleted and
 *   refused (401), every few seconds.
 *
 * Each second: the server's RSS (/proc/<pid>/status), its event-loop lag peak (/metrics,
 * yukuai_event_loop_lag_peak_seconds, the largest lateness of its 50 ms timer since the previous scrape),
 * p50/p99 of the verification requests and frames answered in that second (from their scheduled time),
 * what was sent and answered, statuses, and CPU: the server's, the load generator's, and everyone else's
 * on the machine (the busy time of all cores less those two).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { Packr } from "msgpackr";
import { Holder, newDeviceKey } from "../src/holder/holder.ts";
import { toText } from "../src/wire/code.ts";
import { closeSigners, codeAt, holderSet, presentations, type HolderSet, type Plan } from "./codes.ts";
import { ADMIN, diffCounts, median, OUT, percentile, pinSelf, resultCounts, sleep, startServer, type ServerUnderTest } from "./lib.ts";

/** The soak's load (stored with the results: the report reads it from there). */
export const SOAK = {
  transit: { perSecond: 50, batch: 8 },
  stream: { perSecond: 10, batch: 8 },
  licence: { perSecond: 5, holders: 20 },
  /** One request (or frame) in this many is junk. */
  junkEvery: 100,
  revokeEverySeconds: 5,
  gatewayEverySeconds: 10,
  /** Revocation checks: one batch a second (a revoked credential, the next to be revoked). */
  checksPerSecond: 1,
  holders: 4096,
  timeoutMs: 10_000,
  drainMs: 15_000,
  /** Presentations are signed this many seconds ahead of the second they are sent in. */
  signAheadSeconds: 3,
  /** "Flat": least-squares RSS slope after warm-up under this (MB per minute) and end within `growth` of warm-up. */
  flat: { slopeMBPerMin: 1, growth: 0.05 },
} as const;

export type SoakKind = "transit" | "stream" | "licence" | "check" | "churn" | "admin";
const KINDS: readonly SoakKind[] = ["transit", "stream", "licence", "check", "churn", "admin"];
/** Kinds whose answers are verification results (their latencies make the per-second percentiles). */
const VERIFY_KINDS: ReadonlySet<SoakKind> = new Set(["transit", "stream", "licence", "check"]);
/** Stream error codes of the 5xx class (spec §8.1). */
const FRAME_5XX = new Set(["INTERNAL", "REPLAY_STORE_FULL", "REPLAY_STORE_UNAVAILABLE", "OVERLOADED", "ISSUER_UNAVAILABLE", "SHUTTING_DOWN"]);

export interface SoakSecond {
  /** Seconds from the start (the end of this second). */
  t: number;
  rssMB: number;
  /** The node's event-loop lag peak since the previous second's scrape, ms. */
  lagMs: number;
  /** Of the verification requests and frames answered in this second (non-junk), ms from their scheduled time. */
  p50: number;
  p99: number;
  answeredForLatency: number;
  sent: number;
  answered: number;
  s2xx: number;
  s4xx: number;
  s5xx: number;
  /** Network errors and timeouts. */
  errors: number;
  /** Core-seconds per second: the server process, the load generator, everyone else on the machine. */
  cpu: { server: number; loadGenerator: number; others: number };
  load1: number;
  /** The node's gauges at the scrape: serials in the replay window, verified credentials cached. */
  replaySerials: number;
  cacheEntries: number;
  /** The load generator's worst lateness sending this second's requests, ms. */
  sendLateMs: number;
}

export interface SoakKindTotals {
  sent: number;
  answered: number;
  lost: number;
  /** HTTP status (or "frame" / "frame:<code>" for stream answers) → count. */
  statuses: Record<string, number>;
  s2xx: number;
  s4xx: number;
  s5xx: number;
  errors: number;
  timeouts: number;
  /** Answers as expected, and not (junk included: a junk answer is expected when it is a 4xx, MALFORMED or BAD_FRAME). */
  expected: number;
  unexpected: number;
  /** Result codes in the answers the load generator read. */
  results: Record<string, number>;
  /** Latency of non-junk answers, ms. */
  p50: number;
  p99: number;
  max: number;
}

export interface SoakResults {
  minutes: number;
  durationSeconds: number;
  startedAt: string;
  /** Wall time of the whole bench (set-up and drain included), s. */
  wallSeconds: number;
  config: typeof SOAK;
  command: { server: string; loadGenerator: string; soak: string };
  machine: { cores: number; cpu: string };
  loadavg: { start: number[]; end: number[] };
  seconds: SoakSecond[];
  kinds: Record<SoakKind, SoakKindTotals>;
  totals: {
    sent: number; answered: number; lost: number;
    s2xx: number; s4xx: number; s5xx: number; errors: number; timeouts: number;
    unexpected: number;
    /** Stream answers that came after their timeout (counted lost). */
    lateAnswers: number;
  };
  junk: {
    sent: number; answered: number; expected: number; unexpected: number;
    /** By junk kind: sent and how it was answered. */
    byKind: Record<string, { sent: number; answers: Record<string, number> }>;
  };
  revocations: { made: number; failed: number; revokedScans: number; revokedAsRevoked: number; liveScans: number; liveAsOk: number };
  gateways: { created: number; usedOk: number; deleted: number; refusedAfterDelete: number; failed: number };
  licences: { holders: number; scans: number; released: number };
  /** The node's own scan counters over the run (yukuai_scans_total, batch refusals). */
  nodeResults: Record<string, number>;
  rss: { warmUpMB: number; endMB: number; slopeMBPerMin: number; peakMB: number; minMB: number; warmWindow: [number, number]; endWindow: [number, number] };
  lag: { maxMs: number; p99Ms: number; medianMs: number; missingSamples: number };
  p99: { maxMs: number; medianMs: number };
  cpu: { serverMean: number; loadGeneratorMean: number; othersMean: number; othersMax: number };
  sendLateMaxMs: number;
  /** The first unexpected answers, as text (no personal data: statuses and result codes). */
  notes: string[];
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true });
const log = (l: string) => console.error(l);

// ── identity numbers (GB 11643), as test/support/ids.ts makes them; bench does not import test/ for it ──

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/** The 18-character resident ID of a 17-digit body: the body and its GB 11643 check character. */
export function residentId(body17: string): string {
  let s = 0;
  for (let i = 0; i < 17; i++) s += Number(body17[i]) * ID_WEIGHTS[i]!;
  return body17 + "10X98765432"[s % 11];
}

/** Resident ID number i: Yuzhong district (500103), a birth date from 1950 on, a sequence number. */
function soakId(i: number): string {
  const d = new Date(Date.UTC(1950, 0, 1) + ((i * 37) % 20_000) * 86_400_000);
  const ymd = `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, "0")}${String(d.getUTCDate()).padStart(2, "0")}`;
  return residentId(`500103${ymd}${String(100 + (i % 900)).padStart(3, "0")}`);
}

// ── /proc ────────────────────────────────────────────────────────────────────

const CLK_TCK = 100;

function rssMB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** The process's CPU time (utime + stime, all threads), s. */
function procCpuSeconds(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/** Busy time of all cores together (not idle, not iowait), s. */
function machineBusySeconds(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n").find((l) => l.startsWith("cpu "))!;
  const t = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = t.reduce((a, b) => a + b, 0);
  return (total - t[3]! - t[4]!) / CLK_TCK;
}

function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function cpuModel(): string {
  return cpus()[0]?.model ?? "?";
}

// ── statistics ───────────────────────────────────────────────────────────────

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n, my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0, den = 0;
  for (let i = 0; i < n; i++) { num += (xs[i]! - mx) * (ys[i]! - my); den += (xs[i]! - mx) ** 2; }
  return den > 0 ? num / den : NaN;
}

const sortedOf = (xs: number[]) => Float64Array.from(xs).sort();
const finite = (xs: number[]) => xs.filter((x) => Number.isFinite(x));

// ── the soak ─────────────────────────────────────────────────────────────────

interface SecondTally {
  sent: number; answered: number; s2xx: number; s4xx: number; s5xx: number; errors: number; lat: number[]; sendLateMs: number;
}

interface Tally {
  sent: number; answered: number; errors: number; timeouts: number; expected: number; unexpected: number;
  statuses: Map<string, number>; results: Map<string, number>; lat: number[];
}

const bump = (m: Map<string, number>, k: string, n = 1) => m.set(k, (m.get(k) ?? 0) + n);
const record = (m: Map<string, number>) => Object.fromEntries([...m].sort((a, b) => b[1] - a[1]));

/** What an answer body says: the result codes in it (a batch, a single result, or a frame). */
function resultCodes(body: unknown): string[] {
  const b = body as { results?: { result?: string }[]; result?: string } | undefined;
  if (Array.isArray(b?.results)) return b.results.map((r) => String(r?.result));
  if (typeof b?.result === "string") return [b.result];
  return [];
}

export async function runSoak(o: { minutes: number; log?: (l: string) => void }): Promise<SoakResults> {
  const say = o.log ?? log;
  const wall0 = performance.now();
  const D = Math.max(10, Math.round(o.minutes * 60));
  const C = SOAK;
  pinSelf("1");
  const loadStart = loadavg();
  say(`soak: ${(D / 60).toFixed(1)} min; load average at start ${loadStart.map((x) => x.toFixed(2)).join(" ")}`);

  const holders: HolderSet = await holderSet(C.holders, say);
  const srv: ServerUnderTest = await startServer({ cpus: "0", workers: 0 });
  const pid = srv.proc.pid;
  const adminHeaders = { "content-type": "application/json", authorization: `Bearer ${ADMIN}` };
  const adminPost = async (path: string, body: unknown): Promise<any> => {
    const res = await fetch(srv.url + path, { method: "POST", headers: adminHeaders, body: JSON.stringify(body), signal: AbortSignal.timeout(C.timeoutMs) });
    if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  try {
    // ── set-up (not measured): a hotel gateway, issued credentials, licences ──
    const hotel = (await adminPost("/v1/gateways", { name: "soak hotel front desk", scene: "hotel" })) as { id: string; key: string };
    const issue = async (i: number): Promise<{ holder: Holder; id: string; serial: string }> => {
      const { privateKey, publicKey } = newDeviceKey();
      const id = soakId(i);
      const r = (await adminPost("/v1/credentials", { kind: "person", idNumber: id, devicePublicKey: Buffer.from(publicKey).toString("base64url"), validDays: 30 })) as { serial: string; credential: string };
      return { holder: new Holder(privateKey, new Uint8Array(Buffer.from(r.credential, "base64url"))), id, serial: r.serial };
    };
    const guests: { holder: Holder; id: string }[] = [];
    for (let i = 0; i < C.licence.holders; i++) {
      const g = await issue(i);
      const res = await fetch(`${srv.url}/v1/subjects/person/${g.id}/licences/identity-card`, {
        method: "PUT", headers: adminHeaders, body: JSON.stringify({ name: `Soak Guest ${i}`, idNumber: g.id }), signal: AbortSignal.timeout(C.timeoutMs),
      });
      if (res.status !== 200) throw new Error(`licence link: ${res.status} ${await res.text()}`);
      guests.push(g);
    }
    const nRevocations = Math.floor((D - 1) / C.revokeEverySeconds);
    const reserved: { holder: Holder; serial: string }[] = [];
    for (let i = 0; i < nRevocations + 2; i++) reserved.push(await issue(1000 + i));
    const rider = (await issue(5000)).holder; // the churn gateways' scans
    say(`  set-up: hotel gateway, ${guests.length} licence holders, ${reserved.length} credentials reserved for revocation, ${C.holders} bench holders`);

    // ── tallies ──
    const secondsCap = D + Math.ceil(C.drainMs / 1000) + 5;
    const per: SecondTally[] = Array.from({ length: secondsCap }, () => ({ sent: 0, answered: 0, s2xx: 0, s4xx: 0, s5xx: 0, errors: 0, lat: [], sendLateMs: 0 }));
    const newTally = (): Tally => ({ sent: 0, answered: 0, errors: 0, timeouts: 0, expected: 0, unexpected: 0, statuses: new Map(), results: new Map(), lat: [] });
    const tally = Object.fromEntries(KINDS.map((k) => [k, newTally()])) as Record<SoakKind, Tally>;
    const junk = { sent: 0, answered: 0, expected: 0, unexpected: 0, byKind: new Map<string, { sent: number; answers: Map<string, number> }>() };
    const revs = { made: 0, failed: 0, revokedScans: 0, revokedAsRevoked: 0, liveScans: 0, liveAsOk: 0 };
    const gws = { created: 0, usedOk: 0, deleted: 0, refusedAfterDelete: 0, failed: 0 };
    const lic = { scans: 0, released: 0 };
    const notes: string[] = [];
    const note = (s: string) => { if (notes.length < 20) notes.push(s); };
    let inflight = 0;
    let lateAnswers = 0;
    let t0 = 0;
    const secOf = (t: number) => Math.min(secondsCap - 1, Math.max(0, Math.floor((t - t0) / 1000)));

    const sent = (kind: SoakKind, due: number, junkKind?: string) => {
      tally[kind].sent++;
      per[secOf(due)]!.sent++;
      if (junkKind !== undefined) {
        junk.sent++;
        const j = junk.byKind.get(junkKind) ?? junk.byKind.set(junkKind, { sent: 0, answers: new Map() }).get(junkKind)!;
        j.sent++;
      }
    };
    /** An answer: `status` is the HTTP status (or 200 / the error's class for a frame), `label` what to count it as. */
    const answered = (kind: SoakKind, due: number, status: number, label: string, codes: string[], expected: boolean, junkKind: string | undefined, what: string) => {
      const now = performance.now();
      const t = tally[kind], s = per[secOf(now)]!;
      t.answered++;
      s.answered++;
      bump(t.statuses, label);
      for (const c of codes) bump(t.results, c);
      if (status >= 500) s.s5xx++; else if (status >= 400) s.s4xx++; else if (status >= 200 && status < 300) s.s2xx++;
      if (expected) t.expected++;
      else { t.unexpected++; note(`${((now - t0) / 1000).toFixed(1)} s: ${kind}${junkKind ? ` junk (${junkKind})` : ""}: ${what}`); }
      if (junkKind !== undefined) {
        junk.answered++;
        if (expected) junk.expected++; else junk.unexpected++;
        bump(junk.byKind.get(junkKind)!.answers, codes.length ? `${label} ${[...new Set(codes)].join("+")}` : label);
      } else {
        t.lat.push(now - due);
        if (VERIFY_KINDS.has(kind)) s.lat.push(now - due);
      }
    };
    const failed = (kind: SoakKind, timeout: boolean, what: string) => {
      const t = tally[kind];
      t.errors++;
      if (timeout) t.timeouts++;
      per[secOf(performance.now())]!.errors++;
      note(`${((performance.now() - t0) / 1000).toFixed(1)} s: ${kind}: ${what}`);
    };

    /** One HTTP request, bounded by the timeout; `check` says whether the answer is the expected one. */
    const request = (kind: SoakKind, due: number, method: string, path: string, headers: Record<string, string>, body: string | Buffer | undefined,
      check: (status: number, body: unknown) => boolean, junkKind?: string): Promise<{ status: number; body: unknown } | undefined> => {
      sent(kind, due, junkKind);
      inflight++;
      return fetch(srv.url + path, { method, headers, body, signal: AbortSignal.timeout(C.timeoutMs) })
        .then(async (res) => {
          const buf = new Uint8Array(await res.arrayBuffer());
          let parsed: unknown;
          try {
            parsed = buf.length === 0 ? undefined : (res.headers.get("content-type") ?? "").includes("msgpack") ? packr.unpack(buf) : JSON.parse(new TextDecoder().decode(buf));
          } catch { parsed = undefined; }
          const codes = resultCodes(parsed);
          const errCode = (parsed as { error?: { code?: string } } | undefined)?.error?.code;
          const ok = check(res.status, parsed);
          answered(kind, due, res.status, String(res.status), codes, ok, junkKind,
            `${method} ${path.replace(/\/person\/\d+X?/, "/person/…")} → ${res.status}${errCode ? ` ${errCode}` : ""}${codes.length ? ` [${summarise(codes)}]` : ""}`);
          return { status: res.status, body: parsed };
        }, (e: unknown) => {
          const timeout = (e as Error)?.name === "TimeoutError";
          failed(kind, timeout, `${method} ${path}: ${timeout ? `no answer in ${C.timeoutMs} ms` : `${(e as Error)?.name}: ${(e as Error)?.message}`}`);
          return undefined;
        })
        .finally(() => { inflight--; });
    };
    const summarise = (codes: string[]) => {
      const m = new Map<string, number>();
      for (const c of codes) bump(m, c);
      return [...m].map(([c, n]) => (n > 1 ? `${c}×${n}` : c)).join(", ");
    };
    const allOk = (n: number) => (status: number, b: unknown) => status === 200 && resultCodes(b).length === n && resultCodes(b).every((c) => c === "OK");

    // ── the stream ──
    const pendingFrames = new Map<number, { due: number; junkKind?: string; n: number }>();
    /** Frames that are not JSON are answered without an id: matched in order. */
    const idless: number[] = [];
    let ws: WebSocket | null = null;
    let running = true;
    const onFrame = (e: MessageEvent) => {
      let body: { id?: unknown; results?: { result?: string }[]; error?: { code?: string } };
      try { body = JSON.parse(String(e.data)); } catch { note("stream: an answer that is not JSON"); return; }
      let id = typeof body.id === "number" ? body.id : undefined;
      if (id === undefined && body.error) id = idless.shift();
      const p = id === undefined ? undefined : pendingFrames.get(id);
      if (id === undefined || p === undefined) { lateAnswers++; return; }
      pendingFrames.delete(id);
      inflight--;
      const codes = resultCodes(body);
      const code = body.error?.code;
      const status = code === undefined ? 200 : FRAME_5XX.has(code) ? 503 : 400;
      const expected = p.junkKind === "frame: not JSON" ? code === "BAD_FRAME"
        : p.junkKind === "frame: junk scan" ? code === undefined && codes.length === p.n && codes[0] === "MALFORMED" && codes.slice(1).every((c) => c === "OK")
        : code === undefined && codes.length === p.n && codes.every((c) => c === "OK");
      answered("stream", p.due, status, code === undefined ? "frame" : `frame:${code}`, codes, expected, p.junkKind, `frame → ${code ?? `[${summarise(codes)}]`}`);
    };
    const connect = (): Promise<void> => new Promise((res, rej) => {
      const s = new WebSocket(`ws://${srv.host}:${srv.port}/v1/verify/stream`, { headers: { authorization: `Bearer ${srv.gatewayKey}` } } as never);
      s.onopen = () => { ws = s; res(); };
      s.onmessage = onFrame;
      s.onerror = () => rej(new Error("the stream did not open"));
      s.onclose = (ev) => {
        if (ws === s) ws = null;
        if (running) {
          note(`${((performance.now() - t0) / 1000).toFixed(1)} s: the stream closed (${ev.code} ${ev.reason}); reconnecting`);
          setTimeout(() => { if (running) connect().catch(() => {}); }, 1000);
        }
      };
    });
    await connect();
    // frames unanswered within the timeout are lost
    const sweep = setInterval(() => {
      const limit = performance.now() - C.timeoutMs;
      for (const [id, p] of pendingFrames) {
        if (p.due >= limit) continue;
        pendingFrames.delete(id);
        const k = idless.indexOf(id);
        if (k >= 0) idless.splice(k, 1);
        inflight--;
        failed("stream", true, `frame ${id}: no answer in ${C.timeoutMs} ms`);
      }
    }, 250);

    // ── presentations, signed ahead ──
    const perSecondCodes = C.transit.perSecond * C.transit.batch + C.stream.perSecond * C.stream.batch;
    interface Prepared { transit: { json: string; msgpack: Buffer; texts: string[] }[]; frames: string[][] }
    const prepared = new Map<number, Promise<Prepared>>();
    const E0 = Math.ceil(Date.now() / 1000) + 2; // the epoch second of the run's second 0
    const prepare = (sec: number) => {
      if (sec >= D || prepared.has(sec)) return;
      const plan: Plan = { holder: new Uint32Array(perSecondCodes), counter: new Uint32Array(perSecondCodes), time: new Uint32Array(perSecondCodes).fill(E0 + sec) };
      for (let i = 0; i < perSecondCodes; i++) {
        const g = sec * perSecondCodes + i;
        plan.holder[i] = g % C.holders;
        plan.counter[i] = 1 + Math.floor(g / C.holders);
      }
      prepared.set(sec, presentations(holders, plan).then((block) => {
        let k = 0;
        const transit = Array.from({ length: C.transit.perSecond }, () => {
          const codes = Array.from({ length: C.transit.batch }, () => codeAt(block, k++));
          const texts = codes.map(toText);
          return { json: JSON.stringify({ scans: texts }), msgpack: packr.pack({ scans: codes.map((c) => c.slice()) }), texts };
        });
        const frames = Array.from({ length: C.stream.perSecond }, () => Array.from({ length: C.stream.batch }, () => toText(codeAt(block, k++))));
        return { transit, frames };
      }));
    };
    for (let s = 0; s <= C.signAheadSeconds; s++) prepare(s);
    await prepared.get(0);

    // ── what each second sends ──
    const gwKey = srv.gatewayKey;
    const json = (key: string) => ({ "content-type": "application/json", authorization: `Bearer ${key}` });
    const nowS = () => Math.floor(Date.now() / 1000);
    let transitN = 0, frameN = 0, licenceN = 0, junkN = 0;
    const TRANSIT_JUNK = ["bad JSON", "wrong content type", "oversized batch", "junk scan"] as const;
    let revokedCount = 0, revokePosted = 0;
    let churn: { id: string; key: string } | null = null;
    let churnN = 0;

    const transit = async (sec: number, due: number) => {
      const k = transitN++;
      const b = (await prepared.get(sec)!).transit[k % C.transit.perSecond]!;
      const msgpack = k % 2 === 1;
      if (k % C.junkEvery === C.junkEvery - 1) {
        const kind = TRANSIT_JUNK[junkN++ % TRANSIT_JUNK.length]!;
        if (kind === "bad JSON") void request("transit", due, "POST", "/v1/verify/batch", json(gwKey), b.json.slice(0, -7), (s) => s === 400, kind);
        else if (kind === "wrong content type") void request("transit", due, "POST", "/v1/verify/batch", { "content-type": "text/plain", authorization: `Bearer ${gwKey}` }, b.json, (s) => s === 415, kind);
        else if (kind === "oversized batch") void request("transit", due, "POST", "/v1/verify/batch", json(gwKey), JSON.stringify({ scans: Array.from({ length: 1001 }, () => "YK1:0") }), (s) => s === 413, kind);
        else {
          void request("transit", due, "POST", "/v1/verify/batch", json(gwKey), JSON.stringify({ scans: ["YK1:not a code", ...b.texts.slice(1)] }), (s, body) => {
            const c = resultCodes(body);
            return s === 200 && c.length === C.transit.batch && c[0] === "MALFORMED" && c.slice(1).every((x) => x === "OK");
          }, kind);
        }
        return;
      }
      void request("transit", due, "POST", "/v1/verify/batch", msgpack ? { "content-type": "application/msgpack", authorization: `Bearer ${gwKey}` } : json(gwKey), msgpack ? b.msgpack : b.json, allOk(C.transit.batch));
    };

    const frame = async (sec: number, due: number) => {
      const f = frameN++;
      const scans = (await prepared.get(sec)!).frames[f % C.stream.perSecond]!;
      const junkKind = f % C.junkEvery === C.junkEvery - 1 ? ((f / C.junkEvery) % 2 < 1 ? "frame: not JSON" : "frame: junk scan") : undefined;
      const text = junkKind === "frame: not JSON" ? `{"id": ${f}, "scans": [` : JSON.stringify({ id: f, scans: junkKind ? ["YK1:not a code", ...scans.slice(1)] : scans });
      sent("stream", due, junkKind);
      const s = ws as WebSocket | null;
      if (s === null || s.readyState !== WebSocket.OPEN) { failed("stream", false, `frame ${f}: the stream is not open`); return; }
      pendingFrames.set(f, { due, junkKind, n: scans.length });
      if (junkKind === "frame: not JSON") idless.push(f);
      inflight++;
      s.send(text);
    };

    const licence = (due: number) => {
      const l = licenceN++;
      const g = guests[l % guests.length]!;
      if (l % C.junkEvery === C.junkEvery - 1) {
        void request("licence", due, "POST", "/v1/verify/batch", json(hotel.key), JSON.stringify({ scans: ["not a code"] }), (s, b) => s === 200 && resultCodes(b).join() === "MALFORMED", "junk scan (hotel)");
        return;
      }
      const code = g.holder.presentText(nowS(), 1);
      lic.scans++;
      void request("licence", due, "POST", "/v1/verify/batch", json(hotel.key), JSON.stringify({ scans: [code] }), (s, b) => {
        const r = (b as { results?: { result?: string; licences?: Record<string, Record<string, string>> }[] })?.results?.[0];
        const ok = s === 200 && r?.result === "OK" && r.licences?.["identity-card"]?.idNumber === g.id;
        if (ok) lic.released++;
        return ok;
      });
    };

    const check = (due: number) => {
      // a credential whose revocation was answered 201 must be REVOKED; the next one not yet posted, OK
      const scans: string[] = [];
      const expect: string[] = [];
      if (revokedCount > 0) {
        scans.push(reserved[Math.floor(Math.random() * revokedCount)]!.holder.presentText(nowS()));
        expect.push("REVOKED");
      }
      const live = reserved[revokePosted];
      if (live) { scans.push(live.holder.presentText(nowS())); expect.push("OK"); }
      void request("check", due, "POST", "/v1/verify/batch", json(gwKey), JSON.stringify({ scans }), (s, b) => {
        const c = resultCodes(b);
        for (let i = 0; i < expect.length; i++) {
          if (expect[i] === "REVOKED") { revs.revokedScans++; if (c[i] === "REVOKED") revs.revokedAsRevoked++; }
          else { revs.liveScans++; if (c[i] === "OK") revs.liveAsOk++; }
        }
        return s === 200 && c.join() === expect.join();
      });
    };

    const revoke = (due: number) => {
      const idx = revokePosted++;
      const r = reserved[idx];
      if (!r) return;
      void request("admin", due, "POST", "/v1/revocations", adminHeaders, JSON.stringify({ type: "credential", value: r.serial, reason: "soak" }), (s) => s === 201).then((a) => {
        if (a?.status === 201) { revs.made++; revokedCount = Math.max(revokedCount, idx + 1); }
        else revs.failed++;
      });
    };

    const gatewayCreate = (due: number) => {
      const n = churnN++;
      void request("admin", due, "POST", "/v1/gateways", adminHeaders, JSON.stringify({ name: `soak churn ${n}`, scene: "bus" }), (s) => s === 201).then((a) => {
        if (a?.status !== 201) { gws.failed++; return; }
        gws.created++;
        const g = a.body as { id: string; key: string };
        churn = g;
        void request("churn", performance.now(), "POST", "/v1/verify", json(g.key), JSON.stringify({ code: rider.presentText(nowS()) }), (s, b) => s === 200 && resultCodes(b).join() === "OK")
          .then((u) => { if (u?.status === 200 && resultCodes(u.body).join() === "OK") gws.usedOk++; });
      });
    };

    const gatewayDelete = (due: number) => {
      const g = churn;
      churn = null;
      if (g === null) return;
      void request("admin", due, "DELETE", `/v1/gateways/${g.id}`, { authorization: `Bearer ${ADMIN}` }, undefined, (s) => s === 204).then((a) => {
        if (a?.status !== 204) { gws.failed++; return; }
        gws.deleted++;
        // the deleted key must stop working at once (spec §4): 401; a few a minute, far below the auth throttle
        void request("churn", performance.now(), "POST", "/v1/verify", json(g.key), JSON.stringify({ code: rider.presentText(nowS()) }), (s) => s === 401)
          .then((u) => { if (u?.status === 401) gws.refusedAfterDelete++; });
      });
    };

    // ── each second's sample ──
    const samples: SoakSecond[] = [];
    const sampling: Promise<void>[] = [];
    let lagMissing = 0;
    let lastCpu = { server: procCpuSeconds(pid), self: selfCpuSeconds(), machine: machineBusySeconds(), at: performance.now() };
    const sample = async (i: number) => {
      const rss = rssMB(pid);
      const now = { server: procCpuSeconds(pid), self: selfCpuSeconds(), machine: machineBusySeconds(), at: performance.now() };
      const dt = (now.at - lastCpu.at) / 1000;
      const server = (now.server - lastCpu.server) / dt, self = (now.self - lastCpu.self) / dt;
      const others = Math.max(0, (now.machine - lastCpu.machine) / dt - server - self);
      lastCpu = now;
      let lagMs = NaN, replaySerials = NaN, cacheEntries = NaN;
      try {
        const text = await (await fetch(`${srv.url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
        const gauge = (name: string) => { const m = new RegExp(`^${name} (\\S+)`, "m").exec(text); return m ? Number(m[1]) : NaN; };
        lagMs = gauge("yukuai_event_loop_lag_peak_seconds") * 1000;
        replaySerials = gauge("yukuai_replay_serials");
        cacheEntries = gauge("yukuai_credential_cache_entries");
      } catch { /* counted below */ }
      if (!Number.isFinite(lagMs)) lagMissing++;
      samples[i] = {
        t: i + 1, rssMB: rss, lagMs, p50: NaN, p99: NaN, answeredForLatency: 0, sent: 0, answered: 0, s2xx: 0, s4xx: 0, s5xx: 0, errors: 0,
        cpu: { server, loadGenerator: self, others }, load1: loadavg()[0]!, replaySerials, cacheEntries, sendLateMs: 0,
      };
    };

    // ── the run ──
    const before = await resultCounts(srv.url); // also resets the lag peak
    t0 = performance.now() + (E0 * 1000 - Date.now());
    const until = async (t: number) => { for (let d = t - performance.now(); d > 0; d = t - performance.now()) await sleep(Math.min(d, 20)); };
    type Ev = { at: number; fire: (due: number) => void };
    let lastProgress = 0;
    for (let sec = 0; sec < D; sec++) {
      prepare(sec + C.signAheadSeconds);
      const evs: Ev[] = [];
      for (let k = 0; k < C.transit.perSecond; k++) evs.push({ at: (k * 1000) / C.transit.perSecond, fire: (due) => void transit(sec, due) });
      for (let k = 0; k < C.stream.perSecond; k++) evs.push({ at: 7 + (k * 1000) / C.stream.perSecond, fire: (due) => void frame(sec, due) });
      for (let k = 0; k < C.licence.perSecond; k++) evs.push({ at: 13 + (k * 1000) / C.licence.perSecond, fire: licence });
      for (let k = 0; k < C.checksPerSecond; k++) evs.push({ at: 410 + (k * 1000) / C.checksPerSecond, fire: check });
      if (sec > 0 && sec % C.revokeEverySeconds === 0) evs.push({ at: 250, fire: revoke });
      if (sec % C.gatewayEverySeconds === 0) evs.push({ at: 730, fire: gatewayCreate });
      if (sec % C.gatewayEverySeconds === C.gatewayEverySeconds / 2) evs.push({ at: 730, fire: gatewayDelete });
      evs.push({ at: 995, fire: () => void sampling.push(sample(sec)) });
      evs.sort((a, b) => a.at - b.at);
      for (const e of evs) {
        const due = t0 + sec * 1000 + e.at;
        await until(due);
        const late = performance.now() - due;
        if (late > per[sec]!.sendLateMs) per[sec]!.sendLateMs = late;
        e.fire(due);
      }
      prepared.delete(sec - 2);
      if (sec + 1 - lastProgress >= 60 || sec === D - 1) {
        lastProgress = sec + 1;
        const s = samples.filter(Boolean).slice(-60);
        const p99s = s.map((x) => x.t - 1).map((i) => percentile(sortedOf(per[i]!.lat), 99)).filter(Number.isFinite);
        say(`  ${((sec + 1) / 60).toFixed(1)} min: RSS ${s.at(-1)?.rssMB.toFixed(1)} MB, lag peak ≤ ${Math.max(...s.map((x) => x.lagMs).filter(Number.isFinite)).toFixed(1)} ms, per-second p99 ≤ ${Math.max(...p99s).toFixed(1)} ms, in flight ${inflight}, others' CPU ${median(s.map((x) => x.cpu.others)).toFixed(2)} cores, load ${loadavg()[0]!.toFixed(2)}`);
      }
    }
    // ── drain: every request has its timeout; wait for them all ──
    const drainUntil = performance.now() + C.drainMs;
    while (inflight > 0 && performance.now() < drainUntil) await sleep(50);
    running = false;
    clearInterval(sweep);
    await Promise.all(sampling);
    // frames still unanswered are lost
    for (const [id] of pendingFrames) { failed("stream", true, `frame ${id}: unanswered at the end of the drain`); inflight--; }
    pendingFrames.clear();
    (ws as WebSocket | null)?.close();
    const after = await resultCounts(srv.url);
    const loadEnd = loadavg();

    // ── the figures ──
    for (let i = 0; i < D; i++) {
      const s = samples[i];
      if (!s) continue;
      const t = per[i]!;
      const lat = sortedOf(t.lat);
      Object.assign(s, { p50: percentile(lat, 50), p99: percentile(lat, 99), answeredForLatency: lat.length, sent: t.sent, answered: t.answered, s2xx: t.s2xx, s4xx: t.s4xx, s5xx: t.s5xx, errors: t.errors, sendLateMs: t.sendLateMs });
    }
    const secs = samples.filter(Boolean);
    const w = Math.min(60, Math.floor(D / 5));
    const inWin = (a: number, b: number) => secs.filter((s) => s.t > a && s.t <= b);
    const rssOf = (xs: SoakSecond[]) => finite(xs.map((s) => s.rssMB));
    const post = inWin(w, D);
    const rss = {
      warmUpMB: median(rssOf(inWin(w, 2 * w))), endMB: median(rssOf(inWin(D - w, D))),
      slopeMBPerMin: slope(post.map((s) => s.t / 60), post.map((s) => s.rssMB)),
      peakMB: Math.max(...rssOf(secs)), minMB: Math.min(...rssOf(secs)),
      warmWindow: [w, 2 * w] as [number, number], endWindow: [D - w, D] as [number, number],
    };
    const lags = finite(secs.map((s) => s.lagMs));
    const p99s = finite(secs.map((s) => s.p99));
    const kinds = Object.fromEntries(KINDS.map((k) => {
      const t = tally[k];
      const lat = sortedOf(t.lat);
      const st = [...t.statuses];
      const cls = (lo: number, hi: number) => st.filter(([s]) => { const n = s.startsWith("frame") ? (s === "frame" ? 200 : FRAME_5XX.has(s.slice(6)) ? 503 : 400) : Number(s); return n >= lo && n < hi; }).reduce((a, [, n]) => a + n, 0);
      return [k, {
        sent: t.sent, answered: t.answered, lost: t.sent - t.answered, statuses: record(t.statuses),
        s2xx: cls(200, 300), s4xx: cls(400, 500), s5xx: cls(500, 600), errors: t.errors, timeouts: t.timeouts,
        expected: t.expected, unexpected: t.unexpected, results: record(t.results),
        p50: percentile(lat, 50), p99: percentile(lat, 99), max: lat.length ? lat[lat.length - 1]! : NaN,
      } satisfies SoakKindTotals];
    })) as Record<SoakKind, SoakKindTotals>;
    const sum = (f: (k: SoakKindTotals) => number) => KINDS.reduce((a, k) => a + f(kinds[k]), 0);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const results: SoakResults = {
      minutes: D / 60, durationSeconds: D, startedAt: new Date(E0 * 1000).toISOString(), wallSeconds: Math.round((performance.now() - wall0) / 1000),
      config: SOAK,
      command: { server: srv.command, loadGenerator: "taskset -a -p -c 1 <bench pid>; Bun fetch (keep-alive) and one Bun WebSocket", soak: `bun bench/soak.ts --minutes=${D / 60}` },
      machine: { cores: navigator.hardwareConcurrency, cpu: cpuModel() },
      loadavg: { start: loadStart, end: loadEnd },
      seconds: secs, kinds,
      totals: {
        sent: sum((k) => k.sent), answered: sum((k) => k.answered), lost: sum((k) => k.lost),
        s2xx: sum((k) => k.s2xx), s4xx: sum((k) => k.s4xx), s5xx: sum((k) => k.s5xx), errors: sum((k) => k.errors), timeouts: sum((k) => k.timeouts),
        unexpected: sum((k) => k.unexpected), lateAnswers,
      },
      junk: { sent: junk.sent, answered: junk.answered, expected: junk.expected, unexpected: junk.unexpected, byKind: Object.fromEntries([...junk.byKind].map(([k, v]) => [k, { sent: v.sent, answers: record(v.answers) }])) },
      revocations: revs, gateways: gws, licences: { holders: guests.length, ...lic },
      nodeResults: diffCounts(before, after),
      rss,
      lag: { maxMs: Math.max(...lags), p99Ms: percentile(sortedOf(lags), 99), medianMs: median(lags), missingSamples: lagMissing },
      p99: { maxMs: Math.max(...p99s), medianMs: median(p99s) },
      cpu: { serverMean: mean(secs.map((s) => s.cpu.server)), loadGeneratorMean: mean(secs.map((s) => s.cpu.loadGenerator)), othersMean: mean(secs.map((s) => s.cpu.others)), othersMax: Math.max(...secs.map((s) => s.cpu.others)) },
      sendLateMaxMs: Math.max(...per.slice(0, D).map((p) => p.sendLateMs)),
      notes,
    };
    return results;
  } finally {
    closeSigners();
    await srv.stop();
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const minutes = Number(option("minutes") ?? 10);
  if (!(minutes > 0)) throw new Error("--minutes must be a positive number");
  const out = resolve(option("out") ?? join(OUT, "soak.json"));
  const r = await runSoak({ minutes });
  r.command.soak = `bun bench/soak.ts --minutes=${minutes}`;
  if (!existsSync(dirname(out))) mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(r, null, 1) + "\n");
  const t = r.totals;
  log(`soak done: ${t.sent} sent, ${t.answered} answered, ${t.lost} lost, ${t.s5xx} 5xx, ${t.unexpected} unexpected (junk: ${r.junk.sent} sent, ${r.junk.expected} answered as expected); RSS ${r.rss.warmUpMB.toFixed(1)} → ${r.rss.endMB.toFixed(1)} MB (slope ${r.rss.slopeMBPerMin.toFixed(2)} MB/min); lag max ${r.lag.maxMs.toFixed(1)} ms; per-second p99 max ${r.p99.maxMs.toFixed(1)} ms, median ${r.p99.medianMs.toFixed(1)} ms; wrote ${out}`);
  console.log(JSON.stringify(r));
}

if (import.meta.main) {
  await main();
  process.exit(0);
}
