/**
 * @module The two signature checks of a scan (spec §3, BAD_ISSUER_SIGNATURE then BAD_DEVICE_SIGNATURE),
 * shared by the main thread and the worker pool so that every core accepts exactly the same signatures.
 * Both follow the §2 signature rule (`verifyStrict`), and the device key in the code passes the §2 key test
 * (`isStrictPublicKeyEncoding`; `prepareVerifyKey` when not cached) or the scan is BAD_DEVICE_SIGNATURE,
 * whichever way a cached key was prepared, so the inline and the worker path agree.
 */
import { isStrictPublicKeyEncoding, prepareVerifyKey, verifyStrict, type PreparedPublicKey } from "../crypto/ed25519.ts";
import {
  CODE_LENGTH, CREDENTIAL_DOMAIN, CREDENTIAL_SIGNED, OFF, PRESENTATION_DOMAIN, PRESENTATION_SIGNED,
} from "../wire/code.ts";

export const SIG_OK = 0;
export const SIG_BAD_ISSUER = 1;
export const SIG_BAD_DEVICE = 2;

export interface SigJob {
  /** The 212-byte code. */
  code: Uint8Array;
  /** The issuer key to check issuerSig with; null when the credential is already verified (§3 LRU). */
  issuerKey: PreparedPublicKey | null;
  /** The key of the code's devicePub when known (cached credential); else it is prepared from the code. */
  deviceKey: PreparedPublicKey | null;
}

/** Checks a batch's signatures; answers SIG_* per job, in order. */
export interface SignatureChecker {
  check(jobs: readonly SigJob[]): Uint8Array | Promise<Uint8Array>;
  close?(): void;
}

/** Scratch messages: domain string ‖ signed bytes, reused per scan (single-threaded use only). */
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

/** How long inline checking holds the event loop before it lets other work run (ms). */
export const INLINE_SLICE_MS = 20;

/**
 * Checks on the calling thread (1-core machines, and small batches). A batch that takes longer than
 * INLINE_SLICE_MS (a large one, or one of forged signatures, each re-checked in JavaScript, spec §2) is
 * checked in slices with the event loop free in between, so no batch stalls the node: a batch that fits in
 * one slice is answered synchronously, as before.
 */
export class InlineChecker implements SignatureChecker {
  readonly #signer = new ScanVerifier();

  check(jobs: readonly SigJob[]): Uint8Array | Promise<Uint8Array> {
    const out = new Uint8Array(jobs.length);
    const next = this.#slice(jobs, out, 0);
    return next === jobs.length ? out : this.#rest(jobs, out, next);
  }

  /** Checks from `from` until the slice's time is used; returns where it stopped. */
  #slice(jobs: readonly SigJob[], out: Uint8Array, from: number): number {
    // performance.now() measures a duration here, not the time of day (the Clock is for that)
    const until = performance.now() + INLINE_SLICE_MS;
    let i = from;
    while (i < jobs.length) {
      const j = jobs[i]!;
      out[i] = this.#signer.check(j.code, j.issuerKey, j.deviceKey);
      i++;
      if ((i & 7) === 0 && performance.now() > until) break;
    }
    return i;
  }

  async #rest(jobs: readonly SigJob[], out: Uint8Array, from: number): Promise<Uint8Array> {
    let i = from;
    while (i < jobs.length) {
      await new Promise<void>((r) => setTimeout(r, 0));
      i = this.#slice(jobs, out, i);
    }
    return out;
  }
}
