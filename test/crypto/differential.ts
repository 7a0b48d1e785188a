/**
 * @module Differential testing of a `BatchVerifier` (src/crypto/batch.ts) against @noble/ed25519
 * `verify(sig, msg, pk, { zip215: false })`, which is the spec §2 signature rule itself (canonical A and R,
 * A not of small order, S < L, the cofactored equation).
 *
 * From a seed and a chunk number it generates, deterministically, cases of the kinds in `KINDS` (honest
 * signatures; one byte of M, R, S or A tampered; S + m·L; R or A plus each of the 8 small-order points,
 * re-signed so that only the cofactored equation holds, or with S unchanged; small-order and non-canonical
 * A and R; random bytes), with noble keys and messages of 0..300 bytes, and proves for each verifier:
 * - verifyOne answers exactly what noble answers, case by case;
 * - verifyBatch on batches of 1..300 of those cases (random mixes; batches of one key's honest signatures
 *   with a few bad ones at random positions; all-honest batches; repeats of one case) answers exactly what
 *   verifyOne and noble answer one by one, so batching, same-key merging and bisection never change an
 *   answer;
 * - verifyScans on 212-byte codes (wire/code.ts layout: issuer-signed bytes 0..73, device-signed bytes
 *   0..147, each under its domain string) with bad issuer and device signatures at random positions, slots
 *   of −1, wrong slots, repeated and bad issuer keys answers SIG_OK / SIG_BAD_ISSUER / SIG_BAD_DEVICE exactly
 *   as noble (and verifyOne) on the two signatures — without device keys, with device keys all unknown,
 *   and with them known, right or wrong (random, another code's, negated); the native core writes, for
 *   every SIG_OK, the x coordinate noble decodes from the devicePub (batch.ts `DeviceKeys`).
 * Used by differential.test.ts (a fixed-seed sample in `npm test`), differential-run.ts with
 * differential-worker.ts (`npm run differential`: a million cases in parallel Workers) and
 * native/fuzz/make-corpus.ts (the C fuzz harness' corpus).
 */
import { createHash } from "node:crypto";
import * as ed from "@noble/ed25519";
import type { BatchVerifier, DeviceKeys } from "../../src/crypto/batch.ts";
import { CODE_LENGTH, CREDENTIAL_DOMAIN, CREDENTIAL_SIGNED, OFF, PRESENTATION_DOMAIN, PRESENTATION_SIGNED } from "../../src/wire/code.ts";
import { rng } from "../support/rng.ts";

ed.hashes.sha512 = (m: Uint8Array) => new Uint8Array(createHash("sha512").update(m).digest());

// ---------------------------------------------------------------- arithmetic and encodings

/** Group order L and field prime p (RFC 8032 §5.1). */
export const L = 2n ** 252n + 27742317777372353535851937790883648493n;
export const P = 2n ** 255n - 19n;
const B = ed.Point.BASE;

