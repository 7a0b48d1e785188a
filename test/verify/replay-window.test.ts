/**
 * The in-memory anti-replay window (DESIGN.md §3; RFC 4303 §3.4.3): per (issuer, serial) the highest accepted
 * counter H and the 64 counters below it; state lives through `retention` seconds after its last acceptance;
 * a full store refuses whole batches ("FULL") and never forgets. Checked case by case and against a
 * plain reference model (a Map of serial → H and the set of accepted counters).
 */
import { describe, expect, test } from "bun:test";
import { memoryBeginsAfter, MemoryReplayWindow, REPLAY_BEFORE_MEMORY, type ReplayItem } from "../../src/verify/replay-window.ts";
import { rng } from "../support/rng.ts";

/** 2026-11-24T00:00:00Z: receive seconds in these tests start here. */
const T0 = 1795478400;
/** §3 default: 300 s of `at` + 60 s window + 2 × 10 s skew. */
const R = 380;

/** A window whose memory began before every presentation used here. */
const newWindow = (capacity: number, retention = R) => new MemoryReplayWindow(capacity, retention, T0 - 86400);

/** An (issuer, serial) key; Chongqing unless said. */
interface Serial { is: number; hi: number; lo: number }
const CQ = 500000, SC = 510000;
const S = (lo: number, hi = 0, is = CQ): Serial => ({ is, hi, lo });
/** Marks an item whose presentation time is the receive second `run` applies it at. */
const AT_RECEIVE = -1;
/** One scan; `time` is the presentation's (unix seconds). */
const item = (s: Serial, counter: number, time = AT_RECEIVE): ReplayItem => ({ issuer: s.is, serialHi: s.hi, serialLo: s.lo, counter, time });

/** Applies and expects a per-item answer (not "FULL"); returns it as a plain array. */
function run(w: MemoryReplayWindow, items: ReplayItem[], now: number): number[] {
  const out = w.apply(items.map((i) => (i.time === AT_RECEIVE ? { ...i, time: now } : i)), now);
  expect(out).toBeInstanceOf(Uint8Array);
  return Array.from(out as Uint8Array);
}
const one = (w: MemoryReplayWindow, s: Serial, c: number, now = T0) => run(w, [item(s, c)], now)[0];

const A = S(0x0a0a0a0a, 0xa0a0a0a0);
const B = S(0x0b0b0b0b, 0xb0b0b0b0);

describe("the sliding window", () => {
  test("a serial's first counter is accepted", () => {
    expect(one(newWindow(16), A, 5)).toBe(1);
  });
  test("counter 0 is a counter like any other", () => {
    const w = newWindow(16);
    expect(one(w, A, 0)).toBe(1);
    expect(one(w, A, 0)).toBe(0);
    expect(one(w, A, 1)).toBe(1);
  });
  test("the same counter again is a replay", () => {
    const w = newWindow(16);
    expect(one(w, A, 5)).toBe(1);
    expect(one(w, A, 5)).toBe(0);
    expect(one(w, A, 5, T0 + 10)).toBe(0);
  });
  test("a higher counter is accepted", () => {
    const w = newWindow(16);
    expect(one(w, A, 5)).toBe(1);
    expect(one(w, A, 6)).toBe(1);
    expect(one(w, A, 1000)).toBe(1);
    expect(one(w, A, 0xffffffff)).toBe(1);
    expect(one(w, A, 0xffffffff)).toBe(0);
  });
  test("H − 63 unseen is accepted (once); H − 64 is below the window", () => {
    const w = newWindow(16);
    expect(one(w, A, 1000)).toBe(1);
    expect(one(w, A, 1000 - 63)).toBe(1);
    expect(one(w, A, 1000 - 63)).toBe(0);
    expect(one(w, A, 1000 - 64)).toBe(0);
    expect(one(w, A, 1000 - 65)).toBe(0);
    expect(one(w, A, 0)).toBe(0);
  });
  test("every counter strictly inside the window is accepted once, in any order", () => {
    const w = newWindow(16);
    expect(one(w, A, 500)).toBe(1);
    const order = Array.from({ length: 63 }, (_, i) => 499 - ((i * 37) % 63));
    for (const c of order) expect(one(w, A, c)).toBe(1);
    for (let c = 500 - 70; c <= 500; c++) expect(one(w, A, c)).toBe(0);
  });

  for (const jump of [1, 2, 31, 32, 33, 63, 64, 65, 100, 2 ** 31]) {
    test(`a jump of H by ${jump} keeps the right bits`, () => {
      const w = newWindow(16);
      const H0 = 10_000;
      // accept a pattern of counters in [H0 − 63, H0], H0 included
      const accepted = new Set<number>([H0]);
      expect(one(w, A, H0)).toBe(1);
      for (let d = 1; d <= 63; d++) {
        if ((d * 2654435761) % 7 < 4) {
          expect(one(w, A, H0 - d)).toBe(1);
          accepted.add(H0 - d);
        }
      }
      const H1 = H0 + jump;
      expect(one(w, A, H1)).toBe(1);
      accepted.add(H1);
      // every counter from below the new window up to H1 + 1: unseen ones in (H1 − 64, H1] are taken once
      for (let c = Math.max(0, H1 - 80); c <= H1; c++) {
        const inWindow = c > H1 - 64;
        expect([c, one(w, A, c)]).toEqual([c, inWindow && !accepted.has(c) ? 1 : 0]);
      }
      for (let c = Math.max(0, H1 - 80); c <= H1; c++) expect([c, one(w, A, c)]).toEqual([c, 0]);
      expect(one(w, A, H1 + 1)).toBe(1);
    });
  }
});

