/**
 * @module Bench plumbing: the server under test as a child process (loopback only, temp data dir, the
 * bench issuer's key), CPU pinning, the node's own result counters, and the statistics the report uses.
 * Every wait here is bounded in time.
 */
import { spawn, spawnSync, type Subprocess } from "bun";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { benchIssuer } from "./codes.ts";
import { freePort } from "../test/support/net.ts";

export const ROOT = resolve(import.meta.dir, "..");
export const OUT = join(ROOT, "bench/out");
export const BUN = process.execPath;
export const ADMIN = "bench-admin-token";
mkdirSync(OUT, { recursive: true });

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Pins every thread of this process (the load generator) to `cpus` ("1", "0,1"); no-op without taskset. */
export function pinSelf(cpus: string): void {
  spawnSync(["taskset", "-a", "-p", "-c", cpus, String(process.pid)], { stdout: "ignore", stderr: "ignore" });
}

export function cpuCount(): number {
  return navigator.hardwareConcurrency;
}


export interface ServerOptions {
  /** taskset CPU list for the server ("0"); unpinned when absent. */
  cpus?: string;
  workers: number;
  env?: Record<string, string>;
  /** Extra `bun` flags (e.g. --cpu-prof-md). */
  bunFlags?: string[];
  /** Working directory (where --cpu-prof writes). */
  cwd?: string;
  /** Another entry point and its arguments (default src/main.ts). */
  entry?: string[];
}

export interface ServerUnderTest {
  url: string;
  host: string;
  port: number;
  gatewayKey: string;
  proc: Subprocess;
  command: string;
  stop(): Promise<void>;
}

/** Starts `bun src/main.ts` on loopback with a fresh data dir holding the bench issuer's key. */
export async function startServer(o: ServerOptions): Promise<ServerUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), "yukuai-bench-"));
  const iss = benchIssuer();
  writeFileSync(join(dir, "issuer-500000.key"), JSON.stringify({ issuer: 500000, kid: 1, createdAt: 1_700_000_000, seed: Buffer.from(iss.seed).toString("hex") }) + "\n", { mode: 0o600 });
  writeFileSync(join(dir, "subject-500000.secret"), Buffer.from(iss.subjectSecret).toString("hex") + "\n", { mode: 0o600 });
  const port = await freePort();
  // skew 1 s: a fresh node is warming for 2 × skew (DESIGN.md §3 start-up rule); the skew costs nothing per scan
  const shownEnv = { YUKUAI_WORKERS: String(o.workers), YUKUAI_SKEW_SECONDS: "1", ...o.env };
  const env = { ...process.env, PORT: String(port), YUKUAI_HOST: "127.0.0.1", YUKUAI_DATA_DIR: dir, YUKUAI_ADMIN_TOKEN: ADMIN, ...shownEnv };
  const argv = [BUN, ...(o.bunFlags ?? []), ...(o.entry ?? [join(ROOT, "src/main.ts")])];
  const cmd = o.cpus !== undefined ? ["taskset", "-c", o.cpus, ...argv] : argv;
  const proc = spawn(cmd, { env, cwd: o.cwd ?? ROOT, stdout: "pipe", stderr: "pipe" });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      // as a load balancer does: nothing is sent before /readyz says 200
      if ((await fetch(`${url}/readyz`)).status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline || proc.exitCode !== null) {
      proc.kill();
      throw new Error(`server did not start: ${await new Response(proc.stderr as ReadableStream).text()}`);
    }
    await sleep(50);
  }
  const gw = await fetch(`${url}/v1/gateways`, {
    method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
    body: JSON.stringify({ name: "bench metro gateway", scene: "metro" }),
  });
  const gatewayKey = ((await gw.json()) as { key: string }).key;
  const envShown = Object.entries(shownEnv).map(([k, v]) => `${k}=${v}`).join(" ");
  return {
    url, host: "127.0.0.1", port, gatewayKey, proc,
    command: `PORT=… YUKUAI_DATA_DIR=<tmp> ${envShown} ${o.cpus !== undefined ? `taskset -c ${o.cpus} ` : ""}bun ${[...(o.bunFlags ?? []), ...(o.entry ?? ["src/main.ts"]).map((p) => p.replace(ROOT + "/", ""))].join(" ")}`,
    async stop() {
      proc.kill("SIGTERM");
      const exited = await Promise.race([proc.exited.then(() => true), sleep(10_000).then(() => false)]);
      if (!exited) proc.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The node's scan counters by result (from /metrics), for counting OK scans exactly. */
export async function resultCounts(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^yukuai_scans_total\{result="([A-Z_]+)"\} (\d+)/gm)) out[m[1]!] = Number(m[2]);
  for (const m of text.matchAll(/^yukuai_batch_refusals_total\{code="([A-Z_]+)"\} (\d+)/gm)) out[`refused:${m[1]!}`] = Number(m[2]);
  return out;
}

export function diffCounts(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const d = (b[k] ?? 0) - (a[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

// ── statistics ───────────────────────────────────────────────────────────────

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface Summary {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export function summary(xs: readonly number[]): Summary {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), runs: [...xs] };
}

/** Percentile (nearest rank) of an unsorted sample. */
export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return "–";
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** "median (min–max)" */
export function fmtSummary(s: Summary, digits = 0): string {
  return s.runs.length > 1 ? `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})` : fmt(s.median, digits);
}

/** Raw node:crypto Ed25519 verifications per second on `cpus`, in a fresh process (bench/raw-verify.ts). */
export async function rawVerifyRate(cpus: string | undefined, seconds: number): Promise<number> {
  const argv = [BUN, join(ROOT, "bench/raw-verify.ts"), String(seconds)];
  const proc = spawn(cpus !== undefined ? ["taskset", "-c", cpus, ...argv] : argv, { stdout: "pipe", stderr: "inherit" });
  const text = await new Response(proc.stdout).text();
  await proc.exited;
  return (JSON.parse(text.trim().split("\n").pop()!) as { perSecond: number }).perSecond;
}

export function copyDir(from: string, to: string): void {
  cpSync(from, to, { recursive: true });
}
