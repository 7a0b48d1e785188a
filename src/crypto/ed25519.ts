/**
 * @module Ed25519, with the project's one strictness policy.
 *
 * Policy "strict RFC 8032" (the same for single, batch, streamed and pooled verification):
 * - a signature is exactly 64 bytes and its S half is < L (RFC 8032 §5.1.7 step 1; checked here, so the
 *   rule does not depend on the backend);
 * - R and A must be canonical encodings of curve points (RFC 8032 §5.1.3; BoringSSL, which backs
 *   `node:crypto` in Bun, refuses non-canonical R, e.g. Wycheproof tcId 151 where ZIP-215 would accept);
 * - the cofactorless equation [S]B = R + [k]A (§5.1.7 step 3, without the optional ×8).
 * Device keys additionally pass `checkDevicePublicKey` at issuance: canonical and not of small order
 * (a small-order key makes signatures that verify for many messages).
 * `test/crypto/ed25519.test.ts` runs all 151 Wycheproof cases through `verifyStrict`, and @noble/ed25519
 * with `zip215: false` as a second implementation.
 */
import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from "node:crypto";
import { Point } from "@noble/ed25519";

/** Group order L = 2^252 + 27742317777372353535851937790883648493, little-endian bytes. */
const L_LE = new Uint8Array([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
]);

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

/** Import 32 raw public-key bytes once; throws RangeError on a wrong length (a programmer error). */
export function preparePublicKey(raw: Uint8Array): PreparedPublicKey {
  if (raw.length !== 32) throw new RangeError("an Ed25519 public key is 32 bytes");
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: "der", type: "spki" });
}

/** The strict policy above. A bad signature is `false`, never an exception. */
export function verifyStrict(key: PreparedPublicKey, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64 || !isCanonicalS(signature)) return false;
  try {
    return nodeVerify(null, message, key, signature);
  } catch {
    return false; // a key the backend cannot use verifies nothing
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
 * Issuance check of a holder device key (DESIGN.md §2): a canonical encoding (RFC 8032 §5.1.3, y < p and
 * no "negative zero" x) of a curve point that is not of small order. Uses @noble/ed25519 because the
 * native backend has no point-decoding API. Returns null when acceptable, else the reason.
 */
export function checkDevicePublicKey(raw: Uint8Array): string | null {
  if (raw.length !== 32) return "device public key must be 32 bytes";
  let point: Point;
  try {
    point = Point.fromBytes(raw, false);
  } catch {
    return "device public key is not a canonical encoding of a curve point";
  }
  if (point.isSmallOrder()) return "device public key is a point of small order";
  return null;
}