describe("batches and serials", () => {
  test("the same serial twice in one batch is decided in order", () => {
    const w = newWindow(16);
    expect(run(w, [item(A, 5), item(A, 5)], T0)).toEqual([1, 0]);
    expect(run(w, [item(A, 10), item(A, 9), item(A, 10), item(A, 9)], T0)).toEqual([1, 1, 0, 0]);
    // the first item moves H so far that the second falls below the window
    expect(run(w, [item(A, 200), item(A, 130)], T0)).toEqual([1, 0]);
    // and the other way round both are taken
    expect(run(w, [item(A, 250), item(A, 300)], T0)).toEqual([1, 1]);
  });
  test("a new serial twice in one batch: first accepted, repeat refused", () => {
    const w = newWindow(16);
    expect(run(w, [item(B, 7), item(B, 7), item(B, 8)], T0)).toEqual([1, 0, 1]);
  });
  test("different serials are independent", () => {
    const w = newWindow(16);
    expect(run(w, [item(A, 5), item(B, 5)], T0)).toEqual([1, 1]);
    expect(one(w, B, 1000)).toBe(1);
    expect(one(w, A, 6)).toBe(1); // A's window did not move with B's
    expect(one(w, A, 4)).toBe(1);
    expect(one(w, B, 5)).toBe(0);
  });
  test("serials that differ in one 32-bit half only are different serials", () => {
    const w = newWindow(16);
    const x = S(1, 0), y = S(0, 1), z = S(1, 1), zero = S(0, 0), top = S(0xffffffff, 0xffffffff);
    expect(run(w, [item(x, 9), item(y, 9), item(z, 9), item(zero, 9), item(top, 9)], T0)).toEqual([1, 1, 1, 1, 1]);
    expect(run(w, [item(x, 9), item(y, 9), item(z, 9), item(zero, 9), item(top, 9)], T0)).toEqual([0, 0, 0, 0, 0]);
  });
  test("the same serial under another issuer is another key: a foreign issuer's counter 2^32−1 does not touch the victim's state", () => {
    const w = newWindow(16);
    const victim = S(0x0a0a0a0a, 0xa0a0a0a0, CQ), forged = S(0x0a0a0a0a, 0xa0a0a0a0, SC);
    expect(one(w, victim, 5)).toBe(1);
    expect(one(w, forged, 0xffffffff)).toBe(1);
    expect(one(w, victim, 6)).toBe(1);
    expect(one(w, victim, 5)).toBe(0);
    expect(one(w, forged, 6)).toBe(0); // below the forged key's own window
    expect(w.stats().held).toBe(2);
  });
  test("an empty batch is an empty answer", () => {
    expect(run(newWindow(16), [], T0)).toEqual([]);
  });
});

