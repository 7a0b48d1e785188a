/**
 * The spec §3 replay rule stated plainly, as a reference for the replay stores (MemoryReplayWindow,
 * RedisReplayStore): per (issuer, serial) the highest accepted counter H and the set of accepted counters;
 * accept c if c > H, or H − 64 < c ≤ H and c unseen; state accepted at receive second r is kept through
 * r + retention inclusive (a scan at r + retention finds it, one at r + retention + 1 does not); presentations
 * made before the store's memory begins (§3 start-up rule) are answered BEFORE_MEMORY and not recorded;
 * with a capacity, a batch that needs more live keys than it allows is refused whole ("FULL").
 *
 * Slow on purpose (a Map and a Set per key): it is read, not benchmarked. test/verify/replay-window.test.ts
 * has an older model of its own, without memory-begins or restarts; it could use this one.
 */
import type { ReplayItem } from "../../src/verify/replay-window.ts";

/** The stores' answers per item (src/verify/replay-window.ts). */
export const REPLAY = 0, ACCEPTED = 1, BEFORE_MEMORY = 2;

interface KeyState {
  H: number;
  seen: Set<number>;
  /** Receive second of the last acceptance. */
  last: number;
}

export interface ReplayModelOptions {
  /** Seconds state lives after its last acceptance (§3: 380 by default). */
  retention: number;
  /** First presentation second the store remembers. */
  memoryBegins: number;
  /** Live keys the store may hold (the memory window's capacity); unbounded when not given. */
  capacity?: number;
}

export class ReplayModel {
  readonly #state = new Map<string, KeyState>();
  readonly #retention: number;
  readonly #capacity: number;
  /** A number, or "at next apply" + warm seconds: a shared store found empty records its boot then (§3). */
  #begins: number | { warm: number };

  constructor(o: ReplayModelOptions) {
    this.#retention = o.retention;
    this.#capacity = o.capacity ?? Infinity;
    this.#begins = o.memoryBegins;
  }

  static key(it: ReplayItem): string {
    return `${it.issuer}:${it.serialHi >>> 0}:${it.serialLo >>> 0}`;
  }

  #live(k: string, now: number): KeyState | undefined {
    const e = this.#state.get(k);
    return e !== undefined && now <= e.last + this.#retention ? e : undefined;
  }

  /** Forgets everything; memory begins again at `memoryBegins` (a restarted in-memory node: start + 2 × skew). */
  restart(memoryBegins: number): void {
    this.#state.clear();
    this.#begins = memoryBegins;
  }

  /** Forgets everything; memory begins at the next apply's receive second + `warm` (a shared store that lost its data). */
  lostData(warm: number): void {
    this.#state.clear();
    this.#begins = { warm };
  }

  /** Per item REPLAY, ACCEPTED or BEFORE_MEMORY, decided in order; or "FULL" with nothing recorded. */
  apply(items: readonly ReplayItem[], now: number): number[] | "FULL" {
    if (typeof this.#begins !== "number") this.#begins = now + this.#begins.warm;
    const begins = this.#begins;
    if (this.#capacity !== Infinity) {
      let live = 0;
      for (const k of this.#state.keys()) if (this.#live(k, now)) live++;
      const fresh = new Set<string>();
      for (const it of items) {
        const k = ReplayModel.key(it);
        if (it.time >= begins && !this.#live(k, now)) fresh.add(k);
      }
      if (live + fresh.size > this.#capacity) return "FULL";
    }
    return items.map((it) => {
      if (it.time < begins) return BEFORE_MEMORY;
      const k = ReplayModel.key(it);
      const c = it.counter;
      const e = this.#live(k, now);
      if (e === undefined) {
        this.#state.set(k, { H: c, seen: new Set([c]), last: now });
        return ACCEPTED;
      }
      if (c > e.H) e.H = c;
      else if (c <= e.H - 64 || e.seen.has(c)) return REPLAY;
      e.seen.add(c);
      e.last = now;
      if (e.seen.size > 256) for (const x of e.seen) if (x <= e.H - 64) e.seen.delete(x);
      return ACCEPTED;
    });
  }
}
