/**
 * @module `npm run bench` (= `bun bench/run.ts`): runs every bench and writes BENCHMARKS.md and the plots
 * in bench/plots/. Options:
 *   --quick            fewer and shorter runs (a smoke test of the whole suite, ~4 minutes)
 *   --only=a,b         run only these parts (micro, native, http, ratio, metro, memory, replay, fleet, soak); the
 *                      others' results are taken from bench/out/results.json of an earlier run. The soak
 *                      (bench/soak.ts, 10 minutes of mixed load) is not in the default set: it runs only when named
 *                      (`--only=soak`). native = bench/native.ts (the C Ed25519 core against node:crypto, one core),
 *                      replay = bench/replay-store.ts (the shared replay store's cost per scan), fleet =
 *                      bench/fleet.ts (1 node against 3 nodes behind nginx on this machine)
 *   --soak-minutes=N   the soak's duration (default 10; 2 with --quick)
 *   --soak-from=PATH   with --only=soak: take the soak's results from PATH (written by `bun bench/soak.ts
 *                      --out=PATH`) instead of running it, and merge them into the results file
 *   --report-only      rewrite BENCHMARKS.md and the plots from bench/out/results.json
 *   --results=PATH     read (and, when running, write) the results there instead of bench/out/results.json
 *                      (also BENCH_RESULTS=PATH)
 *   --report-dir=DIR   write BENCHMARKS.md and bench/plots/ under DIR instead of the repository root
 * Every number and every comparison in the report is computed from the results; its fixed text only says
 * what a bench does.
 * Every server under test is a child process on 127.0.0.1 with a temp data dir; nothing leaves loopback.
 */
import { spawn } from "bun";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { join, relative, resolve } from "node:path";
import { lineChart, stackedCharts } from "./charts.ts";
import { closeSigners } from "./codes.ts";
import { runHttp, type HttpResults, BATCH_SIZES, connectionsFor } from "./http.ts";
import { BUN, fmt, fmtSummary, median, OUT, ROOT, type Summary } from "./lib.ts";
import type { MemoryResults } from "./memory.ts";
import { GATEWAYS, METRO_LADDER, P99_LIMIT_MS, RETURNING_HOLDERS, runMetro, TICK_MS, TRIP_MAX_MS, TRIP_MIN_MS, type MetroLevel, type MetroResults } from "./metro.ts";
import type { MicroRow } from "./micro.ts";
import { nativeMarkdown, type NativeResults } from "./native.ts";
import { BATCH as RATIO_BATCH, CONNECTIONS as RATIO_CONNECTIONS, HOLDERS as WARM_HOLDERS, runRatio, type RatioResults } from "./ratio.ts";
import type { SoakKind, SoakResults } from "./soak.ts";
import type { ReplayStoreResults, ReplayStoreRow } from "./replay-store.ts";
import { FLEET_PROCS, type FleetProc, type FleetResults, type FleetSetup } from "./fleet.ts";
import { PEAK_SCANS_PER_SECOND } from "./metro.ts";

const PARTS = ["micro", "native", "http", "ratio", "metro", "memory", "replay", "fleet", "soak"] as const;
type Part = (typeof PARTS)[number];
/** What runs without --only: everything but the soak (minutes long, run on request). */
const DEFAULT_PARTS: readonly Part[] = ["micro", "native", "http", "ratio", "metro", "memory", "replay", "fleet"];

interface Machine { cpu: string; cores: number; threadsPerCore: string; bun: string; kernel: string; memoryGiB: number; hypervisor: string }

interface Results {
  quick: boolean;
  startedAt: string;
  seconds: Partial<Record<Part, number>>;
  machine: Machine;
  micro?: MicroRow[];
  /** The native core against node:crypto in one process on one core (bench/native.ts). */
  native?: NativeResults;
  http?: HttpResults;
  ratio?: RatioResults;
  /** first sight over HTTP, then WebSocket; returning riders over HTTP, then WebSocket. */
  metro?: MetroResults[];
  memory?: MemoryResults;
  replay?: ReplayStoreResults;
  fleet?: FleetResults;
  soak?: SoakResults;
}

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const reportOnly = args.includes("--report-only");
const onlyArg = args.find((a) => a.startsWith("--only="));
const only = onlyArg ? (onlyArg.slice(7).split(",") as Part[]) : [...DEFAULT_PARTS];
for (const part of only) if (!PARTS.includes(part)) throw new Error(`--only: no part "${part}" (parts: ${PARTS.join(", ")})`);
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const soakMinutes = Number(option("soak-minutes") ?? (quick ? 2 : 10));
const soakFrom = option("soak-from");
const resultsPath = resolve(option("results") ?? process.env.BENCH_RESULTS ?? join(OUT, "results.json"));
const reportDir = resolve(option("report-dir") ?? ROOT);
const log = (l: string) => console.log(l);

async function sh(cmd: string[]): Promise<string> {
  const p = spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(p.stdout).text();
  await p.exited;
  return out;
}

async function machine(): Promise<Machine> {
  const lscpu = await sh(["lscpu"]);
  const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, "m").exec(lscpu)?.[1]?.trim() ?? "?";
  return {
    cpu: field("Model name"), cores: cpus().length, threadsPerCore: field("Thread\\(s\\) per core"),
    bun: `${Bun.version} (${Bun.revision.slice(0, 9)})`, kernel: release(), memoryGiB: Math.round(totalmem() / 2 ** 30),
    hypervisor: field("Hypervisor vendor"),
  };
}

