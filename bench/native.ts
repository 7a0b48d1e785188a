/**
 * @module The native Ed25519 core (native/, src/crypto/native.ts) against node:crypto, in one process on one
 * core: single verification, batches of 16, 64 and 256 with distinct keys and with one key (issuer
 * signatures), batches holding bad signatures (found by bisection), and `verifyScans` on real 212-byte codes.
 *
 * Method: every row is measured once per round, in a rotated order (round r starts at row r), for a fixed
 * time per sample; the figure of a row is the median over the rounds, and its "× node:crypto" is the median
 * of the per-round ratios to the node:crypto row of the same round, so drift on this shared machine hits the
 * row and its denominator alike. Every answer of every timed call is checked (all-good batches must be all
 * 1, each bad signature must be found at its position and only there, scans must be SIG_OK): a call that
 * answers wrong stops the bench.
 *
 * The C internals (decoding, hashing, the multi-scalar multiplication, bisection) cannot be timed apart
 * from JS; the per-signature cost at each batch size shows how the fixed costs amortise instead.
 *
 * Run alone: `bun bench/native.ts [--quick] [--json]` (it pins itself to core 0 after making its inputs;
 * --json prints the results as JSON on the last line, for bench/run.ts). Writes bench/out/native.json.
 */
import { generateKeyPairSync, randomFillSync, randomInt, sign, verify as nodeVerify, type KeyObject } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { loadNative } from "../src/crypto/native.ts";
import type { BatchVerifier, DeviceKeys } from "../src/crypto/batch.ts";
import { preparePublicKey, rawPublicKey } from "../src/crypto/ed25519.ts";
import { CODE_LENGTH } from "../src/wire/code.ts";
import { benchIssuer, closeSigners, holderSet, presentations, roundRobinPlan } from "./codes.ts";
import { fmt, fmtSummary, OUT, pinSelf, summary, type Summary } from "./lib.ts";

/** Message length of the batch rows (the issue's "226-byte messages"). */
export const MESSAGE_BYTES = 226;
/** Distinct key pairs (and messages) the distinct-key rows rotate over. */
const POOL = 1024;
/** Signatures per timed step of the single-verification rows. */
const SINGLE_STEP = 64;
/** Scans per verifyScans call; code sets rotated over. */
const SCANS = 256;
const SCAN_SETS = 4;
const SIG_OK = 0;

export interface NativeOptions {
  /** Interleaved rounds (default 7; --quick 3). */
  rounds?: number;
  /** Time per row per round, ms (default 300; --quick 100). */
  sampleMs?: number;
  /** Warm-up time per row before the first round, ms (default 150). */
  warmMs?: number;
  /** taskset CPU list to pin this process to once the inputs are made ("0"), restored after; unpinned when absent. */
  pin?: string;
  log?: (line: string) => void;
}

export interface NativeRow {
  id: string;
  group: "baseline" | "single" | "batch, distinct keys" | "batch, one key" | "bad signatures" | "verifyScans";
  name: string;
  /** Signatures verified per timed call. */
  sigsPerOp: number;
  /** µs per signature, one value per round. */
  usPerSig: Summary;
  /** Signatures per second (from the median µs per signature). */
  sigsPerSec: number;
  /** node:crypto µs per signature ÷ this row's, per round (how many times faster than node:crypto). */
  vsNode: Summary;
  /** Calls timed over all rounds (each one's answers checked). */
  calls: number;
}

export interface BadCost {
  name: string;
  bad: string;
  good: string;
  /** bad row's time ÷ all-good row's time, per round. */
  ratio: Summary;
  /** Target for the ratio, when there is one. */
  target: number | null;
}

export interface NativeResults {
  startedAt: string;
  seconds: number;
  rounds: number;
  sampleMs: number;
  messageBytes: number;
  machine: { cpu: string; cores: number; bun: string; cpusAllowed: string; loadavg: { start: number[]; end: number[] } };
  native: { version: string };
  rows: NativeRow[];
  badCost: BadCost[];
  command: string;
}

interface RowDef {
  id: string;
  group: NativeRow["group"];
  name: string;
  sigsPerOp: number;
  /** One timed call (i counts calls of this row); throws on a wrong answer. */
  op: (i: number) => void;
  /** Checks done once after each sample (not timed). */
  after?: () => void;
}

