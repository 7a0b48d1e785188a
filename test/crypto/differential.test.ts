/**
 * The differential test of differential.ts on a fixed-seed sample (`npm test`; `npm run differential` runs
 * a million cases): for node:crypto and, when it is built, the native core, every verifyOne, verifyBatch and
 * verifyScans answer on generated cases equals @noble/ed25519 `zip215: false` (the spec §2 rule). Also
 * proves the sample is not vacuous: every case kind and scan kind occurs, the kinds built to be valid
 * (re-signed torsion, small-order R) are valid and the tampered ones invalid, batches mix valid and
 * invalid items under one key, and deliberately wrong verifiers (cofactorless; no key test; a batch that
 * lets a same-key bad signature through; scans without the issuer check; a core that writes a wrong device
 * x coordinate) are caught.
 * When the native core is missing this file checks node:crypto only; native.test.ts fails under CI=true.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { verify as nodeVerify } from "node:crypto";
import * as ed from "@noble/ed25519";
import { NodeCryptoBatchVerifier, type BatchVerifier, type VerifierImpl } from "../../src/crypto/batch.ts";
import { preparePublicKey, prepareVerifyKey } from "../../src/crypto/ed25519.ts";
import { loadNative } from "../../src/crypto/native.ts";
import {
  Rand, KINDS, SCAN_KINDS, keyPool, makeCase, planBatches, runChunk, hex, type ChunkResult, type Kind, type Mismatch,
} from "./differential.ts";

const SEED = 0x2c0de12;
const CHUNKS = [0, 1, 2, 3];
const SIZE = 300;

const loaded = loadNative();
if (loaded.verifier === null) console.warn(`differential.test.ts: native core not checked: ${loaded.reason}`);
const verifiers: BatchVerifier[] = [new NodeCryptoBatchVerifier(), ...(loaded.verifier ? [loaded.verifier] : [])];

let results: ChunkResult[] = [];
beforeAll(() => {
  results = CHUNKS.map((c) => runChunk(SEED, c, verifiers, { size: SIZE }));
});
const mismatchesOf = (impl: string) => results.flatMap((r) => r.mismatches).filter((m) => m.impl === impl);
const describeMismatches = (ms: Mismatch[]) => ms.slice(0, 5).map((m) => JSON.stringify(m));

describe(`differential sample: seed ${SEED}, ${CHUNKS.length} chunks of ${SIZE} cases`, () => {
  for (const v of verifiers) {
    test(`${v.impl}: verifyOne, verifyBatch and verifyScans answer as noble zip215: false on every case`, () => {
      expect(describeMismatches(mismatchesOf(v.impl))).toEqual([]);
      const r = results.reduce((s, x) => ({ cases: s.cases + x.cases, items: s.items + x.batchItems, scans: s.scans + x.scans }), { cases: 0, items: 0, scans: 0 });
      expect(r.cases).toBe(CHUNKS.length * SIZE);
      expect(r.items).toBeGreaterThan(CHUNKS.length * SIZE);
      expect(r.scans).toBeGreaterThan(40);
    });
  }

  test("every kind occurs; re-signed torsion and small-order R are valid, tampered kinds invalid, the rest per noble", () => {
    const tally = new Map<string, { n: number; valid: number }>();
    for (const r of results) for (const [k, v] of Object.entries(r.kinds)) {
      const e = tally.get(k) ?? { n: 0, valid: 0 };
      tally.set(k, { n: e.n + v.n, valid: e.valid + v.valid });
    }
    for (const k of KINDS) expect(tally.get(k)?.n ?? 0).toBeGreaterThanOrEqual(10);
    const allValid: Kind[] = ["honest", "torsion-R", "torsion-A", "torsion-both", "small-order-R"];
    const allInvalid: Kind[] = [
      "tamper-msg", "tamper-R", "tamper-S", "tamper-A", "other-key", "S-plus-L", "S-edge", "small-order-A",
      "noncanonical-A", "noncanonical-R", "random", "random-points",
    ];
    for (const k of allValid) expect(`${k}: ${tally.get(k)!.valid}`).toBe(`${k}: ${tally.get(k)!.n}`);
    for (const k of allInvalid) expect(`${k}: ${tally.get(k)!.valid}`).toBe(`${k}: 0`);
  });

  test("every scan kind occurs, and SIG_OK, SIG_BAD_ISSUER and SIG_BAD_DEVICE all occur", () => {
    const sig = [0, 0, 0];
    const seen = new Set<string>();
    for (const r of results) for (const [k, v] of Object.entries(r.scanKinds)) {
      seen.add(k);
      for (let j = 0; j < 3; j++) sig[j]! += v.sig[j]!;
    }
    expect([...seen].sort()).toEqual([...SCAN_KINDS].sort());
    for (const n of sig) expect(n).toBeGreaterThan(5);
  });

  test("batches: sizes 1 to 300, valid and invalid items under one key in one batch, repeated cases", () => {
    const r = new Rand(SEED);
    const pool = keyPool(r, 2);
    const cases = Array.from({ length: 300 }, (_, i) => makeCase(r, i % 3 === 0 ? "tamper-S" : "honest", pool));
    const plans = planBatches(r, cases, 20_000);
    const sizes = plans.map((p) => p.idx.length);
    expect(Math.min(...sizes)).toBe(1);
    expect(Math.max(...sizes)).toBeGreaterThan(250);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(304);
    const mixedOneKey = plans.filter((p) => {
      const items = p.idx.map((i) => cases[i]!);
      return new Set(items.map((c) => hex(c.pk))).size === 1 && items.some((c) => c.expect) && items.some((c) => !c.expect);
    });
    expect(mixedOneKey.length).toBeGreaterThan(3);
    expect(plans.some((p) => p.style === "repeated-case" && p.idx.length > 1)).toBe(true);
  });
});

// ---------------------------------------------------------------- the differential catches wrong verifiers

/** A verifier built from a per-signature function (and optionally a wrong batch), for the mutants below. */
function mutant(name: string, one: (pk: Uint8Array, msg: Uint8Array, sig: Uint8Array) => boolean,
  batchWrong?: (pk: Uint8Array, out: Uint8Array) => void, scansSkipIssuer = false): BatchVerifier {
  const base = new NodeCryptoBatchVerifier();
  return {
    impl: name as VerifierImpl,
    verifyOne: one,
    verifyBatch(pk, sig, msg, msgEnd, out) {
      let start = 0;
      for (let i = 0; i < msgEnd.length; i++) {
        out[i] = one(pk.subarray(i * 32, i * 32 + 32), msg.subarray(start, msgEnd[i]!), sig.subarray(i * 64, i * 64 + 64)) ? 1 : 0;
        start = msgEnd[i]!;
      }
      batchWrong?.(pk, out);
    },
    verifyScans(codes, keys, slot, out) {
      base.verifyScans(codes, keys, scansSkipIssuer ? new Int32Array(slot.length).fill(-1) : slot, out);
    },
  };
}
const safe = (f: () => boolean) => {
  try {
    return f();
  } catch {
    return false;
  }
};
const strict = new NodeCryptoBatchVerifier();
const MUTANTS: BatchVerifier[] = [
  // BoringSSL alone behind the key test: the cofactorless equation
  mutant("cofactorless", (pk, m, s) => prepareVerifyKey(pk) !== null && safe(() => nodeVerify(null, m, preparePublicKey(pk), s))),
  // the cofactored equation without the key test or canonical decoding (ZIP-215)
  mutant("zip215", (pk, m, s) => safe(() => ed.verify(s, m, pk, { zip215: true }))),
  // a batch whose same-key merge lets a bad signature through when the previous item has its key and is valid
  mutant("same-key-merge", (pk, m, s) => strict.verifyOne(pk, m, s), (pk, out) => {
    for (let i = 1; i < out.length; i++) {
      if (out[i] === 0 && out[i - 1] === 1 && hex(pk.subarray(i * 32, i * 32 + 32)) === hex(pk.subarray(i * 32 - 32, i * 32))) out[i] = 1;
    }
  }),
  mutant("no-issuer-check", (pk, m, s) => strict.verifyOne(pk, m, s), undefined, true),
];