/** The last line of a child's stdout, as JSON. */
async function childJson<T>(cmd: string[]): Promise<T> {
  const p = spawn(cmd, { stdout: "pipe", stderr: "inherit", cwd: ROOT });
  const out = await new Response(p.stdout).text();
  const code = await p.exited;
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited ${code}`);
  for (const line of out.trim().split("\n")) if (!line.startsWith("{") && !line.startsWith("[")) log(line);
  return JSON.parse(out.trim().split("\n").pop()!) as T;
}

async function main(): Promise<void> {
  const path = resultsPath;
  if (reportOnly && !existsSync(path)) throw new Error(`--report-only: no results at ${path}`);
  const previous: Partial<Results> = existsSync(path) ? JSON.parse(readFileSync(path, "utf8")) : {};
  let results: Results;
  if (reportOnly) {
    results = previous as Results;
  } else {
    results = { ...(previous as Results), quick, startedAt: new Date().toISOString(), seconds: { ...(previous.seconds ?? {}) }, machine: await machine() };
    const timed = async <T>(part: Part, f: () => Promise<T>): Promise<T | undefined> => {
      if (!only.includes(part)) return undefined;
      log(`── ${part} ──`);
      const t = performance.now();
      const r = await f();
      results.seconds[part] = Math.round((performance.now() - t) / 1000);
      writeFileSync(path, JSON.stringify({ ...results, [part]: r }, null, 1));
      return r;
    };
    results.micro = (await timed("micro", () => childJson<MicroRow[]>(["taskset", "-c", "0", BUN, "bench/micro.ts", ...(quick ? ["--quick"] : []), "--rows"]))) ?? results.micro;
    results.native = (await timed("native", () => childJson<NativeResults>([BUN, "bench/native.ts", "--json", ...(quick ? ["--quick"] : [])]))) ?? results.native;
    results.http = (await timed("http", () => runHttp({ quick, log }))) ?? results.http;
    results.ratio = (await timed("ratio", () => runRatio({ quick, log }))) ?? results.ratio;
    results.metro = (await timed("metro", async () => {
      const fsHttp = await runMetro({ quick, model: "first-sight", transport: "http", log });
      const fsWs = await runMetro({ quick, model: "first-sight", transport: "ws", from: Math.max(1, fsHttp.held), log });
      const rtHttp = await runMetro({ quick, model: "returning", transport: "http", from: Math.max(1, fsHttp.held), log });
      const rtWs = await runMetro({ quick, model: "returning", transport: "ws", from: Math.max(1, rtHttp.held), log });
      return [fsHttp, fsWs, rtHttp, rtWs];
    })) ?? results.metro;
    results.memory = (await timed("memory", () => childJson<MemoryResults>([BUN, "bench/memory.ts", quick ? "200000" : "1000000"]))) ?? results.memory;
    results.replay = (await timed("replay", () => childJson<ReplayStoreResults>([BUN, "bench/replay-store.ts", ...(quick ? ["--quick"] : [])]))) ?? results.replay;
    results.fleet = (await timed("fleet", () => childJson<FleetResults>([BUN, "bench/fleet.ts", ...(quick ? ["--quick"] : [])]))) ?? results.fleet;
    results.soak = (await timed("soak", async () => soakFrom !== undefined
      ? JSON.parse(readFileSync(resolve(soakFrom), "utf8")) as SoakResults
      : childJson<SoakResults>([BUN, "bench/soak.ts", `--minutes=${soakMinutes}`, `--out=${join(OUT, "soak.json")}`]))) ?? results.soak;
    // a soak taken from a file took its own time, not this run's
    if (only.includes("soak") && soakFrom !== undefined && results.soak) results.seconds.soak = results.soak.wallSeconds;
    closeSigners();
    writeFileSync(path, JSON.stringify(results, null, 1));
  }
  await writeReport(results, relative(ROOT, path));
  log(`wrote ${join(reportDir, "BENCHMARKS.md")} and ${join(reportDir, "bench/plots/")}`);
}

// ── the report ───────────────────────────────────────────────────────────────
// Every number and every comparison is computed from the results here; the fixed sentences only say what
// a bench does (method, commands, what a column means).

/** The project's targets the measurements are checked against (requirements, not measurements; issue 12). */
const TARGET = {
  /** OK scans/s of the service ÷ raw node:crypto single verifications/s, one core: returning riders (ratio.json). */
  ratio: 2.0,
  /** The same for first-sight scans (issuer + device signature; ratio.cold). */
  coldRatio: 1.4,
  singleP99Ms: 5, singleRate: 1000,
  /** Peak metro, × the record peak, on one core. */
  metroMultiple: 40,
  replayBytesPerHolder: 200,
  /** One bad signature in 256 costs at most this many times an all-good batch of 256 (native verifyBatch). */
  badOneIn256: 2.5,
} as const;

/**
 * The verified-credential LRU's cost per holder before issue 12 (device keys kept as KeyObjects): measured
 * by bench/memory.ts at commit 95b9cc7 on this machine, 2026-12-01 (a measurement, kept as the baseline the
 * "as today or less" target compares with).
 */
const LRU_BEFORE_ISSUE_12 = { rssBytesPerHolder: 2304.7, heapBytesPerHolder: 1144.7, commit: "95b9cc7", date: "2026-12-01" } as const;

const ms = (v: number) => (v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0));
const msS = (s: Summary) => (s.runs.length > 1 ? `${ms(s.median)} (${ms(s.min)}–${ms(s.max)})` : ms(s.median));
const ratioS = (s: Summary) => (s.runs.length > 1 ? `${s.median.toFixed(3)} (${s.min.toFixed(3)}–${s.max.toFixed(3)})` : s.median.toFixed(3));
const pct = (v: number, digits = 0) => `${(v * 100).toFixed(digits)}%`;
const signedPct = (v: number, digits = 1) => `${v >= 0 ? "+" : "−"}${Math.abs(v * 100).toFixed(digits)}%`;
const list = (xs: string[]) => (xs.length <= 1 ? (xs[0] ?? "") : `${xs.slice(0, -1).join(", ")} and ${xs.at(-1)}`);
const modelName = (m: MetroResults["model"]) => (m === "first-sight" ? "first sight" : "returning riders");
const transportName = (t: MetroResults["transport"]) => (t === "http" ? "HTTP" : "WebSocket");
const runName = (x: MetroResults) => `${modelName(x.model)} over ${transportName(x.transport)}`;
/** The level at which a metro run held its answer, and the first level above it that was not held. */
const heldLevel = (x: MetroResults) => x.levels.find((l) => l.multiple === x.held && l.pass) ?? x.levels.find((l) => l.multiple === x.held);
const firstNotHeld = (x: MetroResults): MetroLevel | undefined => x.levels.filter((l) => !l.pass && l.multiple > x.held).sort((a, b) => a.multiple - b.multiple)[0];
/** A run that held the highest level it tried: the ladder's top, not the node, bounded its answer. */
const heldTop = (x: MetroResults) => x.held > 0 && x.levels.length > 0 && x.held >= Math.max(...x.levels.map((l) => l.multiple)) && firstNotHeld(x) === undefined;
/** "met (by d)" or "missed by d (p%)" for a ratio that must reach `t`. */
const atLeast = (v: number, t: number, digits = 3) => (v >= t ? `met (by ${(v - t).toFixed(digits)})` : `missed by ${(t - v).toFixed(digits)} (${(((t - v) / t) * 100).toFixed(1)}%)`);
const oneBadIn256 = (n: NativeResults) => n.badCost.find((b) => b.bad === "bad-1-in-256");

/** A number from a results file (NaN was written as null). */
const num = (v: number | null | undefined): number => (typeof v === "number" ? v : NaN);
const msOr = (v: number | null | undefined) => (Number.isFinite(num(v)) ? ms(num(v)) : "–");

/** The soak checked against the issue's targets: memory flat after warm-up, 0 lost answers, 0 5xx. */
function soakVerdicts(s: SoakResults): { target: string; criterion: string; measured: string; short: string; met: boolean }[] {
  const f = s.config.flat;
  const slope = num(s.rss.slopeMBPerMin), growth = num(s.rss.endMB) / num(s.rss.warmUpMB) - 1;
  const flat = Math.abs(slope) < f.slopeMBPerMin && Math.abs(growth) < f.growth;
  const [w0, w1] = s.rss.warmWindow, [e0, e1] = s.rss.endWindow;
  const t = s.totals;
  return [
    {
      target: "memory flat after warm-up",
      criterion: `RSS slope (least squares from ${w0} s to the end) within ±${f.slopeMBPerMin} MB/min, and the median RSS of ${e0}–${e1} s within ${pct(f.growth)} of the median of ${w0}–${w1} s (the warm-up)`,
      measured: `${fmt(num(s.rss.warmUpMB), 1)} MB → ${fmt(num(s.rss.endMB), 1)} MB (${signedPct(growth)}); slope ${slope >= 0 ? "+" : "−"}${Math.abs(slope).toFixed(2)} MB/min`,
      short: `RSS ${signedPct(growth)}, ${slope >= 0 ? "+" : "−"}${Math.abs(slope).toFixed(2)} MB/min`,
      met: flat,
    },
    {
      target: "0 lost answers",
      criterion: `every request and frame answered within its ${s.config.timeoutMs / 1000} s timeout (after a drain of up to ${s.config.drainMs / 1000} s at the end)`,
      measured: `${fmt(t.lost)} lost of ${fmt(t.sent)} sent (${fmt(t.answered)} answered${t.lateAnswers ? `, ${t.lateAnswers} frames answered after their timeout` : ""})`,
      short: `${fmt(t.lost)} lost of ${fmt(t.sent)}`,
      met: t.lost === 0,
    },
    {
      target: "0 5xx",
      criterion: "no HTTP status 500–599 and no stream error frame of that class (INTERNAL, OVERLOADED, REPLAY_STORE_*, …)",
      measured: `${fmt(t.s5xx)}`,
      short: `${fmt(t.s5xx)} 5xx`,
      met: t.s5xx === 0,
    },
  ];
}

async function soakSection(s: SoakResults, m: Machine, p: (l?: string) => void): Promise<void> {
  const c = s.config;
  const D = s.durationSeconds;
  const k = s.kinds;
  const transitScans = c.transit.perSecond * c.transit.batch, streamScans = c.stream.perSecond * c.stream.batch;
  p("## Soak");
  p();
  p(`${fmt(s.minutes, s.minutes % 1 ? 1 : 0)} minutes of mixed load on one node (started ${s.startedAt.slice(0, 16).replace("T", " ")} UTC), server pinned to core 0 without workers`);
  p(`(\`${s.command.server}\`), load generator pinned to core 1 of the ${m.cores}-core ${m.cpu}. Open loop: everything is sent at its`);
  p(`scheduled time whatever the answers, each request or frame with a ${c.timeoutMs / 1000} s timeout, and latency counts from the scheduled time.`);
  p(`Transit: ${c.transit.perSecond} POST /v1/verify/batch per second of ${c.transit.batch} scans (${fmt(transitScans)} scans/s), JSON and msgpack in turn, on a metro`);
  p(`gateway; stream: one WebSocket, ${c.stream.perSecond} JSON frames per second of ${c.stream.batch} scans (${fmt(streamScans)} scans/s), answers matched by id. Their codes come from`);
  p(`${fmt(c.holders)} bench holders, signed ${c.signAheadSeconds} s ahead of the second they are sent in and stamped with it, counters rising per holder.`);
  p(`Licence scenes: a hotel gateway, ${s.licences.holders} credentials issued through POST /v1/credentials for generated resident IDs, each linked to an`);
  p(`identity-card licence; ${c.licence.perSecond} scans per second with consent bit 0, each expected OK with the licence. Junk: one request or frame in ${c.junkEvery}`);
  p("(bad JSON, a wrong content type, a batch of 1,001 scans, a junk scan in a batch, a frame that is not JSON), expected to be");
  p(`a 4xx, MALFORMED or BAD_FRAME. Admin churn: a credential revoked every ${c.revokeEverySeconds} s (each second a batch with a revoked credential, expected`);
  p(`REVOKED, and the next to be revoked, expected OK); a gateway created every ${c.gatewayEverySeconds} s and used, then deleted ${c.gatewayEverySeconds / 2} s later and its key tried`);
  p("(expected 401). Each second: the server's RSS (`/proc/<pid>/status`), its event-loop lag peak (`yukuai_event_loop_lag_peak_seconds`");
  p("from `/metrics`: the largest lateness of its 50 ms timer since the previous second's scrape), p50/p99 of the verification requests");
  p("and frames answered in that second, and the CPU time of the server, of the load generator and of everything else on the machine.");
  p(`Command: \`${s.command.soak}\` (or \`npm run bench -- --only=soak\`; the soak is not in the default set of parts).`);
  p();
  const la = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(" ");
  const contended = s.cpu.othersMean > 0.25;
  p(`The machine was shared: load average ${la(s.loadavg.start)} at the start and ${la(s.loadavg.end)} at the end; other processes used ${s.cpu.othersMean.toFixed(2)} cores on`);
  p(`average (at most ${s.cpu.othersMax.toFixed(2)} in a second) of ${m.cores}, the server ${s.cpu.serverMean.toFixed(3)}, the load generator ${s.cpu.loadGeneratorMean.toFixed(3)}.${contended ? " Latencies and lag" : ""}`);
  if (contended) p("below include the waits for a core that this contention caused (the load generator's own sending was late by up to " + `${msOr(s.sendLateMaxMs)} ms).`);
  p();
  p("| target | criterion | measured | |");
  p("|---|---|---|---|");
  for (const v of soakVerdicts(s)) p(`| ${v.target} | ${v.criterion} | **${v.measured}** | ${v.met ? "met" : "missed"} |`);
  p();
  const name: Record<SoakKind, string> = {
    transit: "transit batches (HTTP)", stream: "stream frames (WebSocket)", licence: "licence scans (hotel, HTTP)",
    check: "revocation checks (HTTP)", churn: "churn gateways' scans (HTTP)", admin: "admin: revocations, gateways (HTTP)",
  };
  p("| | sent | answered | lost | 2xx | 4xx | 5xx | errors | as expected | p50 ms | p99 ms | max ms |");
  p("|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const [kind, label] of Object.entries(name) as [SoakKind, string][]) {
    const x = k[kind];
    p(`| ${label} | ${fmt(x.sent)} | ${fmt(x.answered)} | ${fmt(x.lost)} | ${fmt(x.s2xx)} | ${fmt(x.s4xx)} | ${fmt(x.s5xx)} | ${fmt(x.errors)} | ${fmt(x.expected)} | ${msOr(x.p50)} | ${msOr(x.p99)} | ${msOr(x.max)} |`);
  }
  const t = s.totals;
  p(`| **all** | ${fmt(t.sent)} | ${fmt(t.answered)} | **${fmt(t.lost)}** | ${fmt(t.s2xx)} | ${fmt(t.s4xx)} | **${fmt(t.s5xx)}** | ${fmt(t.errors)} | ${fmt(t.sent - t.unexpected - t.errors)} | | | |`);
  p();
  p("Latencies are of the non-junk answers; 4xx includes the expected ones (junk, and the deleted gateways' keys).");
  p();
  const j = s.junk;
  const verifyCount = k.transit.sent + k.stream.sent + k.licence.sent;
  p(`Junk: ${fmt(j.sent)} requests and frames (${pct(j.sent / verifyCount, 2)} of the transit, stream and licence traffic), ${fmt(j.expected)} answered as expected${j.unexpected ? `, **${fmt(j.unexpected)} not**` : ""}:`);
  p(`${list(Object.entries(j.byKind).map(([kind, v]) => `${kind} ${fmt(v.sent)} → ${Object.entries(v.answers).map(([a, n]) => `${a} × ${fmt(n)}`).join(", ")}`))}.`);
  const rv = s.revocations, g = s.gateways;
  p(`Revocations: ${fmt(rv.made)} made${rv.failed ? ` (${rv.failed} failed)` : ""}; ${fmt(rv.revokedScans)} scans of revoked credentials, ${fmt(rv.revokedAsRevoked)} REVOKED; ${fmt(rv.liveScans)} scans of the`);
  p(`next to be revoked, ${fmt(rv.liveAsOk)} OK. Gateways: ${fmt(g.created)} created, ${fmt(g.usedOk)} of them answered a scan OK; ${fmt(g.deleted)} deleted, ${fmt(g.refusedAfterDelete)} of their keys refused (401) right after${g.failed ? `; ${g.failed} admin calls failed` : ""}.`);
  p(`Licences: ${fmt(s.licences.scans)} consented scans at the hotel, identity-card released in ${fmt(s.licences.released)}.`);
  p(`The node's own counters over the run: ${Object.entries(s.nodeResults).sort((a, b) => b[1] - a[1]).map(([code, n]) => `${code} ${fmt(n)}`).join(", ")}.`);
  p();
  const secs = s.seconds;
  p(`Each second (${fmt(secs.length)} samples): RSS ${fmt(num(s.rss.minMB), 1)}–${fmt(num(s.rss.peakMB), 1)} MB; event-loop lag peak median ${msOr(s.lag.medianMs)} ms, p99 ${msOr(s.lag.p99Ms)} ms,`);
  p(`max **${msOr(s.lag.maxMs)} ms**${s.lag.missingSamples ? ` (${s.lag.missingSamples} scrapes failed)` : ""}; the second's p99 latency median **${msOr(s.p99.medianMs)} ms**, max **${msOr(s.p99.maxMs)} ms**.`);
  const last = secs.at(-1), first = secs.find((x) => x.t > s.rss.warmWindow[0]);
  if (first && last && Number.isFinite(num(first.replaySerials)) && Number.isFinite(num(last.replaySerials))) {
    p(`Serials in the replay window: ${fmt(num(first.replaySerials))} after warm-up, ${fmt(num(last.replaySerials))} at the end; verified credentials cached: ${fmt(num(first.cacheEntries))}, ${fmt(num(last.cacheEntries))}.`);
  }
  p();
  if (s.notes.length) {
    p("Unexpected answers (the first few):");
    p();
    for (const n of s.notes) p(`- ${n}`);
    p();
  }
  p("![Soak: RSS, per-second latency, event-loop lag and CPU over time](bench/plots/soak.svg)");
  p();
  const x = (q: { t: number }) => q.t / 60;
  const xLabel = "minutes from the start";
  writeFileSync(join(reportDir, "bench/plots/soak.svg"), await stackedCharts([
    {
      title: `Soak: server RSS each second (${fmt(s.minutes, s.minutes % 1 ? 1 : 0)} min of mixed load, 1 core)`, xLabel, yLabel: "RSS, MB", points: false, height: 200,
      series: [{ name: "RSS", points: secs.map((q) => ({ x: x(q), y: num(q.rssMB) })) }],
      hlines: [
        { y: num(s.rss.warmUpMB), label: `warm-up median ${fmt(num(s.rss.warmUpMB), 1)} MB`, labelLeft: true },
        { y: num(s.rss.warmUpMB) * (1 + c.flat.growth), label: `+${pct(c.flat.growth)}` },
      ],
    },
    {
      title: "Latency of the verification requests and frames answered in each second", xLabel, yLabel: "ms (log)", yLog: true, yFormat: "~g", points: false, height: 200,
      series: [
        { name: "p99", points: secs.map((q) => ({ x: x(q), y: num(q.p99) })) },
        { name: "p50", dashed: true, colour: 0, points: secs.map((q) => ({ x: x(q), y: num(q.p50) })) },
      ],
    },
    {
      title: "Server event-loop lag peak (50 ms timer), each second", xLabel, yLabel: "ms (log)", yLog: true, yFormat: "~g", points: false, height: 200,
      series: [{ name: "lag peak", colour: 1, points: secs.map((q) => ({ x: x(q), y: num(q.lagMs) })) }],
    },
    {
      title: `CPU each second (cores of ${m.cores})`, xLabel, yLabel: "cores", points: false, height: 160, yMin: 0,
      series: [
        { name: "other processes", colour: 4, points: secs.map((q) => ({ x: x(q), y: q.cpu.others })) },
        { name: "server", colour: 0, points: secs.map((q) => ({ x: x(q), y: q.cpu.server })) },
        { name: "load generator", colour: 2, points: secs.map((q) => ({ x: x(q), y: q.cpu.loadGenerator })) },
      ],
    },
  ]));
}

