/**
 * Event-loop lateness as a test sees it: a 10 ms interval timer in the test process (which is also the
 * process of an in-process server), recording how late each tick fires. A tick is late by as long as the
 * loop was busy with something else — parsing a hostile body, say — so the largest lateness over a phase
 * bounds the longest stall in it. `performance.now()` measures durations here, not the time of day.
 */
export class LagProbe {
  readonly #intervalMs: number;
  #timer: ReturnType<typeof setInterval> | null = null;
  #expected = 0;
  #max = 0;
  #lapMax = 0;
  #ticks = 0;

  constructor(intervalMs = 10) {
    this.#intervalMs = intervalMs;
  }

  start(): this {
    this.#expected = performance.now() + this.#intervalMs;
    this.#timer = setInterval(() => {
      const now = performance.now();
      const late = now - this.#expected;
      if (late > this.#max) this.#max = late;
      if (late > this.#lapMax) this.#lapMax = late;
      this.#ticks++;
      this.#expected = now + this.#intervalMs;
    }, this.#intervalMs);
    return this;
  }

  /** The largest lateness (ms) and the ticks since the last call; starts a new measurement. */
  take(): { maxLateMs: number; ticks: number } {
    const out = { maxLateMs: this.#max, ticks: this.#ticks };
    this.#max = 0;
    this.#lapMax = 0;
    this.#ticks = 0;
    this.#expected = performance.now() + this.#intervalMs;
    return out;
  }

  /** The largest lateness (ms) since the last `lap()`, without ending the measurement `take()` reads (to find which request of a phase stalled). */
  lap(): number {
    const l = this.#lapMax;
    this.#lapMax = 0;
    return l;
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }
}
