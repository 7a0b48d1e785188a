/**
 * @module The verification pipeline: spec §3's checks, in its order, for a batch of scans.
 *
 *   1. MALFORMED → UNKNOWN_ISSUER (or routed upstream) → ISSUER_NOT_ACCEPTED   (here, per scan)
 *   2. BAD_ISSUER_SIGNATURE → BAD_DEVICE_SIGNATURE                             (SignatureChecker: inline or pool)
 *   3. NOT_YET_VALID / EXPIRED → REVOKED → STALE                               (here, per scan)
 *   4. REPLAY (and STALE for presentations older than the replay store's memory) (ReplayStore, one decision point)
 *   5. OK, with the licences the scene needs and the holder consented to      (§5; audited)
 *
 * A scan's counter is recorded only after both signatures hold (forged scans burn no counters), and a
 * credential enters the verified LRU only then (forged scans cannot fill it). State is per issuer: replay
 * by (issuer, serial); serial and subject revocations, licences and the access log only for this node's
 * own issuer (§3, §7: a foreign issuer can write any serial and any subject).
 */
import type { Config } from "../config.ts";
import type { TrustedKey, TrustStore } from "../trust/store.ts";
import type { Revocations } from "../state/revocations.ts";
import type { AuditEntry } from "../state/db.ts";
import { LICENCE_TYPES, type Scene } from "../scenes.ts";
import { consentOf, counterOf, issuerOf, kidOf, notBeforeOf, parseCode, serialHexOf, timeOf, toText } from "../wire/code.ts";
import { CredentialCache, verifiedCredential, type VerifiedCredential } from "./credential-cache.ts";
import { REPLAY_ACCEPTED, REPLAY_BEFORE_MEMORY, type ReplayItem, type ReplayStore } from "./replay-window.ts";
import { BARE, type ResultCode, type ScanResult } from "./results.ts";
import { ok, refuse, type BatchRefusalCode, type Result } from "../errors.ts";
import { SIG_BAD_DEVICE, SIG_BAD_ISSUER, type SigJob, type SignatureChecker } from "./signatures.ts";
import type { Upstreams } from "../net/upstream.ts";

export interface GatewayContext {
  id: string;
  scene: Scene;
}

/** A batch's results in scan order, or the whole batch refused because the node cannot be sure. */
export type BatchOutcome = Result<ScanResult[], BatchRefusalCode>;

export interface PipelineDeps {
  config: Pick<Config, "issuer" | "windowSeconds" | "skewSeconds" | "atMaxAgeSeconds" | "maxInflightScans">;
  trust: TrustStore;
  revocations: Revocations;
  cache: CredentialCache;
  replay: ReplayStore;
  checker: SignatureChecker;
  upstreams: Upstreams | null;
  /** Linked licences of a subject (type → fields). Only called for scenes that need licences. */
  licencesOf: (subjectHex: string) => Map<string, Record<string, string>>;
  /** Durable audit of releases; called once per batch that released anything. */
  audit: (entries: AuditEntry[]) => void;
  /** Per-batch tally of results, for metrics. */
  onResults?: (results: readonly ScanResult[]) => void;
  /** True while the thread running the pipeline has more work queued than it clears (lag.ts). */
  saturated?: () => boolean;
}

/** One scan after step 1. */
interface Pending {
  index: number;
  code: Uint8Array;
  at: number | undefined;
  cached: VerifiedCredential | undefined;
  key: TrustedKey;
}

/** A scan from a batch: the code (text or 212 raw bytes), or {code, at}. Null = MALFORMED. */
function readScan(scan: unknown): { code: Uint8Array; at: number | undefined } | null {
  if (typeof scan === "string" || scan instanceof Uint8Array) {
    const code = parseCode(scan);
    return code === null ? null : { code, at: undefined };
  }
  if (typeof scan !== "object" || scan === null) return null;
  const s = scan as { code?: unknown; at?: unknown };
  if (s.at !== undefined && s.at !== null && !(typeof s.at === "number" && Number.isInteger(s.at) && s.at >= 0)) return null;
  const code = parseCode(s.code);
  return code === null ? null : { code, at: (s.at ?? undefined) as number | undefined };
}