export const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
export const fromHex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));
export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
export function le32(n: bigint): Uint8Array {
  const b = new Uint8Array(32);
  for (let i = 0; i < 32; i++) b[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return b;
}
export function fromLe(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
  return n;
}
/** An encoding of y (< 2^255) with the sign bit of x. */
export function encodeY(y: bigint, sign: boolean): Uint8Array {
  const b = le32(y);
  if (sign) b[31] = b[31]! | 0x80;
  return b;
}
/** k = SHA-512(R ‖ A ‖ M) mod L (RFC 8032 §5.1.7 step 2), over the bytes as given. */
export function challenge(r: Uint8Array, a: Uint8Array, m: Uint8Array): bigint {
  return fromLe(createHash("sha512").update(r).update(a).update(m).digest()) % L;
}

/**
 * The 8 points of small order (the torsion subgroup E[8]), canonically encoded; checked against noble when
 * this module loads (each decodes strictly, is of small order and re-encodes to itself).
 */
export const SMALL_ORDER_HEX: readonly string[] = [
  "0100000000000000000000000000000000000000000000000000000000000000", // order 1 (identity)
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2 (y = −1)
  "0000000000000000000000000000000000000000000000000000000000000000", // order 4
  "0000000000000000000000000000000000000000000000000000000000000080", // order 4
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", // order 8
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", // order 8
];
export const SMALL_ORDER: readonly ed.Point[] = SMALL_ORDER_HEX.map((h) => {
  const p = ed.Point.fromBytes(fromHex(h), false);
  if (!p.isSmallOrder() || hex(p.toBytes()) !== h) throw new Error(`${h} is not a canonical small-order point`);
  return p;
});
if (new Set(SMALL_ORDER_HEX).size !== 8) throw new Error("SMALL_ORDER_HEX must list 8 distinct points");

/**
 * Every non-canonical encoding that has a y at all: y + p for y = 0..18 (the only y ≥ p below 2^255), with
 * either sign bit, and the two "negative zero" encodings (x = 0 with the sign bit set: y = 1 and y = p − 1).
 * Strict decoding (RFC 8032 §5.1.3, noble `zip215: false`) refuses all 40.
 */
export const NON_CANONICAL: readonly Uint8Array[] = [
  ...Array.from({ length: 19 }, (_, y) => [encodeY(BigInt(y) + P, false), encodeY(BigInt(y) + P, true)]).flat(),
  encodeY(1n, true),
  encodeY(P - 1n, true),
];
/** The ones among them that a lenient decoder reads as a small-order point (y + p for y = 0 and 1, negative zero). */
export const NON_CANONICAL_SMALL_ORDER: readonly Uint8Array[] = [
  encodeY(P, false), encodeY(P, true), encodeY(P + 1n, false), encodeY(P + 1n, true), encodeY(1n, true), encodeY(P - 1n, true),
];

// ---------------------------------------------------------------- seeded randomness

/** A seeded source of numbers and bytes (mulberry32, test/support/rng.ts): same seed, same cases. */
export class Rand {
  readonly #next: () => number;
  constructor(seed: number) {
    this.#next = rng(seed);
  }
  u32(): number {
    return Math.floor(this.#next() * 4294967296);
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.#next() * n);
  }
  chance(p: number): boolean {
    return this.#next() < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      let x = this.u32();
      for (let j = i; j < i + 4 && j < n; j++, x >>>= 8) b[j] = x & 0xff;
    }
    return b;
  }
  /** A scalar uniform mod L (from 64 bytes, as RFC 8032 reduces nonces). */
  scalar(): bigint {
    return fromLe(this.bytes(64)) % L;
  }
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  }
}