function fail(row: string, what: string): never {
  throw new Error(`bench/native.ts: ${row}: ${what} — a benchmark of wrong answers is refused`);
}

function cpusAllowed(): string {
  try {
    return /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1]?.trim() ?? "?";
  } catch {
    return "?";
  }
}

function cpuModel(): string {
  try {
    return /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.trim() ?? cpus()[0]?.model ?? "?";
  } catch {
    return cpus()[0]?.model ?? "?";
  }
}

/** n signatures laid out for verifyBatch, each over its own random 226-byte message. */
interface Batch {
  n: number;
  pk: Uint8Array;
  sig: Uint8Array;
  msg: Uint8Array;
  msgEnd: Uint32Array;
  /** The answer verifyBatch must give (1 valid, 0 bad). */
  expect: Uint8Array;
}

interface Signed {
  pk: Uint8Array; // 32
  key: KeyObject; // imported once from the raw bytes
  msg: Uint8Array;
  sig: Uint8Array;
}

function signedPool(n: number, oneKey: boolean): Signed[] {
  const out: Signed[] = [];
  let pair = generateKeyPairSync("ed25519");
  for (let i = 0; i < n; i++) {
    if (!oneKey && i > 0) pair = generateKeyPairSync("ed25519");
    const pk = rawPublicKey(pair.privateKey);
    const msg = randomFillSync(new Uint8Array(MESSAGE_BYTES));
    out.push({ pk, key: oneKey && i > 0 ? out[0]!.key : preparePublicKey(pk), msg, sig: new Uint8Array(sign(null, msg, pair.privateKey)) });
  }
  return out;
}

/** Signatures from..from+n of the pool; the ones at `bad` get their message altered after signing. */
function makeBatch(pool: Signed[], from: number, n: number, bad: readonly number[] = []): Batch {
  const b: Batch = {
    n, pk: new Uint8Array(32 * n), sig: new Uint8Array(64 * n), msg: new Uint8Array(MESSAGE_BYTES * n),
    msgEnd: new Uint32Array(n), expect: new Uint8Array(n).fill(1),
  };
  for (let i = 0; i < n; i++) {
    const s = pool[(from + i) % pool.length]!;
    b.pk.set(s.pk, 32 * i);
    b.sig.set(s.sig, 64 * i);
    b.msg.set(s.msg, MESSAGE_BYTES * i);
    b.msgEnd[i] = MESSAGE_BYTES * (i + 1);
  }
  // an altered message: S < L, R and A canonical, so only the equation (and the bisection) can catch it
  for (const j of bad) {
    b.msg[MESSAGE_BYTES * j + randomInt(MESSAGE_BYTES)]! ^= 1 << randomInt(8);
    b.expect[j] = 0;
  }
  return b;
}

/** Distinct random positions in [0, n). */
function positions(n: number, k: number): number[] {
  const s = new Set<number>();
  while (s.size < k) s.add(randomInt(n));
  return [...s].sort((a, b) => a - b);
}

function batchRow(v: BatchVerifier, id: string, group: NativeRow["group"], name: string, batches: Batch[]): RowDef {
  const n = batches[0]!.n;
  const out = new Uint8Array(n);
  return {
    id, group, name, sigsPerOp: n,
    op: (i) => {
      const b = batches[i % batches.length]!;
      out.fill(7);
      v.verifyBatch(b.pk, b.sig, b.msg, b.msgEnd, out);
      for (let k = 0; k < n; k++) {
        if (out[k] !== b.expect[k]) {
          fail(name, b.expect[k] === 0 ? `bad signature at position ${k} answered ${out[k]}` : `good signature at position ${k} answered ${out[k]}`);
        }
      }
    },
  };
}

/** ns per call of `op` over about `ms` (at least one call). */
function sample(row: RowDef, ms: number, counter: { i: number }): { nsPerCall: number; calls: number } {
  let calls = 0;
  const start = Bun.nanoseconds();
  const end = start + ms * 1e6;
  let now: number;
  do {
    row.op(counter.i++);
    calls++;
    now = Bun.nanoseconds();
  } while (now < end);
  row.after?.();
  return { nsPerCall: (now - start) / calls, calls };
}

