/**
 * @module Coalesced signature checks (issue 12): the checks of every request and stream frame in flight
 * are verified together, because at peak a gateway's request holds one or two scans, so the verifier's
 * batch must not be the gateway's batch.
 *
 * `check()` queues a request's jobs (`ScanQueue`); whoever verifies takes scans from the front of the queue,
 * whichever requests they came from, as a `Chunk`: the buffer of one `BatchVerifier.verifyScans` call,
 *   n × 212 code bytes ‖ n × i32 issuer-key slot (−1: credential already verified, §3 LRU: device signature
 *   only) ‖ n result bytes (SIG_*) ‖ k × 32 bytes: the chunk's distinct issuer keys, by slot ‖ n × 32 bytes:
 *   the device keys' x coordinates ‖ n bytes: 1 where that x is known (`BatchVerifier` `device`),
 * which the pool transfers to a worker and back (pool.ts). A request is answered when its last scan is. A
 * scan's answer depends only on its code and its issuer key, never on the scans that share its call or on
 * the thread that makes it, so every path (single, batch, stream, inline, pool) answers a code the same
 * (spec §3); only speed differs. A programmer error (a code not of 212 bytes, buffers that disagree) fails
 * the requests of that call, never the node.
 *
 * The verifier takes the device key from the code's bytes; a job's `deviceX` (signatures.ts) goes in with
 * it, and a native call's x of every newly verified device key comes back into its job.
 *
 * `CoalescingChecker` verifies on the calling thread (workers = 0): a check schedules one flush with
 * `setImmediate`, never a timer, so an idle node answers within the turn of the event loop that asked; the
 * flush makes one `verifyScans` call over everything queued by then, up to a size that keeps the call
 * within about INLINE_SLICE_MS (COALESCE_LIMITS, `CallSizer`), and the rest waits for the next turn, so the
 * loop is free between calls.
 */
import type { BatchVerifier, DeviceKeys, VerifierImpl } from "../crypto/batch.ts";
import { rawPublicKey, type PreparedPublicKey } from "../crypto/ed25519.ts";
import { CODE_LENGTH } from "../wire/code.ts";
import type { SigJob, SignatureChecker } from "./signatures.ts";

/** How long one call on the main thread may hold the event loop, about (ms). */
export const INLINE_SLICE_MS = 20;

/**
 * Scans per `verifyScans` call, by implementation. On the main thread (`inline`) a call takes from `min` to
 * `max` scans, as many as the cost per scan last seen allows within the slice (`CallSizer`). The native
 * core wants large calls (its batch equation costs about half as much per scan at 1024 as at 256), but a
 * forged signature costs it several times a valid one (a failing batch is bisected), as it does node:crypto
 * (each rejection re-checked in JavaScript, spec §2, about 0.5 ms), so a size that suits valid scans would
 * hold the loop far longer under a flood of forged ones: the size follows the cost, and `min` alone stays
 * within the slice when every scan is forged. node:crypto gains nothing from large calls. For a worker,
 * which holds no loop, `chunk`: large enough for the batch equation, small enough that one worker does not
 * take a burst the other workers could share.
 */
export const COALESCE_LIMITS: Readonly<Record<VerifierImpl, { inline: { min: number; max: number }; chunk: number }>> = {
  native: { inline: { min: 64, max: 1024 }, chunk: 2048 },
  "node:crypto": { inline: { min: 8, max: 16 }, chunk: 256 },
};

/**
 * The size of the next call on the main thread: it starts at `min`; a call that filled its size in under
 * half the slice doubles it (up to `max`); one that took longer than the slice brings it down to what would
 * have taken half, at that call's cost per scan (not below `min`). A call can hold the loop longer than the
 * slice only when the cost per scan jumps (valid scans, then a burst of forged ones), once.
 */
export class CallSizer {
  readonly #min: number;
  readonly #max: number;
  #size: number;

  constructor(min: number, max: number) {
    this.#min = Math.max(1, min);
    this.#max = Math.max(this.#min, max);
    this.#size = this.#min;
  }

  get size(): number {
    return this.#size;
  }

