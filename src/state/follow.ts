/**
 * @module Follower mode (`YUKUAI_FOLLOW`, spec §4/§6): a verify-only node that takes an issuer node's
 * trust (`GET /v1/trust`, public), gateway keys and revocation feed (with the feed token, never the admin
 * token), polling every `followIntervalMs` (500 ms by default) so new keys, revocations, new and deleted
 * gateways apply within 1 s. (Batches that may release licences go to the issuer node whole:
 * verify/verifier.ts.)
 *
 * A feed whose `last` is below what this follower applied went backwards (the issuer was restored from a
 * backup): the follower stops being ready, says so on every poll, and applies nothing more from it —
 * entries are never skipped silently. It stays so until an operator resolves it (README "Scaling out").
 */
import type { Clock } from "../clock.ts";
import { seconds } from "../clock.ts";
import { checkPublicKey } from "../crypto/ed25519.ts";
import { issuersFromJson, type IssuerJson, type TrustStore } from "../trust/store.ts";
import type { IssuerNodeClient } from "../net/issuer-node.ts";
import { FEED_PAGE, type RevocationFeed } from "../registry.ts";
import type { Gateways, Gateway } from "./gateways.ts";
import type { Revocations } from "./revocations.ts";

export interface FollowerDeps {
  node: IssuerNodeClient;
  /** The issuer node's feed token (§4 `YUKUAI_FEED_TOKEN`). */
  feedToken: string;
  /** The division code both nodes serve: the followed node must list it. */
  issuer: number;
  intervalMs: number;
  /** Readiness fails when the last full sync is older than this. */
  maxLagSeconds: number;
  trust: TrustStore;
  gateways: Gateways;
  revocations: Revocations;
  clock: Clock;
  log?: (line: string) => void;
}

/** `/readyz` `checks.follow`: true, or why not. */
export type FollowReadiness = true | "lagging" | "feed-backwards";

/**
 * The followed node's trust, each key through the §2 key test; a reason string when it must not be taken.
 * `passed` holds keys (base64url) that passed before: the full test (point decoding) runs once per key, not
 * at every poll.
 */
function checkTrust(body: unknown, issuer: number, passed: Set<string>): string | IssuerJson[] {
  const issuers = (body as { issuers?: unknown })?.issuers;
  if (!Array.isArray(issuers)) return "GET /v1/trust is not {issuers: [...]}";
  for (const i of issuers as IssuerJson[]) {
    if (!Number.isInteger(i?.issuer) || typeof i.name !== "string" || !Array.isArray(i.keys)) return "a trust entry is not {issuer, name, keys}";
    for (const k of i.keys) {
      const known = typeof k?.publicKey === "string" && passed.has(k.publicKey);
      const raw = typeof k?.publicKey === "string" ? new Uint8Array(Buffer.from(k.publicKey, "base64url")) : new Uint8Array(0);
      const why = known ? null : checkPublicKey(raw);
      if (why !== null || !Number.isInteger(k.kid) || !Number.isInteger(k.notBefore) || !Number.isInteger(k.notAfter)) {
        return `issuer ${i.issuer} kid ${k?.kid}: ${why ?? "bad key entry"}`;
      }
      if (!known && passed.size < 4096) passed.add(k.publicKey);
    }
  }
  if (!(issuers as IssuerJson[]).some((i) => i.issuer === issuer)) return `the followed node does not list issuer ${issuer} (YUKUAI_ISSUER must match it)`;
  return issuers as IssuerJson[];
}

export class Follower {
  readonly #d: FollowerDeps;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #stopped = false;
  /** Unix second of the last sync in which trust, gateways and revocations all came through; 0 = never. */
  lastSync = 0;
  #lastError = "";
  #backwards = false;
  readonly #passedKeys = new Set<string>();
  /** The followed node's last taken `GET /v1/trust`, as text. */
  #lastTrust = "";
  /** Resolved after each poll of the loop (tests await it instead of sleeping). */
  #waiters: (() => void)[] = [];

  constructor(d: FollowerDeps) {
    this.#d = d;
  }

  /** One pull of trust, gateways and the revocation feed; true when all three came through. */
  async syncOnce(): Promise<boolean> {
    if (this.#backwards) {
      this.#d.log?.(`follow: NOT READY: the revocation feed of ${this.#d.node.url} went backwards; resolve it (README "Scaling out") and restart this follower`);
      return false;
    }
    try {
      const node = this.#d.node;
      const body = await node.getJson("/v1/trust", null);
      const text = JSON.stringify(body);
      if (text !== this.#lastTrust) {
        // taken only when it changed: most polls find the same keys
        const trust = checkTrust(body, this.#d.issuer, this.#passedKeys);
        if (typeof trust === "string") throw new Error(`trust refused: ${trust}`);
        this.#d.trust.set("followed", issuersFromJson(trust, Infinity));
        this.#lastTrust = text;
      }
      const gws = (await node.getJson("/v1/gateways", this.#d.feedToken)) as { gateways: Gateway[] };
      this.#d.gateways.replace(gws.gateways, seconds(this.#d.clock));
      for (;;) {
        const applied = this.#d.revocations.seq;
        const feed = (await node.getJson(`/v1/revocations?since=${applied}`, this.#d.feedToken)) as RevocationFeed;
        if (!Number.isInteger(feed.last) || feed.last < applied) {
          this.#backwards = true;
          this.#d.log?.(`follow: NOT READY: the revocation feed of ${this.#d.node.url} went backwards (it holds up to ${feed.last}, this follower applied ${applied}): was the issuer node restored from a backup? Nothing more is applied from it`);
          return false;
        }
        this.#d.revocations.applyFeed(feed.entries, seconds(this.#d.clock));
        if (feed.entries.length < FEED_PAGE) break;
      }
      this.lastSync = seconds(this.#d.clock);
      if (this.#lastError) this.#d.log?.(`follow: in sync with ${this.#d.node.url} again`);
      this.#lastError = "";
      return true;
    } catch (e) {
      const msg = (e as Error).message;
      if (msg !== this.#lastError) this.#d.log?.(`follow: cannot sync with ${this.#d.node.url}: ${msg}`);
      this.#lastError = msg;
      return false;
    }
  }

  start(): void {
    const tick = async () => {
      if (this.#stopped) return;
      await this.syncOnce();
      for (const w of this.#waiters.splice(0)) w();
      if (!this.#stopped) this.#timer = setTimeout(tick, this.#d.intervalMs);
    };
    void tick();
  }

  /** Resolves after the loop's next completed poll. */
  nextPoll(): Promise<void> {
    return new Promise((r) => this.#waiters.push(r));
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    for (const w of this.#waiters.splice(0)) w();
  }

  ready(): FollowReadiness {
    if (this.#backwards) return "feed-backwards";
    return this.lastSync > 0 && seconds(this.#d.clock) - this.lastSync <= this.#d.maxLagSeconds ? true : "lagging";
  }
}