/** The seed of one chunk: (seed, chunk) mixed (murmur3 finalizer), so chunks are independent and any one reproduces alone. */
export function chunkSeed(seed: number, chunk: number): number {
  let h = (seed ^ Math.imul(chunk + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

// ---------------------------------------------------------------- keys and signing

/** A noble key: RFC 8032 seed, its scalar a (clamped, mod L), A = [a]B and its encoding. */
export interface Signer {
  readonly seed: Uint8Array;
  readonly a: bigint;
  readonly point: ed.Point;
  readonly pk: Uint8Array;
}
export function makeSigner(seed: Uint8Array): Signer {
  const e = ed.utils.getExtendedPublicKey(seed);
  return { seed, a: e.scalar, point: e.point, pk: e.pointBytes };
}
/** R = [r]B + T for a fresh r, S = r + k·a with k over R ‖ `pkBytes` ‖ M: valid under the cofactored equation for A = [a]B + T'. */
function signCustom(r: Rand, a: bigint, pkBytes: Uint8Array, msg: Uint8Array, torsionR: ed.Point | null): Uint8Array {
  const nonce = r.scalar() || 1n;
  let R = B.multiply(nonce);
  if (torsionR !== null) R = R.add(torsionR);
  const rb = R.toBytes();
  return concat(rb, le32((nonce + challenge(rb, pkBytes, msg) * a) % L));
}

/** The §2 answer: noble `zip215: false`; a throw (wrong length) is "invalid". */
export function noble(pk: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  try {
    return ed.verify(sig, msg, pk, { zip215: false });
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- single cases

export const KINDS = [
  "honest", // ed.sign by a pool key or a fresh key
  "tamper-msg", // one bit of M flipped, or a byte appended or removed
  "tamper-R", // one bit of R flipped
  "tamper-S", // one bit of S flipped (a high bit makes S ≥ L)
  "tamper-A", // one bit of A flipped
  "other-key", // an honest signature put to another key
  "S-plus-L", // S + m·L, m = 1..15 (same S mod L: the equation would hold, S < L refuses it)
  "S-edge", // S ∈ {0, 1, L − 1, L, L + 1, 2^252, 2^253, 2^256 − 1} with an honest R
  "torsion-R", // R = [r]B + T (each T of the 8), re-signed: only the cofactored equation holds (valid)
  "torsion-R-keepS", // R + T with S unchanged (k changes: invalid except T = identity)
  "torsion-A", // A = [a]B + T (mixed order, passes the key test), honestly signed under it: cofactored-only (valid)
  "torsion-A-keepS", // A + T put in place of A, signature unchanged
  "torsion-both", // mixed-order A and R, re-signed (speccheck 4 style: valid)
  "small-order-R", // R = T, S = k·a: [8]R = 0, so the cofactored equation holds (valid, speccheck 2 style)
  "small-order-A", // A = T: refused whatever R and S (some make the cofactored equation hold)
  "noncanonical-A", // A = one of NON_CANONICAL (y ≥ p or negative zero)
  "noncanonical-R", // R = one of NON_CANONICAL, S = k·a: cofactored holds for the small-order ones; refused
  "random", // random 32 + 64 bytes (mostly off-curve)
  "random-points", // a random curve point as A, another as R, random S < L
] as const;
export type Kind = (typeof KINDS)[number];

export interface Case {
  readonly kind: Kind;
  readonly pk: Uint8Array;
  readonly msg: Uint8Array;
  readonly sig: Uint8Array;
  /** noble's answer (the §2 rule). */
  readonly expect: boolean;
}

/** Relative frequency of each kind (honest cases are also the filler of the same-key batches). */
const WEIGHT: Record<Kind, number> = {
  honest: 6, "tamper-msg": 2, "tamper-R": 2, "tamper-S": 2, "tamper-A": 2, "other-key": 1, "S-plus-L": 1, "S-edge": 1,
  "torsion-R": 2, "torsion-R-keepS": 1, "torsion-A": 2, "torsion-A-keepS": 1, "torsion-both": 1, "small-order-R": 1,
  "small-order-A": 1, "noncanonical-A": 1, "noncanonical-R": 1, random: 1, "random-points": 1,
};
const WEIGHTED: readonly Kind[] = KINDS.flatMap((k) => Array<Kind>(WEIGHT[k]).fill(k));

function flipBit(b: Uint8Array, from: number, to: number, r: Rand): Uint8Array {
  const c = b.slice();
  const at = from + r.int(to - from);
  c[at] = c[at]! ^ (1 << r.int(8));
  return c;
}
/** A canonical encoding of a random curve point (of any order; almost surely large). */
function randomPoint(r: Rand): Uint8Array {
  for (;;) {
    const b = r.bytes(32);
    try {
      return ed.Point.fromBytes(b, false).toBytes();
    } catch {
      // not a y of the curve, or non-canonical: draw again
    }
  }
}

/** The pool of keys a chunk reuses (issuer-like: many signatures under one key in one batch). */
export function keyPool(r: Rand, n: number): Signer[] {
  return Array.from({ length: n }, () => makeSigner(r.bytes(32)));
}

/** One case of `kind`, and its expected answer from noble. */
export function makeCase(r: Rand, kind: Kind, pool: readonly Signer[]): Case {
  const signer = pool.length > 0 && r.chance(0.7) ? r.pick(pool) : makeSigner(r.bytes(32));
  const msg = r.bytes(r.int(301));
  let pk = signer.pk, m = msg, sig: Uint8Array;
  const honest = () => ed.sign(msg, signer.seed);
  const T = () => r.pick(SMALL_ORDER);
  switch (kind) {
    case "honest":
      sig = honest();
      break;
    case "tamper-msg": {
      sig = honest();
      const how = msg.length === 0 ? 1 : r.int(3);
      m = how === 0 ? flipBit(msg, 0, msg.length, r) : how === 1 ? concat(msg, r.bytes(1)) : msg.slice(0, msg.length - 1);
      break;
    }
    case "tamper-R":
      sig = flipBit(honest(), 0, 32, r);
      break;
    case "tamper-S":
      sig = flipBit(honest(), 32, 64, r);
      break;
    case "tamper-A":
      sig = honest();
      pk = flipBit(signer.pk, 0, 32, r);
      break;
    case "other-key":
      sig = honest();
      pk = pool.length > 1 && r.chance(0.5) ? r.pick(pool.filter((s) => s !== signer)).pk : makeSigner(r.bytes(32)).pk;
      break;
    case "S-plus-L": {
      sig = honest();
      const s = fromLe(sig.subarray(32)) + BigInt(1 + r.int(15)) * L;
      sig.set(le32(s), 32);
      break;
    }
    case "S-edge":
      sig = honest();
      sig.set(le32(r.pick([0n, 1n, L - 1n, L, L + 1n, 2n ** 252n, 2n ** 253n, 2n ** 256n - 1n])), 32);
      break;
    case "torsion-R":
      sig = signCustom(r, signer.a, pk, msg, T());
      break;
    case "torsion-R-keepS": {
      sig = honest();
      const R = ed.Point.fromBytes(sig.subarray(0, 32), false).add(T());
      sig.set(R.toBytes(), 0);
      break;
    }
    case "torsion-A":
      pk = signer.point.add(T()).toBytes();
      sig = signCustom(r, signer.a, pk, msg, null);
      break;
    case "torsion-A-keepS":
      sig = honest();
      pk = signer.point.add(T()).toBytes();
      break;
    case "torsion-both":
      pk = signer.point.add(T()).toBytes();
      sig = signCustom(r, signer.a, pk, msg, T());
      break;
    case "small-order-R": {
      const R = T().toBytes();
      sig = concat(R, le32((challenge(R, pk, msg) * signer.a) % L));
      break;
    }
    case "small-order-A": {
      pk = T().toBytes();
      const how = r.int(3);
      if (how === 0) sig = concat(T().toBytes(), new Uint8Array(32)); // R small order, S = 0: [8]R = [8][k]A = 0 = [8][0]B
      else if (how === 1) { // R = [r]B, S = r: [8][S]B = [8]R and [8][k]A = 0
        const nonce = r.scalar();
        sig = concat(B.multiply(nonce || 1n).toBytes(), le32(nonce || 1n));
      } else sig = honest(); // an honest signature by another key
      break;
    }
    case "noncanonical-A":
      pk = r.pick(NON_CANONICAL).slice();
      sig = r.chance(0.5) ? concat(T().toBytes(), new Uint8Array(32)) : honest();
      break;
    case "noncanonical-R": {
      const R = (r.chance(0.6) ? r.pick(NON_CANONICAL_SMALL_ORDER) : r.pick(NON_CANONICAL)).slice();
      sig = concat(R, le32((challenge(R, pk, msg) * signer.a) % L)); // hashed as given, as noble does
      break;
    }
    case "random":
      pk = r.bytes(32);
      sig = r.bytes(64);
      if (r.chance(0.5)) sig[63] = sig[63]! & 0x0f; // S < 2^252 < L half the time
      break;
    case "random-points":
      pk = randomPoint(r);
      sig = concat(randomPoint(r), le32(r.scalar()));
      break;
  }
  return { kind, pk, msg: m, sig, expect: noble(pk, m, sig) };
}

export function randomKind(r: Rand): Kind {
  return r.pick(WEIGHTED);
}

// ---------------------------------------------------------------- comparing a verifier

export interface Mismatch {
  impl: string;
  api: "verifyOne" | "verifyBatch" | "verifyScans";
  kind: string;
  seed: number;
  chunk: number;
  /** Index of the case (verifyOne), or of the item in its batch. */
  index: number;
  expected: boolean | number;
  got: boolean | number | string;
  pk: string;
  msg: string;
  sig: string;
  /** Batch size and style, or the scan's slot, when it matters. */
  detail?: string;
}

function caseMismatch(v: BatchVerifier, api: Mismatch["api"], c: Case, seed: number, chunk: number, index: number, got: boolean | string, detail?: string): Mismatch {
  return { impl: v.impl, api, kind: c.kind, seed, chunk, index, expected: c.expect, got, pk: hex(c.pk), msg: hex(c.msg), sig: hex(c.sig), ...(detail ? { detail } : {}) };
}

/** verifyOne on every case; mismatches against noble, and the answers (for the batch comparison). */
export function checkOne(v: BatchVerifier, cases: readonly Case[], seed: number, chunk: number, out: Mismatch[]): boolean[] {
  return cases.map((c, i) => {
    let got: boolean;
    try {
      got = v.verifyOne(c.pk, c.msg, c.sig);
    } catch (e) {
      out.push(caseMismatch(v, "verifyOne", c, seed, chunk, i, `threw ${(e as Error).name}: ${(e as Error).message}`));
      return !c.expect;
    }
    if (got !== c.expect) out.push(caseMismatch(v, "verifyOne", c, seed, chunk, i, got));
    return got;
  });
}

/** The verifyBatch layout of `cases` (batch.ts). */
export function packBatch(cases: readonly Case[]): { pk: Uint8Array; sig: Uint8Array; msg: Uint8Array; msgEnd: Uint32Array } {
  const n = cases.length;
  const pk = new Uint8Array(n * 32), sig = new Uint8Array(n * 64), msgEnd = new Uint32Array(n);
  let total = 0;
  for (const c of cases) total += c.msg.length;
  const msg = new Uint8Array(total);
  let o = 0;
  cases.forEach((c, i) => {
    pk.set(c.pk, i * 32);
    sig.set(c.sig, i * 64);
    msg.set(c.msg, o);
    o += c.msg.length;
    msgEnd[i] = o;
  });
  return { pk, sig, msg, msgEnd };
}

/** verifyBatch on `cases` in one call; mismatches against noble and against verifyOne (`one[i]`, same order). */
export function checkBatch(v: BatchVerifier, cases: readonly Case[], one: readonly boolean[] | null, seed: number, chunk: number, style: string, out: Mismatch[]): void {
  const { pk, sig, msg, msgEnd } = packBatch(cases);
  const res = new Uint8Array(cases.length).fill(0xee);
  try {
    v.verifyBatch(pk, sig, msg, msgEnd, res);
  } catch (e) {
    out.push(caseMismatch(v, "verifyBatch", cases[0] ?? { kind: "honest", pk: new Uint8Array(0), msg: new Uint8Array(0), sig: new Uint8Array(0), expect: true },
      seed, chunk, 0, `threw ${(e as Error).name}: ${(e as Error).message}`, `${style} batch of ${cases.length}`));
    return;
  }
  cases.forEach((c, i) => {
    const got = res[i]!;
    const ok = (got === 1 && c.expect) || (got === 0 && !c.expect);
    const agreesOne = one === null || (got === 1) === one[i];
    if (!ok || !agreesOne) {
      out.push(caseMismatch(v, "verifyBatch", c, seed, chunk, i, got === 0 || got === 1 ? got === 1 : `out byte ${got}`,
        `${style} batch of ${cases.length}${agreesOne ? "" : `; verifyOne said ${one![i]}`}`));
    }
  });
}

export const BATCH_STYLES = ["random-mix", "one-key-few-bad", "all-valid", "one-bad", "repeated-case"] as const;
export type BatchStyle = (typeof BATCH_STYLES)[number];

/**
 * Batches (as index lists into `cases`) of 1..300 items, until they hold about `items` in all:
 * - random-mix: any cases, with repeats;
 * - one-key-few-bad: valid cases under one key (the issuer case) with 1..4 invalid ones, preferably under
 *   the same key, at random positions;
 * - all-valid: valid cases only (the batch equation must hold at once);
 * - one-bad: valid cases and exactly one invalid one at a random position (the bisection finds it);
 * - repeated-case: one case repeated (identical R, A and M under different random coefficients).
 */
export function planBatches(r: Rand, cases: readonly Case[], items: number): Array<{ style: BatchStyle; idx: number[] }> {
  const valid = cases.map((c, i) => (c.expect ? i : -1)).filter((i) => i >= 0);
  const invalid = cases.map((c, i) => (c.expect ? -1 : i)).filter((i) => i >= 0);
  const byKey = new Map<string, number[]>();
  for (const i of valid) {
    const k = hex(cases[i]!.pk);
    byKey.set(k, [...(byKey.get(k) ?? []), i]);
  }
  const keyed = [...byKey.values()].filter((l) => l.length >= 2);
  const size = () => 1 + r.int(r.pick([8, 64, 64, 300, 300]));
  const plans: Array<{ style: BatchStyle; idx: number[] }> = [];
  let total = 0;
  while (total < items && cases.length > 0) {
    const style = r.pick(BATCH_STYLES);
    const n = size();
    let idx: number[];
    const fill = (from: number[]) => Array.from({ length: n }, () => r.pick(from));
    const insertBad = (into: number[], k: number, sameKey: string | null) => {
      const same = sameKey === null ? [] : invalid.filter((i) => hex(cases[i]!.pk) === sameKey);
      for (let j = 0; j < k && invalid.length > 0; j++) {
        const bad = same.length > 0 && r.chance(0.7) ? r.pick(same) : r.pick(invalid);
        into.splice(r.int(into.length + 1), 0, bad);
      }
      return into;
    };
    if (style === "random-mix" || (valid.length === 0 && style !== "repeated-case")) idx = fill(cases.map((_, i) => i));
    else if (style === "one-key-few-bad" && keyed.length > 0) {
      const l = r.pick(keyed);
      idx = insertBad(fill(l), 1 + r.int(4), hex(cases[l[0]!]!.pk));
    } else if (style === "all-valid" || style === "one-key-few-bad") idx = fill(valid);
    else if (style === "one-bad") idx = insertBad(fill(valid).slice(0, Math.max(0, n - 1)), 1, null);
    else idx = Array<number>(n).fill(r.int(cases.length));
    plans.push({ style, idx });
    total += idx.length;
  }
  return plans;
}

// ---------------------------------------------------------------- scans (verifyScans)

export const SCAN_KINDS = [
  "ok", // both signatures honest
  "bad-issuer-sig", // a bit of issuerSig flipped (then the device signs the code)
  "bad-device-sig", // a bit of deviceSig flipped
  "tamper-credential", // a bit of bytes 0..73 flipped: both signatures fail, the issuer's is checked first
  "tamper-presentation", // a bit of bytes 138..147 flipped: deviceSig fails
  "wrong-slot", // slot names another issuer key, or a bad key in `keys`
  "no-issuer-check", // slot −1 and issuerSig garbage (device-signed): only the device signature counts
  "device-small-order", // devicePub a small-order point, deviceSig R = T, S = 0 (cofactored holds)
  "device-noncanonical", // devicePub non-canonical
  "device-torsion", // devicePub mixed order, deviceSig cofactored-only (valid)
  "issuer-torsion-R", // issuerSig with R + T, re-signed (valid)
] as const;
export type ScanKind = (typeof SCAN_KINDS)[number];

export interface ScanBatch {
  codes: Uint8Array;
  keys: Uint8Array;
  slot: Int32Array;
  kinds: ScanKind[];
  /** noble's SIG code per scan: 1 if the slot is ≥ 0 and issuerSig fails under keys[slot], else 2 if deviceSig fails, else 0. */
  expect: Uint8Array;
  /** noble's x coordinate of each code's devicePub (little-endian), or null when the key is refused. */
  deviceX: Array<Uint8Array | null>;
}

/** pk's x coordinate (canonical, little-endian) when pk is a valid key under §2 (strict decoding, not of small order), else null. */
export function keyX(pk: Uint8Array): Uint8Array | null {
  try {
    const p = ed.Point.fromBytes(pk, false);
    return p.isSmallOrder() ? null : le32(p.x);
  } catch {
    return null;
  }
}

/** The two signed messages of a code (wire/code.ts: domain string ‖ signed bytes). */
export function scanMessages(code: Uint8Array): { cred: Uint8Array; pres: Uint8Array } {
  return { cred: concat(CREDENTIAL_DOMAIN, code.subarray(0, CREDENTIAL_SIGNED)), pres: concat(PRESENTATION_DOMAIN, code.subarray(0, PRESENTATION_SIGNED)) };
}

/** What a verifier answers for one code, from two signature checks `check(pk, msg, sig)`. */
export function scanAnswer(code: Uint8Array, issuerPk: Uint8Array | null, check: (pk: Uint8Array, msg: Uint8Array, sig: Uint8Array) => boolean): number {
  const { cred, pres } = scanMessages(code);
  if (issuerPk !== null && !check(issuerPk, cred, code.subarray(OFF.issuerSig, OFF.issuerSig + 64))) return 1;
  return check(code.subarray(OFF.devicePub, OFF.devicePub + 32), pres, code.subarray(OFF.deviceSig, OFF.deviceSig + 64)) ? 0 : 2;
}

/**
 * `n` codes signed by `issuers` (with `keys` listing each issuer key, some twice, and one bad key: small
 * order, non-canonical or random) by devices of `devices` or fresh ones, of random SCAN_KINDS.
 */
export function makeScanBatch(r: Rand, issuers: readonly Signer[], devices: readonly Signer[], n: number): ScanBatch {
  const entries: Array<Signer | Uint8Array> = r.shuffle([...issuers, ...issuers.filter(() => r.chance(0.3)),
    r.pick([SMALL_ORDER[r.int(8)]!.toBytes(), r.pick(NON_CANONICAL), r.bytes(32)])]);
  const keys = concat(...entries.map((e) => (e instanceof Uint8Array ? e : e.pk)));
  const slotsOf = (s: Signer) => entries.map((e, i) => (e === s ? i : -1)).filter((i) => i >= 0);
  const codes = new Uint8Array(n * CODE_LENGTH), slot = new Int32Array(n), expect = new Uint8Array(n);
  const kinds: ScanKind[] = [];
  const deviceX: Array<Uint8Array | null> = [];
  for (let i = 0; i < n; i++) {
    const kind = r.pick(SCAN_KINDS);
    kinds.push(kind);
    const issuer = r.pick(issuers);
    const device = devices.length > 0 && r.chance(0.5) ? r.pick(devices) : makeSigner(r.bytes(32));
    const code = r.bytes(CODE_LENGTH);
    code[OFF.version] = 1;
    code[OFF.kind] = 1 + r.int(2);
    let devicePub = device.pk;
    if (kind === "device-small-order") devicePub = r.pick(SMALL_ORDER).toBytes();
    else if (kind === "device-noncanonical") devicePub = r.pick(NON_CANONICAL);
    else if (kind === "device-torsion") devicePub = device.point.add(r.pick(SMALL_ORDER)).toBytes();
    code.set(devicePub, OFF.devicePub);
    const { cred } = scanMessages(code);
    code.set(kind === "issuer-torsion-R" ? signCustom(r, issuer.a, issuer.pk, cred, r.pick(SMALL_ORDER)) : ed.sign(cred, issuer.seed), OFF.issuerSig);
    const flip = (from: number, to: number) => {
      const at = from + r.int(to - from);
      code[at] = code[at]! ^ (1 << r.int(8));
    };
    // faults of the credential come before the device signs (deviceSig covers issuerSig): a bad credential
    // under an honest device signature
    if (kind === "bad-issuer-sig") flip(OFF.issuerSig, OFF.issuerSig + 64);
    else if (kind === "no-issuer-check") code.set(r.bytes(64), OFF.issuerSig);
    const { pres } = scanMessages(code);
    let deviceSig: Uint8Array;
    if (kind === "device-small-order" || kind === "device-noncanonical") deviceSig = concat(r.pick(SMALL_ORDER).toBytes(), new Uint8Array(32));
    else if (kind === "device-torsion") deviceSig = signCustom(r, device.a, devicePub, pres, r.chance(0.5) ? r.pick(SMALL_ORDER) : null);
    else deviceSig = ed.sign(pres, device.seed);
    code.set(deviceSig, OFF.deviceSig);
    let s = r.pick(slotsOf(issuer));
    if (kind === "bad-device-sig") flip(OFF.deviceSig, OFF.deviceSig + 64);
    else if (kind === "tamper-credential") flip(0, CREDENTIAL_SIGNED); // after both signed: both fail
    else if (kind === "tamper-presentation") flip(OFF.time, PRESENTATION_SIGNED);
    else if (kind === "wrong-slot") s = r.pick(entries.map((e, j) => (e === issuer ? -1 : j)).filter((j) => j >= 0));
    else if (kind === "no-issuer-check") s = -1;
    if (kind !== "no-issuer-check" && r.chance(0.1)) s = -1; // a cached credential: device signature only
    codes.set(code, i * CODE_LENGTH);
    slot[i] = s;
    expect[i] = scanAnswer(code, s >= 0 ? keys.subarray(s * 32, s * 32 + 32) : null, noble);
    deviceX.push(keyX(code.subarray(OFF.devicePub, OFF.devicePub + 32)));
  }
  return { codes, keys, slot, kinds, expect, deviceX };
}

/** p − x mod p (the other x with the same y; the sign bit no longer fits). */
function negX(x: Uint8Array): Uint8Array {
  return le32((P - fromLe(x)) % P);
}

/**
 * verifyScans on `b`, three times: without device keys; with `device` all unknown; with `device` known,
 * right for most codes and wrong for some (random, another code's x, negated). Every answer must be
 * noble's, and verifyOne's on the same two signatures. The native core must write noble's x for every
 * SIG_OK (node:crypto ignores `device`, batch.ts).
 */
export function checkScans(v: BatchVerifier, b: ScanBatch, seed: number, chunk: number, out: Mismatch[], r?: Rand): void {
  const n = b.slot.length;
  const at = (i: number) => b.codes.subarray(i * CODE_LENGTH, (i + 1) * CODE_LENGTH);
  const scanMismatch = (i: number, got: number | string, detail: string): Mismatch => {
    const s = b.slot[i]!;
    return {
      impl: v.impl, api: "verifyScans", kind: b.kinds[i]!, seed, chunk, index: i, expected: b.expect[i]!, got,
      pk: s >= 0 ? hex(b.keys.subarray(s * 32, s * 32 + 32)) : "", msg: hex(at(i)), sig: "", detail: `slot ${s}; ${detail}`,
    };
  };
  const run = (what: string, device?: DeviceKeys): Uint8Array | null => {
    const res = new Uint8Array(n).fill(0xee);
    try {
      v.verifyScans(b.codes, b.keys, b.slot, res, device);
    } catch (e) {
      out.push(scanMismatch(0, `threw ${(e as Error).name}: ${(e as Error).message}`, `batch of ${n}, ${what}`));
      return null;
    }
    for (let i = 0; i < n; i++) if (res[i] !== b.expect[i]) out.push(scanMismatch(i, res[i]!, `batch of ${n}, ${what}`));
    return res;
  };
  const plain = run("no device keys");
  if (plain === null) return;
  for (let i = 0; i < n; i++) {
    const s = b.slot[i]!;
    const one = scanAnswer(at(i), s >= 0 ? b.keys.subarray(s * 32, s * 32 + 32) : null, (pk, m, sig) => v.verifyOne(pk, m, sig));
    if (one !== b.expect[i]) out.push(scanMismatch(i, one, `batch of ${n}; verifyOne-composed`));
  }
  const xWritten = (x: Uint8Array, what: string) => {
    if (v.impl !== "native") return;
    for (let i = 0; i < n; i++) {
      if (b.expect[i] !== 0) continue;
      const want = b.deviceX[i] ?? null;
      const got = hex(x.subarray(i * 32, i * 32 + 32));
      if (want === null || got !== hex(want)) out.push(scanMismatch(i, `device x ${got}`, `batch of ${n}, ${what}: x written for SIG_OK should be ${want ? hex(want) : "(no valid key?)"}`));
    }
  };
  const unknown: DeviceKeys = { x: new Uint8Array(32 * n), known: new Uint8Array(n) };
  if (run("device keys unknown", unknown) !== null) xWritten(unknown.x, "device keys unknown");
  const known: DeviceKeys = { x: new Uint8Array(32 * n), known: new Uint8Array(n).fill(1) };
  const wrongs: string[] = [];
  for (let i = 0; i < n; i++) {
    const x = b.deviceX[i] ?? null;
    const how = r === undefined ? i % 5 : r.int(5);
    if (x !== null && how < 3) known.x.set(x, i * 32);
    else if (how === 3 || x === null) {
      known.x.set(r ? r.bytes(32) : new Uint8Array(32).fill(i), i * 32);
      wrongs.push(`${i}: random`);
    } else {
      known.x.set(i % 2 ? negX(x) : (b.deviceX.find((y, j) => j !== i && y !== null) ?? negX(x)), i * 32);
      wrongs.push(`${i}: ${i % 2 ? "negated" : "another code's"}`);
    }
  }
  if (run(`device keys known (wrong for ${wrongs.length}: ${wrongs.slice(0, 8).join(", ")})`, known) !== null) xWritten(known.x, "device keys known");
}

// ---------------------------------------------------------------- one chunk

export interface ChunkResult {
  chunk: number;
  /** Per kind: cases, and how many of them noble called valid. */
  kinds: Record<string, { n: number; valid: number }>;
  /** Per scan kind: codes, and how many noble answered SIG_OK, SIG_BAD_ISSUER, SIG_BAD_DEVICE. */
  scanKinds: Record<string, { n: number; sig: [number, number, number] }>;
  cases: number;
  batches: number;
  batchItems: number;
  scans: number;
  mismatches: Mismatch[];
}

export interface ChunkOptions {
  /** Single cases in the chunk. */
  size: number;
  /** Batch items per single case (verifyBatch reuses the chunk's cases). */
  batchFactor?: number;
  /** Scan codes per single case. */
  scanFactor?: number;
}

/** Generate chunk `chunk` of `seed` and check every verifier on it. Deterministic in (seed, chunk, options). */
export function runChunk(seed: number, chunk: number, verifiers: readonly BatchVerifier[], opt: ChunkOptions): ChunkResult {
  const r = new Rand(chunkSeed(seed, chunk));
  const pool = keyPool(r, 1 + r.int(8));
  const cases: Case[] = [];
  for (let i = 0; i < opt.size; i++) cases.push(makeCase(r, randomKind(r), pool));
  const plans = planBatches(r, cases, Math.round(opt.size * (opt.batchFactor ?? 2)));
  const nScans = Math.round(opt.size * (opt.scanFactor ?? 0.04));
  const scanBatches: ScanBatch[] = [];
  for (let left = nScans; left > 0;) {
    const n = Math.min(left, 1 + r.int(60));
    scanBatches.push(makeScanBatch(r, pool.slice(0, 1 + r.int(Math.min(pool.length, 4))), pool, n));
    left -= n;
  }
  const mismatches: Mismatch[] = [];
  for (const v of verifiers) {
    const one = checkOne(v, cases, seed, chunk, mismatches);
    for (const p of plans) checkBatch(v, p.idx.map((i) => cases[i]!), p.idx.map((i) => one[i]!), seed, chunk, p.style, mismatches);
    const rx = new Rand(chunkSeed(seed, chunk) ^ 0x5ca7); // the wrong device keys: the same for every verifier
    for (const b of scanBatches) checkScans(v, b, seed, chunk, mismatches, rx);
  }
  const kinds: ChunkResult["kinds"] = {};
  for (const c of cases) {
    const k = (kinds[c.kind] ??= { n: 0, valid: 0 });
    k.n++;
    if (c.expect) k.valid++;
  }
  const scanKinds: ChunkResult["scanKinds"] = {};
  for (const b of scanBatches) b.kinds.forEach((k, i) => {
    const e = (scanKinds[k] ??= { n: 0, sig: [0, 0, 0] });
    e.n++;
    e.sig[b.expect[i]!]!++;
  });
  return {
    chunk, kinds, scanKinds, cases: cases.length, batches: plans.length,
    batchItems: plans.reduce((s, p) => s + p.idx.length, 0), scans: nScans, mismatches,
  };
}
