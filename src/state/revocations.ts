/**
 * @module Revocation (spec §3 REVOKED, §4 delta feed): durable in SQLite, checked in memory on every
 * scan. Values are lowercase hex (serial 16, subject 32, device key 64) or "issuer:kid".
 */
import type { Db, RevocationEntry, RevocationType } from "./db.ts";

export const REVOCATION_TYPES: readonly RevocationType[] = ["credential", "subject", "device", "key"];

/** Checks a revocation value's form; returns the normalised value or the reason it is refused. */
export function normaliseRevocationValue(type: RevocationType, value: unknown): { ok: true; value: string } | { ok: false; reason: string } {
  if (typeof value !== "string") return { ok: false, reason: "value must be a string" };
  const v = value.trim().toLowerCase();
  const hex = (n: number, what: string) =>
    new RegExp(`^[0-9a-f]{${n}}$`).test(v) ? { ok: true as const, value: v } : { ok: false as const, reason: `value must be the ${what} as ${n} hex digits` };
  switch (type) {
    case "credential": return hex(16, "serial");
    case "subject": return hex(32, "subject");
    case "device": return hex(64, "device public key");
    case "key": {
      const m = /^([0-9]{6}):([0-9]{1,5})$/.exec(v);
      if (!m || Number(m[2]) > 65535) return { ok: false, reason: "value must be \"issuer:kid\", e.g. \"500000:1\"" };
      return { ok: true, value: `${Number(m[1])}:${Number(m[2])}` };
    }
  }
}

export class Revocations {
  readonly serials = new Set<string>();
  readonly subjects = new Set<string>();
  readonly devices = new Set<string>();
  readonly keys = new Set<string>();
  /** The last entry applied. */
  seq = 0;
  /** Unix second of the last sync with the source of entries (this node's own store, or the issuer node). */
  syncedAt = 0;

  constructor(private readonly db: Db) {
    for (const e of db.allRevocations()) this.#apply(e);
  }

  #apply(e: RevocationEntry): void {
    switch (e.type) {
      case "credential": this.serials.add(e.value); break;
      case "subject": this.subjects.add(e.value); break;
      case "device": this.devices.add(e.value); break;
      case "key": this.keys.add(e.value); break;
    }
    if (e.seq > this.seq) this.seq = e.seq;
  }

  /** An issuer node's own revocation: durable first, then in memory. */
  add(type: RevocationType, value: string, at: number, reason: string | null): number {
    const seq = this.db.addRevocation(type, value, at, reason);
    this.#apply({ seq, type, value, at, reason });
    this.syncedAt = at;
    return seq;
  }

  /** A follower applying the issuer's feed (entries in seq order). */
  applyFeed(entries: RevocationEntry[], syncedAt: number): void {
    for (const e of entries) {
      if (e.seq <= this.seq) continue;
      this.db.copyRevocation(e);
      this.#apply(e);
    }
    this.syncedAt = syncedAt;
  }

  keyRevoked(issuer: number, kid: number): boolean {
    return this.keys.has(`${issuer}:${kid}`);
  }
}
