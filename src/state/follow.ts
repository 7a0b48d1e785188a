/**
 * @module Follower mode (`YUKUAI_FOLLOW`, DESIGN.md §4/§6): a verify-only node that takes an issuer node's
 * trust list, gateway keys and revocation feed, polling every `followIntervalMs` (500 ms by default) so
 * new revocations and gateways apply within 1 s. Batches that may release licences are answered by the
 * issuer node itself (the licences and the audit log live there), forwarded whole.
 */
import type { Packr } from "msgpackr";
import type { Clock } from "../clock.ts";
import { seconds } from "../clock.ts";
import type { IssuerJson, TrustStore } from "../crypto/keys.ts";
import type { ScanResult } from "../verify/results.ts";
import type { RevocationEntry } from "./db.ts";
import type { Gateways, Gateway } from "./gateways.ts";
import type { Revocations } from "./revocations.ts";

const FEED_PAGE = 10_000;

export interface FollowerDeps {
  url: string;
  adminToken: string;
  intervalMs: number;
  /** Readiness fails when the last full sync is older than this. */
  maxLagSeconds: number;
  timeoutMs: number;
  trust: TrustStore;
  gateways: Gateways;
  revocations: Revocations;
  clock: Clock;
  packr: Packr;
  fetchFn?: typeof fetch;
  log?: (line: string) => void;
}

export class Follower {
  readonly #d: FollowerDeps;
  readonly #fetch: typeof fetch;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #stopped = false;
  /** Unix second of the last sync in which trust, gateways and revocations all came through; 0 = never. */
  lastSync = 0;
  #lastError = "";

  constructor(d: FollowerDeps) {
    this.#d = d;
    this.#fetch = d.fetchFn ?? fetch;
  }

  async #get(path: string): Promise<unknown> {
    const res = await this.#fetch(`${this.#d.url}${path}`, {
      headers: { authorization: `Bearer ${this.#d.adminToken}`, accept: "application/json" },
      signal: AbortSignal.timeout(this.#d.timeoutMs),
    });
    if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
    return res.json();
  }

  /** One pull of trust, gateways and the revocation feed; true when all three came through. */
  async syncOnce(): Promise<boolean> {
    try {
      const trust = (await this.#get("/v1/trust")) as { issuers: IssuerJson[] };
      for (const i of trust.issuers) this.#d.trust.addJson(i);
      const gws = (await this.#get("/v1/gateways")) as { gateways: Gateway[] };
      this.#d.gateways.replace(gws.gateways, seconds(this.#d.clock));
      for (;;) {
        const feed = (await this.#get(`/v1/revocations?since=${this.#d.revocations.seq}`)) as { entries: RevocationEntry[]; next: number };
        this.#d.revocations.applyFeed(feed.entries, seconds(this.#d.clock));
        if (feed.entries.length < FEED_PAGE) break;
      }
      this.lastSync = seconds(this.#d.clock);
      if (this.#lastError) this.#d.log?.(`follow: in sync with ${this.#d.url} again`);
      this.#lastError = "";
      return true;
    } catch (e) {
      const msg = (e as Error).message;
      if (msg !== this.#lastError) this.#d.log?.(`follow: cannot sync with ${this.#d.url}: ${msg}`);
      this.#lastError = msg;
      return false;
    }
  }

  start(): void {
    const tick = async () => {
      if (this.#stopped) return;
      await this.syncOnce();
      if (!this.#stopped) this.#timer = setTimeout(tick, this.#d.intervalMs);
    };
    void tick();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
  }

  ready(): boolean {
    return this.lastSync > 0 && seconds(this.#d.clock) - this.lastSync <= this.#d.maxLagSeconds;
  }

  /** A batch answered by the issuer node (scenes that may release licences); null when it did not answer. */
  async forwardBatch(scans: readonly unknown[], gatewayKey: string): Promise<ScanResult[] | null> {
    try {
      const res = await this.#fetch(`${this.#d.url}/v1/verify/batch`, {
        method: "POST",
        headers: { "content-type": "application/msgpack", accept: "application/msgpack", authorization: `Bearer ${gatewayKey}` },
        body: this.#d.packr.pack({ scans }),
        signal: AbortSignal.timeout(this.#d.timeoutMs),
      });
      if (res.status !== 200) return null;
      const body = this.#d.packr.unpack(new Uint8Array(await res.arrayBuffer())) as { results?: ScanResult[] };
      return Array.isArray(body.results) && body.results.length === scans.length ? body.results : null;
    } catch {
      return null;
    }
  }
}