// ── scaling out ──────────────────────────────────────────────────────────────

/** A busy workday's national metro peak: assumptions stated in the Sizing prose (inputs, not measurements). */
const NATIONAL = {
  /** China's urban rail transit, 2024 (Ministry of Transport): passenger trips in the year. */
  tripsPerYear: 32.24e9, year: 2024, daysInYear: 366,
  /** The design day: above the year's average, for busy workdays. */
  designDayTrips: 100e6,
  scansPerTrip: 2,
  /** The peak hour's share of the day's scans (as in the Chongqing model). */
  peakHourShare: 0.15,
  /** The busiest minute's rate over the peak hour's mean. */
  peakMinuteFactor: 1.5,
} as const;
/** Sizing headroom: capacity for twice the peak. */
const HEADROOM = 2;
/** Masters in the replay bench's Redis Cluster (test/support/redis-cluster.ts startRedisCluster's default). */
const CLUSTER_MASTERS = 3;

const plural = (k: number, what: string) => `${fmt(k)} ${what}${k === 1 ? "" : "s"}`;
const REPLAY_STORES: ReplayStoreRow["store"][] = ["memory", "redis (Bun client)", "redis (ioredis)", "cluster (ioredis)"];
const replayRow = (rp: ReplayStoreResults, store: ReplayStoreRow["store"], batch: number, inFlight: number) =>
  rp.rows.find((x) => x.store === store && x.batch === batch && x.inFlight === inFlight);
const us = (v: number) => (v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0));
const usRuns = (x: ReplayStoreRow) => {
  const lo = Math.min(...x.usPerScanRuns), hi = Math.max(...x.usPerScanRuns);
  return x.usPerScanRuns.length > 1 ? `${us(x.usPerScan)} (${us(lo)}–${us(hi)})` : us(x.usPerScan);
};
const spread = (x: ReplayStoreRow) => Math.max(...x.usPerScanRuns) - Math.min(...x.usPerScanRuns);

/** Which client is faster on single Redis, cell by cell; a difference within the runs' spread is noise. */
function clientChoice(rp: ReplayStoreResults): string {
  const cells = rp.rows.filter((x) => x.store === "redis (Bun client)").flatMap((b) => {
    const io = replayRow(rp, "redis (ioredis)", b.batch, b.inFlight);
    if (!io) return [];
    const d = Math.abs(b.usPerScan - io.usPerScan);
    const runs = Math.min(b.usPerScanRuns.length, io.usPerScanRuns.length);
    const noise = runs > 1 && d <= Math.max(spread(b), spread(io));
    const winner = b.usPerScan <= io.usPerScan ? "Bun" : "ioredis";
    // how much more time per scan the slower client took (= how many more scans/s the faster decided)
    const by = Math.max(b.usPerScan, io.usPerScan) / Math.min(b.usPerScan, io.usPerScan) - 1;
    return [{ batch: b.batch, inFlight: b.inFlight, noise, winner, by, runs, name: `batch ${b.batch}, ${b.inFlight} in flight` }];
  });
  if (!cells.length) return "";
  const one = cells.some((c) => c.runs < 2);
  const real = cells.filter((c) => !c.noise);
  const bun = real.filter((c) => c.winner === "Bun"), io = real.filter((c) => c.winner === "ioredis"), noise = cells.filter((c) => c.noise);
  const cellList = (cs: typeof cells) => list(cs.map((c) => `${c.name} (${signedPct(c.by)})`));
  const rng = (cs: typeof cells) => {
    const lo = Math.min(...cs.map((c) => c.by)), hi = Math.max(...cs.map((c) => c.by));
    return lo === hi ? pct(lo, 1) : `${pct(lo, 1)}–${pct(hi, 1)}`;
  };
  const name = { Bun: "Bun's RedisClient (the store the node uses)", ioredis: "ioredis" } as const;
  const noiseTail = noise.length ? `; within noise (a difference no larger than the spread of either client's runs) at ${list(noise.map((c) => c.name))}` : "";
  if (one) {
    const w = (["Bun", "ioredis"] as const).map((k) => cells.filter((c) => c.winner === k));
    return `Client choice on single Redis: one run per cell, so no spread to judge noise by; ${name.Bun} took less time per scan at ${w[0]!.length} of ${cells.length} cells${w[0]!.length ? ` (${cellList(w[0]!)})` : ""}, ioredis at ${w[1]!.length}${w[1]!.length ? ` (${cellList(w[1]!)})` : ""}.`;
  }
  if (!real.length) return `Client choice on single Redis: the two clients are within noise of each other at every batch size and depth (the difference never exceeds the spread of the runs); neither is faster on these numbers.`;
  if (!io.length || !bun.length) {
    const winner = bun.length ? "Bun" : "ioredis";
    const ws = bun.length ? bun : io;
    return `Client choice on single Redis: ${name[winner]} is faster at ${ws.length} of the ${cells.length} cells, by ${rng(ws)} more scans per second (${cellList(ws)})${noiseTail}.`;
  }
  return `Client choice on single Redis: neither client is faster throughout: ${name.Bun} at ${cellList(bun)}; ioredis at ${cellList(io)}${noiseTail}.`;
}

