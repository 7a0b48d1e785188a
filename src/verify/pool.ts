/**
 * @module A pool of Bun Workers that verify coalesced signature checks on every core (spec §6).
 *
 * Each worker owns one `BatchVerifier` of the main thread's implementation (worker.ts): it is told which
 * at start and reports what it runs; a worker that runs anything else (it could not load the native core
 * the main thread loaded) is an error, surfaced by `ready()`, and is never given a chunk's answer to make.
 * Only signatures move: replay, revocation and validity are decided on the main thread (pipeline.ts).
 *
 * Scheduling: a worker has at most one chunk (coalesce.ts) in flight. A check that finds a worker idle is
 * posted at once, split across the idle workers only when large (at least `minChunk` scans each); when every
 * worker is busy the checks queue, and the next worker to answer takes everything queued, up to `maxChunk`
 * scans, as one chunk: under load the verifier's batch grows with the load, not with the requests' size.
 * A chunk's buffer carries its own issuer keys, so a key added to the trust store later reaches a worker
 * with the first chunk that names it.
 *
 * A worker that dies has its chunk checked on the main thread (`CoalescingChecker`, with the same verifier)
 * and is replaced, up to MAX_RESPAWNS; after `close()`, or with no worker left, every check is on the main
 * thread. No check ever fails for lack of a worker.
 */
import type { BatchVerifier, VerifierImpl } from "../crypto/batch.ts";
import { Chunk, chunkViews, COALESCE_LIMITS, CoalescingChecker, failAll, ScanQueue, type Span } from "./coalesce.ts";
import type { SigJob, SignatureChecker } from "./signatures.ts";

export interface PoolOptions {
  /** Worker threads, ≥ 1. */
  workers: number;
  /** The main thread's verifier: every worker must run its implementation; it checks what no worker can. */
  verifier: BatchVerifier;
  /** Smallest chunk a worker is given when queued checks are split across idle workers. */
  minChunk?: number;
  /** Largest chunk (default COALESCE_LIMITS[impl].chunk). */
  maxChunk?: number;
  /** The worker script (tests may substitute one). */
  workerUrl?: URL | string;
}

export const POOL_DEFAULTS = { minChunk: 64 } as const;

/** Replacement workers made after deaths before the pool stops replacing and checks inline. */
const MAX_RESPAWNS = 16;

/** What a worker sends (worker.ts). */
type WorkerMessage = { t: "impl"; impl: VerifierImpl | null; reason?: string } | { t: "done"; buf: ArrayBuffer };

interface Thread {
  worker: Worker;
  /** The chunk posted and not yet answered: at most one. */
  chunk: Chunk | null;
  alive: boolean;
  /** It reported the main thread's implementation. */
  reported: boolean;
}

export class PoolChecker implements SignatureChecker {
  readonly #inline: CoalescingChecker;
  readonly #queue = new ScanQueue();
  readonly #threads: Thread[] = [];
  readonly #impl: VerifierImpl;
  readonly #minChunk: number;
  readonly #maxChunk: number;
  readonly #url: URL | string;
  readonly #ready: Promise<void>;
  #settleReady: ((error: Error | null) => void) | null = null;
  #respawns = 0;
  #closed = false;

