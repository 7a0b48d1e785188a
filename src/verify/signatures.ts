/**
 * @module The two signature checks of a scan (spec §3, BAD_ISSUER_SIGNATURE then BAD_DEVICE_SIGNATURE): the
 * answers (SIG_*), the jobs the pipeline asks for and the `SignatureChecker` it asks (coalesce.ts on the
 * main thread, pool.ts on workers, both over one `BatchVerifier`, crypto/batch.ts).
 *
 * The answers and `ScanVerifier` (the two checks one scan at a time with `verifyStrict`) live beside the
 * verifiers in crypto/batch.ts and are re-exported here.
 */
import type { PreparedPublicKey } from "../crypto/ed25519.ts";

export { ScanVerifier, SIG_BAD_DEVICE, SIG_BAD_ISSUER, SIG_OK } from "../crypto/batch.ts";

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