function scalingSection(r: Results, p: (l?: string) => void): void {
  const m = r.machine, rp = r.replay, fl = r.fleet;
  p("## Scaling out");
  p();
  if (rp) {
    const batches = [...new Set(rp.rows.map((x) => x.batch))].sort((a, b) => a - b);
    const flights = [...new Set(rp.rows.map((x) => x.inFlight))].sort((a, b) => a - b);
    const runs = Math.max(...rp.rows.map((x) => x.usPerScanRuns.length));
    p("### The shared replay store");
    p();
    p("What a replay decision costs per scan (`bun bench/replay-store.ts`), in one process against real servers on loopback:");
    p("the in-memory window (`MemoryReplayWindow`), the node's Redis store (`RedisReplayStore`, Bun's RedisClient) on one");
    p("redis-server, the same Lua script through ioredis on the same server (the client alone compared), and the cluster store");
    p(`(\`RedisClusterReplayStore\`, ioredis: Bun's client has no cluster support) on a ${CLUSTER_MASTERS}-master Redis Cluster. Batches of random holders (the`);
    p("accepting path: each presentation its holder's next counter, existing keys), decided with one batch in flight (latency:");
    p(`µs per scan = batch time ÷ batch size) or several (throughput); each cell the median of ${runs} run${runs === 1 ? "" : "s"} of ${fmt(rp.msPerRun)} ms (range in brackets).`);
    p(`Redis ${rp.redis}; the servers and the bench share the machine's ${rp.cores} cores (load average ${rp.load[0].toFixed(2)} before, ${rp.load[1].toFixed(2)} after), so these`);
    p("are loopback costs with client and server on the same cores, not a network's. \"Redis µs\" is Redis's own time in the");
    p("script per scan (INFO commandstats, all masters): the part of the cost that a Redis core pays.");
    p();
    p(`| store | batch | ${flights.map((f) => `${f} in flight: µs per scan | scans/s`).join(" | ")} | Redis µs per scan (${flights.join(" / ")} in flight) |`);
    p(`|---|---|${flights.map(() => "---|---").join("|")}|---|`);
    for (const store of REPLAY_STORES) {
      for (const b of batches) {
        const cells = flights.map((f) => replayRow(rp, store, b, f));
        if (cells.every((c) => !c)) continue;
        const server = cells.map((c) => (c && c.serverUsPerScan !== null ? c.serverUsPerScan.toFixed(2) : "–")).join(" / ");
        p(`| ${store} | ${b} | ${cells.map((c) => (c ? `${usRuns(c)} | ${fmt(c.scansPerSecond)}` : "– | –")).join(" | ")} | ${server} |`);
      }
    }
    p();
    const choice = clientChoice(rp);
    if (choice) p(choice);
    const bMax = batches.at(-1)!, fMax = flights.at(-1)!, bMin = batches[0]!;
    const single1 = replayRow(rp, "redis (Bun client)", bMin, fMax), singleN = replayRow(rp, "redis (Bun client)", bMax, fMax);
    const clusterN = replayRow(rp, "cluster (ioredis)", bMax, fMax), ioN = replayRow(rp, "redis (ioredis)", bMax, fMax), memN = replayRow(rp, "memory", bMax, fMax);
    const facts: string[] = [];
    if (single1 && singleN) facts.push(`Batching pays on Redis: with ${fMax} in flight, the node's store decided ${fmt(single1.scansPerSecond)} scans/s in batches of ${bMin} and ${fmt(singleN.scansPerSecond)} in batches of ${bMax} (${(singleN.scansPerSecond / single1.scansPerSecond).toFixed(1)}×).`);
    if (singleN && clusterN && ioN) facts.push(`At batch ${bMax}, ${fMax} in flight, the ${CLUSTER_MASTERS}-master cluster decided ${fmt(clusterN.scansPerSecond)} scans/s against ${fmt(ioN.scansPerSecond)} for single Redis on the same client (${(clusterN.scansPerSecond / ioN.scansPerSecond).toFixed(2)}×; a batch is split by slot into one script call per master)${memN ? `, and the in-memory window ${fmt(memN.scansPerSecond)} (${(memN.scansPerSecond / singleN.scansPerSecond).toFixed(0)}× the node's Redis store)` : ""}.`);
    if (facts.length) p(facts.join(" "));
    p();
  }

  if (fl) {
    const S = (s: FleetSetup) => fl.setups.find((x) => x.setup === s);
    const one = S("1 node"), three = S("nginx → 3 nodes"), lb1 = S("nginx → 1 node");
    p("### A fleet on one machine");
    p();
    p(`Measured throughput of one node against three behind nginx on this ${fl.cores}-core machine (\`bun bench/fleet.ts\`): one redis-server`);
    p("(loopback, `noeviction`, no persistence, `yk:boot` an hour back so the nodes start ready), an issuer node and two");
    p(`followers (\`YUKUAI_FOLLOW\`, polling every 200 ms), each \`bun src/main.ts\` with \`YUKUAI_WORKERS=0\` (one verifying thread), and nginx ${fl.nginx.replace(/^nginx\//, "")}`);
    p(`as a non-daemon child with two listeners: one to the three nodes, one to the issuer node alone. Load: autocannon POSTs`);
    p(`/v1/verify/batch, JSON batches of ${fl.batch} fresh scans of ${fmt(fl.holders)} returning riders (each credential shown to every node`);
    p(`once first: one signature check per scan) over ${fl.connections} keep-alive connections, closed loop, about ${fl.secondsPerRun} s of codes per run,`);
    p(`to (a) the issuer node directly, (b) nginx → 3 nodes, (c) nginx → the issuer node alone (what nginx itself costs); the`);
    p(`three in turn, ${fl.rounds} round${fl.rounds === 1 ? "" : "s"} after a warm-up of each, medians (range in brackets). OK scans are the nodes' own`);
    p("counters (`/metrics`, summed over the three nodes) over the time from the first request to the last answer; CPU is each");
    p("process's utime + stime (`/proc/<pid>/stat`; nginx = master + workers; the load generator = the bench process) and the");
    p(`whole machine's busy time (\`/proc/stat\`) over the same time. Nothing is pinned: nodes, nginx, Redis and the load generator share the ${fl.cores} cores.`);
    p(`Load average ${fl.load[0].toFixed(2)} before, ${fl.load[1].toFixed(2)} after.`);
    p();
    const base = one?.okPerSec.median ?? NaN;
    p("| setup | OK scans/s | ÷ 1 node | p99 ms (autocannon) | OK scans/s per core used by the nodes | nginx CPU µs per OK scan | not OK |");
    p("|---|---|---|---|---|---|---|");
    for (const x of fl.setups) {
      p(`| ${x.setup} | ${x === three ? "**" : ""}${fmtSummary(x.okPerSec)}${x === three ? "**" : ""} | ${(x.okPerSec.median / base).toFixed(2)} | ${msS(x.p99Ms)} | ${fmt(x.okPerNodeCore)} | ${x.setup === "1 node" ? "–" : x.nginxUsPerScan.toFixed(1)} | ${fmt(x.notOk)} |`);
    }
    p();
    p(`CPU per process, in cores (CPU seconds per second, median over the runs) and as a share of the machine's ${fl.cores} cores:`);
    p();
    p(`| setup | ${FLEET_PROCS.join(" | ")} | machine busy |`);
    p(`|---|${FLEET_PROCS.map(() => "---").join("|")}|---|`);
    for (const x of fl.setups) p(`| ${x.setup} | ${FLEET_PROCS.map((q) => `${x.cores[q].toFixed(2)} (${pct(x.cores[q] / fl.cores)})`).join(" | ")} | ${x.machineCores.toFixed(2)} (${pct(x.machineCores / fl.cores)}) |`);
    p();
    if (one && three && lb1) {
      const nodesCores = (x: typeof one) => x.cores.issuer + x.cores["follower 1"] + x.cores["follower 2"];
      const k3 = nodesCores(three), busy = three.machineCores;
      const saturated = busy >= 0.9 * fl.cores;
      const others = (["load generator", "redis", "nginx", "other"] as FleetProc[]).sort((a, b) => three.cores[b] - three.cores[a]).map((q) => `${q} ${three.cores[q].toFixed(2)}`);
      const gain = three.okPerSec.median / one.okPerSec.median;
      const lbCost = lb1.okPerSec.median / one.okPerSec.median - 1;
      const lbNoise = Math.abs(lb1.okPerSec.median - one.okPerSec.median) <= Math.max(lb1.okPerSec.max - lb1.okPerSec.min, one.okPerSec.max - one.okPerSec.min);
      p(`Three nodes behind nginx verified ${gain.toFixed(2)}× the one node's OK scans/s (${fmt(three.okPerSec.median)} against ${fmt(one.okPerSec.median)}). nginx in front of the one`);
      p(`node changed its rate by ${signedPct(lbCost)}${lbNoise && fl.rounds > 1 ? " (within the runs' spread)" : ""}, and nginx's own CPU came to ${lb1.nginxUsPerScan.toFixed(1)} µs per OK scan (${three.nginxUsPerScan.toFixed(1)} µs with three nodes).`);
      p(`The single node used ${one.cores.issuer.toFixed(2)} cores (one verifying thread without workers uses at most about one). With three nodes the machine was`);
      p(`${pct(busy / fl.cores)} busy (${busy.toFixed(2)} of ${fl.cores} cores)${saturated ? `: the ${fl.cores} cores, not the node count, were the limit` : ": below saturation"}. The three nodes together got ${k3.toFixed(2)} cores (${pct(k3 / busy)} of the busy time);`);
      p(`the rest went to ${list(others)}. Per core the nodes used, they verified ${fmt(three.okPerNodeCore)} OK scans/s with three nodes against ${fmt(one.okPerNodeCore)}`);
      p(`with one (${signedPct(three.okPerNodeCore / one.okPerNodeCore - 1)}): ${Math.abs(three.okPerNodeCore / one.okPerNodeCore - 1) < 0.1 ? "the fleet's rate follows the cores its nodes get" : "a node's work per scan changed with the fleet"}.`);
      p();
    }
    p(`Commands: Redis \`${fl.commands.redis}\`; issuer \`${fl.commands.issuer}\`; followers \`${fl.commands.follower}\`; nginx \`${fl.commands.nginx}\` (${fl.commands.upstreams}); load: ${fl.commands.load}.`);
    p();
  }

  // ── sizing ──
  const ratio = r.ratio;
  const single = rp ? replayRow(rp, "redis (Bun client)", 256, 8) : undefined;
  const cluster = rp ? replayRow(rp, "cluster (ioredis)", 256, 8) : undefined;
  if (ratio && single) {
    const V = ratio.json.okPerSec.median;
    const S = single.scansPerSecond;
    const C = cluster ? cluster.scansPerSecond / CLUSTER_MASTERS : NaN;
    const n = NATIONAL;
    const avgDay = n.tripsPerYear / n.daysInYear;
    const chongqing = PEAK_SCANS_PER_SECOND * TARGET.metroMultiple;
    const national = (n.designDayTrips * n.scansPerTrip * n.peakHourShare * n.peakMinuteFactor) / 3600;
    const peaks = [
      { name: `(i) Chongqing, ${TARGET.metroMultiple}× its record peak`, short: "(i)", v: chongqing },
      { name: "(ii) national metro peak minute", short: "(ii)", v: national },
    ];
    const cores = (v: number) => Math.ceil((v / V) * HEADROOM);
    const shards = (v: number, rate: number) => (Number.isFinite(rate) ? Math.ceil((v / rate) * HEADROOM) : NaN);
    p("### Sizing");
    p();
    p("Fleet sizes from the measured rates, each with headroom for twice the peak: cores = ⌈peak ÷ per-core verify rate × 2⌉,");
    p("shards = ⌈peak ÷ per-shard replay rate × 2⌉.");
    p();
    p(`- Per-core verify rate: **${fmt(V)} OK scans/s**, the ratio section's service rate on one pinned core (JSON batches of ${RATIO_BATCH}, warm credentials:`);
    p("  one signature per scan). A node without workers uses one core; a node with workers, all of its cores.");
    p(`- Per-shard replay rate: **${fmt(S)} scans/s**, the node's Redis store on single Redis at batch ${single.batch} with ${single.inFlight} in flight${cluster ? `; per cluster master,`
      + ` the ${CLUSTER_MASTERS}-master cluster's ${fmt(cluster.scansPerSecond)} scans/s ÷ ${CLUSTER_MASTERS} = **${fmt(C)} scans/s**` : ""}. Both were measured with the client and`);
    p(`  the servers on the same ${rp!.cores} cores${single.serverUsPerScan !== null ? `; Redis's own script time was ${single.serverUsPerScan.toFixed(2)} µs per scan, so a Redis core alone would bound a shard at about ${fmt(1e6 / single.serverUsPerScan)} scans/s; the measured rate is ${pct(S * single.serverUsPerScan / 1e6)} of that bound${S * single.serverUsPerScan / 1e6 >= 0.8 ? " (at this depth Redis's own core was about the limit)" : " (the client, not Redis's core, was the limit)"}` : ""}.`);
    p(`- Peak (i): Chongqing's record peak, ${fmt(PEAK_SCANS_PER_SECOND, 1)} scans/s (see Peak metro), × ${TARGET.metroMultiple} = ${fmt(chongqing)} scans/s.`);
    p(`- Peak (ii), an assumption stated here: China's urban rail carried ${fmt(n.tripsPerYear / 1e9, 2)} billion trips in ${n.year} (Ministry of Transport), ${fmt(avgDay / 1e6, 1)} million`);
    p(`  a day on average; a busy workday is taken as ${fmt(n.designDayTrips / 1e6)} million trips, ${n.scansPerTrip} scans a trip (tap-in, tap-out), ${pct(n.peakHourShare)} of the day's scans in`);
    p(`  the peak hour (the Chongqing model's share; the country is one time zone, so the cities' rush hours coincide), and the busiest`);
    p(`  minute at ${n.peakMinuteFactor}× the peak hour's mean: ${fmt(n.designDayTrips)} × ${n.scansPerTrip} × ${n.peakHourShare} × ${n.peakMinuteFactor} / 3600 = ${fmt(national)} scans/s, as if one fleet served every city.`);
    p();
    p(`| peak | scans/s | cores (÷ ${fmt(V)} × ${HEADROOM}) | single-Redis shards (÷ ${fmt(S)} × ${HEADROOM}) |${cluster ? ` cluster masters (÷ ${fmt(C)} × ${HEADROOM}) |` : ""}`);
    p(`|---|---|---|---|${cluster ? "---|" : ""}`);
    for (const x of peaks) p(`| ${x.name} | ${fmt(x.v)} | **${cores(x.v)}** | **${shards(x.v, S)}** |${cluster ? ` ${shards(x.v, C)} |` : ""}`);
    p();
    const say = peaks.map((x) => {
      const s = shards(x.v, S), c = shards(x.v, C), k = cores(x.v);
      const store = s <= 1 ? "one Redis is enough for its replay decisions" : `more than one Redis: a cluster${Number.isFinite(c) ? ` of ${c} masters at the measured per-master rate` : ""}`;
      return `${x.short}, ${fmt(x.v)} scans/s, needs ${k} core${k === 1 ? "" : "s"} of nodes and ${s} shard${s === 1 ? "" : "s"}: ${store}`;
    });
    p(`On these rates, ${say.join("; ")}.`);
    if (fl) {
      const three = fl.setups.find((x) => x.setup === "nginx → 3 nodes");
      if (three) p(`In the fleet run the nodes verified ${fmt(three.okPerNodeCore)} OK scans/s per core they used (batches of ${fl.batch}, sharing the cores with nginx, Redis and the load generator), ${pct(three.okPerNodeCore / V)} of the per-core rate used here; at that rate (i) would need ${plural(Math.ceil((chongqing / three.okPerNodeCore) * HEADROOM), "core")} and (ii) ${plural(Math.ceil((national / three.okPerNodeCore) * HEADROOM), "core")}.`);
    }
    p();
  }
}

async function writeReport(r: Results, resultsFile: string): Promise<void> {
  mkdirSync(join(reportDir, "bench/plots"), { recursive: true });
  const md: string[] = [];
  const p = (s = "") => md.push(s);
  const m = r.machine;
  const partSeconds = Object.entries(r.seconds);
  const totalSeconds = partSeconds.reduce((a, [, v]) => a + (v ?? 0), 0);
  p("# Benchmarks");
  p();
  p(`Made by \`npm run bench\` (\`bun bench/run.ts${r.quick ? " --quick" : ""}\`); its last run started on ${r.startedAt.slice(0, 10)}${r.quick ? " (**--quick**: fewer, shorter runs)" : ""}.`);
  p(`Every number and comparison below is computed from the results file (\`${resultsFile}\`); parts not rerun with \`--only\``);
  p("keep an earlier run's numbers. Medians of several runs, with the range (min–max) in brackets. Rerun: `npm run bench` or");
  p("`bun bench/run.ts --quick`; `--only=ratio,metro` reruns parts; `--report-only` rewrites this file and the plots from the results file.");
  p();
  p("| machine | |");
  p("|---|---|");
  p(`| CPU | ${m.cpu} (${m.hypervisor !== "?" ? `${m.hypervisor} guest, ` : ""}${m.cores} cores, ${m.threadsPerCore} thread per core) |`);
  p(`| memory | ${m.memoryGiB} GiB |`);
  p(`| runtime | Bun ${m.bun}, Linux ${m.kernel} |`);
  p(`| time per part (s) | ${partSeconds.map(([k, v]) => `${k} ${v}`).join(", ")}${partSeconds.length > 1 ? `; total ${totalSeconds} (${(totalSeconds / 60).toFixed(1)} min)` : ""} |`);
  p();

  // ── targets ──
  const ratio = r.ratio, http = r.http, metro = r.metro, mem = r.memory, nat = r.native;
  p("## Targets");
  p();
  p("| target | measured | |");
  p("|---|---|---|");
  if (ratio) {
    const t = TARGET.ratio, tc = TARGET.coldRatio;
    p(`| ratio ≥ ${t.toFixed(1)}: OK scans/s of the service ÷ raw node:crypto single verifications/s, one core; returning riders (warm credentials: one device signature per scan), HTTP JSON batches of ${RATIO_BATCH} | **${ratioS(ratio.json.ratio)}** (msgpack ${ratioS(ratio.msgpack.ratio)}) | ${atLeast(ratio.json.ratio.median, t)} |`);
    p(`| ratio ≥ ${tc.toFixed(1)} for first-sight scans (issuer + device signature per scan), same setup | **${ratioS(ratio.cold.ratio)}** | ${atLeast(ratio.cold.ratio.median, tc)} |`);
  }
  if (http) {
    const v = http.single.p99.median, t = TARGET.singleP99Ms;
    const sameRate = http.single.rate === TARGET.singleRate;
    const verdict = v <= t ? `met (${ms(t - v)} ms under)` : `missed by ${ms(v - t)} ms`;
    p(`| single-scan POST /v1/verify p99 ≤ ${t} ms at ${fmt(TARGET.singleRate)} scans/s | **${msS(http.single.p99)} ms**${sameRate ? "" : ` at ${fmt(http.single.rate)} scans/s`} | ${sameRate ? verdict : `not measured at the target's rate (${verdict} at ${fmt(http.single.rate)} scans/s)`} |`);
  }
  if (metro && metro.length) {
    const t = TARGET.metroMultiple;
    const met = metro.filter((x) => x.held >= t), missed = metro.filter((x) => x.held < t);
    const best = Math.max(...metro.map((x) => x.held));
    const verdict = missed.length === 0 ? `met by all ${metro.length}`
      : met.length === 0 ? `missed by all ${metro.length} (the best held ${best}×, ${t - best}× short)`
      : `met by ${list(met.map(runName))}; missed by ${list(missed.map((x) => `${runName(x)} (${t - x.held}× short)`))}`;
    const top = metro.filter(heldTop);
    p(`| peak metro ≥ ${t}× the record peak on one core, first-sight and returning riders, HTTP and WebSocket | ${metro.map((x) => `${runName(x)}: **${heldTop(x) ? "≥ " : ""}${x.held}×**`).join("; ")} | ${verdict}${top.length ? ` (${list(top.map(runName))} held the highest level tried: the ladder, not the node, bounded ${top.length === 1 ? "it" : "them"})` : ""} |`);
  }
  const soak = r.soak;
  if (soak) {
    const v = soakVerdicts(soak);
    const missed = v.filter((x) => !x.met);
    p(`| soak (${fmt(soak.minutes, soak.minutes % 1 ? 1 : 0)} min of mixed load): ${list(v.map((x) => x.target))} | ${v.map((x) => x.short).join("; ")} | ${missed.length === 0 ? "met" : `missed: ${list(missed.map((x) => x.target))}`} |`);
  }
  if (mem) {
    const v = mem.replay.bytesPerHolder, t = TARGET.replayBytesPerHolder;
    p(`| memory per holder: ≤ ${t} bytes per active holder in the replay window | **${v.toFixed(1)} B** (RSS growth ${mem.replay.rssBytesPerHolder.toFixed(1)} B) | ${v <= t ? `met (${pct(v / t)} of the limit)` : `missed by ${(v - t).toFixed(1)} B`} |`);
    const b = LRU_BEFORE_ISSUE_12, lv = mem.lru.rssBytesPerHolder;
    p(`| memory per holder: verified-credential LRU RSS per holder as before issue 12 or less (≤ ${fmt(b.rssBytesPerHolder, 1)} B, bench/memory.ts at ${b.commit}) | **${fmt(lv, 1)} B** RSS (JS heap ${fmt(mem.lru.heapBytesPerHolder, 1)} B; before: ${fmt(b.rssBytesPerHolder, 1)} B RSS, ${fmt(b.heapBytesPerHolder, 1)} B heap) | ${lv <= b.rssBytesPerHolder ? `met (${signedPct(lv / b.rssBytesPerHolder - 1)})` : `missed by ${fmt(lv - b.rssBytesPerHolder, 1)} B (${signedPct(lv / b.rssBytesPerHolder - 1)})`} |`);
  }
  const bad = nat ? oneBadIn256(nat) : undefined;
  if (bad) {
    const v = bad.ratio.median, t = TARGET.badOneIn256;
    p(`| one bad signature in 256 costs ≤ ${t}× an all-good batch of 256 (native verifyBatch) | **${fmtSummary(bad.ratio, 2)}×** | ${v <= t ? `met (by ${(t - v).toFixed(2)})` : `missed by ${(v - t).toFixed(2)}`} |`);
  }
  p();

  // ── the native core ──
  if (nat) {
    p("## The native verification core");
    p();
    p("The project's C Ed25519 core (native/, loaded through N-API by src/crypto/native.ts) against `node:crypto`, in one");
    p("process, no server: single verification, `verifyBatch` (the batch equation; a failing batch is bisected) and");
    p("`verifyScans` (both signatures of a 212-byte code, the call the servers make) on real codes.");
    p();
    p(nativeMarkdown(nat));
    const bad = oneBadIn256(nat);
    if (bad) {
      const v = bad.ratio.median, t = TARGET.badOneIn256;
      p(`**One bad signature in 256 cost ${fmtSummary(bad.ratio, 2)}× an all-good batch of 256** (per-round ratios, median and range over ${bad.ratio.runs.length} rounds):`);
      p(`target ≤ ${t}×, ${v <= t ? `met (by ${(t - v).toFixed(2)})` : `missed by ${(v - t).toFixed(2)}`}.`);
      p();
    }
  }

  // ── ratio ──
  if (ratio) {
    p("## The ratio: end to end against raw verification, one core");
    p();
    p("Server pinned to core 0 (`taskset -c 0`, `YUKUAI_WORKERS=0`: one core, so no worker pool), load generator pinned to core 1.");
    p(`POST /v1/verify/batch with ${RATIO_BATCH} unique, fresh scans per request over ${RATIO_CONNECTIONS} connections (autocannon); OK scans`);
    p("counted by the node itself (`yukuai_scans_total`), over the time from the first request to the last answer.");
    p("Each run is divided by raw `node:crypto` Ed25519 verifications per second on core 0 measured just before it");
    p("(`bench/raw-verify.ts`: one signature at a time, one key). The ratio is OK scans per second of the whole service");
    p("(HTTP, parsing, the §3 checks, replay, answers) over the single verifications per second node:crypto does on the");
    p("same core. The service verifies the signatures of the requests in flight together (src/verify/coalesce.ts: one");
    p("`verifyScans` call over everything queued), so with a batch verifier the ratio can exceed 1.");
    p(`Returning riders: credentials are warm (${fmt(WARM_HOLDERS)} holders, each seen once before), so an OK scan needs one signature check,`);
    p("the device signature; first sight: every credential new to the node, issuer and device signature.");
    p();
    p("| body | OK scans/s | raw verifications/s | ratio |");
    p("|---|---|---|---|");
    p(`| JSON (\`YK1:\` text), returning riders | ${fmtSummary(ratio.json.okPerSec)} | ${fmtSummary(ratio.json.rawPerSec)} | **${ratioS(ratio.json.ratio)}** |`);
    p(`| msgpack (raw 212 bytes), returning riders | ${fmtSummary(ratio.msgpack.okPerSec)} | ${fmtSummary(ratio.msgpack.rawPerSec)} | ${ratioS(ratio.msgpack.ratio)} |`);
    p(`| JSON, first sight (issuer + device signature) | ${fmtSummary(ratio.cold.okPerSec)} | | **${ratioS(ratio.cold.ratio)}** |`);
    p(`| JSON, returning riders, batches of one scan | ${fmtSummary(ratio.single.okPerSec)} | | |`);
    p();
    const w = ratio.where;
    const t = w.perScanUs;
    p("### Where the time goes");
    p();
    p("One more run of an instrumented copy of the server (`bench/timed-server.ts`: the same app and start-up, with every");
    p("call of the node's verifier timed, each `verifyScans` call checking the coalesced signatures of the requests in");
    p("flight, and the request handler timed, both with `Bun.nanoseconds()`, not sampled by a profiler), and the server");
    p("process's CPU time from `/proc/<pid>/stat`, per OK scan (returning riders, JSON batches of " + RATIO_BATCH + "):");
    p();
    p("| | µs per scan | share |");
    p("|---|---|---|");
    const row = (name: string, v: number) => p(`| ${name} | ${v.toFixed(1)} | ${((v / t.total) * 100).toFixed(1)}% |`);
    const busy = t.total - t.idle;
    const handler = t.signatures + t.restOfHandler;
    // the handlers' wall times overlap when requests in flight together wait for the same coalesced call:
    // then they cannot be split from the server's other CPU time
    const overlap = handler > busy;
    row(`the verifier's calls (\`verifyScans\`, ${w.signaturesPerScan.toFixed(2)} signature${w.signaturesPerScan === 1 ? "" : "s"} per scan)`, t.signatures);
    if (!overlap) {
      row("rest of the request handler: body read, JSON parse, Base45, LRU, replay, results, JSON out, metrics", t.restOfHandler);
      row("server CPU outside the handler: Bun's HTTP parsing and socket I/O, GC between requests", t.outsideHandler);
    } else {
      row("rest of the server's CPU time: body read, JSON parse, Base45, LRU, replay, results, JSON out, metrics, Bun's HTTP parsing and socket I/O, GC", busy - t.signatures);
    }
    row("idle (waiting for the load generator)", t.idle);
    row("total (wall time per scan)", t.total);
    p();
    if (overlap) {
      p(`The request handlers' wall times came to ${handler.toFixed(1)} µs per scan, more than the server's ${busy.toFixed(1)} µs of CPU time: requests in flight`);
      p("together overlapped (they wait for the same coalesced call), so the handler is not split from the rest of the server here.");
      p();
    }
    const v = w.verifyUsInService, raw = w.rawVerifyUs;
    const atRaw = raw * w.signaturesPerScan;
    const rest = busy - t.signatures;
    p(`Inside the service the verifier's calls took ${v.toFixed(2)} µs per signature, against ${raw.toFixed(2)} µs for one \`node:crypto\` verification in the`);
    p(`raw loop (one key, one signature at a time): ${v < raw ? `${(raw / v).toFixed(2)}× faster per signature` : `${signedPct(v / raw - 1)} per signature`}. Of the ${t.total.toFixed(1)} µs per OK scan, ${t.signatures.toFixed(1)} µs`);
    p(`(${pct(t.signatures / t.total, 1)}) went to the verifier's calls, ${rest.toFixed(1)} µs (${pct(rest / t.total, 1)}) to everything else the server did and ${t.idle.toFixed(1)} µs (${pct(t.idle / t.total, 1)}) was idle.`);
    p(`Checking a scan's ${w.signaturesPerScan === 1 ? "signature" : `${w.signaturesPerScan.toFixed(2)} signatures`} one at a time at the raw loop's speed would take ${atRaw.toFixed(1)} µs, ${atRaw > t.total ? `more than the ${t.total.toFixed(1)} µs the service took for the whole scan` : `${pct(atRaw / t.total, 1)} of the ${t.total.toFixed(1)} µs the service took for the whole scan`}.`);
    const oneKey = r.micro?.find((x) => x.name.startsWith("node:crypto verify, one key"));
    const manyKeys = r.micro?.find((x) => /^node:crypto verify, [\d,]+ keys/.test(x.name));
    if (oneKey && manyKeys) {
      p(`The raw loop verifies under one key; in the micro benches, "${manyKeys.name}" took ${fmt(manyKeys.ns.median)} ns per verification against ${fmt(oneKey.ns.median)} ns for "${oneKey.name}" (${signedPct(manyKeys.ns.median / oneKey.ns.median - 1)}).`);
    }
    const route = r.micro?.find((x) => x.name.startsWith("POST /v1/verify/batch in process") && x.name.includes("no signature"));
    const pipe = r.micro?.find((x) => x.name.startsWith("Pipeline.verifyBatch") && x.name.includes("no signature"));
    if (route && pipe) {
      p(`In process, without signature checks, the whole route took ${(route.ns.median / 1000).toFixed(2)} µs per scan, of which the pipeline (§3 checks, LRU, replay) ${(pipe.ns.median / 1000).toFixed(2)} µs.`);
    }
    p(`A request beyond its scan took about ${ratio.single.overheadUsPerRequest.toFixed(0)} µs (batches of one scan, same setup: the time per OK scan less the verifier's µs per signature above).`);
    p();
    p("Commands: server `" + ratio.commands.server + "`; instrumented server `" + ratio.commands.timedServer + "`; load: " + ratio.commands.loadGenerator + "; raw: `" + ratio.commands.raw + "`.");
    p();
  }

  // ── http ──
  if (http) {
    const batches = [...new Set(http.series.flatMap((s) => s.points.map((q) => q.batch)))].sort((a, b) => a - b);
    const commands = [...new Set(http.series.map((s) => s.command))];
    p(`## Throughput against batch size (${m.cores} cores)`);
    p();
    p(`The server with its default worker pool (\`${commands.join("`, `")}\`) and the load generator share the machine's ${m.cores} cores.`);
    p(`Closed loop; connections: ${BATCH_SIZES.map((b, i) => (i === 0 ? `${connectionsFor(b)} (batch ${b})` : `${connectionsFor(b)} (${b})`)).join(", ")}; WebSocket: the same`);
    p("number of connections, one frame in flight on each. Warm credentials, unique fresh codes. OK scans per second");
    p("(counted by the node); p99 is the request's (autocannon, 1 ms resolution) or the frame's.");
    p();
    p(`| batch | ${http.series.map((s) => s.name).join(" | ")} |`);
    p(`|---|${http.series.map(() => "---").join("|")}|`);
    for (const b of batches) {
      p(`| ${b} | ${http.series.map((s) => { const pt = s.points.find((q) => q.batch === b); return pt ? `${fmtSummary(pt.okPerSec)}/s, p99 ${ms(pt.p99ms.median)} ms${pt.notOk ? ` (${pt.notOk} not OK)` : ""}` : "–"; }).join(" | ")} |`);
    }
    p();
    if (http.series.length > 1) {
      const at = (b: number) => {
        const pts = http.series.flatMap((s) => { const q = s.points.find((x) => x.batch === b); return q ? [{ name: s.name, v: q.okPerSec.median }] : []; }).sort((x, y) => y.v - x.v);
        const top = pts[0], low = pts.at(-1);
        return top && low && pts.length > 1 ? `at batch ${b}, ${top.name} (${signedPct(top.v / low.v - 1)} over the slowest, ${low.name})` : undefined;
      };
      const parts = [batches[0], batches.at(-1)].filter((b, i, a): b is number => b !== undefined && a.indexOf(b) === i).map(at).filter((x): x is string => !!x);
      if (parts.length) p(`Fastest ${parts.join("; ")}.`);
      p();
    }
    p("![OK scans per second against batch size](bench/plots/throughput-vs-batch.svg)");
    p();
    p("### Pool threshold");
    p();
    p("Does a small batch pay for the trip to a worker? A server without workers (`YUKUAI_WORKERS=0`: the main thread");
    p("verifies, its checks coalesced, src/verify/coalesce.ts) against the default server with a worker per core, whose pool");
    p("(src/verify/pool.ts) sends every check to a worker (checks queued while the workers are busy go together as one");
    p(`chunk to the next one free; there is no inline threshold), HTTP JSON, ${m.cores} cores.`);
    p(`Commands: \`${http.thresholdCommands.inline}\`; \`${http.thresholdCommands.pool}\`.`);
    p();
    p("| batch | no workers | worker pool | pool ÷ no workers |");
    p("|---|---|---|---|");
    for (const t of http.threshold) p(`| ${t.batch} | ${fmtSummary(t.inline)}/s | ${fmtSummary(t.pool)}/s | ${(t.pool.median / t.inline.median).toFixed(2)} |`);
    p();
    if (http.threshold.length) {
      const th = [...http.threshold].sort((a, b) => a.batch - b.batch);
      const poolWins = th.filter((t) => t.pool.median > t.inline.median).map((t) => t.batch);
      const inlineWins = th.filter((t) => t.pool.median <= t.inline.median).map((t) => t.batch);
      const gains = th.map((t) => t.pool.median / t.inline.median);
      if (inlineWins.length === 0) {
        p(`The pool was faster at every batch size measured (${list(poolWins.map(String))}), by ${Math.min(...gains).toFixed(2)}–${Math.max(...gains).toFixed(2)}×${th[0]!.batch === 1 ? ": on these numbers sending every check to the workers costs no batch size anything" : ""}.`);
      } else if (poolWins.length === 0) {
        p(`No workers was as fast or faster at every batch size measured (${list(inlineWins.map(String))}): on these numbers batches up to ${th.at(-1)!.batch} are answered faster on the main thread than by the pool, which sends them to a worker.`);
      } else {
        const crossover = Math.max(...inlineWins) < Math.min(...poolWins);
        p(`No workers was as fast or faster at batch${inlineWins.length > 1 ? "es" : ""} ${list(inlineWins.map(String))}; the pool at ${list(poolWins.map(String))}${crossover ? `: on these numbers the crossover is at batch ${Math.min(...poolWins)}` : " (no single crossover)"}.`);
      }
      p();
    }
    p(`### Single scans at ${fmt(http.single.rate)}/s`);
    p();
    p(`POST /v1/verify, one scan each, Poisson arrivals at ${fmt(http.single.rate)}/s for ${http.single.seconds} s (open loop: each request leaves at its`);
    p("scheduled time whatever the answers; latency from the scheduled time to the answer, so a late sender counts against");
    p(`the server), ${http.single.runs} runs, default server (\`${http.single.command}\`):`);
    p();
    p("| p50 | p90 | p99 | p99.9 | unanswered or not OK |");
    p("|---|---|---|---|---|");
    p(`| ${msS(http.single.p50)} ms | ${msS(http.single.p90)} ms | **${msS(http.single.p99)} ms** | ${msS(http.single.p999)} ms | ${http.single.failures} |`);
    p();
    writeFileSync(join(reportDir, "bench/plots/throughput-vs-batch.svg"), await lineChart({
      title: `OK scans per second against batch size (${m.cores} cores, server + load generator)`,
      xLabel: "scans per request or frame", yLabel: "OK scans per second", xLog: true, xTicks: batches,
      series: [
        ...http.series.map((s) => ({ name: s.name, points: s.points.map((q) => ({ x: q.batch, y: q.okPerSec.median, lo: q.okPerSec.min, hi: q.okPerSec.max })) })),
        { name: "HTTP JSON, no workers", dashed: true, points: http.threshold.map((q) => ({ x: q.batch, y: q.inline.median, lo: q.inline.min, hi: q.inline.max })) },
      ],
      hlines: ratio ? [
        { y: ratio.json.rawPerSec.median, label: "raw node:crypto verify, 1 core" },
        { y: m.cores * ratio.json.rawPerSec.median, label: `raw node:crypto verify × ${m.cores} cores` },
      ] : [],
      yMin: 0,
    }));
  }

  // ── metro ──
  if (metro && metro.length) {
    const fs = metro.find((x) => x.model === "first-sight" && x.transport === "http") ?? metro[0]!;
    const ladder = r.quick ? METRO_LADDER.quick : METRO_LADDER.full;
    const target = TARGET.metroMultiple;
    p("## Peak metro");
    p();
    p(`Chongqing's record day: 6.148 million metro trips (2024-12-31); two scans a trip (tap-in, tap-out); 15% of the`);
    p(`day's scans in the peak hour: 6,148,000 × 2 × 0.15 / 3600 = **${fs.peak.toFixed(1)} scans/s**. At a multiple m, scans`);
    p(`arrive as a Poisson process at m × that rate over ${GATEWAYS} station gateways; each gateway sends the scans that arrived`);
    p(`since its last send every ${TICK_MS} ms (its own phase): over HTTP as one POST /v1/verify/batch on its own keep-alive`);
    p("connection, over WebSocket as one JSON frame on its own `/v1/verify/stream`. Latency is from a scan's arrival at");
    p("the gate to the answer, the wait for the batch included. The node holds m when every scan is answered with a");
    p(`result and p99 ≤ ${P99_LIMIT_MS} ms. Server pinned to core 0 (no workers: the target is for one core), load generator on core 1,`);
    p(`a fresh server per level; ${fs.warmSeconds} s of warm-up at the same load, then ${fs.seconds} s counted. Levels climb ${ladder.slice(0, 4).join(", ")}, … up to ${ladder.at(-1)}×`);
    p(`(each run after the first from the first rung at or above what an earlier one held) until one is not held${r.quick ? ";" : ", then one"}`);
    p(`${r.quick ? "" : "bisection step; "}the answer is the largest multiple held in ${r.quick ? "its one run" : "at least two of three runs"}.`);
    p();
    p("Two models of the riders' credentials:");
    p("- **first sight**: every trip is a new holder; the tap-in is the credential's first sight on the node (issuer");
    p(`  and device signatures) and the tap-out, ${TRIP_MIN_MS / 1000}–${TRIP_MAX_MS / 1000} s later (time compressed), finds it in the verified-credential`);
    p("  LRU: 1.5 signatures per scan. This is a node whose LRU does not hold yesterday's riders.");
    p(`- **returning riders**: ${fmt(RETURNING_HOLDERS)} holders seen once before the run ride again and again: one signature per`);
    p("  scan, as on a node whose LRU (`YUKUAI_CREDENTIAL_CACHE`) holds the day's riders (see Memory for its cost).");
    p();
    p(`| model | transport | holds | scans/s | target ≥ ${target}× |`);
    p("|---|---|---|---|---|");
    for (const res of metro) p(`| ${modelName(res.model)} | ${transportName(res.transport)} | **${heldTop(res) ? "≥ " : ""}${res.held}×** | ${fmt(res.held * res.peak)} | ${res.held >= target ? "met" : `missed by ${target - res.held}×`} |`);
    p();
    const topped = metro.filter(heldTop);
    if (topped.length) {
      p(`${list(topped.map(runName)).replace(/^./, (c) => c.toUpperCase())} held the highest level tried (${list([...new Set(topped.map((x) => `${x.held}×`))])}): the ladder stopped there, so the`);
      p("node's limit on these runs is at or above it, not measured.");
      p();
    }
    for (const res of metro) {
      p(`**${modelName(res.model).replace(/^./, (c) => c.toUpperCase())}, ${transportName(res.transport)}: holds ${heldTop(res) ? "at least " : ""}${res.held}×.**`);
      p();
      p("| multiple | scans/s | scans per batch | p50 ms | p90 ms | p99 ms | max ms | unanswered | not OK | core 0 / core 1 busy | holds |");
      p("|---|---|---|---|---|---|---|---|---|---|---|");
      for (const l of res.levels) {
        p(`| ${l.multiple}× | ${fmt(l.scansPerSec)} | ${l.meanBatch.toFixed(2)} | ${ms(l.p50)} | ${ms(l.p90)} | ${ms(l.p99)} | ${ms(l.max)} | ${l.failures} | ${l.notOk} | ${(l.busy.server * 100).toFixed(0)}% / ${(l.busy.loadGenerator * 100).toFixed(0)}% | ${l.pass ? "yes" : "no"} |`);
      }
      if (res.repeats.length) p(`\nRepeats: ${res.repeats.map((q) => `${q.multiple}×: held ${q.passes} of ${q.runs}, p99 ${msS(q.p99)} ms`).join("; ")}.`);
      p();
    }

    p("Where each run stopped: the level it held and the first level above it not held, with the server's core (core 0) busy share:");
    p();
    p("| model | transport | held | p99 ms | core 0 busy | first not held | p99 ms | core 0 busy | unanswered |");
    p("|---|---|---|---|---|---|---|---|---|");
    for (const res of metro) {
      const h = heldLevel(res), f = firstNotHeld(res);
      p(`| ${modelName(res.model)} | ${transportName(res.transport)} | ${res.held}× | ${h ? ms(h.p99) : "–"} | ${h ? pct(h.busy.server) : "–"} | ${f ? `${f.multiple}×` : "–"} | ${f ? ms(f.p99) : "–"} | ${f ? pct(f.busy.server) : "–"} | ${f ? f.failures : "–"} |`);
    }
    p();
    const stops = metro.map(firstNotHeld).filter((l): l is MetroLevel => l !== undefined);
    const observations: string[] = [];
    if (stops.length) {
      const busy = stops.map((l) => l.busy.server);
      observations.push(`At the first level not held, core 0 was ${pct(Math.min(...busy))}${stops.length > 1 ? `–${pct(Math.max(...busy))}` : ""} busy.`);
    }
    const byTransport = (["first-sight", "returning"] as const).flatMap((model) => {
      const h = metro.find((x) => x.model === model && x.transport === "http"), w = metro.find((x) => x.model === model && x.transport === "ws");
      if (!h || !w) return [];
      return [`${modelName(model)}, WebSocket ${w.held}× against HTTP ${h.held}× (${w.held > h.held ? `WebSocket ${w.held - h.held}× higher` : w.held < h.held ? `WebSocket ${h.held - w.held}× lower` : "the same"})`];
    });
    if (byTransport.length) observations.push(`By transport: ${byTransport.join("; ")}.`);
    if (observations.length) { p(observations.join(" ")); p(); }

    // the level at the target in an HTTP run (the request cost below is an HTTP request's), else in any
    const lvlRun = [...metro].sort((a, b) => Number(b.transport === "http") - Number(a.transport === "http")).find((x) => x.levels.some((l) => l.multiple === target));
    const lvl = lvlRun?.levels.find((l) => l.multiple === target);
    if (ratio && lvlRun && lvl) {
      const v = ratio.where.verifyUsInService;
      const oh = ratio.single.overheadUsPerRequest;
      const at = target * fs.peak;
      const reqPerSec = at / lvl.meanBatch;
      const models = [{ name: "first sight", perScan: 1.5 }, { name: "returning riders", perScan: 1 }];
      const cost = models.map((x) => ({ ...x, verify: (at * x.perScan * v) / 1e6, requests: (reqPerSec * oh) / 1e6 }));
      p(`An estimate at ${target}× (${fmt(at)} scans/s, ${lvl.meanBatch.toFixed(2)} scans per batch as measured at that level in the ${runName(lvlRun)} run, about ${fmt(reqPerSec)} batches/s)`);
      p(`from the ratio section's measurements on the same core: the verifier's calls took ${v.toFixed(2)} µs per signature there (returning riders, requests of ${RATIO_BATCH}`);
      p(`scans, checks coalesced), and an HTTP request beyond its scans ${oh.toFixed(0)} µs. Every signature is costed at that rate, whatever the size of`);
      p("the verifier's calls at this load:");
      p();
      p(`| | ${cost.map((x) => `${x.name} (${x.perScan} signature${x.perScan === 1 ? "" : "s"}/scan)`).join(" | ")} |`);
      p(`|---|${cost.map(() => "---").join("|")}|`);
      p(`| verification, core-seconds per second | ${cost.map((x) => x.verify.toFixed(2)).join(" | ")} |`);
      p(`| HTTP requests, core-seconds per second | ${cost.map((x) => x.requests.toFixed(2)).join(" | ")} |`);
      p(`| together | ${cost.map((x) => (x.verify + x.requests).toFixed(2)).join(" | ")} |`);
      p(`| verification alone bounds the node at | ${cost.map((x) => `${(1e6 / (x.perScan * v) / fs.peak).toFixed(0)}×`).join(" | ")} |`);
      p();
      p(`On this estimate, at ${target}×, ${list(cost.map((x) => `${x.name} ${x.verify + x.requests > 1 ? `needs more than the core (${(x.verify + x.requests).toFixed(2)})` : `fits in the core with ${pct(1 - x.verify - x.requests)} to spare`}`))}.`);
      p();
    }
    p("![Latency percentiles against offered load](bench/plots/latency-vs-load.svg)");
    p();
    p(`Server: \`${fs.command}\`; load generator: \`taskset -a -p -c 1 <bench pid>\`, Bun fetch (HTTP) or Bun WebSocket clients, one per gateway.`);
    p();
    const name = (res: MetroResults) => `${res.model === "first-sight" ? "first sight" : "returning"}, ${res.transport === "http" ? "HTTP" : "WS"}`;
    writeFileSync(join(reportDir, "bench/plots/latency-vs-load.svg"), await lineChart({
      title: "Peak metro: scan-to-result latency against offered load (1 core)",
      xLabel: `offered scans per second (${fmt(fs.peak)} = the record peak)`, yLabel: "latency, ms (log)", xLog: true, yLog: true,
      series: metro.flatMap((res, k) => (["p99", "p50"] as const).map((pc) => ({
        name: `${name(res)}, ${pc}`, dashed: pc === "p50", colour: k,
        points: [...res.levels].sort((a, b) => a.multiple - b.multiple).map((l) => ({ x: l.scansPerSec, y: l[pc] })),
      }))),
      hlines: [{ y: P99_LIMIT_MS, label: `p99 limit ${P99_LIMIT_MS} ms`, labelLeft: true }],
    }));
  }

  // ── memory ──
  if (mem) {
    const t = TARGET.replayBytesPerHolder;
    p("## Memory per active holder");
    p();
    p(`${fmt(mem.holders)} holders, each with one accepted presentation, in a fresh process (\`bun bench/memory.ts ${mem.holders}\`):`);
    p();
    p("| structure | bytes per holder | how |");
    p("|---|---|---|");
    p(`| replay window (YUKUAI_REPLAY_CAPACITY = ${fmt(mem.replay.capacity)}) | **${mem.replay.bytesPerHolder.toFixed(1)}** (RSS growth ${mem.replay.rssBytesPerHolder.toFixed(1)}) | its table: ${fmt(mem.replay.tableBytes)} bytes for a capacity of ${fmt(mem.replay.capacity)} (${(mem.replay.tableBytes / mem.replay.capacity).toFixed(1)} bytes per holder of capacity) |`);
    p(`| verified-credential LRU (${fmt(mem.lru.entries)} entries) | **${fmt(mem.lru.rssBytesPerHolder)}** RSS (JS heap ${fmt(mem.lru.heapBytesPerHolder)}) | decoded fields, hex strings, the frozen OK result, and one buffer holding the 138-byte credential and its device key's x coordinate (32 bytes, as the native core gives it) |`);
    p();
    const v = mem.replay.bytesPerHolder;
    const b = LRU_BEFORE_ISSUE_12, lv = mem.lru.rssBytesPerHolder;
    p(`The replay window takes ${pct(v / t)} of its ≤ ${t} B target (${v <= t ? "met" : "missed"}). A credential in the LRU costs ${(lv / mem.replay.rssBytesPerHolder).toFixed(1)}× the`);
    p(`replay window's RSS per holder; at this size each million credentials held in the LRU take about ${fmt((1e6 * lv) / 2 ** 30, 1)} GiB.`);
    p(`Before issue 12 (device keys kept as KeyObjects; bench/memory.ts at ${b.commit}, measured on this machine on ${b.date}) an LRU entry took`);
    p(`${fmt(b.rssBytesPerHolder, 1)} B RSS and ${fmt(b.heapBytesPerHolder, 1)} B of JS heap: now ${signedPct(lv / b.rssBytesPerHolder - 1)} RSS and ${signedPct(mem.lru.heapBytesPerHolder / b.heapBytesPerHolder - 1)} heap (target: as before or less, ${lv <= b.rssBytesPerHolder ? "met" : "missed"}).`);
    p();
  }

  // ── scaling out: replay store, fleet, sizing ──
  if (r.replay || r.fleet) scalingSection(r, p);

  // ── soak ──
  if (soak) await soakSection(soak, m, p);

  // ── micro ──
  if (r.micro) {
    p("## Micro benches");
    p();
    p("In process, one thread pinned to core 0 (`taskset -c 0 bun bench/micro.ts`); median ns per operation over timed");
    p("samples (range in brackets). Pipeline rows: batches of 256 fresh scans from 4,096 warm holders.");
    p();
    p("| group | operation | ns | per |");
    p("|---|---|---|---|");
    for (const x of r.micro) p(`| ${x.group} | ${x.name} | ${fmtSummary(x.ns)} | ${x.unit} |`);
    p();
  }

  p("## Method");
  p();
  p("- Codes are made before each measurement (`bench/codes.ts`): holders (device key and a credential signed by the");
  p("  bench's own issuer, `bench/out/issuer.json`, copied into each server's temp data dir) are cached in");
  p("  `bench/out/holders.bin`; presentations are signed on every core just before a run, stamped so they are fresh,");
  p("  each (holder, counter) used once: no scan of a run is a replay, and OK counts come from the node's own counters.");
  p("- Servers are `bun src/main.ts` children on 127.0.0.1 (ports picked free), `YUKUAI_DATA_DIR` in a temp dir, stopped");
  p("  with SIGTERM; pinned runs use `taskset -c 0` for the server and `taskset -a -p -c 1` for the bench process.");
  p("- Every run is bounded in requests and in time (time per part in the machine table).");
  p("- The native core (native/: C, loaded through N-API) is built by `npm install` (`node native/install.mjs`). A server");
  p("  runs it unless `YUKUAI_VERIFIER=node:crypto` is set or it did not build or load (then `node:crypto`, with the reason);");
  p("  which one ran is on the server's start-up line (`… verifier native`) and in `yukuai_verifier_info` on `/metrics`.");
  p("  The bench does not set `YUKUAI_VERIFIER` for its servers (they inherit its environment), and their start-up lines");
  p(`  are not kept in the results.${r.native ? ` The native part loaded the core (version ${r.native.native.version}); it refuses to run without it.` : ""}`);
  if (ratio) {
    const raws = [...ratio.json.rawPerSec.runs, ...ratio.msgpack.rawPerSec.runs];
    if (raws.length > 1) {
      const lo = Math.min(...raws), hi = Math.max(...raws);
      p(`- Each ratio run has its own denominator: the raw verification rate on core 0, measured before each of the ${raws.length} ratio runs,`);
      p(`  ranged ${fmt(lo)}–${fmt(hi)}/s (${pct((hi - lo) / median(raws), 1)} of its median).`);
    }
  }
  p();
  writeFileSync(join(reportDir, "BENCHMARKS.md"), md.join("\n"));
}

await main();
process.exit(0);
