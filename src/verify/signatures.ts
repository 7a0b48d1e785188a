/**
 * @module The two signature checks of a scan (spec §3, BAD_ISSUER_SIGNATURE then BAD_DEVICE_SIGNATURE): the
 * answers (SIG_*), the jobs the pipeline asks for and the `SignatureChecker` it asks (coalesce.ts on the
 * main thread, pool.ts on workers, both over one `BatchVerifier`, crypto/batch.ts).
 *
 * `ScanVerifier` is the same two checks one scan at a time with `verifyStrict`, the reference the
 * verifiers are held to (test/crypto): both signatures follow the §2 signature rule, and the device key in
 * the code passes the §2 key test (`isStrictPublicKeyEncoding`; `prepareVerifyKey` when not cached) or the
 * scan is BAD_DEVICE_SIGNATURE, whichever way a cached key was prepared.
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
  /**
   * The x coordinate of the code's devicePub as the native core decoded it (cached credential), or null.
   * A checker on the native core passes it in (sparing the decoding; the core checks it against the code's
   * devicePub, so it can cost time, never an answer) and, for a scan answered SIG_OK without one, sets it,
   * for the pipeline to keep with the verified credential. The device key itself always comes from the
   * code's bytes.
   */
  deviceX: Uint8Array | null;
}

/** Checks a batch's signatures; answers SIG_* per job, in order. */
export interface SignatureChecker {
  check(jobs: readonly SigJob[]): Uint8Array | Promise<Uint8Array>;
  /** Resolves when the checker answers with the node's verifier (the pool: every worker runs it); rejects when it cannot. */
  ready?(): Promise<void>;
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
