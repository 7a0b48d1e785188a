/**
 * A slow SignatureChecker for backpressure tests: answers like a node's own checker (CoalescingChecker on the
 * node's default verifier), but only when released; and tells a test when batches have reached it, so the
 * test awaits that instead of sleeping.
 */
import { chooseVerifier } from "../../src/crypto/native.ts";
import { CoalescingChecker } from "../../src/verify/coalesce.ts";
import type { SigJob, SignatureChecker } from "../../src/verify/signatures.ts";

export class GatedChecker implements SignatureChecker {
  readonly #inner = new CoalescingChecker(chooseVerifier(null).verifier);
  readonly #waiting: (() => void)[] = [];
  readonly #arrivals: { n: number; resolve: () => void }[] = [];

  check(jobs: readonly SigJob[]): Promise<Uint8Array> {
    const out = this.#inner.check(jobs);
    const answer = new Promise<Uint8Array>((resolve) => this.#waiting.push(() => resolve(out)));
    for (const a of this.#arrivals.filter((a) => this.#waiting.length >= a.n)) {
      this.#arrivals.splice(this.#arrivals.indexOf(a), 1);
      a.resolve();
    }
    return answer;
  }

  /** Batches waiting for their answers. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Resolves once `n` batches are waiting (at once if they already are). */
  reached(n: number): Promise<void> {
    if (this.#waiting.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.#arrivals.push({ n, resolve }));
  }

  release(): void {
    for (const w of this.#waiting.splice(0)) w();
  }
}