describe("the differential catches wrong verifiers", () => {
  let found: Mismatch[] = [];
  beforeAll(() => {
    found = [0, 1].flatMap((c) => runChunk(SEED + 1, c, MUTANTS, { size: 200, scanFactor: 0.1 }).mismatches);
  });
  const kindsOf = (impl: string, api: Mismatch["api"]) => new Set(found.filter((m) => m.impl === impl && m.api === api).map((m) => m.kind));

  test("cofactorless: refuses the cofactored-only kinds", () => {
    const k = kindsOf("cofactorless", "verifyOne");
    for (const kind of ["torsion-R", "torsion-A", "torsion-both", "small-order-R"]) expect(k.has(kind)).toBe(true);
    expect(k.has("honest")).toBe(false);
  });
  test("zip215: accepts small-order and non-canonical keys and R", () => {
    const k = kindsOf("zip215", "verifyOne");
    expect(k.has("small-order-A")).toBe(true);
    expect(k.has("noncanonical-R") || k.has("noncanonical-A")).toBe(true);
  });
  test("same-key-merge: caught by verifyBatch only", () => {
    expect(found.filter((m) => m.impl === "same-key-merge" && m.api === "verifyOne")).toEqual([]);
    expect(found.filter((m) => m.impl === "same-key-merge" && m.api === "verifyBatch").length).toBeGreaterThan(0);
  });
  test("no-issuer-check: bad issuer signatures caught by verifyScans", () => {
    const k = kindsOf("no-issuer-check", "verifyScans");
    expect(k.has("bad-issuer-sig") || k.has("wrong-slot")).toBe(true);
  });
  test.skipIf(loaded.verifier === null)("native core writing a wrong device x for a SIG_OK: caught", () => {
    const real = loaded.verifier!;
    const wrongX: BatchVerifier = {
      impl: "native",
      verifyOne: (pk, m, s) => real.verifyOne(pk, m, s),
      verifyBatch: (pk, sig, msg, end, out) => real.verifyBatch(pk, sig, msg, end, out),
      verifyScans(codes, keys, slot, out, device) {
        real.verifyScans(codes, keys, slot, out, device);
        if (device !== undefined) for (let i = 0; i < slot.length; i++) if (out[i] === 0 && i % 3 === 0) device.x[32 * i + 7]! ^= 1;
      },
    };
    const ms = runChunk(SEED + 2, 0, [wrongX], { size: 100, batchFactor: 0, scanFactor: 0.5 }).mismatches;
    expect(ms.length).toBeGreaterThan(0);
    expect(ms.every((m) => m.api === "verifyScans" && String(m.got).startsWith("device x"))).toBe(true);
  });
});
