/**
 * @module Micro benches, in process, on this thread: Base45 and code decoding, one verification, the
 * credential cache, the replay window, the body codecs, and the whole per-scan pipeline — with signature
 * checks (CoalescingChecker on the node's verifier) and without (a checker that answers OK without
 * checking), so the report can say where a scan's time goes. Each figure is the median ns per operation of several timed samples.
 *
 * Run alone: `taskset -c 0 bun bench/micro.ts [--quick]`.
 */
import { verify as nodeVerify } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as npmBase45 from "base45";
import { createApp } from "../src/app.ts";
import { systemClock } from "../src/clock.ts";
import { loadConfig } from "../src/config.ts";
import { preparePublicKey, verifyStrict } from "../src/crypto/ed25519.ts";
import { compose } from "../src/compose.ts";
import { packr } from "../src/wire/msgpack.ts";
import { CredentialCache, verifiedCredential } from "../src/verify/credential-cache.ts";
import { serialHexOf } from "../src/wire/code.ts";
import { MemoryReplayWindow, REPLAY_ACCEPTED, type ReplayItem, type ReplayStore } from "../src/verify/replay-window.ts";
import { chooseVerifier } from "../src/crypto/native.ts";
import { CoalescingChecker } from "../src/verify/coalesce.ts";
import { ScanVerifier, type SignatureChecker } from "../src/verify/signatures.ts";
import * as base45 from "../src/wire/base45.ts";
import { OFF, parseCode, presentationMessage, toText } from "../src/wire/code.ts";
import { benchIssuer, closeSigners, codeAt, holderSet, presentations, roundRobinPlan } from "./codes.ts";
import { summary, type Summary } from "./lib.ts";

export interface MicroRow {
  group: string;
  name: string;
  /** ns per operation (median, range over samples). */
  ns: Summary;
  /** What one operation is. */
  unit: string;
}

/** Answers OK for every job without checking: the pipeline's cost without cryptography. */
const NO_CRYPTO: SignatureChecker = { check: (jobs) => new Uint8Array(jobs.length) };

/**
 * Accepts every presentation, so the no-cryptography rows can reuse a few prepared batches (a large
 * prepared heap would make them measure the garbage collector); the window's own cost is a row above.
 */
const ACCEPT_ALL: ReplayStore = {
  apply: (items) => new Uint8Array(items.length).fill(REPLAY_ACCEPTED),
  ready: () => true,
  stats: () => ({ held: 0, capacity: 0, bytes: 0 }),
};

interface Timing { samples: number; sampleMs: number; warmMs: number }

/** Runs `step` (which does `opsPerStep` operations and returns false when out of input) in timed samples. */
async function timed(t: Timing, opsPerStep: number, step: (i: number) => boolean | Promise<boolean>): Promise<Summary> {
  let i = 0;
  const warmEnd = performance.now() + t.warmMs;
  while (performance.now() < warmEnd) if (!(await step(i++))) break;
  const per: number[] = [];
  for (let s = 0; s < t.samples; s++) {
    let ops = 0;
    const start = Bun.nanoseconds();
    const end = start + t.sampleMs * 1e6;
    while (Bun.nanoseconds() < end) {
      if (!(await step(i++))) break;
      ops += opsPerStep;
    }
    if (ops > 0) per.push((Bun.nanoseconds() - start) / ops);
  }
  return summary(per);
}

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "yukuai-micro-"));
  const iss = benchIssuer();
  writeFileSync(join(dir, "issuer-500000.key"), JSON.stringify({ issuer: 500000, kid: 1, createdAt: 1_700_000_000, seed: Buffer.from(iss.seed).toString("hex") }) + "\n");
  writeFileSync(join(dir, "subject-500000.secret"), Buffer.from(iss.subjectSecret).toString("hex") + "\n");
  return dir;
}

