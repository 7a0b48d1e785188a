/**
 * @module Saturation of the thread that runs the pipeline, seen as event-loop lag.
 *
 * Counting scans in flight bounds the work handed to the worker pool, but without a pool (one core) every
 * batch is verified synchronously: at most one is ever "in flight" and the backlog waits outside the
 * process, in sockets, where no counter sees it, so latency would grow without bound instead of the node
 * answering 503. The backlog shows as a timer that keeps firing late: a tick waits for everything the
 * loop already had to do. When every one of the last `window` ticks was late by more than `limitMs`, the
 * thread is saturated and the pipeline refuses new batches (OVERLOADED: 503 + Retry-After, or an error
 * frame) until a tick is on time again. One long batch or GC pause delays one tick, not a whole window.
 */

export interface LagOptions {
  /** Lateness (ms) that counts as saturated. */
  limitMs: number;
  /** Tick interval, ms. */
  intervalMs?: number;
  /** Consecutive late ticks needed. */
  window?: number;
}

/** Defaults: a quarter second of lateness on 8 consecutive 50 ms ticks (so at least 2 s of backlog). */
export const LAG_DEFAULTS = { limitMs: 250, intervalMs: 50, window: 8 } as const;

export class LagMonitor {
  readonly #limitMs: number;
  readonly #intervalMs: number;
  readonly #lags: Float64Array;
  #next = 0;
  #expected = 0;
  /** The largest lateness since `takePeakMs()` last read it. */
  #peak = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(opts: LagOptions = LAG_DEFAULTS) {
    if (!(opts.limitMs > 0)) throw new RangeError("limitMs must be positive");
    this.#limitMs = opts.limitMs;
    this.#intervalMs = opts.intervalMs ?? LAG_DEFAULTS.intervalMs;
    this.#lags = new Float64Array(opts.window ?? LAG_DEFAULTS.window);
  }

  /** Starts ticking (the timer does not keep the process alive). */
  start(): this {
    if (this.#timer !== null) return this;
    const tick = () => {
      // performance.now() measures a duration here, not the time of day (the Clock is for that)
      const now = performance.now();
      this.observe(now - this.#expected);
      this.#expected = now + this.#intervalMs;
      this.#timer = setTimeout(tick, this.#intervalMs);
      this.#timer.unref?.();
    };
    this.#expected = performance.now() + this.#intervalMs;
    this.#timer = setTimeout(tick, this.#intervalMs);
    this.#timer.unref?.();
    return this;
  }

  /** Records one tick's lateness, ms (the timer calls this; tests may too). */
  observe(lateMs: number): void {
    const late = Math.max(0, lateMs);
    if (late > this.#peak) this.#peak = late;
    this.#lags[this.#next] = late;
    this.#next = (this.#next + 1) % this.#lags.length;
  }

  /** The smallest lateness of the last `window` ticks, ms. */
  get lagMs(): number {
    let min = Infinity;
    for (const l of this.#lags) if (l < min) min = l;
    return min;
  }

  /** The largest tick lateness since the last call, ms (the metrics scrape reads it). */
  takePeakMs(): number {
    const p = this.#peak;
    this.#peak = 0;
    return p;
  }

  get saturated(): boolean {
    return this.lagMs > this.#limitMs;
  }

  stop(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#lags.fill(0);
  }
}