export async function runNative(opts: NativeOptions = {}): Promise<NativeResults> {
  const t0 = performance.now();
  const rounds = opts.rounds ?? 7;
  const sampleMs = opts.sampleMs ?? 300;
  const warmMs = opts.warmMs ?? 150;
  const log = opts.log ?? (() => {});
  const startedAt = new Date().toISOString();
  const loaded = loadNative();
  if (loaded.verifier === null) throw new Error(`bench/native.ts needs the native core (node native/install.mjs): ${loaded.reason}`);
  const v = loaded.verifier;
  if (v.impl !== "native") throw new Error(`loadNative gave ${v.impl}`);
  const version = String((v as unknown as { m?: { version?: unknown } }).m?.version ?? "?");

  // ── inputs, made before pinning (the sign workers use every core) ──
  log(`making ${POOL} key pairs and ${2 * POOL} signatures over ${MESSAGE_BYTES}-byte messages`);
  const distinct = signedPool(POOL, false);
  const oneKey = signedPool(POOL, true);
  const holders = await holderSet(SCANS * SCAN_SETS, log);
  const block = await presentations(holders, roundRobinPlan(SCANS * SCAN_SETS, SCANS * SCAN_SETS, 0, Math.floor(Date.now() / 1000)));
  closeSigners();
  const issuerPub = benchIssuer().publicKey;
  const codeSets = Array.from({ length: SCAN_SETS }, (_, s) => block.slice(s * SCANS * CODE_LENGTH, (s + 1) * SCANS * CODE_LENGTH));

  const before = cpusAllowed();
  if (opts.pin !== undefined) pinSelf(opts.pin);
  const allowed = cpusAllowed();
  if (opts.pin !== undefined && allowed !== opts.pin) log(`warning: asked to pin to ${opts.pin}, Cpus_allowed_list is ${allowed}`);
  const loadStart = loadavg();

  // ── rows ──
  const defs: RowDef[] = [];
  defs.push({
    id: "node", group: "baseline", name: `node:crypto verify(null, msg, KeyObject, sig), ${fmt(POOL)} keys imported once`, sigsPerOp: SINGLE_STEP,
    op: (i) => {
      for (let k = 0; k < SINGLE_STEP; k++) {
        const s = distinct[(i * SINGLE_STEP + k) % POOL]!;
        if (!nodeVerify(null, s.msg, s.key, s.sig)) fail("node:crypto", "a good signature answered false");
      }
    },
  });
  defs.push({
    id: "node-one-key", group: "baseline", name: "node:crypto verify, one key", sigsPerOp: SINGLE_STEP,
    op: (i) => {
      for (let k = 0; k < SINGLE_STEP; k++) {
        const s = oneKey[(i * SINGLE_STEP + k) % POOL]!;
        if (!nodeVerify(null, s.msg, s.key, s.sig)) fail("node:crypto, one key", "a good signature answered false");
      }
    },
  });
  defs.push({
    id: "one", group: "single", name: `native verifyOne, ${fmt(POOL)} keys`, sigsPerOp: SINGLE_STEP,
    op: (i) => {
      for (let k = 0; k < SINGLE_STEP; k++) {
        const s = distinct[(i * SINGLE_STEP + k) % POOL]!;
        if (!v.verifyOne(s.pk, s.msg, s.sig)) fail("native verifyOne", "a good signature answered false");
      }
    },
  });
  for (const n of [16, 64, 256]) {
    const count = POOL / n;
    defs.push(batchRow(v, `batch-${n}`, "batch, distinct keys", `native verifyBatch, ${n} signatures, ${n} keys`,
      Array.from({ length: count }, (_, b) => makeBatch(distinct, b * n, n))));
  }
  for (const n of [16, 64, 256]) {
    const count = POOL / n;
    defs.push(batchRow(v, `batch-${n}-one-key`, "batch, one key", `native verifyBatch, ${n} signatures, one key`,
      Array.from({ length: count }, (_, b) => makeBatch(oneKey, b * n, n))));
  }
  // bad batches: 8 variants each, the bad positions drawn at random per variant
  const VARIANTS = 8;
  const badSpec = [
    { id: "bad-1-in-256", n: 256, k: 1, good: "batch-256", target: 2.5 },
    { id: "bad-1-in-64", n: 64, k: 1, good: "batch-64", target: null },
    { id: "bad-16-in-256", n: 256, k: 16, good: "batch-256", target: null },
    // a gateway sending nothing but forged signatures: what each costs against a valid one (docs/THREAT_MODEL.md)
    { id: "bad-256-in-256", n: 256, k: 256, good: "batch-256", target: null },
  ] as const;
  for (const b of badSpec) {
    defs.push(batchRow(v, b.id, "bad signatures", `native verifyBatch, ${b.k} bad in ${b.n} (random position${b.k > 1 ? "s" : ""}), ${b.n} keys`,
      Array.from({ length: VARIANTS }, (_, j) => makeBatch(distinct, (j * b.n) % POOL, b.n, positions(b.n, b.k)))));
  }
  // verifyScans on real codes (bench/codes.ts holders: credentials signed by the bench issuer)
  const scanOut = new Uint8Array(SCANS);
  const returning = new Int32Array(SCANS).fill(-1);
  const firstSight = new Int32Array(SCANS).fill(0);
  const checkScans = (row: string) => {
    for (let k = 0; k < SCANS; k++) if (scanOut[k] !== SIG_OK) fail(row, `scan ${k} answered ${scanOut[k]}, not SIG_OK`);
  };
  const scanRow = (id: string, name: string, slot: Int32Array, sigsPerScan: number, device?: DeviceKeys[], after?: () => void): RowDef => ({
    id, group: "verifyScans", name, sigsPerOp: SCANS * sigsPerScan, after,
    op: (i) => {
      const s = i % SCAN_SETS;
      scanOut.fill(7);
      v.verifyScans(codeSets[s]!, issuerPub, slot, scanOut, device?.[s]);
      checkScans(name);
    },
  });
  defs.push(scanRow("scans-returning", `native verifyScans, ${SCANS} returning riders (slot −1: device signature only)`, returning, 1));
  // the device x coordinates: the first call (known = 0) fills them, every timed call passes them as known
  const device: DeviceKeys[] = codeSets.map(() => ({ x: new Uint8Array(32 * SCANS), known: new Uint8Array(SCANS) }));
  for (let s = 0; s < SCAN_SETS; s++) {
    scanOut.fill(7);
    v.verifyScans(codeSets[s]!, issuerPub, returning, scanOut, device[s]);
    checkScans("verifyScans filling device x");
    for (let k = 0; k < SCANS; k++) {
      if (device[s]!.x.subarray(32 * k, 32 * k + 32).every((b) => b === 0)) fail("verifyScans filling device x", `x of scan ${k} not written`);
    }
    device[s]!.known.fill(1);
  }
  const xFilled = device.map((d) => d.x.slice());
  defs.push(scanRow("scans-returning-known-x", `native verifyScans, ${SCANS} returning riders, device x passed as known`, returning, 1, device, () => {
    for (let s = 0; s < SCAN_SETS; s++) {
      if (Buffer.compare(device[s]!.x, xFilled[s]!) !== 0) fail("verifyScans known x", "the core rewrote a known x with another value");
      if (!device[s]!.known.every((b) => b === 1)) fail("verifyScans known x", "known flags changed");
    }
  }));
  defs.push(scanRow("scans-first-sight", `native verifyScans, ${SCANS} first sight (issuer + device signature, one issuer key)`, firstSight, 2));

  // ── warm-up, then interleaved rounds ──
  const counters = defs.map(() => ({ i: 0 }));
  log(`warm-up: ${defs.length} rows × ${warmMs} ms`);
  defs.forEach((d, j) => sample(d, warmMs, counters[j]!));
  const perRound: number[][] = defs.map(() => []); // µs per signature
  const calls = defs.map(() => 0);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < defs.length; k++) {
      const j = (r + k) % defs.length;
      const d = defs[j]!;
      const s = sample(d, sampleMs, counters[j]!);
      perRound[j]!.push(s.nsPerCall / d.sigsPerOp / 1000);
      calls[j]! += s.calls;
    }
    log(`  round ${r + 1}/${rounds}: node:crypto ${perRound[0]![r]!.toFixed(2)} µs/sig, batch 256 ${perRound[defs.findIndex((d) => d.id === "batch-256")]![r]!.toFixed(2)} µs/sig`);
  }
  // an in-process caller (bench/run.ts) gets its own CPU list back
  if (opts.pin !== undefined && before !== "?") pinSelf(before);
  const nodeRounds = perRound[0]!;
  const rows: NativeRow[] = defs.map((d, j) => {
    const us = summary(perRound[j]!);
    return {
      id: d.id, group: d.group, name: d.name, sigsPerOp: d.sigsPerOp, usPerSig: us, sigsPerSec: 1e6 / us.median,
      vsNode: summary(perRound[j]!.map((x, r) => nodeRounds[r]! / x)), calls: calls[j]!,
    };
  });
  const byId = (id: string) => defs.findIndex((d) => d.id === id);
  const badCost: BadCost[] = badSpec.map((b) => {
    const bi = byId(b.id), gi = byId(b.good);
    return {
      name: `${b.k} bad in ${b.n} ÷ all-good ${b.n}`, bad: b.id, good: b.good, target: b.target,
      ratio: summary(perRound[bi]!.map((x, r) => x / perRound[gi]![r]!)),
    };
  });
  return {
    startedAt, seconds: Math.round((performance.now() - t0) / 100) / 10, rounds, sampleMs, messageBytes: MESSAGE_BYTES,
    machine: { cpu: cpuModel(), cores: navigator.hardwareConcurrency, bun: `${Bun.version} (${Bun.revision.slice(0, 9)})`, cpusAllowed: allowed, loadavg: { start: loadStart, end: loadavg() } },
    native: { version }, rows, badCost,
    command: "bun bench/native.ts",
  };
}

