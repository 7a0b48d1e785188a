/**
 * Both `BatchVerifier`s (src/crypto/batch.ts) — the native core (native/, through `loadNative()`) and
 * `NodeCryptoBatchVerifier` — against vectors nobody on the project wrote, under the spec §2 rule:
 * all 151 Project Wycheproof EdDSA cases with the file's answers; RFC 8032 §7.1 TEST 1, 2, 3, 1024 and
 * SHA(abc); the 12 ed25519-speccheck cases with the answers pinned in vectors.test.ts; the 196 ZIP-215
 * small-order cases, all refused. Each set goes through verifyOne, through one verifyBatch holding the
 * whole file, through seeded random shuffles and subsets, and mixed with the other files in one batch.
 * Then the calling convention both share: empty batches, wrong lengths (verifyOne answers false;
 * verifyBatch and verifyScans throw RangeError, as batch.ts decides), inputs that are views at an offset
 * into larger buffers, `out` longer than n, and verifyScans on the golden codes (test/vectors/golden.json),
 * with and without device keys (`DeviceKeys`: a known x, right or wrong, never changes an answer; the
 * native core writes noble's x for every SIG_OK; node:crypto ignores them, as batch.ts says).
 *
 * The native core is required under CI=true: its absence fails the first test. Elsewhere its tests are
 * skipped with the reason printed (build it with `cd native && npx node-gyp rebuild`).
 */
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { NodeCryptoBatchVerifier, type BatchVerifier } from "../../src/crypto/batch.ts";
import { loadNative } from "../../src/crypto/native.ts";
import { CODE_LENGTH, OFF } from "../../src/wire/code.ts";
import { Rand, concat, fromHex, hex, keyX, le32, noble, packBatch, scanAnswer, P, fromLe, type Case } from "./differential.ts";

// ---------------------------------------------------------------- vectors

interface Vector { name: string; pk: Uint8Array; msg: Uint8Array; sig: Uint8Array; expect: boolean }

