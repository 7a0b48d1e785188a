/**
 * @module Batch verification under the one §2 signature rule (spec §2: canonical A and R, A not of small
 * order, S < L, cofactored equation), behind one interface with two implementations:
 * - "native": the project's C core (native/, loaded by `native.ts`): batch equation with 128-bit random
 *   coefficients from the OS, multi-scalar multiplication, same-key terms merged, bad signatures found by
 *   bisection;
 * - "node:crypto": `verifyStrict` one signature at a time (BoringSSL, every rejection re-checked with the
 *   cofactored equation in @noble/ed25519), used when the core did not build or load.
 * Both give the same answer for every input (test/crypto/native*.test.ts), so which one runs changes only
 * the speed.
 *
 * Layouts (all little-endian, all buffers owned by the caller):
 * - `verifyBatch`: pk = n × 32 bytes, sig = n × 64 bytes (R ‖ S), msg = the n messages back to back,
 *   msgEnd[i] = end offset of message i in msg (message i = msg[msgEnd[i − 1] .. msgEnd[i]], msgEnd[−1] = 0);
 *   out[i] = 1 when signature i is valid, else 0.
 * - `verifyScans`: codes = n × 212-byte codes (wire/code.ts); keys = k × 32 bytes of issuer public keys;
 *   slot[i] = index of code i's issuer key in keys, or −1 when its credential is already verified (§3
 *   credential LRU: device signature only); out[i] = SIG_OK (0), SIG_BAD_ISSUER (1) or SIG_BAD_DEVICE (2)
 *   (below). The device key is the code's own devicePub, put to the §2 key test.
 *   Optional `device` (native only; the fallback ignores it): device.x = n × 32 bytes, device.known = n
 *   bytes. Where known[i] = 1, x[i] holds the x coordinate of code i's devicePub as the core gave it
 *   before, which spares decoding it (a square root); the core checks it against the devicePub's y and
 *   sign and decodes instead when it does not fit, so a wrong x costs time, never an answer. For every
 *   code answered SIG_OK, x[i] is written, for the caller to keep with the verified credential.
 */
import { CODE_LENGTH, CREDENTIAL_DOMAIN, CREDENTIAL_SIGNED, OFF, PRESENTATION_DOMAIN, PRESENTATION_SIGNED } from "../wire/code.ts";
import { isStrictPublicKeyEncoding, prepareVerifyKey, verifyStrict, type PreparedPublicKey } from "./ed25519.ts";

export type VerifierImpl = "native" | "node:crypto";

/** The answer for a scan (`verifyScans`, `ScanVerifier`): both signatures hold, or which one fails first (spec §3). */
export const SIG_OK = 0;
export const SIG_BAD_ISSUER = 1;
export const SIG_BAD_DEVICE = 2;

export interface BatchVerifier {
  readonly impl: VerifierImpl;
  verifyOne(pk: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean;
  verifyBatch(pk: Uint8Array, sig: Uint8Array, msg: Uint8Array, msgEnd: Uint32Array, out: Uint8Array): void;
  verifyScans(codes: Uint8Array, keys: Uint8Array, slot: Int32Array, out: Uint8Array, device?: DeviceKeys): void;
}

/** Decoded device keys in and out of `verifyScans` (see the layouts above). */
export interface DeviceKeys {
  x: Uint8Array;
  known: Uint8Array;
}

/** The scan layout the native core is given on every call (it knows no wire format of its own). */
export const SCAN_LAYOUT = new Uint32Array([
  CODE_LENGTH, CREDENTIAL_SIGNED, OFF.issuerSig, PRESENTATION_SIGNED, OFF.devicePub, OFF.deviceSig,
]);
export { CREDENTIAL_DOMAIN, PRESENTATION_DOMAIN };

function checkLayout(n: number, pk: Uint8Array, sig: Uint8Array, msg: Uint8Array, msgEnd: Uint32Array, out: Uint8Array): void {
  if (pk.length !== n * 32 || sig.length !== n * 64 || out.length < n) throw new RangeError("verifyBatch: pk, sig and out do not hold msgEnd.length signatures");
  let prev = 0;
  for (let i = 0; i < n; i++) {
    const e = msgEnd[i]!;
    if (e < prev || e > msg.length) throw new RangeError("verifyBatch: msgEnd must be non-decreasing and within msg");
    prev = e;
  }
}

/** `verifyStrict` one at a time: the implementation when the native core is absent. */
export class NodeCryptoBatchVerifier implements BatchVerifier {
  readonly impl = "node:crypto" as const;
  readonly #scan = new ScanVerifier();
  /** Issuer keys imported once, by their bytes. */
  readonly #keys = new Map<string, PreparedPublicKey | null>();

  verifyOne(pk: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
    if (pk.length !== 32 || sig.length !== 64) return false;
    const key = prepareVerifyKey(pk);
    return key !== null && verifyStrict(key, msg, sig);
  }

