/**
 * The device key's decoded x coordinate (issue 12, returning riders): the native core gives it for every
 * newly verified device key, the checkers put it in the job, the pipeline keeps it with the verified
 * credential, and the credential's next scans pass it back, sparing the point decoding. A wrong x (another
 * key's, the other sign's, garbage, not canonical) never changes an answer: the core checks it against the
 * code's devicePub and decodes instead. node:crypto gives none and answers the same.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { Point } from "@noble/ed25519";
import { preparePublicKey, rawPublicKey } from "../../src/crypto/ed25519.ts";
import { Holder, newDeviceKey } from "../../src/holder/holder.ts";
import { CoalescingChecker } from "../../src/verify/coalesce.ts";
import { PoolChecker } from "../../src/verify/pool.ts";
import { SIG_BAD_DEVICE, SIG_OK, type SigJob, type SignatureChecker } from "../../src/verify/signatures.ts";
import { OFF, signCredential } from "../../src/wire/code.ts";
import { PERSON_ID } from "../support/ids.ts";
import { issue, makeGateway, makeNode, T0, verifyBatch } from "../support/node.ts";
import { IMPLS, nativeUnavailable, verifierOf } from "../support/verifiers.ts";

const P = 2n ** 255n - 19n;
const le = (n: bigint) => {
  const b = new Uint8Array(32);
  for (let i = 0; i < 32; i++) b[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return b;
};
const fromLe = (b: Uint8Array) => b.reduceRight((n, v) => (n << 8n) | BigInt(v), 0n);

const { privateKey } = generateKeyPairSync("ed25519");
const issuerKey: KeyObject = preparePublicKey(rawPublicKey(privateKey));

function holder(serialByte: number): Holder {
  const d = newDeviceKey();
  return new Holder(d.privateKey, signCredential({
    kind: 1, issuer: 500000, kid: 1, serial: new Uint8Array(8).fill(serialByte), subject: new Uint8Array(16).fill(3),
    devicePub: d.publicKey, notBefore: T0 - 10, notAfter: T0 + 86400, flags: 0,
  }, privateKey));
}

/** x of the code's devicePub, by @noble/ed25519 (the second implementation). */
const nobleX = (code: Uint8Array) => le(Point.fromBytes(code.subarray(OFF.devicePub, OFF.devicePub + 32)).toAffine().x);

const pools: PoolChecker[] = [];
afterAll(() => {
  for (const p of pools) p.close();
});

function checkers(impl: (typeof IMPLS)[number]): [string, () => SignatureChecker][] {
  return [
    ["inline", () => new CoalescingChecker(verifierOf(impl))],
    ["pool", () => {
      const p = new PoolChecker({ workers: 2, verifier: verifierOf(impl) });
      pools.push(p);
      return p;
    }],
  ];
}

describe.each(IMPLS)("device x on %s", (impl) => {
  test.each(checkers(impl))("%s: a verified device key's x comes back in its job (native only), equal to noble's", async (_, make) => {
    const c = make();
    await c.ready?.();
    const hs = Array.from({ length: 5 }, (_, i) => holder(i + 1));
    const jobs: SigJob[] = hs.map((h, i) => ({ code: h.present(T0), issuerKey: i % 2 === 0 ? issuerKey : null, deviceX: null }));
    const bad = hs[0]!.present(T0);
    bad[OFF.deviceSig + 3]! ^= 1;
    jobs.push({ code: bad, issuerKey: null, deviceX: null });
    const out = await c.check(jobs);
    expect([...out]).toEqual([SIG_OK, SIG_OK, SIG_OK, SIG_OK, SIG_OK, SIG_BAD_DEVICE]);
    for (let i = 0; i < 5; i++) {
      if (impl === "native") expect(Buffer.from(jobs[i]!.deviceX!).toString("hex")).toBe(Buffer.from(nobleX(jobs[i]!.code)).toString("hex"));
      else expect(jobs[i]!.deviceX).toBeNull();
    }
    expect(jobs[5]!.deviceX).toBeNull(); // no x for a scan that was not verified
  });

  test.each(checkers(impl))("%s: the right x, a wrong x or none: the same answers", async (_, make) => {
    const c = make();
    await c.ready?.();
    const h = holder(9);
    const other = holder(10);
    const good = h.present(T0);
    const forged = h.present(T0);
    forged[OFF.deviceSig + 40]! ^= 4;
    const x = nobleX(good);
    const wrongs: Uint8Array[] = [
      x,
      nobleX(other.present(T0)), // another key's
      le((P - fromLe(x)) % P), // the other sign's
      le(fromLe(x) + P < 2n ** 256n ? fromLe(x) + P : fromLe(x)), // x + p: not canonical
      new Uint8Array(32).fill(0xff),
      new Uint8Array(32),
      crypto.getRandomValues(new Uint8Array(32)),
    ];
    for (const w of wrongs) {
      const jobs: SigJob[] = [
        { code: good, issuerKey: null, deviceX: w.slice() },
        { code: forged, issuerKey: null, deviceX: w.slice() },
        { code: good, issuerKey, deviceX: w.slice() },
      ];
      expect([...(await c.check(jobs))]).toEqual([SIG_OK, SIG_BAD_DEVICE, SIG_OK]);
    }
  });
});

describe("device x through a node", () => {
  test.skipIf(nativeUnavailable !== null)("the credential keeps its x after first sight, and its next scans pass it in", async () => {
    const asked: SigJob[] = [];
    const t = makeNode({});
    const inner = t.node.checker;
    const counting: SignatureChecker = { check: (jobs) => { asked.push(...jobs.map((j) => ({ ...j, deviceX: j.deviceX?.slice() ?? null }))); return inner.check(jobs); } };
    const t2 = makeNode({}, { checker: counting });
    try {
      const key = await makeGateway(t2, "metro");
      const h = await issue(t2, { idNumber: PERSON_ID });
      expect((await verifyBatch(t2, key, [h.presentText(T0)])).body.results[0]!.result).toBe("OK");
      expect((await verifyBatch(t2, key, [h.presentText(T0)])).body.results[0]!.result).toBe("OK");
      expect(asked.length).toBe(2);
      expect(asked[0]!.deviceX).toBeNull(); // first sight: decoded by the core
      expect(asked[1]!.issuerKey).toBeNull();
      expect(asked[1]!.deviceX).not.toBeNull(); // returning: the x kept with the credential
      expect(asked[1]!.deviceX!.length).toBe(32);
    } finally {
      t2.close();
      t.close();
    }
  });
});