export class Pipeline {
  readonly #d: PipelineDeps;
  #inflight = 0;
  /** The latest receive second seen: "now" never goes back (see verifyBatch). */
  #latest = 0;

  constructor(deps: PipelineDeps) {
    this.#d = deps;
  }

  get inflight(): number {
    return this.#inflight;
  }

  /** Verify a batch (already checked for size by the route); one result per scan, in order. */
  async verifyBatch(scans: readonly unknown[], gw: GatewayContext, receiveSecond: number): Promise<BatchOutcome> {
    const d = this.#d;
    if ((this.#inflight + scans.length > d.config.maxInflightScans && this.#inflight > 0) || d.saturated?.() === true) {
      return refuse("OVERLOADED", "verification capacity is saturated; retry shortly");
    }
    // Invariant: "now" never moves back. After the clock steps back, codes are judged against the latest second
    // seen (so they are STALE until the clock catches up, as after a restart): replay state dropped on the
    // way forward could otherwise make a presentation accepted before the step fresh and unseen again.
    if (receiveSecond > this.#latest) this.#latest = receiveSecond;
    this.#inflight += scans.length;
    try {
      return await this.#run(scans, gw, this.#latest);
    } finally {
      this.#inflight -= scans.length;
    }
  }

  async #run(scans: readonly unknown[], gw: GatewayContext, receive: number): Promise<BatchOutcome> {
    const d = this.#d;
    const results: ScanResult[] = new Array(scans.length);
    const pending: Pending[] = [];
    const jobs: SigJob[] = [];
    let routed: { index: number; issuer: number; code: Uint8Array; at: number | undefined }[] | null = null;

    // 1. form, issuer, scene
    for (let i = 0; i < scans.length; i++) {
      const scan = readScan(scans[i]);
      if (scan === null) {
        results[i] = BARE.MALFORMED;
        continue;
      }
      const { code } = scan;
      const issuer = issuerOf(code);
      const key = d.trust.verifierFor(issuer, kidOf(code), notBeforeOf(code), receive);
      if (key === undefined) {
        if (d.upstreams === null || !d.upstreams.routes(issuer)) {
          results[i] = BARE.UNKNOWN_ISSUER;
        } else if (!gw.scene.accepts.has(issuer)) {
          results[i] = BARE.ISSUER_NOT_ACCEPTED;
        } else {
          (routed ??= []).push({ index: i, issuer, code, at: scan.at });
        }
        continue;
      }
      if (!gw.scene.accepts.has(issuer)) {
        results[i] = BARE.ISSUER_NOT_ACCEPTED;
        continue;
      }
      const cached = d.cache.get(serialHexOf(code), code);
      pending.push({ index: i, code, at: scan.at, cached, key });
      jobs.push({ code, issuerKey: cached === undefined ? key.prepared : null, deviceX: cached === undefined ? null : cached.deviceX });
    }

    // routed scans go out while the local ones are checked
    const forwarded = routed !== null && d.upstreams !== null
      ? d.upstreams.forward(routed.map((r) => ({ issuer: r.issuer, serial: serialHexOf(r.code), scan: r.at === undefined ? toText(r.code) : { code: toText(r.code), at: r.at } })))
      : null;

    // 2. signatures
    const sig = jobs.length > 0 ? await d.checker.check(jobs) : new Uint8Array(0);

    // 3. validity, revocation, freshness
    const { windowSeconds: window, skewSeconds: skew, atMaxAgeSeconds } = d.config;
    const rev = d.revocations;
    const own = d.config.issuer;
    const candidates: { p: Pending; v: VerifiedCredential; consent: number }[] = [];
    const replayItems: ReplayItem[] = [];
    for (let k = 0; k < pending.length; k++) {
      const p = pending[k]!;
      const s = sig[k]!;
      if (s === SIG_BAD_ISSUER) {
        results[p.index] = BARE.BAD_ISSUER_SIGNATURE;
        continue;
      }
      if (s === SIG_BAD_DEVICE) {
        results[p.index] = BARE.BAD_DEVICE_SIGNATURE;
        continue;
      }
      let v = p.cached;
      if (v === undefined) {
        v = verifiedCredential(p.code, jobs[k]!.deviceX); // both signatures held: keep it (§3 LRU)
        d.cache.set(v);
      }
      // §3: "now" is the receive time, or the gateway's `at` when within [receive − 300 s, receive + skew]
      const now = p.at !== undefined && p.at >= receive - atMaxAgeSeconds && p.at <= receive + skew ? p.at : receive;
      const c = p.code;
      const time = timeOf(c);
      let code: ResultCode | null = null;
      if (now < v.notBefore - skew) code = "NOT_YET_VALID";
      else if (now > v.notAfter + skew) code = "EXPIRED";
      else if (p.key.revoked || rev.devices.has(v.deviceHex) || (rev.keys.size > 0 && rev.keyRevoked(v.issuer, v.kid))
        || (v.issuer === own && (rev.serials.has(v.serialHex) || rev.subjects.has(v.subjectHex)))) code = "REVOKED";
      else if (time < now - window || time > now + skew) code = "STALE";
      if (code !== null) {
        results[p.index] = { result: code, serial: v.serialHex };
        continue;
      }
      candidates.push({ p, v, consent: consentOf(c) });
      replayItems.push({ issuer: v.issuer, serialHi: v.serialHi, serialLo: v.serialLo, counter: counterOf(c), time });
    }

    // 4. replay, one decision point for all cores and nodes
    if (replayItems.length > 0) {
      const decided = await d.replay.apply(replayItems, receive);
      if (decided === "FULL") {
        return refuse("REPLAY_STORE_FULL", "the replay window is full; refusing rather than forgetting");
      }
      if (decided === "UNAVAILABLE") {
        return refuse("REPLAY_STORE_UNAVAILABLE", "replay state cannot be reached; refusing rather than guessing");
      }
      // 5. OK, and consented licences for scenes that need them (§5)
      const needMask = gw.scene.needMask;
      let audit: AuditEntry[] | null = null;
      for (let k = 0; k < candidates.length; k++) {
        const { p, v, consent } = candidates[k]!;
        if (decided[k] !== REPLAY_ACCEPTED) {
          results[p.index] = { result: decided[k] === REPLAY_BEFORE_MEMORY ? "STALE" : "REPLAY", serial: v.serialHex };
          continue;
        }
        // §7: licences belong to this node's own issuer; a foreign credential never releases one here
        const release = v.issuer === own ? needMask & consent : 0;
        if (release === 0) {
          results[p.index] = v.ok;
          continue;
        }
        const linked = d.licencesOf(v.subjectHex);
        let licences: Record<string, Record<string, string>> | null = null;
        for (let b = 0; b < LICENCE_TYPES.length; b++) {
          if ((release & (1 << b)) === 0) continue;
          const fields = linked.get(LICENCE_TYPES[b]!);
          if (fields !== undefined) (licences ??= {})[LICENCE_TYPES[b]!] = fields;
        }
        if (licences === null) {
          results[p.index] = v.ok;
          continue;
        }
        results[p.index] = { ...v.ok, licences };
        (audit ??= []).push({ at: receive, gateway: gw.id, scene: gw.scene.id, subject: v.subjectHex, licences: Object.keys(licences) });
      }
      if (audit !== null) d.audit(audit);
    }

    if (forwarded !== null && routed !== null) {
      const answers = await forwarded;
      for (let k = 0; k < routed.length; k++) results[routed[k]!.index] = answers[k]!;
    }
    d.onResults?.(results);
    return ok(results);
  }
}