describe("retention (state accepted at r lives through r + R, §3)", () => {
  test("an old counter is still a replay at receive + R exactly", () => {
    const w = newWindow(16);
    expect(one(w, A, 50, T0)).toBe(1);
    expect(one(w, A, 50, T0 + R - 1)).toBe(0);
    expect(one(w, A, 50, T0 + R)).toBe(0);
    expect(one(w, A, 20, T0 + R)).toBe(1); // inside the window, unseen
  });
  test("a replay does not extend the state; at receive + R + 1 it is gone and any counter starts it afresh", () => {
    const w = newWindow(16);
    expect(one(w, A, 50, T0)).toBe(1);
    expect(one(w, A, 50, T0 + R)).toBe(0);
    expect(one(w, A, 3, T0 + R + 1)).toBe(1); // below the old window: only a reset accepts it
    expect(one(w, A, 3, T0 + R + 1)).toBe(0);
    expect(one(w, A, 50, T0 + R + 1)).toBe(1);
  });
  test("each acceptance extends the state", () => {
    const w = newWindow(16);
    expect(one(w, A, 50, T0)).toBe(1);
    expect(one(w, A, 51, T0 + 300)).toBe(1);
    expect(one(w, A, 50, T0 + 300 + R)).toBe(0);
    expect(one(w, A, 51, T0 + 300 + R)).toBe(0);
    expect(one(w, A, 50, T0 + 300 + R + 1)).toBe(1);
  });
  test("an acceptance inside the window (c < H) extends the state too", () => {
    const w = newWindow(16);
    expect(one(w, A, 50, T0)).toBe(1);
    expect(one(w, A, 40, T0 + 300)).toBe(1);
    expect(one(w, A, 50, T0 + 300 + R)).toBe(0);
  });
});

describe("memory begins at start + 2 × skew (§3 start-up rule)", () => {
  test("a presentation made before it is answered REPLAY_BEFORE_MEMORY and not recorded; the window is warming until then", () => {
    const start = T0 + 1000;
    const begins = memoryBeginsAfter(start, 10);
    expect(begins).toBe(start + 20);
    const w = new MemoryReplayWindow(16, R, begins);
    expect(w.ready(start)).toBe("warming");
    expect(w.ready(begins - 1)).toBe("warming");
    const out = w.apply([item(A, 5, begins - 1)], start);
    expect(Array.from(out as Uint8Array)).toEqual([REPLAY_BEFORE_MEMORY]);
    expect(w.stats().held).toBe(0);
    expect(Array.from(w.apply([item(A, 5, begins)], begins) as Uint8Array)).toEqual([1]);
    expect(w.ready(begins)).toBe(true);
    expect(w.stats().held).toBe(1);
  });
});

