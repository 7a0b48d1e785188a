/**
 * @module Loads the project's C verification core (native/, built by `npm install` with node-gyp) as a
 * `BatchVerifier`, or says why it cannot; the caller then runs on `NodeCryptoBatchVerifier`, which answers
 * the same (batch.ts). Nothing here throws: a missing or broken build is a reason, not a crash.
 */
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { CREDENTIAL_DOMAIN, NodeCryptoBatchVerifier, PRESENTATION_DOMAIN, SCAN_LAYOUT, type BatchVerifier, type DeviceKeys, type VerifierImpl } from "./batch.ts";

/** The N-API module's exports (native/src/addon.c). */
interface NativeExports {
  version: string;
  verifyOne(pk: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean;
  verifyBatch(pk: Uint8Array, sig: Uint8Array, msg: Uint8Array, msgEnd: Uint32Array, out: Uint8Array): void;
  verifyScans(codes: Uint8Array, keys: Uint8Array, slot: Int32Array, out: Uint8Array, credDomain: Uint8Array, presDomain: Uint8Array, layout: Uint32Array, dx?: Uint8Array, dknown?: Uint8Array): void;
}

/** Where `npm install` leaves the built core. */
export const NATIVE_PATH = resolve(import.meta.dir, "../../native/build/Release/yukuai_ed25519.node");

class NativeBatchVerifier implements BatchVerifier {
  readonly impl = "native" as const;
  constructor(readonly m: NativeExports) {}

  verifyOne(pk: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
    if (pk.length !== 32 || sig.length !== 64) return false;
    return this.m.verifyOne(pk, msg, sig);
  }

  verifyBatch(pk: Uint8Array, sig: Uint8Array, msg: Uint8Array, msgEnd: Uint32Array, out: Uint8Array): void {
    this.m.verifyBatch(pk, sig, msg, msgEnd, out);
  }

  verifyScans(codes: Uint8Array, keys: Uint8Array, slot: Int32Array, out: Uint8Array, device?: DeviceKeys): void {
    if (device === undefined) this.m.verifyScans(codes, keys, slot, out, CREDENTIAL_DOMAIN, PRESENTATION_DOMAIN, SCAN_LAYOUT);
    else this.m.verifyScans(codes, keys, slot, out, CREDENTIAL_DOMAIN, PRESENTATION_DOMAIN, SCAN_LAYOUT, device.x, device.known);
  }
}

export type Loaded = { verifier: BatchVerifier; reason: null } | { verifier: null; reason: string };

/** The native core from `path`, or the reason it cannot be used. */
export function loadNative(path: string = NATIVE_PATH): Loaded {
  if (!existsSync(path)) return { verifier: null, reason: `${path} not built` };
  try {
    const m = createRequire(import.meta.url)(path) as NativeExports;
    if (typeof m.verifyScans !== "function" || typeof m.verifyBatch !== "function" || typeof m.verifyOne !== "function") {
      return { verifier: null, reason: `${path} does not export the verifier` };
    }
    return { verifier: new NativeBatchVerifier(m), reason: null };
  } catch (e) {
    return { verifier: null, reason: `${path} did not load: ${(e as Error).message}` };
  }
}

/**
 * The verifier a node runs, from `config.verifier` (`YUKUAI_VERIFIER`, checked by config.ts): "native" (the
 * core, or an error), "node:crypto" (never the core), or null (the core when it loads, else node:crypto with
 * the reason).
 */
export function chooseVerifier(want: VerifierImpl | null, path: string = NATIVE_PATH): { verifier: BatchVerifier; fallbackReason: string | null } {
  if (want === "node:crypto") return { verifier: new NodeCryptoBatchVerifier(), fallbackReason: "YUKUAI_VERIFIER=node:crypto" };
  const l = loadNative(path);
  if (l.verifier !== null) return { verifier: l.verifier, fallbackReason: null };
  if (want === "native") throw new Error(`YUKUAI_VERIFIER=native but the native core is unavailable: ${l.reason}`);
  return { verifier: new NodeCryptoBatchVerifier(), fallbackReason: l.reason };
}
