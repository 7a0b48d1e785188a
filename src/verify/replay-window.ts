/**
 * @module The anti-replay window per (issuer, serial) (spec §3; RFC 4303 §3.4.3), in memory.
 *
 * Serials are unique only within one issuer, so the key is the pair: a code of one issuer never touches
 * another issuer's state. Per key: the highest accepted counter H and a 64-bit map of which of H, H−1, …,
 * H−63 were accepted (bit d ⇔ counter H−d). A counter c is accepted if c > H, or H − 64 < c ≤ H with its
 * bit unset.
 *
 * Storage is one open-addressed table (linear probing) in a Uint32Array, 7 words a slot:
 *   [issuer, serial high, serial low, H, map high, map low, expiry (receive second)]
 * with at least twice as many slots as `capacity` keys (a power of two, 16 at least): 56 bytes per key of
 * capacity when the capacity is a power of two, under 112 otherwise.
 * Invariant: an entry accepted at receive second r is kept through r + `retentionSeconds` (300 s of `at` +
 * window + 2 × skew = 380 s by default) inclusive, never dropped before; when `capacity` live keys are
 * held, a batch that needs more is refused whole (`"FULL"`) and nothing of it is recorded — fail closed,
 * never forget.
 * Memory begins at `memoryBegins` (the start second + 2 × skew, §3): presentations made before it are
 * REPLAY_BEFORE_MEMORY (answered STALE, as RFC 8446 §8.2 and RFC 4120 §3.2.3 do after a restart), and
 * the store is "warming" until then.
 */

export interface ReplayItem {
  /** The issuer's division code (§2). */
  issuer: number;
  /** The 8-byte serial as two big-endian words. */
  serialHi: number;
  serialLo: number;
  counter: number;
  /** The presentation's time (unix seconds). */
  time: number;
}

/** An item's answer: 0 (REPLAY), REPLAY_ACCEPTED (now recorded) or REPLAY_BEFORE_MEMORY. */
export const REPLAY_ACCEPTED = 1;
/** The presentation was made before the store's memory begins (§3: it cannot know what it saw before). */
export const REPLAY_BEFORE_MEMORY = 2;

/** Per item 0, REPLAY_ACCEPTED or REPLAY_BEFORE_MEMORY; or the whole batch refused. */
export type ReplayOutcome = Uint8Array | "FULL" | "UNAVAILABLE";

/** Readiness of a replay store (`/readyz` `checks.replay`): true, or why it cannot take every scan. */
export type ReplayReadiness = true | "warming" | "full" | "unavailable";

/** §3: state lives 300 s of `at` + window + 2 × skew (380 s by default) after its last acceptance. */
export function replayRetention(c: { atMaxAgeSeconds: number; windowSeconds: number; skewSeconds: number }): number {
  return c.atMaxAgeSeconds + c.windowSeconds + 2 * c.skewSeconds;
}

/** §3 start-up rule: memory begun at second `s` covers presentations made from s + 2 × skew on. */
export const memoryBeginsAfter = (s: number, skewSeconds: number): number => s + 2 * skewSeconds;

export interface ReplayStore {
  /** Decide and record, in item order (a serial twice in one batch is decided in order). */
  apply(items: readonly ReplayItem[], receiveSecond: number): ReplayOutcome | Promise<ReplayOutcome>;
  /** True when every scan can be decided now (readiness), else why not. */
  ready(now: number): ReplayReadiness | Promise<ReplayReadiness>;
  /** Serials held (live or awaiting sweep) and the capacity, for metrics. */
  stats(): { held: number; capacity: number; bytes: number };
  close?(): Promise<void> | void;
}

const W = 7;
const K_IS = 0, K_HI = 1, K_LO = 2, H = 3, M_HI = 4, M_LO = 5, EXP = 6;

export class MemoryReplayWindow implements ReplayStore {
  #table: Uint32Array;
  readonly #mask: number;
  readonly #capacity: number;
  readonly #retention: number;
  readonly #memoryBegins: number;
  /** Slots in use, expired ones included until the next sweep. */
  #occupied = 0;
  #full = false;
  #lastSweep = -1;

  constructor(capacity: number, retentionSeconds: number, memoryBegins: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("capacity must be a positive integer");
    let slots = 16;
    while (slots < capacity * 2) slots *= 2;
    this.#table = new Uint32Array(slots * W);
    this.#mask = slots - 1;
    this.#capacity = capacity;
    this.#retention = retentionSeconds;
    this.#memoryBegins = memoryBegins;
  }