  verifyBatch(pk: Uint8Array, sig: Uint8Array, msg: Uint8Array, msgEnd: Uint32Array, out: Uint8Array): void {
    const n = msgEnd.length;
    checkLayout(n, pk, sig, msg, msgEnd, out);
    let start = 0;
    for (let i = 0; i < n; i++) {
      const end = msgEnd[i]!;
      out[i] = this.verifyOne(pk.subarray(i * 32, i * 32 + 32), msg.subarray(start, end), sig.subarray(i * 64, i * 64 + 64)) ? 1 : 0;
      start = end;
    }
  }

  verifyScans(codes: Uint8Array, keys: Uint8Array, slot: Int32Array, out: Uint8Array, device?: DeviceKeys): void {
    const n = slot.length;
    if (codes.length !== n * CODE_LENGTH || out.length < n || keys.length % 32 !== 0) throw new RangeError("verifyScans: codes, keys, slot and out disagree");
    if (device !== undefined && (device.x.length < 32 * n || device.known.length < n)) throw new RangeError("verifyScans: dx holds 32 bytes and dknown 1 byte per code");
    for (let i = 0; i < n; i++) {
      const code = codes.subarray(i * CODE_LENGTH, (i + 1) * CODE_LENGTH);
      const s = slot[i]!;
      if (s < 0) {
        out[i] = this.#scan.check(code, null, null);
        continue;
      }
      if ((s + 1) * 32 > keys.length) throw new RangeError("verifyScans: slot out of range");
      const key = this.#issuerKey(keys.subarray(s * 32, s * 32 + 32));
      out[i] = key === null ? SIG_BAD_ISSUER : this.#scan.check(code, key, null); // a key that fails the §2 key test verifies nothing
    }
  }

  #issuerKey(raw: Uint8Array): PreparedPublicKey | null {
    const id = Buffer.from(raw.buffer, raw.byteOffset, 32).toString("latin1");
    let k = this.#keys.get(id);
    if (k === undefined) {
      if (this.#keys.size > 1024) this.#keys.clear();
      k = prepareVerifyKey(raw);
      this.#keys.set(id, k);
    }
    return k;
  }
}

/**
 * The two checks of a scan one at a time with `verifyStrict`: the fallback's `verifyScans`, and the
 * reference the native core is held to (test/crypto). Both signatures follow the §2 signature rule, and the
 * device key in the code passes the §2 key test (`isStrictPublicKeyEncoding`; `prepareVerifyKey` when not
 * given) or the scan is SIG_BAD_DEVICE, whichever way a given key was prepared.
 * Scratch messages: domain string ‖ signed bytes, reused per scan (single-threaded use only).
 */
export class ScanVerifier {
  readonly #credMsg = new Uint8Array(CREDENTIAL_DOMAIN.length + CREDENTIAL_SIGNED);
  readonly #presMsg = new Uint8Array(PRESENTATION_DOMAIN.length + PRESENTATION_SIGNED);

  constructor() {
    this.#credMsg.set(CREDENTIAL_DOMAIN, 0);
    this.#presMsg.set(PRESENTATION_DOMAIN, 0);
  }

  /**
   * SIG_OK, SIG_BAD_ISSUER or SIG_BAD_DEVICE for one code (212 bytes); throws only on a wrong length.
   * Invariant: `issuerKey` passed the §2 key test (`prepareVerifyKey`) when loaded; `deviceKey`, when given,
   * is the key of the code's devicePub.
   */
  check(code: Uint8Array, issuerKey: PreparedPublicKey | null, deviceKey: PreparedPublicKey | null): number {
    if (code.length !== CODE_LENGTH) throw new RangeError("a code is 212 bytes");
    if (issuerKey !== null) {
      this.#credMsg.set(code.subarray(0, CREDENTIAL_SIGNED), CREDENTIAL_DOMAIN.length);
      if (!verifyStrict(issuerKey, this.#credMsg, code.subarray(OFF.issuerSig, OFF.issuerSig + 64))) return SIG_BAD_ISSUER;
    }
    const devicePub = code.subarray(OFF.devicePub, OFF.devicePub + 32);
    let dk = deviceKey;
    if (dk === null) {
      dk = prepareVerifyKey(devicePub);
      if (dk === null) return SIG_BAD_DEVICE; // §2: non-canonical or small-order device key
    } else if (!isStrictPublicKeyEncoding(devicePub)) return SIG_BAD_DEVICE;
    this.#presMsg.set(code.subarray(0, PRESENTATION_SIGNED), PRESENTATION_DOMAIN.length);
    if (!verifyStrict(dk, this.#presMsg, code.subarray(OFF.deviceSig, OFF.deviceSig + 64))) return SIG_BAD_DEVICE;
    return SIG_OK;
  }
}
