/**
 * The worker pool accepts exactly the signatures the main thread accepts (DESIGN.md §3: "whichever core
 * checks them"), on every verifier this machine runs: the same SIG_* answers as `ScanVerifier` (the
 * one-scan reference) and as `CoalescingChecker` on good, bad-issuer, bad-device and cached-credential jobs,
 * on edge cases built from the strict policy (S ≥ L, S = L, flipped bits, small-order and non-canonical
 * device keys) and on every Project Wycheproof EdDSA signature (test/vectors) placed in a code. And how it
 * schedules: at most one chunk in flight per worker, checks posted at once to idle workers and split only
 * when large, queued when every worker is busy and taken whole (up to the cap) by the next worker to
 * answer; a dead worker's chunk answered on the main thread; a worker that runs another verifier refused
 * (`ready()`), never mixed; workers gone after `close()`.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { preparePublicKey, rawPublicKey } from "../../src/crypto/ed25519.ts";
import { Holder, newDeviceKey } from "../../src/holder/holder.ts";
import { CoalescingChecker } from "../../src/verify/coalesce.ts";
import { PoolChecker, type PoolOptions } from "../../src/verify/pool.ts";
import { ScanVerifier, SIG_BAD_DEVICE, SIG_BAD_ISSUER, SIG_OK, type SigJob } from "../../src/verify/signatures.ts";
import { OFF, signCredential } from "../../src/wire/code.ts";
import { PERSON_ID } from "../support/ids.ts";
import { issue, makeGateway, makeNode, T0, verifyBatch } from "../support/node.ts";
import { IMPLS, verifierOf } from "../support/verifiers.ts";

const L = (1n << 252n) + 27742317777372353535851937790883648493n;

function issuerKeyPair(): { priv: KeyObject; key: KeyObject } {
  const { privateKey } = generateKeyPairSync("ed25519");
  return { priv: privateKey, key: preparePublicKey(rawPublicKey(privateKey)) };
}

/** A credential signed by `issuer` for `devicePub`, as a holder able to present it (when it has the device key). */
function credentialFor(issuer: KeyObject, devicePub: Uint8Array, serialByte: number): Uint8Array {
  return signCredential({
    kind: 1, issuer: 500000, kid: 1, serial: new Uint8Array(8).fill(serialByte), subject: new Uint8Array(16).fill(3),
    devicePub, notBefore: T0 - 10, notAfter: T0 + 86400, flags: 0,
  }, issuer);
}

function holderOf(issuer: KeyObject, serialByte: number): Holder {
  const d = newDeviceKey();
  return new Holder(d.privateKey, credentialFor(issuer, d.publicKey, serialByte));
}

/** A code with S (at `off`, the start of a signature) replaced by S + k·L, or by `s` when given. */
function withS(code: Uint8Array, off: number, add: bigint, s?: bigint): Uint8Array {
  const c = code.slice();
  let v = 0n;
  for (let i = 31; i >= 0; i--) v = (v << 8n) | BigInt(c[off + 32 + i]!);
  v = s ?? v + add;
  for (let i = 0; i < 32; i++) { c[off + 32 + i] = Number(v & 0xffn); v >>= 8n; }
  return c;
}

function flip(code: Uint8Array, bit: number): Uint8Array {
  const c = code.slice();
  c[bit >> 3]! ^= 1 << (bit & 7);
  return c;
}

const uncached = (code: Uint8Array, issuerKey: KeyObject): SigJob => ({ code, issuerKey, deviceX: null });
const cached = (code: Uint8Array): SigJob => ({ code, issuerKey: null, deviceX: null });

const A = issuerKeyPair();
const B = issuerKeyPair();

