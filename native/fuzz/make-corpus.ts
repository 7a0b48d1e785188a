/**
 * @module The corpus of the C fuzz harness (native/fuzz/fuzz.c): there is no signing in C, so the valid
 * signatures, the structured invalid ones and their expected answers come from here — @noble/ed25519
 * `zip215: false`, the spec §2 rule — together with SHA-512 digests from node:crypto. Deterministic in the
 * seed: `bun native/fuzz/make-corpus.ts OUT [--seed N] [--cases N]` (run.sh runs it when OUT is missing
 * or older than this file or test/crypto/differential.ts).
 *
 * Contents: the vectors (Wycheproof cases with 64-byte signatures, RFC 8032 §7.1, ed25519-speccheck,
 * ZIP-215, with their pinned answers); `--cases` cases of every kind of test/crypto/differential.ts; a
 * same-key group (700 valid signatures under one key, as an issuer makes, and 100 invalid ones under it);
 * the SHA-512 of a fixed pattern of each length 0..1000.
 *
 * Format (little-endian): "YKFZ", u32 version 2, u32 kinds, u32 items, u32 digests; kinds × (u8 length,
 * name); items × (u8 expect, u8 group (1 = the same-key group), u16 kind, u32 message length, u8 key valid
 * (pk a canonical encoding of a point not of small order, per noble), 3 bytes 0, pk[32], sig[64], x[32]
 * (pk's x coordinate, canonical little-endian, when the key is valid; else zeros), message); digests ×
 * digest[64], the i-th of the i bytes (j·131 + i·7 + 1) mod 256, j = 0..i−1.
 */
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import * as ed from "@noble/ed25519";
import { KINDS, Rand, fromHex, keyPool, keyX, makeCase, makeSigner, noble, randomKind, type Case } from "../../test/crypto/differential.ts";

const argv = process.argv.slice(2);
const out = argv.find((a) => !a.startsWith("--") && !/^\d+$/.test(a));
if (out === undefined) {
  console.error("usage: bun native/fuzz/make-corpus.ts OUT [--seed N] [--cases N]");
  process.exit(2);
}
const opt = (name: string, d: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : d;
};
const seed = opt("seed", 0xf022);
const nCases = opt("cases", 3000);

interface Item { expect: boolean; group: number; kind: string; pk: Uint8Array; sig: Uint8Array; msg: Uint8Array }
const items: Item[] = [];
const vectors = resolve(import.meta.dir, "../../test/vectors");
const load = <T>(name: string) => JSON.parse(readFileSync(resolve(vectors, name), "utf8")) as T;

// vectors, with the answers test/crypto/native.test.ts and vectors.test.ts pin
const wy = load<{ testGroups: Array<{ publicKey: { pk: string }; tests: Array<{ msg: string; sig: string; result: string }> }> }>("wycheproof-ed25519_test.json");
for (const g of wy.testGroups) for (const t of g.tests) {
  if (t.sig.length !== 128) continue;
  items.push({ expect: t.result === "valid", group: 0, kind: "vector:wycheproof", pk: fromHex(g.publicKey.pk), sig: fromHex(t.sig), msg: fromHex(t.msg) });
}
const SPECCHECK_EXPECTED = [false, false, true, true, true, true, false, false, false, false, false, false];
load<Array<{ message: string; pub_key: string; signature: string }>>("ed25519-speccheck-cases.json").forEach((c, i) => {
  items.push({ expect: SPECCHECK_EXPECTED[i]!, group: 0, kind: "vector:speccheck", pk: fromHex(c.pub_key), sig: fromHex(c.signature), msg: fromHex(c.message) });
});
for (const c of load<Array<{ vk_bytes: string; sig_bytes: string }>>("zip215-cases.json")) {
  items.push({ expect: false, group: 0, kind: "vector:zip215", pk: fromHex(c.vk_bytes), sig: fromHex(c.sig_bytes), msg: new TextEncoder().encode("Zcash") });
}
for (const [secret, message] of [
  ["9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", ""],
  ["4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb", "72"],
  ["c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7", "af82"],
  ["833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42", createHash("sha512").update("abc").digest("hex")],
] as const) {
  const sk = fromHex(secret), msg = fromHex(message);
  items.push({ expect: true, group: 0, kind: "vector:rfc8032", pk: ed.getPublicKey(sk), sig: ed.sign(msg, sk), msg });
}

// generated cases of every kind
const r = new Rand(seed);
const pool = keyPool(r, 6);
for (let i = 0; i < nCases; i++) {
  const c: Case = makeCase(r, i < KINDS.length * 4 ? KINDS[i % KINDS.length]! : randomKind(r), pool);
  items.push({ expect: c.expect, group: 0, kind: c.kind, pk: c.pk, sig: c.sig, msg: c.msg });
}

// the same-key group
const issuer = makeSigner(r.bytes(32));
for (let i = 0; i < 800; i++) {
  const msg = r.bytes(r.int(301));
  const sig = ed.sign(msg, issuer.seed);
  if (i >= 700) sig[32 + r.int(32)]! ^= 1 << r.int(8);
  items.push({ expect: noble(issuer.pk, msg, sig), group: 1, kind: i < 700 ? "group:honest" : "group:tamper-S", pk: issuer.pk, sig, msg });
}

for (const it of items) if (it.expect !== noble(it.pk, it.msg, it.sig)) throw new Error(`${it.kind}: pinned answer differs from noble`);

const kinds = [...new Set(items.map((i) => i.kind))];
const parts: Buffer[] = [];
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
parts.push(Buffer.from("YKFZ"), u32(2), u32(kinds.length), u32(items.length), u32(1001));
for (const k of kinds) parts.push(Buffer.from([k.length]), Buffer.from(k));
for (const it of items) {
  const h = Buffer.alloc(12);
  const x = keyX(it.pk);
  h[0] = it.expect ? 1 : 0;
  h[1] = it.group;
  h.writeUInt16LE(kinds.indexOf(it.kind), 2);
  h.writeUInt32LE(it.msg.length, 4);
  h[8] = x ? 1 : 0;
  parts.push(h, Buffer.from(it.pk), Buffer.from(it.sig), Buffer.from(x ?? new Uint8Array(32)), Buffer.from(it.msg));
}
for (let len = 0; len <= 1000; len++) {
  const m = Buffer.alloc(len);
  for (let j = 0; j < len; j++) m[j] = (j * 131 + len * 7 + 1) & 0xff;
  parts.push(createHash("sha512").update(m).digest());
}
writeFileSync(out, Buffer.concat(parts));
console.log(`make-corpus: ${items.length} items (${items.filter((i) => i.expect).length} valid) of ${kinds.length} kinds, 1001 digests, seed ${seed} → ${out}`);
