/**
 * @module 验码 as the routes see it (spec §3–§4): a batch from an authenticated gateway goes through the
 * pipeline here — or, on a follower, a batch of a scene that may release licences goes whole to the issuer
 * node, which holds the licences and the audit log. Also the batch answer's `revocations` and readiness.
 */
import type { Clock } from "../clock.ts";
import { seconds } from "../clock.ts";
import { ok, refuse, type BatchRefusalCode, type Result } from "../errors.ts";
import type { Metrics } from "../metrics.ts";
import type { IssuerNodeClient } from "../net/issuer-node.ts";
import type { AuthenticatedGateway } from "../registry.ts";
import type { FollowReadiness, Follower } from "../state/follow.ts";
import type { Revocations } from "../state/revocations.ts";
import type { TrustListSource } from "../trust/source.ts";
import type { Pipeline } from "./pipeline.ts";
import type { ReplayReadiness, ReplayStore } from "./replay-window.ts";
import type { ScanResult } from "./results.ts";

/** `/readyz` checks: each true, or why not (§3 `"replay": "warming"`, §7 `trust: false`). */
export interface Readiness {
  replay: ReplayReadiness;
  trust?: boolean;
  follow?: FollowReadiness;
}

/**
 * A scan as the follower forwards it: a code (text or bytes) or {code, at}, as spec §4 has them; anything
 * else is answered MALFORMED by the issuer node either way, so it goes as "" — no value of any depth or size
 * the gateway chose reaches the issuer node's decoder, whose refusal would cost the whole batch.
 */
function forwardable(scan: unknown): unknown {
  if (typeof scan === "string" || scan instanceof Uint8Array) return scan;
  if (typeof scan === "object" && scan !== null && !Array.isArray(scan)) {
    const { code, at } = scan as { code?: unknown; at?: unknown };
    if (typeof code === "string" || code instanceof Uint8Array) return at === undefined ? { code } : { code, at: typeof at === "number" ? at : null };
  }
  return "";
}

export interface VerifierDeps {
  clock: Clock;
  pipeline: Pipeline;
  replay: ReplayStore;
  revocations: Revocations;
  metrics: Metrics;
  trustList: TrustListSource | null;
  /** On a follower: its sync loop, and the issuer node that answers licence scenes. */
  follower: { sync: Follower; issuerNode: IssuerNodeClient } | null;
}

export class Verifier {
  readonly #d: VerifierDeps;

  constructor(d: VerifierDeps) {
    this.#d = d;
  }

  async verifyBatch(scans: readonly unknown[], gw: AuthenticatedGateway): Promise<Result<ScanResult[], BatchRefusalCode>> {
    const f = this.#d.follower;
    if (f !== null && gw.scene.needMask !== 0) {
      // licences and their audit log live on the issuer node: it answers this batch whole
      const results = await f.issuerNode.verifyBatch(scans.map(forwardable), gw.key);
      if (results === null) return refuse("ISSUER_UNAVAILABLE", "this scene's batches are answered by the issuer node, which did not answer; retry");
      this.#d.metrics.countResults(results);
      return ok(results);
    }
    return this.#d.pipeline.verifyBatch(scans, { id: gw.gateway.id, scene: gw.scene }, seconds(this.#d.clock));
  }

  /** §4 `revocations` of a batch answer: an issuer node is its own source, so it is in sync now. */
  revocationStatus(): { seq: number; syncedAt: number } {
    const r = this.#d.revocations;
    return { seq: r.seq, syncedAt: this.#d.follower === null ? seconds(this.#d.clock) : r.syncedAt };
  }

  async ready(): Promise<{ ok: boolean; checks: Readiness }> {
    const now = seconds(this.#d.clock);
    const replay = await this.#d.replay.ready(now);
    this.#d.metrics.replayFull.set(replay === "full" ? 1 : 0);
    const checks: Readiness = { replay };
    if (this.#d.trustList !== null) checks.trust = this.#d.trustList.fresh(now);
    if (this.#d.follower !== null) checks.follow = this.#d.follower.sync.ready();
    return { ok: replay === true && checks.trust !== false && (checks.follow ?? true) === true, checks };
  }
}