/** Expected answers alongside, to know the cases are what they claim. */
function cases(): { jobs: SigJob[]; want: number[] } {
  const jobs: SigJob[] = [];
  const want: number[] = [];
  const add = (j: SigJob, w: number) => { jobs.push(j); want.push(w); };
  const h = holderOf(A.priv, 1);
  const hb = holderOf(B.priv, 2);
  const good = h.present(T0, 0, 1);

  add(uncached(good, A.key), SIG_OK);
  add(cached(good), SIG_OK);
  add(uncached(hb.present(T0, 0, 1), B.key), SIG_OK); // a second issuer key: its own slot
  add(uncached(hb.present(T0, 0, 2), A.key), SIG_BAD_ISSUER); // the wrong issuer's key
  // every bit of the issuer signature, and of the signed credential bytes 0..73
  for (let bit = OFF.issuerSig * 8; bit < (OFF.issuerSig + 64) * 8; bit += 7) add(uncached(flip(good, bit), A.key), SIG_BAD_ISSUER);
  for (let bit = 0; bit < 74 * 8; bit += 5) add(uncached(flip(good, bit), A.key), SIG_BAD_ISSUER);
  // every bit of the device signature and of the presentation fields, uncached and cached
  for (let bit = OFF.deviceSig * 8; bit < (OFF.deviceSig + 64) * 8; bit += 7) {
    add(uncached(flip(good, bit), A.key), SIG_BAD_DEVICE);
    add(cached(flip(good, bit)), SIG_BAD_DEVICE);
  }
  for (let bit = OFF.time * 8; bit < OFF.deviceSig * 8; bit += 3) add(uncached(flip(good, bit), A.key), SIG_BAD_DEVICE);
  // RFC 8032 §5.1.7: S ≥ L is invalid even though [S]B is unchanged modulo L
  add(uncached(withS(good, OFF.issuerSig, L), A.key), SIG_BAD_ISSUER);
  add(uncached(withS(good, OFF.issuerSig, 2n * L), A.key), SIG_BAD_ISSUER);
  add(uncached(withS(good, OFF.deviceSig, L), A.key), SIG_BAD_DEVICE);
  add(cached(withS(good, OFF.deviceSig, L)), SIG_BAD_DEVICE);
  add(cached(withS(good, OFF.deviceSig, 0n, L)), SIG_BAD_DEVICE); // S = L
  add(cached(withS(good, OFF.deviceSig, 0n, (1n << 256n) - 1n)), SIG_BAD_DEVICE); // S = 2^256 − 1
  add(cached(withS(good, OFF.deviceSig, 0n, 0n)), SIG_BAD_DEVICE);
  // device keys issuance would refuse (§2), signed by a trusted issuer anyway: both sides must agree
  const identity = new Uint8Array(32); identity[0] = 1; // small order: R = identity, S = 0 "verifies" anything
  const nonCanonical = new Uint8Array(32).fill(0xff); nonCanonical[0] = 0xed; nonCanonical[31] = 0x7f; // y = p
  for (const [i, dev] of [identity, nonCanonical].entries()) {
    const code = new Uint8Array(212);
    code.set(credentialFor(A.priv, dev, 10 + i));
    const sig = new Uint8Array(64); sig[0] = 1; // R = identity encoding, S = 0
    code.set(sig, OFF.deviceSig);
    add(uncached(code, A.key), -1);
    add(cached(code), -1);
  }
  return { jobs, want };
}

/** Every Wycheproof EdDSA signature as the deviceSig of a code whose devicePub is the vector's key. */
function wycheproofJobs(): SigJob[] {
  const file = JSON.parse(readFileSync(join(import.meta.dir, "../vectors/wycheproof-ed25519_test.json"), "utf8")) as {
    testGroups: { publicKey: { pk: string }; tests: { sig: string; msg: string }[] }[];
  };
  const jobs: SigJob[] = [];
  let serial = 20;
  for (const g of file.testGroups) {
    const pk = new Uint8Array(Buffer.from(g.publicKey.pk, "hex"));
    const cred = credentialFor(A.priv, pk, serial++ & 0xff);
    for (const t of g.tests) {
      const sig = new Uint8Array(Buffer.from(t.sig, "hex"));
      if (sig.length !== 64) continue; // a code's deviceSig is 64 bytes by construction (§2)
      const code = new Uint8Array(212);
      code.set(cred);
      code.set(sig, OFF.deviceSig);
      jobs.push(uncached(code, A.key), cached(code));
    }
  }
  return jobs;
}

