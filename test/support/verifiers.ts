/**
 * The signature verifiers a test runs on: node:crypto always, the native core when it is built (else the
 * reason it is not, printed once, so a run without it says what it skipped); and a verifier that counts
 * the calls made to it, to see how checks were coalesced.
 */
import { NodeCryptoBatchVerifier, type BatchVerifier, type DeviceKeys, type VerifierImpl } from "../../src/crypto/batch.ts";
import { loadNative } from "../../src/crypto/native.ts";

const native = loadNative();
if (native.verifier === null) console.log(`[verifiers] native core not available (${native.reason}): native cases are skipped`);

/** The reason the native core cannot run here, or null when it can. */
export const nativeUnavailable: string | null = native.reason;

/** Every implementation this machine runs, node:crypto first. */
export const IMPLS: readonly VerifierImpl[] = native.verifier === null ? ["node:crypto"] : ["node:crypto", "native"];

/** A fresh verifier of `impl` (which must be in IMPLS). */
export function verifierOf(impl: VerifierImpl): BatchVerifier {
  if (impl === "node:crypto") return new NodeCryptoBatchVerifier();
  if (native.verifier === null) throw new Error(`native core not available: ${native.reason}`);
  return native.verifier;
}

/** One `verifyScans` call as the counting verifier saw it. */
export interface ScansCall {
  /** Scans, and issuer keys in the keys table. */
  n: number;
  k: number;
  /** The keys table's entries (hex) and each scan's slot. */
  keys: string[];
  slots: number[];
}

/** Forwards every call to `inner`: the base of a verifier that watches the calls a node makes (`verifyScans`). */
export class ForwardingVerifier implements BatchVerifier {
  constructor(readonly inner: BatchVerifier) {}

  get impl(): VerifierImpl {
    return this.inner.impl;
  }

  verifyOne(pk: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
    return this.inner.verifyOne(pk, msg, sig);
  }

  verifyBatch(pk: Uint8Array, sig: Uint8Array, msg: Uint8Array, msgEnd: Uint32Array, out: Uint8Array): void {
    this.inner.verifyBatch(pk, sig, msg, msgEnd, out);
  }

  verifyScans(codes: Uint8Array, keys: Uint8Array, slot: Int32Array, out: Uint8Array, device?: DeviceKeys): void {
    this.inner.verifyScans(codes, keys, slot, out, device);
  }
}

/** `inner`, recording every `verifyScans` call; `onCall` runs after each (a test's probe of the event loop). */
export class CountingVerifier extends ForwardingVerifier {
  readonly calls: ScansCall[] = [];
  onCall: ((call: ScansCall) => void) | null = null;

  override verifyScans(codes: Uint8Array, keys: Uint8Array, slot: Int32Array, out: Uint8Array, device?: DeviceKeys): void {
    super.verifyScans(codes, keys, slot, out, device);
    const k = keys.length / 32;
    const call: ScansCall = {
      n: slot.length, k,
      keys: Array.from({ length: k }, (_, i) => Buffer.from(keys.subarray(32 * i, 32 * i + 32)).toString("hex")),
      slots: [...slot],
    };
    this.calls.push(call);
    this.onCall?.(call);
  }
}