describe("capacity: fail closed, never forget", () => {
  const serials = (n: number, base = 0x1000) => Array.from({ length: n }, (_, i) => S(base + i, 0x5e000000 + i));

  test("N distinct serials are taken; the (N+1)th batch is FULL and ready(now) is false", () => {
    const N = 8;
    const w = newWindow(N);
    expect(w.ready(T0)).toBe(true);
    for (const s of serials(N)) expect(one(w, s, 1)).toBe(1);
    expect(w.stats().held).toBe(N);
    expect(w.stats().capacity).toBe(N);
    const extra = S(0xdead, 0xbeef);
    expect(w.apply([item(extra, 1, T0 + 1)], T0 + 1)).toBe("FULL");
    expect(w.ready(T0 + 1)).toBe("full");
    expect(w.ready(T0 + 2)).toBe("full"); // nothing expired yet
    expect(w.stats().held).toBe(N);
  });

  test("serials already held are still decided while full", () => {
    const N = 8;
    const w = newWindow(N);
    const ss = serials(N);
    for (const s of ss) expect(one(w, s, 1)).toBe(1);
    expect(w.apply([item(S(0xdead), 1, T0)], T0)).toBe("FULL");
    expect(run(w, [item(ss[0]!, 2), item(ss[1]!, 1)], T0 + 1)).toEqual([1, 0]);
  });

  test("nothing of a refused batch is recorded", () => {
    const N = 8;
    const w = newWindow(N);
    const ss = serials(N);
    for (const s of ss) expect(one(w, s, 1)).toBe(1);
    const extra = S(0xdead, 0xbeef);
    // a held serial's new counter and a new serial, together: refused whole
    expect(w.apply([item(ss[0]!, 50, T0 + 1), item(extra, 7, T0 + 1)], T0 + 1)).toBe("FULL");
    expect(one(w, ss[0]!, 50, T0 + 1)).toBe(1); // counter 50 was not burnt by the refused batch
    // after the retention the new serial is taken, with the counter it was refused with
    expect(one(w, extra, 7, T0 + R + 5)).toBe(1);
  });

  test("a batch needing more room than is left is refused whole, even with held serials in it", () => {
    const N = 8;
    const w = newWindow(N);
    const ss = serials(6);
    for (const s of ss) expect(one(w, s, 1)).toBe(1);
    const fresh = serials(3, 0x9000);
    expect(w.apply([item(ss[0]!, 2, T0), item(fresh[0]!, 1, T0), item(fresh[1]!, 1, T0), item(fresh[2]!, 1, T0)], T0)).toBe("FULL");
    expect(w.stats().held).toBe(6);
    expect(one(w, ss[0]!, 2)).toBe(1); // not recorded by the refused batch
    expect(run(w, [item(fresh[0]!, 1), item(fresh[1]!, 1)], T0)).toEqual([1, 1]); // exactly the room left
    expect(w.stats().held).toBe(8);
    expect(w.apply([item(fresh[2]!, 1, T0)], T0)).toBe("FULL");
  });

  test("a new serial twice in one batch needs one place, not two", () => {
    const N = 8;
    const w = newWindow(N);
    for (const s of serials(N - 1)) expect(one(w, s, 1)).toBe(1);
    const x = S(0x7777, 0x8888);
    expect(w.apply([item(x, 1, T0), item(x, 2, T0)], T0)).toEqual(new Uint8Array([1, 1]));
    expect(w.stats().held).toBe(N);
  });

  test("after the retention, new serials are taken again (sweep) and ready(now) is true", () => {
    const N = 8;
    const w = newWindow(N);
    for (const s of serials(N)) expect(one(w, s, 1)).toBe(1);
    expect(w.apply([item(S(0xdead), 1, T0 + 1)], T0 + 1)).toBe("FULL");
    expect(w.ready(T0 + 1)).toBe("full");
    expect(w.ready(T0 + R)).toBe("full"); // kept through T0 + R
    expect(w.ready(T0 + R + 1)).toBe(true);
    for (const s of serials(N, 0x2000)) expect(one(w, s, 1, T0 + R + 1)).toBe(1);
    expect(w.stats().held).toBeLessThanOrEqual(N);
  });

  test("after the retention, a new batch is taken without asking ready() first", () => {
    const N = 8;
    const w = newWindow(N);
    for (const s of serials(N)) expect(one(w, s, 1)).toBe(1);
    expect(w.apply([item(S(0xdead), 1, T0 + 1)], T0 + 1)).toBe("FULL");
    expect(w.apply([item(S(0x3000), 1, T0 + R)], T0 + R)).toBe("FULL"); // the first eight are kept through T0 + R
    expect(run(w, serials(N - 1, 0x3000).map((s) => item(s, 1)), T0 + R + 1)).toEqual(new Array(N - 1).fill(1));
    expect(w.ready(T0 + R + 1)).toBe(true); // one place left
    expect(one(w, S(0x4000), 1, T0 + R + 1)).toBe(1);
    expect(w.ready(T0 + R + 1)).toBe("full"); // exactly full: no new serial could be taken, so not ready
  });

  test("serials that expired and come back count against the capacity again", () => {
    const N = 8;
    const w = newWindow(N);
    const old = serials(N);
    for (const s of old) expect(one(w, s, 1)).toBe(1);
    // all 8 expired; this batch brings them back and adds 8 more: 16 live serials > capacity 8
    const later = T0 + R + 10;
    const batch = [...old, ...serials(N, 0x4000)].map((s) => item(s, 2, later));
    expect(w.apply(batch, later)).toBe("FULL");
    expect(w.stats().held).toBeLessThanOrEqual(N);
  });

  test("presentations from before the store's memory need no room", () => {
    const N = 8;
    const start = T0 - 10;
    const w = new MemoryReplayWindow(N, R, start);
    for (const s of serials(N)) {
      expect(Array.from(w.apply([item(s, 1, T0)], T0) as Uint8Array)).toEqual([1]);
    }
    const out = w.apply([item(S(0xbeef, 0xdead), 1, start - 1)], T0);
    expect(out).toBeInstanceOf(Uint8Array);
    expect(Array.from(out as Uint8Array)).toEqual([REPLAY_BEFORE_MEMORY]);
  });
});

describe("memory bound", () => {
  test("a capacity that is not a positive integer is a programmer error", () => {
    for (const c of [0, -1, 1.5, NaN]) expect(() => newWindow(c)).toThrow(RangeError);
  });
  test("56 bytes per key for power-of-two capacities (two 28-byte slots per key)", () => {
    for (const cap of [8, 16, 1024, 4096, 1 << 16, 1 << 20]) {
      const { bytes, capacity } = newWindow(cap).stats();
      expect(capacity).toBe(cap);
      expect([cap, bytes]).toEqual([cap, 56 * cap]);
    }
  });
  test("at most 112 bytes per key for other capacities (slots rounded up to a power of two)", () => {
    for (const cap of [9, 100, 1000, 1025, 3000, 50_000, 100_001, 1_000_000]) {
      const { bytes } = newWindow(cap).stats();
      expect([cap, bytes / cap <= 112]).toEqual([cap, true]);
      expect(bytes).toBeGreaterThanOrEqual(56 * cap);
    }
  });
});

