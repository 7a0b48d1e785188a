/**
 * @module Safe retries (spec §4 `Idempotency-Key`): for 120 s a resend from the same gateway with the same key
 * and the same body is answered with the first answer, status and body identical, without verifying again
 * (so a retried tap-in is never REPLAY of itself). The same key with another body is IDEMPOTENCY_KEY_REUSED;
 * while the first is being answered, IDEMPOTENCY_KEY_IN_FLIGHT.
 *
 * The record lives with the replay state, so every node behind a load balancer sees it: in memory here, or
 * in Redis (verify/redis-replay.ts implements the same interface). A claim is atomic: exactly one request
 * of concurrent resends is "new". Only 200 answers are kept; any other answer releases the claim, so the
 * resend is handled afresh (a 503 must not be replayed as if it were the answer).
 * Invariant: the memory store holds at most `maxBytes` of answers; past that a claim is "FULL" (refused
 * 503), never a silent loss of the guarantee.
 */

/** How long a first answer is kept (spec §4). */
export const IDEMPOTENCY_SECONDS = 120;
/** How long a claim without an answer holds (a node that died mid-request frees its keys after this). */
export const PENDING_SECONDS = 30;

/** spec §4: 1–64 visible ASCII characters. */
export const isIdempotencyKey = (k: string): boolean => /^[\x21-\x7e]{1,64}$/.test(k);

export interface IdempotentAnswer {
  status: number;
  contentType: string;
  body: Uint8Array;
}

export type Claim =
  | { state: "new" }
  | { state: "in-flight" }
  | { state: "mismatch" }
  | { state: "done"; answer: IdempotentAnswer }
  | { state: "unavailable" }
  | { state: "full" };

export interface IdempotencyStore {
  /** `key` names the gateway and its Idempotency-Key; `fingerprint` the request (path and body). */
  claim(key: string, fingerprint: string, now: number): Claim | Promise<Claim>;
  /** Keeps the first answer for IDEMPOTENCY_SECONDS (only if this claim still holds the key). */
  complete(key: string, fingerprint: string, answer: IdempotentAnswer, now: number): void | Promise<void>;
  /** Frees a claim whose answer is not kept. */
  release(key: string, fingerprint: string): void | Promise<void>;
}

interface Entry {
  fingerprint: string;
  answer: IdempotentAnswer | null;
  /** Receive second after which the entry is gone. */
  expires: number;
}

export class MemoryIdempotency implements IdempotencyStore {
  readonly #entries = new Map<string, Entry>();
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(maxBytes = 64 << 20) {
    this.#maxBytes = maxBytes;
  }

  #sweep(now: number): void {
    for (const [k, e] of this.#entries) {
      if (e.expires >= now) continue;
      this.#entries.delete(k);
      this.#bytes -= e.answer?.body.length ?? 0;
    }
  }

  claim(key: string, fingerprint: string, now: number): Claim {
    let e = this.#entries.get(key);
    if (e !== undefined && e.expires < now) {
      this.#sweep(now);
      e = undefined;
    }
    if (e !== undefined) {
      if (e.fingerprint !== fingerprint) return { state: "mismatch" };
      return e.answer === null ? { state: "in-flight" } : { state: "done", answer: e.answer };
    }
    if (this.#bytes >= this.#maxBytes) {
      this.#sweep(now);
      if (this.#bytes >= this.#maxBytes) return { state: "full" };
    }
    this.#entries.set(key, { fingerprint, answer: null, expires: now + PENDING_SECONDS });
    return { state: "new" };
  }

  complete(key: string, fingerprint: string, answer: IdempotentAnswer, now: number): void {
    const e = this.#entries.get(key);
    if (e === undefined || e.fingerprint !== fingerprint || e.answer !== null) return;
    e.answer = answer;
    e.expires = now + IDEMPOTENCY_SECONDS;
    this.#bytes += answer.body.length;
  }

  release(key: string, fingerprint: string): void {
    const e = this.#entries.get(key);
    if (e !== undefined && e.fingerprint === fingerprint && e.answer === null) this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }
}
