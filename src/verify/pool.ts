/**
 * @module A pool of Bun Workers that check the signatures of a batch on every core (spec §6).
 *
 * Each worker runs `ScanVerifier` (signatures.ts), the one place both signatures are checked, so a scan gets
 * the same answer on every core (§3). Only signatures move: replay, revocation and validity are decided on
 * the main thread (pipeline.ts).
 *
 * A batch's codes are packed into one ArrayBuffer per worker chunk and transferred, not copied:
 *   n × 212 code bytes ‖ n × u32 issuer-key slot (0 = credential already verified, §3 LRU: device check
 *   only) ‖ n result bytes (SIG_*), filled by the worker, and the buffer transferred back.
 * Issuer keys go to the workers once, as 32 raw bytes, the first time a batch names them (so a key added to
 * the trust store later reaches the workers before the first batch that needs it; messages are ordered).
 *
 * Invariant: a job's `deviceKey`, when given, is the key of its code's own devicePub (a cache hit needs all
 * 138 bytes equal, credential-cache.ts), so workers prepare the device key from the code's bytes.
 *
 * Batches below `inlineBelow` jobs are checked inline (none by default: see POOL_DEFAULTS). A worker that
 * dies has its pending chunks checked inline and is replaced; after `close()` every check is inline. No
 * check ever fails for lack of a worker.
 */
import { rawPublicKey, type PreparedPublicKey } from "../crypto/ed25519.ts";
import { CODE_LENGTH } from "../wire/code.ts";
import { ScanVerifier, type SigJob, type SignatureChecker } from "./signatures.ts";

export interface PoolOptions {
  /** Worker threads, ≥ 1. */
  workers: number;
  /** Batches of fewer jobs are checked on the calling thread. */
  inlineBelow?: number;
  /** Smallest chunk one worker is given when a batch is split across workers. */
  minChunk?: number;
  /** The worker script (tests may substitute one). */
  workerUrl?: URL | string;
}

/**
 * Defaults chosen by measurement on a 2-core machine (bench/http.ts; BENCHMARKS.md "pool threshold"):
 * even a batch of one scan is worth the round trip, because the main thread's time goes to HTTP and JSON
 * while a worker verifies; so nothing runs inline unless `inlineBelow` says so.
 */
export const POOL_DEFAULTS = { inlineBelow: 1, minChunk: 16 } as const;

/** Bytes per job in a transferred chunk: code, issuer-key slot, result. */
const JOB_BYTES = CODE_LENGTH + 4 + 1;
/** Replacement workers made after deaths before the pool stops replacing and checks inline. */
const MAX_RESPAWNS = 16;

interface Batch {
  jobs: readonly SigJob[];
  out: Uint8Array;
  remaining: number;
  resolve: (out: Uint8Array) => void;
  reject: (e: unknown) => void;
}

interface Chunk {
  batch: Batch;
  start: number;
  n: number;
}

interface Thread {
  worker: Worker;
  /** Chunks posted and not yet answered, by id. */
  pending: Map<number, Chunk>;
  /** Jobs posted and not yet answered. */
  load: number;
  alive: boolean;
}

export class PoolChecker implements SignatureChecker {
  readonly #signer = new ScanVerifier();
  readonly #threads: Thread[] = [];
  readonly #inlineBelow: number;
  readonly #minChunk: number;
  readonly #url: URL | string;
  /** Issuer key → slot (≥ 1); raw bytes by slot, for replacement workers. */
  readonly #slots = new Map<PreparedPublicKey, number>();
  readonly #raw: Uint8Array[] = [new Uint8Array(0)];
  #nextId = 1;
  #respawns = 0;
  #closed = false;

  constructor(opts: PoolOptions) {
    if (!Number.isInteger(opts.workers) || opts.workers < 1) throw new RangeError("a pool needs at least one worker");
    this.#inlineBelow = opts.inlineBelow ?? POOL_DEFAULTS.inlineBelow;
    this.#minChunk = Math.max(1, opts.minChunk ?? POOL_DEFAULTS.minChunk);
    this.#url = opts.workerUrl ?? new URL("./worker.ts", import.meta.url);
    for (let i = 0; i < opts.workers; i++) this.#threads.push(this.#spawn());
  }

