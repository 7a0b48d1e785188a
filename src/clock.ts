/**
 * @module The clock, injected everywhere (nothing else reads the time). Seconds are unix seconds.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  nowMs(): number;
}

export const systemClock: Clock = { nowMs: () => Date.now() };

export const seconds = (clock: Clock): number => Math.floor(clock.nowMs() / 1000);

/** A clock tests set by hand. */
export class ManualClock implements Clock {
  constructor(public ms: number) {}
  nowMs(): number {
    return this.ms;
  }
  set(seconds: number): void {
    this.ms = seconds * 1000;
  }
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}
