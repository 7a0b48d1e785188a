/**
 * @module The ratio: OK scans per second through the whole service — POST /v1/verify/batch, batches of 256,
 * server pinned to core 0 (`taskset -c 0`, so no worker pool), load generator pinned to core 1 — divided by
 * raw node:crypto Ed25519 verifications per second on core 0, measured in the same run just before.
 *
 * Credentials are warm (each of 4,096 holders was seen once), so an OK scan costs one device signature
 * ("returning riders"); checks are coalesced and batch-verified, so the ratio can exceed 1. A cold variant
 * ("first sight": every credential seen for the first time, issuer and device signature) is reported beside
 * it, and one run of an instrumented copy of the
 * server (bench/timed-server.ts) says where the time goes.
 */
import { readFileSync } from "node:fs";
import { holderSet } from "./codes.ts";
import { CodeSource } from "./http.ts";
import { diffCounts, pinSelf, rawVerifyRate, resultCounts, startServer, summary, type ServerUnderTest, type Summary } from "./lib.ts";
import { autocannonRun, batchBodies, type Format } from "./load.ts";

export const HOLDERS = 4096;
export const BATCH = 256;
export const CONNECTIONS = 8;
/** Cold (first-sight) runs in a full run. */
const COLD_RUNS = 3;

export interface RatioRun { format: Format; okPerSec: number; rawPerSec: number; ratio: number }

export interface RatioResults {
  runs: RatioRun[];
  json: { okPerSec: Summary; rawPerSec: Summary; ratio: Summary };
  msgpack: { okPerSec: Summary; rawPerSec: Summary; ratio: Summary };
  cold: { okPerSec: Summary; ratio: Summary };
  /** Batches of one scan, same setup: what a request costs beyond its verification. */
  single: { okPerSec: Summary; overheadUsPerRequest: number };
  /** Core 0 during one JSON run, and the instrumented server's split, per OK scan (µs). */
  where: {
    /** The server process's CPU time over wall time in the instrumented run. */
    serverCpuShare: number;
    perScanUs: { signatures: number; restOfHandler: number; outsideHandler: number; idle: number; total: number };
    signaturesPerScan: number;
    verifyUsInService: number;
    rawVerifyUs: number;
  };
  commands: { server: string; timedServer: string; loadGenerator: string; raw: string };
}

/** CPU seconds (user + system, all threads) of a process so far. */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

async function measure(srv: ServerUnderTest, src: CodeSource, format: Format, n: number) {
  const block = await src.next(n);
  const bodies = batchBodies(block, BATCH, format);
  const before = await resultCounts(srv.url);
  pinSelf("1");
  const cpu0 = cpuSeconds(srv.proc.pid);
  const r = await autocannonRun({ url: srv.url, path: "/v1/verify/batch", key: srv.gatewayKey, format, bodies, connections: CONNECTIONS, maxSeconds: 60 });
  const cpu = cpuSeconds(srv.proc.pid) - cpu0;
  pinSelf("0-" + String(navigator.hardwareConcurrency - 1));
  const d = diffCounts(before, await resultCounts(srv.url));
  return { okPerSec: (d.OK ?? 0) / r.seconds, ok: d.OK ?? 0, seconds: r.seconds, cpu };
}

