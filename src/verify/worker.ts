/**
 * @module A signature worker (spec §6: "signature checks of a batch may use every core"). It runs the
 * same `ScanVerifier` as the main thread, so every core accepts exactly the same signatures (§3), and decides
 * nothing else: replay, revocation and validity stay on the main thread.
 *
 * Messages (see `pool.ts`, which owns the layout):
 *   in  {t: "key", slot, raw}        an issuer public key (32 raw bytes) for a slot ≥ 1, prepared once here
 *   in  {t: "check", id, n, buf}     `buf` (transferred) = n codes of 212 bytes ‖ n × u32 slot ‖ n result bytes
 *   out {id, buf}                    the same buffer, transferred back, with the result bytes filled in
 */
import { preparePublicKey, type PreparedPublicKey } from "../crypto/ed25519.ts";
import { CODE_LENGTH } from "../wire/code.ts";
import { ScanVerifier } from "./signatures.ts";

declare var self: Worker;

const signer = new ScanVerifier();
/** Issuer keys by slot (slot 0 = the credential is already verified: no issuer check). */
const keys: (PreparedPublicKey | undefined)[] = [];

self.onmessage = (e: MessageEvent) => {
  const m = e.data as { t: "key"; slot: number; raw: Uint8Array } | { t: "check"; id: number; n: number; buf: ArrayBuffer };
  if (m.t === "key") {
    keys[m.slot] = preparePublicKey(m.raw);
    return;
  }
  const { id, n, buf } = m;
  const codes = new Uint8Array(buf, 0, n * CODE_LENGTH);
  const slots = new Uint32Array(buf, n * CODE_LENGTH, n);
  const out = new Uint8Array(buf, n * (CODE_LENGTH + 4), n);
  for (let i = 0; i < n; i++) {
    const slot = slots[i]!;
    let issuerKey: PreparedPublicKey | null = null;
    if (slot !== 0) {
      issuerKey = keys[slot] ?? null;
      // Invariant: the pool posts a slot's key before any batch that names it (messages arrive in order)
      if (issuerKey === null) throw new Error(`issuer key slot ${slot} was never sent to this worker`);
    }
    out[i] = signer.check(codes.subarray(i * CODE_LENGTH, (i + 1) * CODE_LENGTH), issuerKey, null);
  }
  self.postMessage({ id, buf }, [buf]);
};
