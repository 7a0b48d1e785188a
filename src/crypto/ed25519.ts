/**
 * @module Ed25519, with the project's one strictness policy.
 *
 * Policy (spec §2 "Signature rule"; the same for single, batch, streamed and pooled verification):
 * R ‖ S over M under A is valid iff
 * - A and R are canonical encodings (RFC 8032 §5.1.3: y < p, no "negative zero" x), checked for A by
 *   `prepareVerifyKey` and for R by both backends below;
 * - A is not of small order (`prepareVerifyKey`);
 * - S < L (RFC 8032 §5.1.7 step 1; checked here, so the rule does not depend on the backend);
 * - [8][S]B = [8]R + [8][k]A, k = SHA-512(R ‖ A ‖ M) mod L (RFC 8032 §5.1.7 step 3, cofactored).
 * `verifyStrict` asks `node:crypto` (BoringSSL in Bun) first: it computes the cofactorless equation
 * [S]B = R + [k]A and compares R byte for byte, so its "valid" implies the rule for a key that passed
 * `prepareVerifyKey`. Its "invalid" is re-checked with @noble/ed25519 `zip215: false`, which is the rule
 * itself (canonical A and R, A not of small order, S < L, cofactored equation); only honest-looking
 * signatures with a small-order component in R or A (ed25519-speccheck cases 4 and 5) change answer.
 * `test/crypto/` pins the policy with Wycheproof, RFC 8032 §7.1, ed25519-speccheck and ZIP-215 vectors.
 */
import {
  createHash, createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject,
} from "node:crypto";
import { hashes, Point, verify as nobleVerify } from "@noble/ed25519";

hashes.sha512 = (m: Uint8Array) => new Uint8Array(createHash("sha512").update(m).digest());

/** Group order L = 2^252 + 27742317777372353535851937790883648493, little-endian bytes. */
const L_LE = new Uint8Array([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
]);

/**
 * The y coordinates (little-endian, sign bit clear) of the 8 points of small order: y = 1 (identity),
 * p − 1 (order 2), 0 (the two points of order 4) and the two y of the four points of order 8. Either sign
 * bit of these y is refused: a small-order point, or "negative zero" x for y = 1 and y = p − 1.
 * `test/crypto/ed25519.test.ts` derives the torsion subgroup with @noble/ed25519 and checks this list.
 */
const SMALL_ORDER_Y: readonly Uint8Array[] = [
  "0100000000000000000000000000000000000000000000000000000000000000",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "0000000000000000000000000000000000000000000000000000000000000000",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
].map((h) => new Uint8Array(Buffer.from(h, "hex")));

const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/** A public key parsed once (Invariant: 32 raw bytes, imported into the native backend). */
export type PreparedPublicKey = KeyObject;

/** RFC 8032 §5.1.7: S (bytes 32..63, little-endian) must be < L. */
export function isCanonicalS(sig: Uint8Array, off = 32): boolean {
  for (let i = 31; i >= 0; i--) {
    const s = sig[off + i]!, l = L_LE[i]!;
    if (s < l) return true;
    if (s > l) return false;
  }
  return false; // S == L
}

/** y (the 255 low bits, little-endian) ≥ p = 2^255 − 19, i.e. bytes ≥ ed ff … ff 7f (RFC 8032 §5.1.3 step 1). */
function yAtLeastP(raw: Uint8Array): boolean {
  if ((raw[31]! & 0x7f) !== 0x7f) return false;
  for (let i = 30; i >= 1; i--) if (raw[i] !== 0xff) return false;
  return raw[0]! >= 0xed;
}

function sameY(raw: Uint8Array, y: Uint8Array): boolean {
  for (let i = 0; i < 31; i++) if (raw[i] !== y[i]) return false;
  return (raw[31]! & 0x7f) === y[31];
}

/**
 * The §2 key test on the hot path, by byte comparison: 32 bytes, y < p, and not the y of a point of small
 * order (with either sign bit, which also refuses "negative zero" x). Whether y is on the curve is left to
 * verification: an off-curve A verifies nothing.
 */
export function isStrictPublicKeyEncoding(raw: Uint8Array): boolean {
  if (raw.length !== 32 || yAtLeastP(raw)) return false;
  for (let i = 0; i < SMALL_ORDER_Y.length; i++) if (sameY(raw, SMALL_ORDER_Y[i]!)) return false;
  return true;
}

/** Import 32 raw public-key bytes once; throws RangeError on a wrong length (a programmer error). No key test. */
export function preparePublicKey(raw: Uint8Array): PreparedPublicKey {
  if (raw.length !== 32) throw new RangeError("an Ed25519 public key is 32 bytes");
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: "der", type: "spki" });
}

/** A key for verification (§2 key test, then import), or null when refused; never throws. */
export function prepareVerifyKey(raw: Uint8Array): PreparedPublicKey | null {
  if (!isStrictPublicKeyEncoding(raw)) return null;
  try {
    return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: "der", type: "spki" });
  } catch {
    return null;
  }
}

/** The policy above, for a key from `prepareVerifyKey`. A bad signature is `false`, never an exception. */
export function verifyStrict(key: PreparedPublicKey, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64 || !isCanonicalS(signature)) return false;
  try {
    if (nodeVerify(null, message, key, signature)) return true;
  } catch {
    // a key the backend cannot use: the cofactored check below decides
  }
  try {
    const der = key.export({ format: "der", type: "spki" });
    if (der.length !== SPKI_PREFIX.length + 32) return false;
    return nobleVerify(signature, message, new Uint8Array(der.subarray(SPKI_PREFIX.length)), { zip215: false });
  } catch {
    return false;
  }
}

/** A private key from its 32-byte RFC 8032 seed. */
export function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new RangeError("an Ed25519 seed is 32 bytes");
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
}

export function sign(privateKey: KeyObject, message: Uint8Array): Uint8Array {
  return new Uint8Array(nodeSign(null, message, privateKey));
}

/** Raw 32 public-key bytes of a private or public KeyObject. */
export function rawPublicKey(key: KeyObject): Uint8Array {
  const der = key.type === "private" ? createPublicKey(key).export({ format: "der", type: "spki" })
    : key.export({ format: "der", type: "spki" });
  return new Uint8Array(der.subarray(der.length - 32));
}

/** Raw 32-byte seed of a private KeyObject. */
export function rawSeed(key: KeyObject): Uint8Array {
  const der = key.export({ format: "der", type: "pkcs8" });
  return new Uint8Array(der.subarray(der.length - 32));
}

/**
 * The full §2 key test (issuance of device keys, loading of issuer keys): a canonical encoding
 * (RFC 8032 §5.1.3, y < p and no "negative zero" x) of a curve point that is not of small order. Uses
 * @noble/ed25519 because the native backend has no point-decoding API. Returns null when acceptable,
 * else the reason.
 */
export function checkPublicKey(raw: Uint8Array): string | null {
  if (raw.length !== 32) return "public key must be 32 bytes";
  let point: Point;
  try {
    point = Point.fromBytes(raw, false);
  } catch {
    return "public key is not a canonical encoding of a curve point";
  }
  if (point.isSmallOrder()) return "public key is a point of small order";
  return null;
}