  #home(is: number, hi: number, lo: number): number {
    // serials are random (§2), an issuer may choose them: mix every word so no one word decides the slot
    return (Math.imul(hi ^ Math.imul(lo ^ Math.imul(is, 0xcc9e2d51), 0x9e3779b1), 0x85ebca6b) >>> 7) & this.#mask;
  }

  /** Slot index holding the key (live or expired), or −1. */
  #find(is: number, hi: number, lo: number): number {
    const t = this.#table;
    for (let s = this.#home(is, hi, lo); ; s = (s + 1) & this.#mask) {
      const o = s * W;
      if (t[o + EXP] === 0) return -1;
      if (t[o + K_HI] === hi && t[o + K_LO] === lo && t[o + K_IS] === is) return s;
    }
  }

  /** Slot for a new key: the first expired slot on its probe path, else the empty one that ends it. */
  #claim(is: number, hi: number, lo: number, now: number): number {
    const t = this.#table;
    for (let s = this.#home(is, hi, lo); ; s = (s + 1) & this.#mask) {
      const o = s * W;
      const exp = t[o + EXP]!;
      if (exp === 0) {
        this.#occupied++;
        return s;
      }
      if (exp <= now) return s;
    }
  }

  /** Rebuilds the table without expired entries. */
  #sweep(now: number): void {
    this.#lastSweep = now;
    const old = this.#table;
    this.#table = new Uint32Array(old.length);
    this.#occupied = 0;
    for (let o = 0; o < old.length; o += W) {
      const exp = old[o + EXP]!;
      if (exp === 0 || exp <= now) continue;
      const s = this.#claim(old[o + K_IS]!, old[o + K_HI]!, old[o + K_LO]!, now);
      this.#table.set(old.subarray(o, o + W), s * W);
    }
  }

  /** Distinct keys of `items` that would need a new place (not held live at `now`). */
  #needed(items: readonly ReplayItem[], now: number): number {
    let needed = 0;
    let seen: Set<string> | null = null;
    for (const it of items) {
      if (it.time < this.#memoryBegins) continue;
      const s = this.#find(it.issuer, it.serialHi, it.serialLo);
      if (s >= 0 && this.#table[s * W + EXP]! > now) continue;
      const k = `${it.issuer}:${it.serialHi}:${it.serialLo}`;
      if ((seen ??= new Set()).has(k)) continue;
      seen.add(k);
      needed++;
    }
    return needed;
  }

  apply(items: readonly ReplayItem[], now: number): ReplayOutcome {
    // Invariant: #occupied ≤ capacity ≤ slots / 2, so a probe always meets an empty slot.
    const needed = this.#needed(items, now);
    if (this.#occupied + needed > this.#capacity) {
      // at most one rebuild a second: nothing expires in between
      if (this.#lastSweep !== now) this.#sweep(now);
      if (this.#occupied + needed > this.#capacity) {
        this.#full = true;
        return "FULL";
      }
    }
    this.#full = false;
    const out = new Uint8Array(items.length);
    const t = this.#table;
    // live while EXP > now: kept through now + retention inclusive (a scan at r + 380 finds the state of r)
    const expiry = now + this.#retention + 1;
    for (let i = 0; i < items.length; i++) {
      const { issuer: is, serialHi: hi, serialLo: lo, counter: c, time } = items[i]!;
      if (time < this.#memoryBegins) {
        out[i] = REPLAY_BEFORE_MEMORY;
        continue;
      }
      let s = this.#find(is, hi, lo);
      let o: number;
      if (s >= 0 && t[s * W + EXP]! > now) {
        o = s * W;
        const h = t[o + H]!;
        if (c > h) {
          const shift = c - h;
          let mh = t[o + M_HI]!, ml = t[o + M_LO]!;
          if (shift >= 64) { mh = 0; ml = 0; }
          else if (shift >= 32) { mh = shift === 32 ? ml : ml << (shift - 32); ml = 0; }
          else { mh = (mh << shift) | (ml >>> (32 - shift)); ml = ml << shift; }
          t[o + H] = c;
          t[o + M_HI] = mh;
          t[o + M_LO] = ml | 1;
        } else {
          const d = h - c; // counter c is bit d
          if (d >= 64) continue; // below the window: REPLAY
          const bit = d < 32 ? t[o + M_LO]! & (1 << d) : t[o + M_HI]! & (1 << (d - 32));
          if (bit !== 0) continue; // seen: REPLAY
          if (d < 32) t[o + M_LO] = t[o + M_LO]! | (1 << d);
          else t[o + M_HI] = t[o + M_HI]! | (1 << (d - 32));
        }
      } else {
        if (s < 0) s = this.#claim(is, hi, lo, now);
        o = s * W;
        t[o + K_IS] = is;
        t[o + K_HI] = hi;
        t[o + K_LO] = lo;
        t[o + H] = c;
        t[o + M_HI] = 0;
        t[o + M_LO] = 1;
      }
      t[o + EXP] = expiry;
      out[i] = REPLAY_ACCEPTED;
    }
    return out;
  }

  /** "warming" before memory begins; "full" while no new key can be taken (or a batch was just refused for room). */
  ready(now: number): ReplayReadiness {
    if ((this.#full || this.#occupied >= this.#capacity) && this.#lastSweep !== now) this.#sweep(now);
    this.#full = this.#full && this.#occupied >= this.#capacity;
    if (this.#full || this.#occupied >= this.#capacity) return "full";
    return now < this.#memoryBegins ? "warming" : true;
  }

  stats(): { held: number; capacity: number; bytes: number } {
    return { held: this.#occupied, capacity: this.#capacity, bytes: this.#table.byteLength };
  }
}