  /** A call of `n` scans held the loop for `ms`. */
  took(n: number, ms: number): void {
    if (ms > INLINE_SLICE_MS) this.#size = Math.max(this.#min, Math.floor((n * INLINE_SLICE_MS) / (2 * ms)));
    else if (n >= this.#size && ms < INLINE_SLICE_MS / 2) this.#size = Math.min(this.#max, 2 * this.#size);
  }
}

/** One `check()` call: its jobs, answered in order, as they are verified. */
interface Request {
  readonly jobs: readonly SigJob[];
  readonly out: Uint8Array;
  /** Scans not answered yet. */
  left: number;
  resolve(out: Uint8Array): void;
  reject(e: unknown): void;
}

/** Jobs `from` .. `from + n` of one request. */
export interface Span {
  readonly req: Request;
  from: number;
  n: number;
}

/** Requests waiting for a verifier, oldest first. */
export class ScanQueue {
  #spans: Span[] = [];
  #size = 0;

  /** Scans queued. */
  get size(): number {
    return this.#size;
  }

  /** Queues `jobs` (at least one); the promise answers them, SIG_* per job in order. */
  add(jobs: readonly SigJob[]): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      const req: Request = { jobs, out: new Uint8Array(jobs.length), left: jobs.length, resolve, reject };
      this.#spans.push({ req, from: 0, n: jobs.length });
      this.#size += jobs.length;
    });
  }

  /** Spans taken and not answered (a dead worker's chunk), back at the front: they are checked first. */
  putBack(spans: readonly Span[]): void {
    this.#spans = [...spans, ...this.#spans];
    for (const s of spans) this.#size += s.n;
  }

  /** Up to `max` scans from the front (the last request taken may be split). */
  take(max: number): Span[] {
    const spans = this.#spans;
    const out: Span[] = [];
    let room = max;
    let whole = 0;
    while (room > 0 && whole < spans.length) {
      const s = spans[whole]!;
      if (s.n > room) {
        out.push({ req: s.req, from: s.from, n: room });
        s.from += room;
        s.n -= room;
        room = 0;
        break;
      }
      out.push(s);
      room -= s.n;
      whole++;
    }
    spans.splice(0, whole);
    this.#size -= max - room;
    return out;
  }
}

const rawKeys = new WeakMap<PreparedPublicKey, Uint8Array>();

/** The 32 raw bytes of an issuer key, exported once per key. */
function rawOf(key: PreparedPublicKey): Uint8Array {
  let raw = rawKeys.get(key);
  if (raw === undefined) {
    raw = rawPublicKey(key);
    rawKeys.set(key, raw);
  }
  return raw;
}

/** Fails every request `spans` belong to (a programmer error; module comment). */
export function failAll(spans: readonly Span[], e: unknown): void {
  for (const s of spans) s.req.reject(e);
}

/** The views of a chunk's buffer (layout in the module comment): for the pool, the worker and `Chunk`. */
export function chunkViews(buf: ArrayBuffer, n: number, k: number): { codes: Uint8Array; slot: Int32Array; out: Uint8Array; keys: Uint8Array; device: DeviceKeys } {
  const slotAt = n * CODE_LENGTH; // 212 = 4 × 53: the slots are aligned
  const outAt = slotAt + 4 * n;
  const xAt = outAt + n + 32 * k;
  return {
    codes: new Uint8Array(buf, 0, slotAt),
    slot: new Int32Array(buf, slotAt, n),
    out: new Uint8Array(buf, outAt, n),
    keys: new Uint8Array(buf, outAt + n, 32 * k),
    device: { x: new Uint8Array(buf, xAt, 32 * n), known: new Uint8Array(buf, xAt + 32 * n, n) },
  };
}

/** Bytes of a chunk of n scans and k issuer keys. */
const chunkBytes = (n: number, k: number): number => n * (CODE_LENGTH + 4 + 1 + 32 + 1) + 32 * k;

/** The scans of one `verifyScans` call, packed; and the requests they answer. */
export class Chunk {
  readonly spans: readonly Span[];
  /** Scans, and distinct issuer keys. */
  readonly n: number;
  readonly k: number;
  readonly buf: ArrayBuffer;

