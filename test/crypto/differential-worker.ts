/**
 * @module One Bun Worker of `npm run differential` (differential-run.ts): loads the verifiers it is told to
 * ("native" through loadNative(), "node:crypto"), then checks chunk after chunk with `runChunk`
 * (differential.ts) and posts each chunk's counts and mismatches back. A verifier that does not load is
 * reported, never silently left out.
 */
import { NodeCryptoBatchVerifier, type BatchVerifier } from "../../src/crypto/batch.ts";
import { loadNative } from "../../src/crypto/native.ts";
import { runChunk, type ChunkOptions } from "./differential.ts";

declare const self: Worker;

export type ToWorker =
  | { type: "init"; impls: string[] }
  | { type: "chunk"; seed: number; chunk: number; opt: ChunkOptions };
export type FromWorker =
  | { type: "ready"; impls: string[] }
  | { type: "error"; message: string }
  | { type: "done"; result: ReturnType<typeof runChunk>; ms: number };

let verifiers: BatchVerifier[] = [];

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  try {
    if (m.type === "init") {
      verifiers = m.impls.map((impl) => {
        if (impl === "node:crypto") return new NodeCryptoBatchVerifier();
        const l = loadNative();
        if (l.verifier === null) throw new Error(`native verifier unavailable in the worker: ${l.reason}`);
        return l.verifier;
      });
      self.postMessage({ type: "ready", impls: verifiers.map((v) => v.impl) } satisfies FromWorker);
    } else {
      const t = performance.now();
      const result = runChunk(m.seed, m.chunk, verifiers, m.opt);
      self.postMessage({ type: "done", result, ms: performance.now() - t } satisfies FromWorker);
    }
  } catch (err) {
    self.postMessage({ type: "error", message: (err as Error).stack ?? String(err) } satisfies FromWorker);
  }
};
