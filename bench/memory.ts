/**
 * @module Memory per active holder at 1 million holders, in a fresh process (`bun bench/memory.ts
 * [holders]`; prints JSON as its last line):
 *
 * - the replay window (src/verify/replay-window.ts), sized for the holders (YUKUAI_REPLAY_CAPACITY), each
 *   holder with one accepted presentation: its table's bytes, and the process's RSS growth;
 * - the verified-credential LRU (src/verify/credential-cache.ts) holding every holder's credential with
 *   its device key's decoded x coordinate, as the native core gives it: JS heap and RSS growth.
 *
 * Codes here are synthetic (their signatures are never checked): neither structure looks at signatures.
 */
import { randomFillSync } from "node:crypto";
import { CredentialCache, verifiedCredential } from "../src/verify/credential-cache.ts";
import { MemoryReplayWindow, type ReplayItem } from "../src/verify/replay-window.ts";

export interface MemoryResults {
  holders: number;
  replay: { capacity: number; tableBytes: number; bytesPerHolder: number; rssBytesPerHolder: number };
  lru: { heapBytesPerHolder: number; rssBytesPerHolder: number; entries: number };
}

function settle(): { rss: number; heap: number } {
  Bun.gc(true);
  Bun.gc(true);
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

export function measureMemory(holders: number): MemoryResults {
  const now = 1_800_000_000;
  // ── replay window ──
  const r0 = settle();
  const window = new MemoryReplayWindow(holders, 380, now - 1);
  const serial = new Uint32Array(2);
  for (let done = 0; done < holders; ) {
    const items: ReplayItem[] = [];
    for (let k = 0; k < 1000 && done < holders; k++, done++) {
      randomFillSync(serial);
      items.push({ issuer: 500000, serialHi: serial[0]!, serialLo: serial[1]!, counter: 1, time: now });
    }
    const out = window.apply(items, now);
    if (out === "FULL" || out === "UNAVAILABLE") throw new Error(`replay window: ${out} at ${done} holders`);
  }
  const r1 = settle();
  const st = window.stats();
  if (st.held !== holders) throw new Error(`replay window holds ${st.held}, expected ${holders}`);

  // ── credential LRU ──
  const l0 = settle();
  const cache = new CredentialCache(holders);
  const code = new Uint8Array(212);
  const x = new Uint8Array(32);
  for (let i = 0; i < holders; i++) {
    randomFillSync(code, 0, 138);
    randomFillSync(x);
    code[0] = 1; // version
    code[1] = 1; // natural person
    cache.set(verifiedCredential(code, x));
  }
  const l1 = settle();
  const result: MemoryResults = {
    holders,
    replay: { capacity: st.capacity, tableBytes: st.bytes, bytesPerHolder: st.bytes / holders, rssBytesPerHolder: (r1.rss - r0.rss) / holders },
    lru: { heapBytesPerHolder: (l1.heap - l0.heap) / holders, rssBytesPerHolder: (l1.rss - l0.rss) / holders, entries: cache.size },
  };
  // keep both alive until measured
  void window.stats();
  void cache.size;
  return result;
}

if (import.meta.main) {
  const holders = Number(process.argv[2] ?? 1_000_000);
  console.log(JSON.stringify(measureMemory(holders)));
}