  constructor(opts: PoolOptions) {
    if (!Number.isInteger(opts.workers) || opts.workers < 1) throw new RangeError("a pool needs at least one worker");
    this.#impl = opts.verifier.impl;
    this.#inline = new CoalescingChecker(opts.verifier);
    this.#minChunk = Math.max(1, opts.minChunk ?? POOL_DEFAULTS.minChunk);
    this.#maxChunk = Math.max(this.#minChunk, opts.maxChunk ?? COALESCE_LIMITS[this.#impl].chunk);
    this.#url = opts.workerUrl ?? new URL("./worker.ts", import.meta.url);
    this.#ready = new Promise<void>((resolve, reject) => {
      this.#settleReady = (e) => (e === null ? resolve() : reject(e));
    });
    this.#ready.catch(() => {}); // surfaced by ready(); unobserved it is no crash
    for (let i = 0; i < opts.workers; i++) this.#threads.push(this.#spawn());
  }

  get impl(): VerifierImpl {
    return this.#impl;
  }

  /** Live worker threads. */
  get threads(): number {
    return this.#threads.filter((t) => t.alive).length;
  }

  /** Workers with a chunk in flight. */
  get busy(): number {
    return this.#threads.filter((t) => t.alive && t.chunk !== null).length;
  }

  /** Scans waiting for a worker. */
  get queued(): number {
    return this.#queue.size;
  }

  /** Resolves once every worker reported the main thread's implementation; rejects when one runs another. */
  ready(): Promise<void> {
    return this.#ready;
  }

  check(jobs: readonly SigJob[]): Uint8Array | Promise<Uint8Array> {
    if (jobs.length === 0) return new Uint8Array(0);
    if (this.#closed || this.threads === 0) return this.#inline.check(jobs);
    const answer = this.#queue.add(jobs);
    this.#dispatch();
    return answer;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#threads) this.#retire(t);
    this.#orphaned();
    this.#checkReady(null); // every check is on the main thread now
  }

  // ── internals ─────────────────────────────────────────────────────────────

  /** Gives queued scans to idle workers: split when there is enough for several, one chunk each at most. */
  #dispatch(): void {
    const idle = this.#threads.filter((t) => t.alive && t.chunk === null);
    const k = Math.min(idle.length, Math.max(1, Math.floor(this.#queue.size / this.#minChunk)));
    for (let c = 0; c < k && this.#queue.size > 0; c++) {
      this.#post(idle[c]!, this.#queue.take(Math.min(this.#maxChunk, Math.ceil(this.#queue.size / (k - c)))));
    }
  }

  #post(t: Thread, spans: readonly Span[]): void {
    let chunk: Chunk;
    try {
      chunk = new Chunk(spans);
    } catch (e) {
      failAll(spans, e);
      return;
    }
    t.chunk = chunk;
    t.worker.ref();
    t.worker.postMessage({ t: "check", n: chunk.n, k: chunk.k, buf: chunk.buf }, [chunk.buf]);
  }

  #spawn(): Thread {
    const worker = new Worker(this.#url);
    const t: Thread = { worker, chunk: null, alive: true, reported: false };
    worker.unref();
    worker.onmessage = (e: MessageEvent) => this.#message(t, e.data as WorkerMessage);
    worker.onerror = (e: Event) => {
      e.preventDefault?.();
      this.#died(t);
    };
    worker.addEventListener("close", () => this.#died(t));
    worker.postMessage({ t: "init", impl: this.#impl });
    return t;
  }

  #message(t: Thread, m: WorkerMessage): void {
    if (m.t === "impl") {
      if (m.impl === this.#impl) {
        t.reported = true;
        this.#checkReady(null);
        return;
      }
      // never mixed: this worker verifies nothing, and a replacement would fare no better
      const why = m.impl === null ? `cannot run it: ${m.reason}` : `runs ${m.impl}`;
      this.#retire(t);
      this.#orphaned();
      this.#checkReady(new Error(`the main thread verifies with ${this.#impl} but a signature worker ${why}`));
      return;
    }
    const chunk = t.chunk;
    if (chunk === null) return;
    t.chunk = null;
    t.worker.unref();
    const v = chunkViews(m.buf, chunk.n, chunk.k);
    chunk.deliver(v.out, this.#impl === "native" ? v.device.x : null);
    this.#dispatch();
  }

  /** Settles `ready()`: with `error`, or once every live worker has reported. */
  #checkReady(error: Error | null): void {
    if (this.#settleReady === null) return;
    if (error === null && this.#threads.some((t) => t.alive && !t.reported)) return;
    this.#settleReady(error);
    this.#settleReady = null;
  }

  /** Stops a worker; whatever it owed is checked on this thread. */
  #retire(t: Thread): void {
    if (!t.alive) return;
    t.alive = false;
    t.worker.onmessage = null;
    t.worker.terminate();
    if (t.chunk !== null) this.#inline.adopt(t.chunk.spans);
    t.chunk = null;
  }

  /** With no worker left, the queue is checked on this thread. */
  #orphaned(): void {
    if (this.threads === 0) this.#inline.adopt(this.#queue.take(this.#queue.size));
  }

  #died(t: Thread): void {
    if (!t.alive) return;
    this.#retire(t);
    if (!this.#closed && this.#respawns < MAX_RESPAWNS) {
      this.#respawns++;
      this.#threads[this.#threads.indexOf(t)] = this.#spawn();
    }
    this.#orphaned();
    this.#checkReady(null);
    this.#dispatch();
  }
}
