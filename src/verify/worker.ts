/**
 * @module A signature worker (spec §6: "signature checks of a batch may use every core"). It runs one
 * `BatchVerifier` of the implementation the main thread runs, so every core answers a code as the main
 * thread does (§3), and decides nothing else: replay, revocation and validity stay on the main thread.
 *
 * Messages (pool.ts owns the protocol, coalesce.ts the chunk layout):
 *   in  {t: "init", impl}              the implementation to run (the main thread's); always first
 *   out {t: "impl", impl, reason?}     what this worker runs; impl null, and why, when it cannot run it
 *   in  {t: "check", n, k, buf}        a chunk (transferred): n scans, k issuer keys
 *   out {t: "done", buf}               the same buffer, transferred back, with the result bytes filled in
 */
import type { BatchVerifier, VerifierImpl } from "../crypto/batch.ts";
import { chooseVerifier } from "../crypto/native.ts";
import { chunkViews } from "./coalesce.ts";

declare var self: Worker;

/** The verifier of `impl`, or why there is none: never another implementation (chooseVerifier refuses). */
function verifierOf(impl: VerifierImpl): BatchVerifier | string {
  try {
    return chooseVerifier(impl).verifier;
  } catch (e) {
    return (e as Error).message;
  }
}

let verifier: BatchVerifier | null = null;

self.onmessage = (e: MessageEvent) => {
  const m = e.data as { t: "init"; impl: VerifierImpl } | { t: "check"; n: number; k: number; buf: ArrayBuffer };
  if (m.t === "init") {
    const v = verifierOf(m.impl);
    if (typeof v === "string") {
      self.postMessage({ t: "impl", impl: null, reason: v });
      return;
    }
    verifier = v;
    self.postMessage({ t: "impl", impl: v.impl });
    return;
  }
  // Invariant: the pool retires a worker that could not run its verifier before it can answer a chunk
  if (verifier === null) return;
  const { codes, keys, slot, out, device } = chunkViews(m.buf, m.n, m.k);
  verifier.verifyScans(codes, keys, slot, out, device);
  self.postMessage({ t: "done", buf: m.buf }, [m.buf]);
};
