/**
 * @module Codes for the bench, made before any measurement.
 *
 * - The bench issuer (seed and subject secret) is made once in bench/out/issuer.json; every server under
 *   test gets it in its fresh data dir, so codes made here verify there.
 * - Holders (device seed ‖ 138-byte credential signed by the bench issuer) are made once and cached in
 *   bench/out/holders.bin (gitignored), grown on demand: making a credential costs a key generation and a
 *   signature.
 * - Presentations carry a time that must be fresh when verified (DESIGN.md §3: within the 60 s window and
 *   not before the server's start second), so they are signed per run, just before it, on every core
 *   (bench/sign-worker.ts), and every one is unique: (holder, counter) is never repeated within a server's
 *   life, so no scan of a run is a REPLAY.
 */
import { randomBytes, type KeyObject } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { privateKeyFromSeed, rawPublicKey } from "../src/crypto/ed25519.ts";

const OUT = resolve(import.meta.dir, "out");
const HOLDER_BYTES = 32 + 138;

export interface BenchIssuer {
  seed: Uint8Array;
  subjectSecret: Uint8Array;
  privateKey: KeyObject;
  publicKey: Uint8Array;
}

let issuer: BenchIssuer | undefined;

export function benchIssuer(): BenchIssuer {
  if (issuer) return issuer;
  mkdirSync(OUT, { recursive: true });
  const path = join(OUT, "issuer.json");
  if (!existsSync(path)) {
    writeFileSync(path, JSON.stringify({ seed: randomBytes(32).toString("hex"), subjectSecret: randomBytes(32).toString("hex") }) + "\n", { mode: 0o600 });
  }
  const j = JSON.parse(readFileSync(path, "utf8")) as { seed: string; subjectSecret: string };
  const seed = new Uint8Array(Buffer.from(j.seed, "hex"));
  const privateKey = privateKeyFromSeed(seed);
  issuer = { seed, subjectSecret: new Uint8Array(Buffer.from(j.subjectSecret, "hex")), privateKey, publicKey: rawPublicKey(privateKey) };
  return issuer;
}

/** n holders, in shared memory (the sign workers read them without copies). */
export interface HolderSet {
  n: number;
  /** n × (32-byte device seed ‖ 138-byte credential). */
  bytes: Uint8Array;
}

// ── the sign workers ─────────────────────────────────────────────────────────

let workers: Worker[] = [];
let nextId = 1;
const waiting = new Map<number, (m: any) => void>();

function signers(): Worker[] {
  if (workers.length) return workers;
  const n = Math.max(1, navigator.hardwareConcurrency);
  for (let i = 0; i < n; i++) {
    const w = new Worker(new URL("./sign-worker.ts", import.meta.url));
    w.onmessage = (e: MessageEvent) => {
      const r = waiting.get(e.data.id);
      waiting.delete(e.data.id);
      r?.(e.data);
    };
    workers.push(w);
  }
  return workers;
}

/** Stops the sign workers (the bench calls it before measuring, so they take no CPU or memory). */
export function closeSigners(): void {
  for (const w of workers) w.terminate();
  workers = [];
}

function call(w: Worker, msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<any> {
  const id = nextId++;
  return new Promise((res) => {
    waiting.set(id, res);
    w.postMessage({ ...msg, id }, transfer);
  });
}

/** Splits [0, n) into one range per worker and runs `f` on each, in parallel. */
async function spread(n: number, f: (w: Worker, from: number, to: number) => Promise<void>): Promise<void> {
  const ws = signers();
  const per = Math.ceil(n / ws.length);
  await Promise.all(ws.map((w, i) => (i * per < n ? f(w, i * per, Math.min(n, (i + 1) * per)) : Promise.resolve())));
}

let cached: HolderSet | undefined;

/** At least `n` holders (the first n of the cached set; more are made and cached when needed). */
export async function holderSet(n: number, log: (l: string) => void = () => {}): Promise<HolderSet> {
  if (cached && cached.n >= n) return cached;
  const path = join(OUT, "holders.bin");
  const iss = benchIssuer();
  let have = new Uint8Array(0);
  if (existsSync(path)) {
    const raw = readFileSync(path);
    // the file starts with the issuer's public key: holders of another bench issuer are not reused
    if (raw.length >= 32 && Buffer.compare(raw.subarray(0, 32), Buffer.from(iss.publicKey)) === 0) have = new Uint8Array(raw.subarray(32));
  }
  const haveN = Math.floor(have.length / HOLDER_BYTES);
  const total = Math.max(n, haveN);
  const bytes = new Uint8Array(new SharedArrayBuffer(total * HOLDER_BYTES));
  bytes.set(have.subarray(0, haveN * HOLDER_BYTES));
  if (haveN < n) {
    const t0 = performance.now();
    log(`making ${n - haveN} holders (device key + issuer-signed credential), cached in bench/out/holders.bin`);
    await spread(n - haveN, (w, from, to) => call(w, { t: "holders", bytes, from: haveN + from, to: haveN + to, issuerSeed: iss.seed }));
    writeFileSync(path, Buffer.concat([Buffer.from(iss.publicKey), Buffer.from(bytes)]));
    log(`  ${n - haveN} holders in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  cached = { n: total, bytes };
  return cached;
}

/** A plan of presentations: for each, the holder index, the counter and the presentation time. */
export interface Plan {
  holder: Uint32Array;
  counter: Uint32Array;
  time: Uint32Array;
}

/** Signs the plan's presentations on every core: n × 212 bytes, in plan order. */
export async function presentations(h: HolderSet, plan: Plan): Promise<Uint8Array> {
  const n = plan.holder.length;
  const out = new Uint8Array(new SharedArrayBuffer(n * 212));
  await spread(n, (w, from, to) => call(w, {
    t: "present", holders: h.bytes, out, from, to,
    holder: plan.holder.subarray(from, to), counter: plan.counter.subarray(from, to), time: plan.time.subarray(from, to),
  }));
  return out;
}

/** A plan where holder i (of `holders`) presents counters base+1, base+2, … round-robin, all at `time`. */
export function roundRobinPlan(n: number, holders: number, counterBase: number, time: number, holderOffset = 0): Plan {
  const plan: Plan = { holder: new Uint32Array(n), counter: new Uint32Array(n), time: new Uint32Array(n).fill(time) };
  for (let i = 0; i < n; i++) {
    plan.holder[i] = holderOffset + (i % holders);
    plan.counter[i] = counterBase + 1 + Math.floor(i / holders);
  }
  return plan;
}

/** The 212-byte code `i` of a signed block. */
export function codeAt(block: Uint8Array, i: number): Uint8Array {
  return block.subarray(i * 212, (i + 1) * 212);
}
