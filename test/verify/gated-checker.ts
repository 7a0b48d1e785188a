/**
 * A slow SignatureChecker for backpressure tests: answers like InlineChecker, but only when released.
 */
import { InlineChecker, type SigJob, type SignatureChecker } from "../../src/verify/signatures.ts";

export class GatedChecker implements SignatureChecker {
  readonly #inner = new InlineChecker();
  readonly #waiting: (() => void)[] = [];

  check(jobs: readonly SigJob[]): Promise<Uint8Array> {
    const out = this.#inner.check(jobs);
    return new Promise((resolve) => this.#waiting.push(() => resolve(out)));
  }

  /** Batches waiting for their answers. */
  get waiting(): number {
    return this.#waiting.length;
  }

  release(): void {
    for (const w of this.#waiting.splice(0)) w();
  }
}