export async function runRatio(o: { quick: boolean; log: (l: string) => void }): Promise<RatioResults> {
  const { quick, log } = o;
  const seconds = quick ? 1.5 : 4;
  const rawSeconds = quick ? 1 : 2;
  const runs: RatioRun[] = [];
  // fresh holders for the cold runs: enough for each to last its `seconds` at the first-sight rate (with
  // 40,000 a run lasted under half a second, too short to measure)
  const holders = await holderSet(HOLDERS + (quick ? 12_000 : COLD_RUNS * 160_000), log);

  const srv = await startServer({ cpus: "0", workers: 0 });
  const src = new CodeSource(holders, HOLDERS);
  await src.warm(srv);
  let expected = 17_000;
  await measure(srv, src, "json", 20 * BATCH); // JIT and connections, not counted
  for (const format of ["json", "msgpack"] as const) {
    for (let r = 0; r < (quick ? 2 : format === "json" ? 5 : 3); r++) {
      const rawPerSec = await rawVerifyRate("0", rawSeconds);
      const m = await measure(srv, src, format, Math.ceil((expected * seconds) / BATCH) * BATCH);
      expected = m.okPerSec;
      runs.push({ format, okPerSec: m.okPerSec, rawPerSec, ratio: m.okPerSec / rawPerSec });
      log(`  ratio ${format}: ${Math.round(m.okPerSec)} OK scans/s ÷ ${Math.round(rawPerSec)} verifications/s = ${(m.okPerSec / rawPerSec).toFixed(3)}`);
    }
  }
  // cold: every credential seen for the first time (issuer + device signature per scan)
  const coldRuns: number[] = [], coldRatio: number[] = [];
  for (let r = 0; r < (quick ? 1 : COLD_RUNS); r++) {
    const rawPerSec = await rawVerifyRate("0", rawSeconds);
    const n = Math.min(Math.floor((holders.n - HOLDERS) / (quick ? 1 : COLD_RUNS) / BATCH) * BATCH, Math.ceil((expected / 2) * seconds / BATCH) * BATCH);
    // a fresh slice of holders each run: first sight on this server
    const slice = new CodeSource({ n: n, bytes: holders.bytes.subarray((HOLDERS + r * n) * 170) }, n);
    const c = await measure(srv, slice, "json", n);
    coldRuns.push(c.okPerSec);
    coldRatio.push(c.okPerSec / rawPerSec);
    log(`  ratio, cold credentials: ${Math.round(c.okPerSec)} OK scans/s (${(c.okPerSec / rawPerSec).toFixed(3)} of raw)`);
  }
  // batches of one (warm): the cost of a request beyond its scan's verification
  const singles: number[] = [];
  for (let r = 0; r < (quick ? 1 : 3); r++) {
    const block = await src.next(Math.ceil(6000 * seconds * 0.75));
    const bodies = batchBodies(block, 1, "json");
    const before = await resultCounts(srv.url);
    pinSelf("1");
    const a = await autocannonRun({ url: srv.url, path: "/v1/verify/batch", key: srv.gatewayKey, format: "json", bodies, connections: 32, maxSeconds: 60 });
    pinSelf("0-" + String(navigator.hardwareConcurrency - 1));
    const d = diffCounts(before, await resultCounts(srv.url));
    singles.push((d.OK ?? 0) / a.seconds);
    log(`  batches of one scan, one core: ${Math.round(singles[singles.length - 1]!)} OK scans/s`);
  }
  const serverCommand = srv.command;
  await srv.stop();

  // where the time goes: the instrumented server, one JSON run
  const timed = await startServer({ cpus: "0", workers: 0, entry: [`${import.meta.dir}/timed-server.ts`] });
  const tsrc = new CodeSource(holders, HOLDERS);
  await tsrc.warm(timed);
  await measure(timed, tsrc, "json", 20 * BATCH);
  const s0 = (await (await fetch(`${timed.url}/bench-stats`)).json()) as { handlerNs: number; signatureNs: number; signatures: number };
  const tm = await measure(timed, tsrc, "json", Math.ceil((expected * seconds) / BATCH) * BATCH);
  const s1 = (await (await fetch(`${timed.url}/bench-stats`)).json()) as typeof s0;
  const rawNow = await rawVerifyRate("0", rawSeconds);
  await timed.stop();
  const okScans = tm.ok;
  const sigUs = (s1.signatureNs - s0.signatureNs) / 1000 / okScans;
  const handlerUs = (s1.handlerNs - s0.handlerNs) / 1000 / okScans;
  const totalUs = (tm.seconds * 1e6) / okScans;
  // the server's CPU time over the run (10 ms ticks) bounds what was not idle
  const busyUs = Math.min(totalUs, (tm.cpu * 1e6) / okScans);
  const where = {
    serverCpuShare: busyUs / totalUs,
    perScanUs: { signatures: sigUs, restOfHandler: handlerUs - sigUs, outsideHandler: Math.max(0, busyUs - handlerUs), idle: totalUs - busyUs, total: totalUs },
    signaturesPerScan: (s1.signatures - s0.signatures) / okScans,
    verifyUsInService: sigUs / ((s1.signatures - s0.signatures) / okScans),
    rawVerifyUs: 1e6 / rawNow,
  };
  log(`  where the time goes, per OK scan: signatures ${sigUs.toFixed(1)} µs, rest of handler ${(handlerUs - sigUs).toFixed(1)} µs, outside ${where.perScanUs.outsideHandler.toFixed(1)} µs, idle ${where.perScanUs.idle.toFixed(1)} µs`);

  const pick = (f: Format) => {
    const rs = runs.filter((r) => r.format === f);
    return { okPerSec: summary(rs.map((r) => r.okPerSec)), rawPerSec: summary(rs.map((r) => r.rawPerSec)), ratio: summary(rs.map((r) => r.ratio)) };
  };
  const single = { okPerSec: summary(singles), overheadUsPerRequest: 1e6 / summary(singles).median - where.verifyUsInService };
  return {
    runs, json: pick("json"), msgpack: pick("msgpack"), cold: { okPerSec: summary(coldRuns), ratio: summary(coldRatio) }, single, where,
    commands: {
      server: serverCommand, timedServer: timed.command,
      loadGenerator: `taskset -a -p -c 1 <bench pid>; autocannon, ${CONNECTIONS} connections, POST /v1/verify/batch with ${BATCH} scans per request`,
      raw: "taskset -c 0 bun bench/raw-verify.ts " + rawSeconds,
    },
  };
}