/** The one-scan reference: `ScanVerifier` on each job. */
function reference(jobs: readonly SigJob[]): number[] {
  const sv = new ScanVerifier();
  return jobs.map((j) => sv.check(j.code, j.issuerKey, null));
}

const fixture = (name: string) => join(import.meta.dir, "fixtures", name);
const pools: PoolChecker[] = [];
afterAll(() => { for (const p of pools) p.close(); });

describe.each(IMPLS)("PoolChecker on %s", (impl) => {
  const verifier = verifierOf(impl);

  function pool(opts: Partial<PoolOptions> = {}): PoolChecker {
    const p = new PoolChecker({ workers: 2, verifier, minChunk: 1, ...opts });
    pools.push(p);
    return p;
  }

  /** Good and forged device signatures of one cached credential, `n` of them. */
  function cachedJobs(h: Holder, n: number): SigJob[] {
    return Array.from({ length: n }, (_, i) => (i % 3 === 0 ? cached(flip(h.present(T0), OFF.deviceSig * 8 + 3)) : cached(h.present(T0))));
  }

  test("every worker reports the main thread's verifier", async () => {
    const p = pool();
    await p.ready();
    expect(p.impl).toBe(impl);
    expect(p.threads).toBe(2);
  });

  test("same answers as ScanVerifier and CoalescingChecker on good, bad-issuer, bad-device, cached and edge-case jobs", async () => {
    const { jobs, want } = cases();
    const expected = reference(jobs);
    want.forEach((w, i) => { if (w >= 0) expect([i, expected[i]]).toEqual([i, w]); });
    expect([...(await new CoalescingChecker(verifier).check(jobs))]).toEqual(expected);
    expect([...(await pool().check(jobs))]).toEqual(expected);
    // split differently: one worker, big chunks; and many small ones
    expect([...(await pool({ workers: 1, minChunk: 64 }).check(jobs))]).toEqual(expected);
    expect([...(await pool({ maxChunk: 7 }).check(jobs))]).toEqual(expected);
  });

  test("a real presentation: OK when cached and uncached; the pool keeps order across chunks", async () => {
    const holders = Array.from({ length: 40 }, (_, i) => holderOf(i % 2 ? A.priv : B.priv, 100 + i));
    const jobs: SigJob[] = holders.flatMap((h, i) => {
      const c = h.present(T0, 0, 5);
      const bad = flip(c, OFF.deviceSig * 8 + 9);
      return [uncached(c, i % 2 ? A.key : B.key), cached(c), cached(bad)];
    });
    const got = await pool({ maxChunk: 16 }).check(jobs);
    expect([...got]).toEqual(jobs.map((_, k) => (k % 3 === 2 ? SIG_BAD_DEVICE : SIG_OK)));
  });

  test("every Wycheproof signature in a code: same answers on every core", async () => {
    const jobs = wycheproofJobs();
    expect(jobs.length).toBeGreaterThan(250);
    expect([...(await pool().check(jobs))]).toEqual(reference(jobs));
  });

  test("a key first seen later (trust store grew) reaches the workers with the first chunk that names it", async () => {
    const p = pool();
    const ha = holderOf(A.priv, 200);
    expect([...(await p.check([uncached(ha.present(T0), A.key), uncached(ha.present(T0), A.key)]))]).toEqual([SIG_OK, SIG_OK]);
    const C = issuerKeyPair();
    const hc = holderOf(C.priv, 201);
    const jobs = [uncached(hc.present(T0), C.key), uncached(ha.present(T0), A.key), uncached(hc.present(T0), A.key)];
    expect([...(await p.check(jobs))]).toEqual([SIG_OK, SIG_OK, SIG_BAD_ISSUER]);
  });

  test("a check that finds a worker idle is posted at once; split across idle workers only when large", async () => {
    const h = holderOf(A.priv, 300);
    const small = pool({ minChunk: 64 });
    await small.ready();
    const a = small.check(cachedJobs(h, 40)); // < 2 × 64: one worker
    expect([small.busy, small.queued]).toEqual([1, 0]);
    const b = small.check(cachedJobs(h, 10)); // the other worker is idle: it takes this at once
    expect([small.busy, small.queued]).toEqual([2, 0]);
    const big = pool({ minChunk: 64 });
    await big.ready();
    const c = big.check(cachedJobs(h, 128)); // 2 × 64: both workers
    expect([big.busy, big.queued]).toEqual([2, 0]);
    for (const [p, n] of [[a, 40], [b, 10], [c, 128]] as const) expect([...(await p)]).toEqual(Array.from({ length: n }, (_, i) => (i % 3 === 0 ? SIG_BAD_DEVICE : SIG_OK)));
  });

  test("with every worker busy, checks queue; the next worker to answer takes everything queued, up to the cap", async () => {
    const p = pool({ minChunk: 64, maxChunk: 256 });
    await p.ready();
    const h = holderOf(A.priv, 310);
    const first = [p.check(cachedJobs(h, 100)), p.check(cachedJobs(h, 100))];
    expect([p.busy, p.queued]).toEqual([2, 0]);
    const sizes = [50, 1, 120, 7, 122];
    const queued = sizes.map((n) => p.check(cachedJobs(h, n)));
    expect([p.busy, p.queued]).toEqual([2, 300]); // one chunk per worker: the rest waits
    await Promise.race(first);
    expect([p.busy, p.queued]).toEqual([2, 300 - 256]); // the worker that answered took 256 of them
    const answers = await Promise.all([...first, ...queued]);
    expect(answers.map((a) => a.length)).toEqual([100, 100, ...sizes]);
    for (const a of answers) expect([...a]).toEqual(Array.from({ length: a.length }, (_, i) => (i % 3 === 0 ? SIG_BAD_DEVICE : SIG_OK)));
    expect([p.busy, p.queued]).toEqual([0, 0]);
  });

  test("a worker is never given a second chunk before it answers the first (a worker that would notice spoils its answers)", async () => {
    const p = pool({ workerUrl: fixture("one-at-a-time-worker.ts"), minChunk: 8, maxChunk: 32 });
    await p.ready();
    const h = holderOf(A.priv, 320);
    const batches = Array.from({ length: 30 }, (_, b) => cachedJobs(h, 1 + ((b * 7) % 23)));
    const answers = await Promise.all(batches.map((j) => p.check(j)));
    for (const [b, j] of batches.entries()) expect([...answers[b]!]).toEqual(reference(j));
  });

  test("concurrent checks keep their own answers", async () => {
    const p = pool({ minChunk: 4 });
    const h = holderOf(A.priv, 330);
    const batches = Array.from({ length: 6 }, (_, b) =>
      Array.from({ length: 9 + b * 5 }, (_, i) => (i % (b + 2) === 0 ? uncached(flip(h.present(T0), OFF.deviceSig * 8), A.key) : cached(h.present(T0)))));
    const answers = await Promise.all(batches.map((j) => p.check(j)));
    for (const [b, j] of batches.entries()) expect([...answers[b]!]).toEqual(reference(j));
  });

  test("a worker that dies owes nothing: its chunk is checked on the main thread and it is replaced", async () => {
    const p = pool({ workers: 1, workerUrl: fixture("crashing-worker.ts") });
    const h = holderOf(A.priv, 400);
    const jobs = [uncached(h.present(T0), A.key), cached(flip(h.present(T0), OFF.deviceSig * 8))];
    expect([...(await p.check(jobs))]).toEqual([SIG_OK, SIG_BAD_DEVICE]);
    expect([...(await p.check(jobs))]).toEqual([SIG_OK, SIG_BAD_DEVICE]); // and again, on the replacement (or inline)
    p.close();
  });

  test("a worker that cannot run the main thread's verifier is an error (ready() rejects, naming both), and checks are answered on the main thread", async () => {
    const p = pool({ workers: 1, workerUrl: fixture("refusing-worker.ts") });
    const h = holderOf(A.priv, 410);
    const jobs = [uncached(h.present(T0), A.key), cached(flip(h.present(T0), OFF.deviceSig * 8))];
    const answer = p.check(jobs);
    await expect(p.ready()).rejects.toThrow(`the main thread verifies with ${impl} but a signature worker cannot run it: this fixture cannot run ${impl}`);
    expect(p.threads).toBe(0); // not replaced: a replacement would fare no better
    expect([...(await answer)]).toEqual([SIG_OK, SIG_BAD_DEVICE]);
    expect([...(await p.check(jobs))]).toEqual([SIG_OK, SIG_BAD_DEVICE]);
  });

  test("a code of the wrong length fails its check, and the pool goes on", async () => {
    const p = pool();
    const h = holderOf(A.priv, 420);
    await expect(Promise.resolve(p.check([{ code: new Uint8Array(213), issuerKey: null, deviceX: null }]))).rejects.toThrow("a code is 212 bytes");
    expect([...(await p.check([cached(h.present(T0))]))]).toEqual([SIG_OK]);
  });

  test("close() terminates the workers; what was queued and every check after close is answered on the main thread", async () => {
    const p = pool({ workers: 2 });
    expect(p.threads).toBe(2);
    const h = holderOf(A.priv, 500);
    const inFlight = [p.check(cachedJobs(h, 5)), p.check(cachedJobs(h, 5)), p.check(cachedJobs(h, 5))];
    p.close();
    expect(p.threads).toBe(0);
    for (const a of await Promise.all(inFlight)) expect([...a]).toEqual([SIG_BAD_DEVICE, SIG_OK, SIG_OK, SIG_BAD_DEVICE, SIG_OK]);
    expect([...(await p.check([uncached(h.present(T0), A.key)]))]).toEqual([SIG_OK]);
  });
});