  /** Live worker threads. */
  get threads(): number {
    let n = 0;
    for (const t of this.#threads) if (t.alive) n++;
    return n;
  }

  check(jobs: readonly SigJob[]): Uint8Array | Promise<Uint8Array> {
    const n = jobs.length;
    if (n < this.#inlineBelow || this.#closed || this.threads === 0) return this.#inline(jobs, 0, n, new Uint8Array(n));
    const slots = this.#slotsOf(jobs);
    const live = this.#threads.filter((t) => t.alive).sort((a, b) => a.load - b.load);
    const k = Math.max(1, Math.min(live.length, Math.floor(n / this.#minChunk)));
    return new Promise<Uint8Array>((resolve, reject) => {
      const batch: Batch = { jobs, out: new Uint8Array(n), remaining: k, resolve, reject };
      let start = 0;
      for (let c = 0; c < k; c++) {
        const size = Math.floor((n - start) / (k - c));
        this.#post(live[c]!, { batch, start, n: size }, slots);
        start += size;
      }
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#threads) this.#retire(t);
  }

  // ── internals ─────────────────────────────────────────────────────────────

  #inline(jobs: readonly SigJob[], start: number, n: number, out: Uint8Array): Uint8Array {
    for (let i = start; i < start + n; i++) {
      const j = jobs[i]!;
      out[i] = this.#signer.check(j.code, j.issuerKey, j.deviceKey);
    }
    return out;
  }

  /** Per job, the issuer key's slot (0 = no issuer check); new keys are posted to every worker first. */
  #slotsOf(jobs: readonly SigJob[]): Uint32Array {
    const slots = new Uint32Array(jobs.length);
    for (let i = 0; i < jobs.length; i++) {
      const key = jobs[i]!.issuerKey;
      if (key === null) continue;
      let slot = this.#slots.get(key);
      if (slot === undefined) {
        slot = this.#raw.length;
        const raw = rawPublicKey(key);
        this.#raw.push(raw);
        this.#slots.set(key, slot);
        for (const t of this.#threads) if (t.alive) t.worker.postMessage({ t: "key", slot, raw });
      }
      slots[i] = slot;
    }
    return slots;
  }

  #post(t: Thread, chunk: Chunk, slots: Uint32Array): void {
    const { batch, start, n } = chunk;
    const buf = new ArrayBuffer(n * JOB_BYTES);
    const codes = new Uint8Array(buf, 0, n * CODE_LENGTH);
    for (let i = 0; i < n; i++) codes.set(batch.jobs[start + i]!.code, i * CODE_LENGTH);
    new Uint32Array(buf, n * CODE_LENGTH, n).set(slots.subarray(start, start + n));
    const id = this.#nextId++;
    t.pending.set(id, chunk);
    if (t.load === 0) t.worker.ref();
    t.load += n;
    t.worker.postMessage({ t: "check", id, n, buf }, [buf]);
  }

  #spawn(): Thread {
    const worker = new Worker(this.#url);
    const t: Thread = { worker, pending: new Map(), load: 0, alive: true };
    worker.unref();
    worker.onmessage = (e: MessageEvent) => this.#answered(t, e.data as { id: number; buf: ArrayBuffer });
    worker.onerror = (e: Event) => {
      e.preventDefault?.();
      this.#died(t);
    };
    worker.addEventListener("close", () => this.#died(t));
    for (let slot = 1; slot < this.#raw.length; slot++) worker.postMessage({ t: "key", slot, raw: this.#raw[slot] });
    return t;
  }

  #answered(t: Thread, m: { id: number; buf: ArrayBuffer }): void {
    const chunk = t.pending.get(m.id);
    if (chunk === undefined) return;
    t.pending.delete(m.id);
    t.load -= chunk.n;
    if (t.load === 0) t.worker.unref();
    chunk.batch.out.set(new Uint8Array(m.buf, chunk.n * (CODE_LENGTH + 4), chunk.n), chunk.start);
    this.#done(chunk.batch);
  }

  #done(batch: Batch): void {
    if (--batch.remaining === 0) batch.resolve(batch.out);
  }

  /** Stops a worker and checks whatever it still owed inline. */
  #retire(t: Thread): void {
    if (!t.alive) return;
    t.alive = false;
    t.worker.onmessage = null;
    t.worker.terminate();
    const owed = [...t.pending.values()];
    t.pending.clear();
    t.load = 0;
    for (const c of owed) {
      try {
        this.#inline(c.batch.jobs, c.start, c.n, c.batch.out);
      } catch (e) {
        c.batch.reject(e); // a programmer error (ScanVerifier throws only on a wrong-length code)
        continue;
      }
      this.#done(c.batch);
    }
  }

  #died(t: Thread): void {
    if (!t.alive) return;
    this.#retire(t);
    if (this.#closed || this.#respawns >= MAX_RESPAWNS) return;
    this.#respawns++;
    const i = this.#threads.indexOf(t);
    this.#threads[i] = this.#spawn();
  }
}