// ---------------------------------------------------------------- reference model


/** §3 stated plainly: per (issuer, serial) H and the set of accepted counters, kept through the last acceptance + retention; a batch needing more than `capacity` live keys is refused. */
class ReferenceWindow {
  readonly state = new Map<string, { H: number; seen: Set<number>; expiry: number }>();
  constructor(readonly capacity: number, readonly retention: number) {}
  #live(key: string, now: number) {
    const e = this.state.get(key);
    return e && e.expiry >= now ? e : undefined;
  }
  apply(items: ReplayItem[], now: number): number[] | "FULL" {
    let live = 0;
    for (const [k] of this.state) if (this.#live(k, now)) live++;
    const fresh = new Set<string>();
    for (const it of items) {
      const k = `${it.issuer}:${it.serialHi}:${it.serialLo}`;
      if (!this.#live(k, now)) fresh.add(k);
    }
    if (live + fresh.size > this.capacity) return "FULL";
    return items.map((it) => {
      const k = `${it.issuer}:${it.serialHi}:${it.serialLo}`;
      const c = it.counter;
      const e = this.#live(k, now);
      if (!e) {
        this.state.set(k, { H: c, seen: new Set([c]), expiry: now + this.retention });
        return 1;
      }
      if (c > e.H) e.H = c;
      else if (c <= e.H - 64 || e.seen.has(c)) return 0;
      e.seen.add(c);
      e.expiry = now + this.retention;
      if (e.seen.size > 256) for (const x of e.seen) if (x <= e.H - 64) e.seen.delete(x);
      return 1;
    });
  }
}

/** Runs `operations` random scans through both; returns how many batches were FULL. */
function randomRun(seed: number, capacity: number, serialCount: number, retention: number, operations: number): number {
  const r = rng(seed);
  const pick = (n: number) => Math.floor(r() * n);
  const pool: Serial[] = [S(1, 0), S(0, 1), S(0, 0), S(0xffffffff, 0xffffffff), S(0, 0x80000000), S(0x80000000, 0), S(1, 0, SC), S(0, 0, SC)];
  for (let i = pool.length; i < serialCount; i++) pool.push(S((r() * 2 ** 32) >>> 0, (r() * 2 ** 32) >>> 0));
  const serials = pool.slice(0, serialCount);
  const w = newWindow(capacity, retention);
  const model = new ReferenceWindow(capacity, retention);
  const highest = new Map<Serial, number>();
  let now = T0;
  let done = 0;
  let fulls = 0;
  while (done < operations) {
    const step = r();
    now += step < 0.6 ? 0 : step < 0.85 ? 1 + pick(5) : step < 0.97 ? 10 + pick(60) : retention + pick(20);
    const batch: ReplayItem[] = [];
    for (let n = 1 + pick(4); n > 0; n--) {
      const s = serials[pick(serials.length)]!;
      const h = highest.get(s) ?? 1000;
      const k = r();
      let c = k < 0.4 ? h - pick(70) : k < 0.7 ? h + 1 + pick(3) : k < 0.8 ? h + 30 + pick(40) : k < 0.9 ? h : (r() * 2 ** 32) >>> 0;
      c = Math.min(0xffffffff, Math.max(0, c));
      highest.set(s, Math.max(h, c));
      batch.push(item(s, c, now));
    }
    expect(w.stats().held).toBeLessThanOrEqual(capacity);
    const want = model.apply(batch, now);
    const got = w.apply(batch, now);
    const gotPlain = got instanceof Uint8Array ? Array.from(got) : got;
    if (JSON.stringify(gotPlain) !== JSON.stringify(want)) {
      // name the operation so a failure can be reproduced and read
      expect({ op: done, now: now - T0, batch: batch.map((b) => [b.issuer, b.serialHi, b.serialLo, b.counter]), got: gotPlain }).toEqual({
        op: done, now: now - T0, batch: batch.map((b) => [b.issuer, b.serialHi, b.serialLo, b.counter]), got: want,
      });
    }
    if (want === "FULL") fulls++;
    done += batch.length;
  }
  return fulls;
}

describe("against the reference model", () => {
  test("~20k random scans over 6 serials, room to spare", () => {
    expect(randomRun(20260, 64, 6, 100, 20_000)).toBe(0);
  });
  test("~20k random scans over 12 serials with capacity 6 (FULL decisions included)", () => {
    expect(randomRun(4303, 6, 12, 40, 20_000)).toBeGreaterThan(100);
  });
});