export async function runMicro(quick: boolean, log: (l: string) => void = () => {}): Promise<MicroRow[]> {
  const t: Timing = quick ? { samples: 3, sampleMs: 150, warmMs: 150 } : { samples: 7, sampleMs: 300, warmMs: 300 };
  const rows: MicroRow[] = [];
  const add = (group: string, name: string, unit: string, ns: Summary) => {
    rows.push({ group, name, unit, ns });
    log(`  ${group} · ${name}: ${ns.median.toFixed(0)} ns/${unit}`);
  };

  const H = 4096;
  const holders = await holderSet(H, log);
  const now = Math.floor(Date.now() / 1000) + 1;
  const signedN = quick ? 24 * 1024 : 64 * 1024;
  const block = await presentations(holders, roundRobinPlan(signedN, H, 0, now));
  closeSigners();
  const codes = Array.from({ length: signedN }, (_, i) => codeAt(block, i).slice());
  const texts = codes.map(toText);

  // ── wire ──
  const out = new Uint8Array(212);
  add("wire", "Base45 decode, 354 chars → 212 bytes (ours, strict)", "code", await timed(t, 1024, (i) => {
    for (let k = 0; k < 1024; k++) base45.decodeInto(texts[(i * 1024 + k) % texts.length]!, 4, out);
    return true;
  }));
  add("wire", "Base45 decode (npm base45, for comparison)", "code", await timed(t, 1024, (i) => {
    for (let k = 0; k < 1024; k++) npmBase45.decode(texts[(i * 1024 + k) % texts.length]!.slice(4));
    return true;
  }));
  add("wire", "Base45 encode, 212 bytes", "code", await timed(t, 1024, (i) => {
    for (let k = 0; k < 1024; k++) base45.encode(codes[(i * 1024 + k) % codes.length]!);
    return true;
  }));
  add("wire", "parseCode: `YK1:` text → checked 212 bytes", "code", await timed(t, 1024, (i) => {
    for (let k = 0; k < 1024; k++) parseCode(texts[(i * 1024 + k) % texts.length]!);
    return true;
  }));

  // ── crypto ──
  const keys = Array.from({ length: H }, (_, h) => preparePublicKey(codes[h]!.subarray(OFF.devicePub, OFF.devicePub + 32)));
  const msgs = codes.slice(0, H).map((c) => presentationMessage(c));
  const sigs = codes.slice(0, H).map((c) => c.slice(OFF.deviceSig));
  add("crypto", "node:crypto verify, one key (the ratio's denominator)", "verify", await timed(t, 256, () => {
    for (let k = 0; k < 256; k++) nodeVerify(null, msgs[0]!, keys[0]!, sigs[0]!);
    return true;
  }));
  add("crypto", "node:crypto verify, 4096 keys", "verify", await timed(t, 256, (i) => {
    for (let k = 0; k < 256; k++) { const h = (i * 256 + k) % H; nodeVerify(null, msgs[h]!, keys[h]!, sigs[h]!); }
    return true;
  }));
  add("crypto", "verifyStrict (S < L, then node:crypto)", "verify", await timed(t, 256, (i) => {
    for (let k = 0; k < 256; k++) { const h = (i * 256 + k) % H; verifyStrict(keys[h]!, msgs[h]!, sigs[h]!); }
    return true;
  }));
  const signer = new ScanVerifier();
  const issuerKey = preparePublicKey(benchIssuer().publicKey);
  add("crypto", "ScanVerifier, credential cached: device signature only", "scan", await timed(t, 256, (i) => {
    for (let k = 0; k < 256; k++) { const j = (i * 256 + k) % codes.length; signer.check(codes[j]!, null, keys[j % H]!); }
    return true;
  }));
  add("crypto", "ScanVerifier, first sight: issuer + device signatures", "scan", await timed(t, 128, (i) => {
    for (let k = 0; k < 128; k++) signer.check(codes[(i * 128 + k) % codes.length]!, issuerKey, null);
    return true;
  }));

  // ── state ──
  const cache = new CredentialCache(1 << 20);
  for (let h = 0; h < H; h++) cache.set(verifiedCredential(codes[h]!));
  add("state", "credential LRU hit (serial hex + get + 138-byte compare)", "scan", await timed(t, 1024, (i) => {
    for (let k = 0; k < 1024; k++) { const c = codes[(i * 1024 + k) % codes.length]!; cache.get(serialHexOf(c), c); }
    return true;
  }));
  const items: ReplayItem[][] = [];
  for (let b = 0; b < 2048; b++) {
    const batch: ReplayItem[] = [];
    for (let k = 0; k < 256; k++) {
      const h = (b * 256 + k) % H;
      const v = new DataView(codes[h]!.buffer);
      batch.push({ issuer: v.getUint32(2), serialHi: v.getUint32(8), serialLo: v.getUint32(12), counter: 1 + Math.floor((b * 256 + k) / H), time: now });
    }
    items.push(batch);
  }
  let replay = new MemoryReplayWindow(1 << 20, 380, now - 1);
  add("state", "replay window, 4096 live serials, batches of 256", "scan", await timed(t, 256, (i) => {
    if (i > 0 && i % items.length === 0) replay = new MemoryReplayWindow(1 << 20, 380, now - 1);
    replay.apply(items[i % items.length]!, now);
    return true;
  }));
  const fresh = (b: number): ReplayItem[] => Array.from({ length: 256 }, (_, k) => ({ issuer: 500000, serialHi: b, serialLo: k * 7919 + 1, counter: 1, time: now }));
  let fw = new MemoryReplayWindow(1 << 20, 380, now - 1);
  add("state", "replay window, first sight of each serial", "scan", await timed(t, 256, (i) => {
    if ((i + 1) * 256 % (1 << 19) === 0) fw = new MemoryReplayWindow(1 << 20, 380, now - 1);
    fw.apply(fresh(i), now);
    return true;
  }));

  // ── codecs of a 256-scan batch ──
  const jsonBody = JSON.stringify({ scans: texts.slice(0, 256) });
  const mpBody = packr.pack({ scans: codes.slice(0, 256) });
  add("codec", "JSON.parse of a 256-scan body", "scan", await timed(t, 256, () => { JSON.parse(jsonBody); return true; }));
  add("codec", "msgpack unpack of a 256-scan body (raw bytes)", "scan", await timed(t, 256, () => { packr.unpack(mpBody); return true; }));
  const okResults = codes.slice(0, 256).map((c) => verifiedCredential(c).ok);
  add("codec", "JSON.stringify of 256 OK results", "scan", await timed(t, 256, () => { JSON.stringify({ results: okResults, revocations: { seq: 0, syncedAt: now } }); return true; }));
  add("codec", "msgpack pack of 256 OK results", "scan", await timed(t, 256, () => { packr.pack({ results: okResults, revocations: { seq: 0, syncedAt: now } }); return true; }));

  // ── the pipeline and the route, per scan ──
  // Each node gets codes stamped after it started (§3: earlier ones are STALE), used once each, from
  // holders whose credentials it has seen once already (so a scan pays one signature check).
  const coalescing = new CoalescingChecker(chooseVerifier(loadConfig().verifier).verifier);
  for (const [label, checker] of [["no signature checks", NO_CRYPTO], [`CoalescingChecker (${coalescing.impl})`, coalescing]] as const) {
    const crypto = checker !== NO_CRYPTO;
    const dir = dataDir();
    // skew 0: the §3 start-up rule then lets codes stamped from the start second on through (no cost per scan)
    const node = compose(loadConfig({ YUKUAI_DATA_DIR: dir, YUKUAI_ADMIN_TOKEN: "micro", YUKUAI_WORKERS: "0", YUKUAI_SKEW_SECONDS: "0" }), {
      clock: systemClock, checker, log: () => {}, replay: crypto ? undefined : ACCEPT_ALL,
    });
    const app = createApp(node, () => {});
    const gwRes = await app.request("/v1/gateways", { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer micro" }, body: JSON.stringify({ name: "micro", scene: "metro" }) });
    const gwKey = ((await gwRes.json()) as { key: string }).key;
    const gw = node.registry.gatewayByKey(gwKey)!;
    const stamp = Math.floor(Date.now() / 1000);
    // batches needed: enough for every sample (without signature checks a few are reused, see ACCEPT_ALL)
    const nBatches = crypto ? Math.ceil(((t.samples + 1) * t.sampleMs * 1e6) / (40_000 * 256)) : 64;
    const total = H + 2 * nBatches * 256;
    let all: Uint8Array[];
    if (crypto) {
      const signed = await presentations(holders, roundRobinPlan(total, H, 0, stamp));
      closeSigners();
      all = Array.from({ length: total }, (_, i) => codeAt(signed, i).slice());
    } else {
      all = Array.from({ length: total }, (_, i) => {
        const c = codes[i % H]!.slice();
        const v = new DataView(c.buffer);
        v.setUint32(OFF.time, stamp);
        v.setUint32(OFF.counter, 1 + Math.floor(i / H));
        return c;
      });
    }
    for (let b = 0; b < H / 256; b++) await node.verifier.verifyBatch(all.slice(b * 256, (b + 1) * 256), gw);
    const batches = Array.from({ length: nBatches }, (_, b) => all.slice(H + b * 256, H + (b + 1) * 256));
    const bodies = Array.from({ length: nBatches }, (_, b) => JSON.stringify({ scans: all.slice(H + (nBatches + b) * 256, H + (nBatches + b + 1) * 256).map(toText) }));
    const at = (i: number) => (crypto ? i : i % nBatches);
    add("pipeline", `Pipeline.verifyBatch, batches of 256 raw codes, ${label}`, "scan", await timed(t, 256, async (i) => {
      if (at(i) >= batches.length) return false;
      const r = await node.verifier.verifyBatch(batches[at(i)]!, gw);
      if (!r.ok || r.value[0]!.result !== "OK") throw new Error(`micro pipeline: ${JSON.stringify(r.ok ? r.value[0] : r)}`);
      return true;
    }));
    add("pipeline", `POST /v1/verify/batch in process (app.request, JSON in and out), ${label}`, "scan", await timed(t, 256, async (i) => {
      if (at(i) >= bodies.length) return false;
      const res = await app.request("/v1/verify/batch", { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${gwKey}` }, body: bodies[at(i)]! });
      await res.arrayBuffer();
      return true;
    }));
    node.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (import.meta.main) {
  const rows = await runMicro(process.argv.includes("--quick"), console.log);
  // --rows: the rows as JSON on the last line, for bench/run.ts
  if (process.argv.includes("--rows")) console.log(JSON.stringify(rows));
  process.exit(0);
}