function loadVectors<T>(name: string): T {
  const paths = [resolve(import.meta.dir, "../vectors", name), resolve(import.meta.dir, "../../../shared/vectors", name)];
  const path = paths.find((p) => existsSync(p));
  if (!path) throw new Error(`${name} not found at ${paths.join(" or ")}`);
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

interface WycheproofFile { numberOfTests: number; testGroups: Array<{ publicKey: { pk: string }; tests: Array<{ tcId: number; msg: string; sig: string; result: "valid" | "invalid" }> }> }
const wycheproofFile = loadVectors<WycheproofFile>("wycheproof-ed25519_test.json");
/** The file's own answers: ed25519.test.ts shows they are the §2 answers for all 151. */
const WYCHEPROOF: Vector[] = wycheproofFile.testGroups.flatMap((g) => g.tests.map((t) => ({
  name: `wycheproof tcId ${t.tcId}`, pk: fromHex(g.publicKey.pk), msg: fromHex(t.msg), sig: fromHex(t.sig), expect: t.result === "valid",
})));

/** RFC 8032 §7.1; TEST 1024's 1023-byte message is checked below by re-signing it to the RFC's signature. */
const RFC8032_RAW = [
  { name: "TEST 1", secret: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", public: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", message: "",
    signature: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b" },
  { name: "TEST 2", secret: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb", public: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", message: "72",
    signature: "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00" },
  { name: "TEST 3", secret: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7", public: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", message: "af82",
    signature: "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a" },
  { name: "TEST 1024", secret: "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5", public: "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
    message: [
      "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1e355f6c50544e23fb1433ddf73be84d8",
      "79de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc",
      "1a858efcb8550ee3a5e1998bd177e93a7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e",
      "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc103b6621fcde2beca1231d206be6cd9ec7",
      "aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed185ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2",
      "d17ba70eb6248e594e1a2297acbbb39d502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270",
      "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089beccf80cfe2df16a2cf65bd92dd597b07",
      "07e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128bab27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51a",
      "ddd3b75a2b1ae0784504df543af8969be3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7",
      "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988dcda6f3bfd15c4b4c4525004aa06eeff8",
      "ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34dff7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08",
      "d78ff4ef5d63653a65040cf9bfd4aca7984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4",
      "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac0943bf6686b64b2579376504ccc493d97e",
      "6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5fb93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b5",
      "0d334ba77c225bc307ba537152f3f1610e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d",
      "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8cac60c905c15fc910840b94c00a0b9d0",
    ].join(""),
    signature: "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03" },
  { name: "TEST SHA(abc)", secret: "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42", public: "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
    message: "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    signature: "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704" },
];
/** Each RFC vector, and for each the same signature over M ‖ 0x00, with a bit of R flipped, of S flipped, and with S + L. */
const RFC8032: Vector[] = RFC8032_RAW.flatMap((v) => {
  const pk = fromHex(v.public), msg = fromHex(v.message), sig = fromHex(v.signature);
  const flip = (at: number) => {
    const s = sig.slice();
    s[at] = s[at]! ^ 0x10;
    return s;
  };
  const L = 2n ** 252n + 27742317777372353535851937790883648493n;
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i]!);
  const mall = sig.slice();
  for (let i = 0, x = s + L; i < 32; i++, x >>= 8n) mall[32 + i] = Number(x & 0xffn);
  return [
    { name: v.name, pk, msg, sig, expect: true },
    { name: `${v.name}, message ‖ 00`, pk, msg: concat(msg, new Uint8Array(1)), sig, expect: false },
    { name: `${v.name}, R flipped`, pk, msg, sig: flip(3), expect: false },
    { name: `${v.name}, S flipped`, pk, msg, sig: flip(40), expect: false },
    { name: `${v.name}, S + L`, pk, msg, sig: mall, expect: false },
  ];
});

/** Answers under §2, pinned with their reasons in vectors.test.ts. */
const SPECCHECK_EXPECTED = [false, false, true, true, true, true, false, false, false, false, false, false];
const SPECCHECK: Vector[] = loadVectors<Array<{ message: string; pub_key: string; signature: string }>>("ed25519-speccheck-cases.json")
  .map((c, i) => ({ name: `speccheck ${i}`, pk: fromHex(c.pub_key), msg: fromHex(c.message), sig: fromHex(c.signature), expect: SPECCHECK_EXPECTED[i]! }));

const ZCASH = new TextEncoder().encode("Zcash");
const ZIP215: Vector[] = loadVectors<Array<{ vk_bytes: string; sig_bytes: string }>>("zip215-cases.json")
  .map((c, i) => ({ name: `zip215 ${i}`, pk: fromHex(c.vk_bytes), msg: ZCASH, sig: fromHex(c.sig_bytes), expect: false }));

const SETS: Array<[string, Vector[], number]> = [
  ["Wycheproof", WYCHEPROOF, 151], ["RFC 8032 §7.1", RFC8032, 25], ["ed25519-speccheck", SPECCHECK, 12], ["ZIP-215", ZIP215, 196],
];
/** A batch holds 64-byte signatures and 32-byte keys by its layout: the 12 Wycheproof cases of other lengths go through verifyOne only. */
const batchable = (vs: readonly Vector[]) => vs.filter((x) => x.sig.length === 64 && x.pk.length === 32);
const ALL = batchable(SETS.flatMap(([, v]) => v));

describe("the vectors themselves", () => {
  test("counts: 151 Wycheproof (88 valid), 5 RFC 8032 (and 20 variants), 12 speccheck, 196 ZIP-215", () => {
    expect(SETS.map(([name, v]) => `${name}: ${v.length}`)).toEqual(SETS.map(([name, , n]) => `${name}: ${n}`));
    expect(WYCHEPROOF.filter((v) => v.expect).length).toBe(88);
    expect(wycheproofFile.numberOfTests).toBe(151);
    const unbatchable = SETS.flatMap(([, v]) => v).filter((x) => !batchable([x]).length);
    expect(unbatchable.map((x) => x.name)).toEqual(Array.from({ length: 12 }, (_, i) => `wycheproof tcId ${30 + i}`));
    expect(unbatchable.every((x) => !x.expect)).toBe(true);
  });
  test("TEST 1024: the 1023-byte message as typed here signs to the RFC's signature (the key derives from the secret)", async () => {
    const ed = await import("@noble/ed25519");
    const v = RFC8032_RAW[3]!;
    expect(fromHex(v.message).length).toBe(1023);
    expect(Buffer.from(ed.getPublicKey(fromHex(v.secret))).toString("hex")).toBe(v.public);
    expect(Buffer.from(ed.sign(fromHex(v.message), fromHex(v.secret))).toString("hex")).toBe(v.signature);
    expect(createHash("sha512").update("abc").digest("hex")).toBe(RFC8032_RAW[4]!.message);
  });
  test("noble zip215: false gives every expected answer (the vectors' answers are the §2 rule's)", () => {
    expect(ALL.filter((v) => noble(v.pk, v.msg, v.sig) !== v.expect).map((v) => v.name)).toEqual([]);
  });
});

// ---------------------------------------------------------------- the implementations

const loaded = loadNative();
const CI = process.env.CI === "true" || process.env.CI === "1";

test("the native core is built and loads (required when CI=true)", () => {
  if (loaded.verifier === null) {
    if (CI) throw new Error(`CI=true and the native verifier is unavailable: ${loaded.reason}`);
    console.warn(`native.test.ts: native verifier tests skipped: ${loaded.reason}`);
    return;
  }
  expect(loaded.verifier.impl).toBe("native");
});

const IMPLS: Array<[string, BatchVerifier | null]> = [["native", loaded.verifier], ["node:crypto", new NodeCryptoBatchVerifier()]];

/** verifyBatch on `vs` (any views), returning out (pre-filled with 0xee so an unwritten byte shows). */
function batch(v: BatchVerifier, vs: readonly Vector[]): number[] {
  const { pk, sig, msg, msgEnd } = packBatch(vs as unknown as Case[]);
  const out = new Uint8Array(vs.length).fill(0xee);
  v.verifyBatch(pk, sig, msg, msgEnd, out);
  return [...out];
}
const wrongIn = (vs: readonly Vector[], got: readonly (number | boolean)[]) =>
  vs.map((x, i) => (Number(got[i]) !== Number(x.expect) ? `${x.name}: got ${got[i]}` : "")).filter((s) => s !== "");

for (const [name, verifier] of IMPLS) {
  describe.skipIf(verifier === null)(`${name} verifier`, () => {
    const v = verifier!;

    for (const [set, all] of SETS) {
      describe(set, () => {
        const vs = batchable(all);
        test(`verifyOne: all ${all.length} as expected`, () => {
          expect(wrongIn(all, all.map((x) => v.verifyOne(x.pk, x.msg, x.sig)))).toEqual([]);
        });
        test("one verifyBatch holding the whole set", () => {
          expect(wrongIn(vs, batch(v, vs))).toEqual([]);
        });
        test("verifyBatch on 24 seeded random shuffles and subsets", () => {
          const r = new Rand(0x5eed + vs.length);
          for (let k = 0; k < 24; k++) {
            const sub = r.shuffle([...vs]).slice(0, k < 4 ? vs.length : 1 + r.int(vs.length));
            expect(wrongIn(sub, batch(v, sub))).toEqual([]);
          }
        });
      });
    }

    test("all four sets in one shuffled batch, and a batch of 1200 with every vector repeated", () => {
      const r = new Rand(42);
      const mixed = r.shuffle([...ALL]);
      expect(wrongIn(mixed, batch(v, mixed))).toEqual([]);
      const big = Array.from({ length: 1200 }, () => r.pick(ALL));
      expect(wrongIn(big, batch(v, big))).toEqual([]);
    });

    test("an empty batch: verifyBatch and verifyScans return, write nothing", () => {
      const out = new Uint8Array(4).fill(0xee);
      v.verifyBatch(new Uint8Array(0), new Uint8Array(0), new Uint8Array(0), new Uint32Array(0), out);
      v.verifyBatch(new Uint8Array(0), new Uint8Array(0), new Uint8Array(0), new Uint32Array(0), new Uint8Array(0));
      v.verifyScans(new Uint8Array(0), new Uint8Array(0), new Int32Array(0), out);
      v.verifyScans(new Uint8Array(0), new Uint8Array(64), new Int32Array(0), new Uint8Array(0));
      expect([...out]).toEqual([0xee, 0xee, 0xee, 0xee]);
    });

    test("verifyOne: a key or signature of the wrong length is false, not an exception", () => {
      const t = RFC8032[5]!; // TEST 2
      expect(v.verifyOne(t.pk, t.msg, t.sig)).toBe(true);
      for (const pk of [t.pk.subarray(0, 31), concat(t.pk, new Uint8Array(1)), new Uint8Array(0)]) expect(v.verifyOne(pk, t.msg, t.sig)).toBe(false);
      for (const sig of [t.sig.subarray(0, 63), concat(t.sig, new Uint8Array(1)), new Uint8Array(0)]) expect(v.verifyOne(t.pk, t.msg, sig)).toBe(false);
    });

    test("verifyBatch: pk, sig, out or msgEnd that disagree throw RangeError (and leave out unwritten)", () => {
      const vs = RFC8032.slice(0, 10);
      const { pk, sig, msg, msgEnd } = packBatch(vs as unknown as Case[]);
      const out = new Uint8Array(10).fill(0xee);
      const bad: Array<[string, () => void]> = [
        ["pk one byte short", () => v.verifyBatch(pk.subarray(1), sig, msg, msgEnd, out)],
        ["pk one key too many", () => v.verifyBatch(concat(pk, pk.subarray(0, 32)), sig, msg, msgEnd, out)],
        ["sig one byte long", () => v.verifyBatch(pk, concat(sig, new Uint8Array(1)), msg, msgEnd, out)],
        ["sig one signature short", () => v.verifyBatch(pk, sig.subarray(64), msg, msgEnd, out)],
        ["out one short", () => v.verifyBatch(pk, sig, msg, msgEnd, out.subarray(1))],
        ["msgEnd decreasing", () => v.verifyBatch(pk, sig, msg, Uint32Array.from([...msgEnd].map((e, i) => (i === 7 ? 0 : e))), out)],
        ["msgEnd beyond msg", () => v.verifyBatch(pk, sig, msg.subarray(0, msg.length - 1), msgEnd, out)],
        ["msgEnd past 2^31", () => v.verifyBatch(pk, sig, msg, Uint32Array.from([...msgEnd].map((e, i) => (i === 9 ? 0xffffffff : e))), out)],
      ];
      const threw = bad.map(([what, f]) => {
        try {
          f();
          return `${what}: no exception`;
        } catch (e) {
          return `${what}: ${(e as Error).constructor.name}`;
        }
      });
      expect(threw).toEqual(bad.map(([what]) => `${what}: RangeError`));
      expect(out.every((b) => b === 0xee)).toBe(true);
      v.verifyBatch(pk, sig, msg, msgEnd, out); // the same call, well-formed, answers
      expect(wrongIn(vs, [...out])).toEqual([]);
    });

    test("verifyScans: codes, keys, slot or out that disagree throw RangeError", () => {
      const { codes, keys } = goldenScans();
      const slot = new Int32Array(GOLDEN.length).fill(0).map((_, i) => i);
      const out = new Uint8Array(GOLDEN.length);
      const bad: Array<[string, () => void]> = [
        ["codes one byte short", () => v.verifyScans(codes.subarray(1), keys, slot, out)],
        ["codes one code too many", () => v.verifyScans(concat(codes, codes.subarray(0, CODE_LENGTH)), keys, slot, out)],
        ["keys not a multiple of 32", () => v.verifyScans(codes, keys.subarray(1), slot, out)],
        ["slot = number of keys", () => v.verifyScans(codes, keys, Int32Array.from(slot, (s, i) => (i === 1 ? GOLDEN.length : s)), out)],
        ["slot ≥ number of keys, no keys", () => v.verifyScans(codes, new Uint8Array(0), slot, out)],
        ["out one short", () => v.verifyScans(codes, keys, slot, out.subarray(1))],
      ];
      expect(bad.map(([what, f]) => {
        try {
          f();
          return `${what}: no exception`;
        } catch (e) {
          return `${what}: ${(e as Error).constructor.name}`;
        }
      })).toEqual(bad.map(([what]) => `${what}: RangeError`));
    });

    test("inputs as views at odd offsets into larger buffers (and Buffer slices); out longer than n keeps its tail; msg may run past the last end", () => {
      const r = new Rand(7);
      const vs = r.shuffle(batchable([...WYCHEPROOF, ...SPECCHECK, ...RFC8032])).slice(0, 120);
      const { pk, sig, msg, msgEnd } = packBatch(vs as unknown as Case[]);
      const at = <T extends Uint8Array | Uint32Array>(make: (n: number) => T, src: T, off: number): T => {
        const big = make(src.length + off + 5);
        big.fill(0xa5 as never);
        big.set(src as never, off);
        return big.subarray(off, off + src.length) as T;
      };
      const out = new Uint8Array(130).fill(0xee);
      const outView = out.subarray(3);
      v.verifyBatch(at((n) => new Uint8Array(n), pk, 3), at((n) => Buffer.alloc(n), sig, 1), at((n) => new Uint8Array(n), concat(msg, new Uint8Array([9, 9, 9])), 7),
        at((n) => new Uint32Array(n), msgEnd, 1), outView);
      expect(wrongIn(vs, [...outView.subarray(0, 120)])).toEqual([]);
      expect([...out.subarray(0, 3), ...out.subarray(123)]).toEqual(Array(10).fill(0xee));
      for (const x of vs.slice(0, 40)) {
        const p = Buffer.concat([Buffer.alloc(5), x.pk]).subarray(5), m = Buffer.concat([Buffer.alloc(3), x.msg]).subarray(3);
        expect(v.verifyOne(p, m, at((n) => new Uint8Array(n), x.sig, 11))).toBe(x.expect);
      }
    });

    test("verifyScans on the golden codes: SIG_OK; bad issuer and device signatures, wrong keys and slot −1 per noble", () => {
      const { codes, keys } = goldenScans();
      const n = GOLDEN.length;
      // variants of each golden code: [code, slot]
      const variants: Array<[Uint8Array, number]> = [];
      for (let i = 0; i < n; i++) {
        const code = codes.slice(i * CODE_LENGTH, (i + 1) * CODE_LENGTH);
        const flip = (off: number) => {
          const c = code.slice();
          c[off] = c[off]! ^ 1;
          return c;
        };
        variants.push([code, i], [code, -1], [flip(OFF.issuerSig + 5), i], [flip(OFF.issuerSig + 5), -1], [flip(OFF.deviceSig + 40), i],
          [flip(OFF.serial), i], [flip(OFF.serial), -1], [flip(OFF.counter), i], [code, (i + 1) % n], [code, n], [code, n + 1], [flip(OFF.devicePub), -1]);
      }
      // keys n and n + 1: another issuer's key (RFC 8032 TEST 1) and the all-zero encoding (a point of order 4)
      const allKeys = concat(keys, RFC8032[0]!.pk, new Uint8Array(32));
      const expectOf = variants.map(([c, s]) => scanAnswer(c, s >= 0 ? allKeys.subarray(s * 32, s * 32 + 32) : null, noble));
      // the pinned answers for each golden code (all four have one issuer, so slot (i + 1) mod n is right too)
      for (let i = 0; i < n; i++) expect(expectOf.slice(12 * i, 12 * i + 12)).toEqual([0, 0, 1, 2, 2, 1, 2, 2, 0, 1, 1, 2]);
      const out = new Uint8Array(variants.length).fill(0xee);
      v.verifyScans(concat(...variants.map(([c]) => c)), allKeys, Int32Array.from(variants.map(([, s]) => s)), out);
      expect([...out]).toEqual(expectOf);
    });

    test("verifyScans with device keys: unknown, known and right, known and wrong: the same answers; x written for SIG_OK (native)", () => {
      const { codes, keys } = goldenScans();
      const n = GOLDEN.length;
      // each golden code as is, with deviceSig flipped, and with slot −1; then a code whose devicePub is of small order
      const list: Array<[Uint8Array, number]> = [];
      for (let i = 0; i < n; i++) {
        const code = codes.slice(i * CODE_LENGTH, (i + 1) * CODE_LENGTH);
        const bad = code.slice();
        bad[OFF.deviceSig + 9] = bad[OFF.deviceSig + 9]! ^ 4;
        list.push([code, i], [bad, i], [code, -1]);
      }
      const small = codes.slice(0, CODE_LENGTH);
      small.set(fromHex("0000000000000000000000000000000000000000000000000000000000000080"), OFF.devicePub);
      list.push([small, -1]);
      const all = concat(...list.map(([c]) => c)), slot = Int32Array.from(list.map(([, s]) => s)), m = list.length;
      const want = list.map(([c, s]) => scanAnswer(c, s >= 0 ? keys.subarray(s * 32, s * 32 + 32) : null, noble));
      expect(want).toEqual([...Array(n).fill([0, 2, 0]).flat(), 2]);
      const xs = list.map(([c]) => keyX(c.subarray(OFF.devicePub, OFF.devicePub + 32)));
      const answer = (device?: { x: Uint8Array; known: Uint8Array }) => {
        const out = new Uint8Array(m).fill(0xee);
        v.verifyScans(all, keys, slot, out, device);
        return [...out];
      };
      expect(answer()).toEqual(want);
      const unknown = { x: new Uint8Array(32 * m).fill(0x5a), known: new Uint8Array(m) };
      expect(answer(unknown)).toEqual(want);
      for (let i = 0; i < m; i++) {
        const got = hex(unknown.x.subarray(32 * i, 32 * i + 32));
        if (v.impl === "native" && want[i] === 0) expect(`${i}: ${got}`).toBe(`${i}: ${hex(xs[i]!)}`);
        if (v.impl !== "native") expect(got).toBe("5a".repeat(32)); // the fallback ignores device keys
      }
      const right = { x: concat(...xs.map((x) => x ?? new Uint8Array(32))), known: new Uint8Array(m).fill(1) };
      expect(answer(right)).toEqual(want);
      const r = new Rand(99);
      for (const how of ["random", "negated", "another device's", "zero", "x + p"] as const) {
        const wrong = { x: new Uint8Array(32 * m), known: new Uint8Array(m).fill(1) };
        for (let i = 0; i < m; i++) {
          const x = xs[i] ?? new Uint8Array(32);
          const w = how === "random" ? r.bytes(32) : how === "negated" ? le32((P - fromLe(x)) % P) : how === "another device's" ? (xs[(i + 1) % m] ?? xs[0]!)
            : how === "zero" ? new Uint8Array(32) : le32(fromLe(x) + P); // x + p (< 2^256): a non-canonical x
          wrong.x.set(w, 32 * i);
        }
        expect(`${how}: ${answer(wrong).join(",")}`).toBe(`${how}: ${want.join(",")}`);
        if (v.impl === "native") for (let i = 0; i < m; i++) if (want[i] === 0) expect(hex(wrong.x.subarray(32 * i, 32 * i + 32))).toBe(hex(xs[i]!));
      }
      // device arrays too short: RangeError from both implementations
      for (const device of [{ x: new Uint8Array(32 * m - 1), known: new Uint8Array(m) }, { x: new Uint8Array(32 * m), known: new Uint8Array(m - 1) }]) {
        expect(() => answer(device)).toThrow(RangeError);
      }
    });
  });
}

// ---------------------------------------------------------------- golden codes

interface GoldenCase { name: string; issuerPublicKey: string; code: string }
const GOLDEN = loadVectors<{ cases: GoldenCase[] }>("golden.json").cases;
function goldenScans(): { codes: Uint8Array; keys: Uint8Array } {
  return { codes: concat(...GOLDEN.map((c) => fromHex(c.code))), keys: concat(...GOLDEN.map((c) => fromHex(c.issuerPublicKey))) };
}