  constructor(spans: readonly Span[]) {
    this.spans = spans;
    const slots = new Map<PreparedPublicKey, number>();
    let n = 0;
    for (const s of spans) {
      for (let i = s.from; i < s.from + s.n; i++) {
        const key = s.req.jobs[i]!.issuerKey;
        if (key !== null && !slots.has(key)) slots.set(key, slots.size);
      }
      n += s.n;
    }
    this.n = n;
    this.k = slots.size;
    this.buf = new ArrayBuffer(chunkBytes(n, this.k));
    const v = chunkViews(this.buf, n, this.k);
    let j = 0;
    for (const s of spans) {
      for (let i = s.from; i < s.from + s.n; i++, j++) {
        const job = s.req.jobs[i]!;
        if (job.code.length !== CODE_LENGTH) throw new RangeError("a code is 212 bytes");
        v.codes.set(job.code, j * CODE_LENGTH);
        v.slot[j] = job.issuerKey === null ? -1 : slots.get(job.issuerKey)!;
        if (job.deviceX !== null && job.deviceX.length === 32) {
          v.device.x.set(job.deviceX, 32 * j);
          v.device.known[j] = 1;
        }
      }
    }
    for (const [key, slot] of slots) v.keys.set(rawOf(key), 32 * slot);
  }

  /** Verifies the chunk on this thread and answers it. */
  run(verifier: BatchVerifier): void {
    const v = chunkViews(this.buf, this.n, this.k);
    verifier.verifyScans(v.codes, v.keys, v.slot, v.out, v.device);
    this.deliver(v.out, verifier.impl === "native" ? v.device.x : null);
  }

  /**
   * Gives each request its results (`out`: n bytes, in chunk order), and each job answered SIG_OK without a
   * device x its x from `x` (the native core's; null for node:crypto, which gives none); a request answered
   * whole is resolved.
   */
  deliver(out: Uint8Array, x: Uint8Array | null): void {
    let at = 0;
    for (const s of this.spans) {
      s.req.out.set(out.subarray(at, at + s.n), s.from);
      if (x !== null) {
        for (let i = 0; i < s.n; i++) {
          const job = s.req.jobs[s.from + i]!;
          if (out[at + i] === 0 && job.deviceX === null) job.deviceX = x.subarray(32 * (at + i), 32 * (at + i) + 32); // a view: verifiedCredential copies it
        }
      }
      at += s.n;
      s.req.left -= s.n;
      if (s.req.left === 0) s.req.resolve(s.req.out);
    }
  }
}

/** Coalesced checks on the calling thread (module comment). */
export class CoalescingChecker implements SignatureChecker {
  readonly #verifier: BatchVerifier;
  readonly #sizer: CallSizer;
  readonly #queue = new ScanQueue();
  #scheduled = false;

  /** Scans per call from `minScans` to `maxScans` (default COALESCE_LIMITS[impl].inline). */
  constructor(verifier: BatchVerifier, opts: { minScans?: number; maxScans?: number } = {}) {
    this.#verifier = verifier;
    const d = COALESCE_LIMITS[verifier.impl].inline;
    this.#sizer = new CallSizer(opts.minScans ?? d.min, opts.maxScans ?? d.max);
  }

  get impl(): VerifierImpl {
    return this.#verifier.impl;
  }

  check(jobs: readonly SigJob[]): Uint8Array | Promise<Uint8Array> {
    if (jobs.length === 0) return new Uint8Array(0);
    const answer = this.#queue.add(jobs);
    this.#schedule();
    return answer;
  }

  /** Checks spans another checker took and cannot answer (a dead worker's chunk), before what is queued. */
  adopt(spans: readonly Span[]): void {
    if (spans.length === 0) return;
    this.#queue.putBack(spans);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#flush);
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    // performance.now() measures a duration here, not the time of day (the Clock is for that)
    const start = performance.now();
    const spans = this.#queue.take(this.#sizer.size);
    try {
      const chunk = new Chunk(spans);
      chunk.run(this.#verifier);
      this.#sizer.took(chunk.n, performance.now() - start);
    } catch (e) {
      failAll(spans, e);
    }
    if (this.#queue.size > 0) this.#schedule();
  };
}