const x = (s: Summary, digits = 2) => fmtSummary(s, digits);

/** The micro table for BENCHMARKS.md (rows, µs/sig, sig/s, × node:crypto), with the machine and the command. */
export function nativeMarkdown(r: NativeResults): string {
  const md: string[] = [];
  const p = (s = "") => md.push(s);
  const m = r.machine;
  p("### The native Ed25519 core");
  p();
  p(`\`${r.command}\`: one process pinned to core ${m.cpusAllowed} (\`taskset -a -p -c 0\` once its inputs are made), ${r.rounds} interleaved rounds`);
  p(`(each round times every row once for ${r.sampleMs} ms, in a rotated order); medians over the rounds, range in brackets. "× node:crypto"`);
  p("is the median of the per-round ratios to the first row (how many times faster). Distinct-key rows rotate over");
  p(`${fmt(POOL)} key pairs, one key pair per signature; messages are ${r.messageBytes} bytes; every answer of every timed call is checked.`);
  p(`Machine: ${m.cpu}, ${m.cores} cores, Bun ${m.bun}; native core ${r.native.version}; load average ${m.loadavg.start.map((l) => l.toFixed(2)).join(" ")} at the start, ${m.loadavg.end.map((l) => l.toFixed(2)).join(" ")} at the end; ${r.seconds} s.`);
  p();
  p("| row | µs per signature | signatures/s | × node:crypto |");
  p("|---|---|---|---|");
  for (const row of r.rows) {
    p(`| ${row.name} | ${x(row.usPerSig)} | ${fmt(row.sigsPerSec)} | ${row.id === "node" ? "1" : x(row.vsNode)} |`);
  }
  p();
  p("Bad signatures (an altered message, so only the batch equation catches it), cost against the all-good batch of the same size, per round:");
  p();
  p("| case | cost ratio | target | |");
  p("|---|---|---|---|");
  for (const b of r.badCost) {
    const met = b.target === null ? "informative" : b.ratio.median <= b.target ? `met (by ${(b.target - b.ratio.median).toFixed(2)})` : `missed (by ${(b.ratio.median - b.target).toFixed(2)})`;
    p(`| ${b.name} | ${x(b.ratio)}× | ${b.target === null ? "–" : `≤ ${b.target}×`} | ${met} |`);
  }
  p();
  return md.join("\n");
}

if (import.meta.main) {
  const quick = process.argv.includes("--quick");
  const json = process.argv.includes("--json");
  const say = json ? (l: string) => console.error(l) : (l: string) => console.log(l);
  const r = await runNative({ ...(quick ? { rounds: 3, sampleMs: 100, warmMs: 50 } : {}), pin: "0", log: say });
  if (quick) r.command = "bun bench/native.ts --quick";
  writeFileSync(join(OUT, "native.json"), JSON.stringify(r, null, 2) + "\n");
  say(nativeMarkdown(r));
  say(`wrote ${join(OUT, "native.json")}`);
  if (json) console.log(JSON.stringify(r));
  process.exit(0);
}