describe("PoolChecker in a node", () => {
  test("a scan whose credential is already verified costs one check, not two", async () => {
    const p = new PoolChecker({ workers: 2, verifier: verifierOf("node:crypto") });
    pools.push(p);
    const asked: SigJob[] = [];
    const counting = { check: (jobs: readonly SigJob[]) => { asked.push(...jobs); return p.check(jobs); } };
    const t = makeNode({}, { checker: counting });
    try {
      const key = await makeGateway(t, "metro");
      const h = await issue(t, { idNumber: PERSON_ID });
      expect((await verifyBatch(t, key, [h.presentText(T0)])).body.results[0]!.result).toBe("OK");
      expect((await verifyBatch(t, key, [h.presentText(T0), h.presentText(T0)])).body.results.map((r) => r.result)).toEqual(["OK", "OK"]);
      expect(asked.length).toBe(3);
      expect(asked[0]!.issuerKey).not.toBeNull(); // first sight: issuer and device signatures
      for (const j of asked.slice(1)) {
        expect(j.issuerKey).toBeNull(); // verified credential (§3 LRU): the device signature only
      }
    } finally {
      t.close();
    }
  });

  test("a node with workers uses the pool on its verifier, and node.close() terminates it; without workers it coalesces on the main thread", async () => {
    const t = makeNode({ YUKUAI_WORKERS: "2" });
    expect(t.node.checker).toBeInstanceOf(PoolChecker);
    const p = t.node.checker as PoolChecker;
    expect(p.threads).toBe(2);
    expect(p.impl).toBe(t.node.verifierImpl);
    await t.node.start(); // awaits the workers' reports
    t.close();
    expect(p.threads).toBe(0);
    const t0 = makeNode({ YUKUAI_WORKERS: "0" });
    expect(t0.node.checker).toBeInstanceOf(CoalescingChecker);
    expect((t0.node.checker as CoalescingChecker).impl).toBe(t0.node.verifierImpl);
    t0.close();
  });
});
