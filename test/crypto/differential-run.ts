/**
 * @module `npm run differential`: the differential test of differential.ts at scale — by default 1,000,000
 * single cases (plus about twice as many batch items and 4 % as many scan codes, drawn from them) over
 * parallel Bun Workers (differential-worker.ts), every answer of verifyOne, verifyBatch and verifyScans
 * compared with @noble/ed25519 `zip215: false` (the §2 rule). Prints the seed, counts per kind, every
 * mismatch (pk/msg/sig hex, seed and chunk to reproduce it) and the time; exits 1 on any mismatch.
 *
 *   bun test/crypto/differential-run.ts [--count 1000000] [--seed N] [--chunk-size 500] [--workers N]
 *     [--impl auto|native|node:crypto|both] [--state FILE] [--chunks A-B]
 *
 * Cases are generated per chunk from (seed, chunk number, chunk size) only, so any chunk reproduces alone
 * (`--seed S --chunks C-C`), and `--state FILE` makes a run resumable: each finished chunk is appended to
 * FILE (JSON lines), and a rerun with the same FILE skips the chunks already there (seed, chunk size and
 * implementations must match; the seed is taken from the file when not given).
 * `--impl auto` (default) checks the native core when it loads, else node:crypto (and says why).
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { loadNative } from "../../src/crypto/native.ts";
import type { ChunkResult, Mismatch } from "./differential.ts";
import type { FromWorker, ToWorker } from "./differential-worker.ts";

function usage(msg: string): never {
  console.error(`differential-run: ${msg}\nusage: bun test/crypto/differential-run.ts [--count N] [--seed N] [--chunk-size N] [--workers N] [--impl auto|native|node:crypto|both] [--state FILE] [--chunks A-B]`);
  process.exit(2);
}

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i]!;
  if (!a.startsWith("--")) usage(`unexpected argument ${a}`);
  const eq = a.indexOf("=");
  if (eq > 0) args.set(a.slice(2, eq), a.slice(eq + 1));
  else {
    const v = process.argv[++i];
    if (v === undefined) usage(`${a} needs a value`);
    args.set(a.slice(2), v);
  }
}
const known = new Set(["count", "seed", "chunk-size", "workers", "impl", "state", "chunks"]);
for (const k of args.keys()) if (!known.has(k)) usage(`unknown option --${k}`);
const int = (k: string, d: number) => {
  const v = args.get(k);
  if (v === undefined) return d;
  const n = Number(v.replaceAll("_", ""));
  if (!Number.isInteger(n) || n < 0) usage(`--${k} must be a non-negative integer`);
  return n;
};

const statePath = args.get("state");
interface StateHeader { seed: number; chunkSize: number; impls: string[] }
let resumed: { header: StateHeader; results: ChunkResult[] } | null = null;
if (statePath !== undefined && existsSync(statePath)) {
  const lines = readFileSync(statePath, "utf8").split("\n").filter((l) => l.trim() !== "");
  const header = JSON.parse(lines[0]!) as StateHeader;
  const results: ChunkResult[] = [];
  for (const l of lines.slice(1)) {
    try {
      results.push(JSON.parse(l) as ChunkResult);
    } catch {
      // a line cut short by an interrupted run: that chunk runs again
    }
  }
  resumed = { header, results };
}

const seed = args.has("seed") ? int("seed", 0) >>> 0 : resumed?.header.seed ?? ((Date.now() ^ (Math.random() * 2 ** 32)) >>> 0);
const chunkSize = int("chunk-size", resumed?.header.chunkSize ?? 500);
if (chunkSize === 0) usage("--chunk-size must be positive");
const count = int("count", 1_000_000);
const workers = Math.max(1, int("workers", availableParallelism()));
const want = args.get("impl") ?? "auto";
let impls: string[];
const native = loadNative();
if (want === "auto") {
  impls = native.verifier ? ["native"] : ["node:crypto"];
  if (!native.verifier) console.log(`native core unavailable (${native.reason}): checking node:crypto`);
} else if (want === "both") impls = ["native", "node:crypto"];
else if (want === "native" || want === "node:crypto") impls = [want];
else usage(`--impl must be auto, native, node:crypto or both`);
if (impls.includes("native") && !native.verifier) usage(`--impl ${want} needs the native core: ${native.reason}`);

const totalChunks = Math.ceil(count / chunkSize);
let chunks: number[];
const range = args.get("chunks");
if (range !== undefined) {
  const m = /^(\d+)-(\d+)$/.exec(range);
  if (!m) usage("--chunks must be A-B");
  chunks = [];
  for (let c = Number(m[1]); c <= Number(m[2]); c++) chunks.push(c);
} else chunks = Array.from({ length: totalChunks }, (_, c) => c);

const done = new Map<number, ChunkResult>();
if (resumed !== null) {
  const h = resumed.header;
  if (h.seed !== seed || h.chunkSize !== chunkSize || h.impls.join() !== impls.join()) {
    usage(`${statePath} is of seed ${h.seed}, chunk size ${h.chunkSize}, ${h.impls.join("+")}: not this run (seed ${seed}, chunk size ${chunkSize}, ${impls.join("+")})`);
  }
  for (const r of resumed.results) if (chunks.includes(r.chunk)) done.set(r.chunk, r);
} else if (statePath !== undefined) {
  writeFileSync(statePath, JSON.stringify({ seed, chunkSize, impls } satisfies StateHeader) + "\n");
}
const todo = chunks.filter((c) => !done.has(c));
const opt = { size: chunkSize };

console.log(`differential: seed ${seed}, ${chunks.length} chunks of ${chunkSize} cases (${chunks.length * chunkSize} cases), ` +
  `${impls.join(" + ")} against @noble/ed25519 zip215: false, ${workers} workers` +
  (done.size > 0 ? `; resuming: ${done.size} chunks already done in ${statePath}` : ""));

const t0 = performance.now();
let cpuMs = 0;
let lastReport = t0;
let firstError: string | null = null;
const printedMismatch = { n: 0 };
function reportMismatches(r: ChunkResult): void {
  for (const m of r.mismatches) {
    if (printedMismatch.n++ < 50) console.log(`MISMATCH ${JSON.stringify(m)}`);
  }
}
for (const r of done.values()) reportMismatches(r);

await new Promise<void>((resolve) => {
  let next = 0, running = 0;
  const pool: Worker[] = [];
  const finish = () => {
    for (const w of pool) w.terminate();
    resolve();
  };
  const feed = (w: Worker) => {
    if (firstError !== null || next >= todo.length) {
      if (running === 0) finish();
      return;
    }
    running++;
    w.postMessage({ type: "chunk", seed, chunk: todo[next++]!, opt } satisfies ToWorker);
  };
  if (todo.length === 0) return finish();
  for (let i = 0; i < Math.min(workers, todo.length); i++) {
    const w = new Worker(new URL("./differential-worker.ts", import.meta.url).href);
    pool.push(w);
    w.onmessage = (e: MessageEvent<FromWorker>) => {
      const m = e.data;
      if (m.type === "ready") return feed(w);
      if (m.type === "error") {
        firstError ??= m.message;
        running = Math.max(0, running - 1);
        return feed(w);
      }
      running--;
      cpuMs += m.ms;
      done.set(m.result.chunk, m.result);
      if (statePath !== undefined) appendFileSync(statePath, JSON.stringify(m.result) + "\n");
      reportMismatches(m.result);
      const now = performance.now();
      if (now - lastReport > 10_000) {
        lastReport = now;
        const fresh = done.size - (chunks.length - todo.length);
        const rate = (fresh * chunkSize) / ((now - t0) / 1000);
        const left = (chunks.length - done.size) * chunkSize;
        console.log(`  ${done.size}/${chunks.length} chunks, ${Math.round(rate)} cases/s, ~${Math.round(left / rate)} s left, ${printedMismatch.n} mismatches`);
      }
      feed(w);
    };
    w.onerror = (e) => {
      firstError ??= `worker error: ${e.message}`;
      running = Math.max(0, running - 1);
      if (running === 0) finish();
    };
    w.postMessage({ type: "init", impls } satisfies ToWorker);
  }
});

const secs = (performance.now() - t0) / 1000;
if (firstError !== null) {
  console.error(`differential: a worker failed:\n${firstError}`);
  process.exit(2);
}

const kinds = new Map<string, { n: number; valid: number }>();
const scanKinds = new Map<string, { n: number; sig: [number, number, number] }>();
let cases = 0, batches = 0, batchItems = 0, scans = 0;
const mismatches: Mismatch[] = [];
for (const r of done.values()) {
  cases += r.cases;
  batches += r.batches;
  batchItems += r.batchItems;
  scans += r.scans;
  mismatches.push(...r.mismatches);
  for (const [k, v] of Object.entries(r.kinds)) {
    const e = kinds.get(k) ?? { n: 0, valid: 0 };
    e.n += v.n;
    e.valid += v.valid;
    kinds.set(k, e);
  }
  for (const [k, v] of Object.entries(r.scanKinds)) {
    const e = scanKinds.get(k) ?? { n: 0, sig: [0, 0, 0] };
    for (let j = 0; j < 3; j++) e.sig[j] = e.sig[j]! + v.sig[j]!;
    e.n += v.n;
    scanKinds.set(k, e);
  }
}

const pad = (s: string | number, n: number) => String(s).padStart(n);
console.log(`\nsingle cases by kind (noble's answer)          cases      valid    invalid`);
for (const [k, v] of [...kinds].sort((a, b) => a[0].localeCompare(b[0]))) {
  console.log(`  ${k.padEnd(40)} ${pad(v.n, 10)} ${pad(v.valid, 10)} ${pad(v.n - v.valid, 10)}`);
}
console.log(`scan codes by kind                               codes     SIG_OK BAD_ISSUER BAD_DEVICE`);
for (const [k, v] of [...scanKinds].sort((a, b) => a[0].localeCompare(b[0]))) {
  console.log(`  ${k.padEnd(40)} ${pad(v.n, 10)} ${pad(v.sig[0], 10)} ${pad(v.sig[1], 10)} ${pad(v.sig[2], 10)}`);
}
const byImpl = new Map<string, number>();
for (const m of mismatches) byImpl.set(`${m.impl} ${m.api}`, (byImpl.get(`${m.impl} ${m.api}`) ?? 0) + 1);
console.log(`\nseed ${seed}; chunks ${done.size} of ${chunkSize}; implementations ${impls.join(" + ")}`);
console.log(`${cases} single cases (verifyOne), ${batches} batches holding ${batchItems} items (verifyBatch), ${scans} scan codes (verifyScans), per implementation`);
console.log(`mismatches: ${mismatches.length}${byImpl.size ? ` (${[...byImpl].map(([k, n]) => `${k}: ${n}`).join(", ")})` : ""}`);
console.log(`time: ${secs.toFixed(1)} s wall, ${(cpuMs / 1000).toFixed(1)} s in workers, ${Math.round(((done.size - (chunks.length - todo.length)) * chunkSize) / secs)} cases/s this run`);
if (mismatches.length > 0) {
  const c = [...new Set(mismatches.map((m) => m.chunk))].slice(0, 5);
  console.log(`reproduce: bun test/crypto/differential-run.ts --seed ${seed} --chunk-size ${chunkSize} --impl ${impls.length > 1 ? "both" : impls[0]} --chunks ${c[0]}-${c[0]} (chunks with mismatches: ${c.join(", ")}…)`);
  process.exit(1);
}
