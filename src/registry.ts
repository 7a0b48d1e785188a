/**
 * @module The issuer node's registry (spec §3–§5): revocations with their delta feed, and gateway keys,
 * each bound to one scene. Writes happen on the issuer node only (a follower answers FOLLOWER: it copies
 * the issuer node's registry, state/follow.ts).
 */
import type { Clock } from "./clock.ts";
import { seconds } from "./clock.ts";
import { FOLLOWER, ok, refuse, type Result } from "./errors.ts";
import type { Scene, SceneCatalogue } from "./scenes.ts";
import type { Db, RevocationEntry, RevocationType } from "./state/db.ts";
import type { Gateway, Gateways } from "./state/gateways.ts";
import { normaliseRevocationValue, REVOCATION_TYPES, type Revocations } from "./state/revocations.ts";

/** A gateway as authenticated by its bearer key. */
export interface AuthenticatedGateway {
  gateway: Gateway;
  scene: Scene;
  /** The bearer key itself (a follower forwards licence-scene batches with it). */
  key: string;
}

export interface RevocationFeed {
  entries: RevocationEntry[];
  next: number;
  last: number;
}

export interface RegistryDeps {
  clock: Clock;
  db: Db;
  revocations: Revocations;
  gateways: Gateways;
  scenes: SceneCatalogue;
  /** False on a follower. */
  writable: boolean;
}

/** Entries one feed page holds (a follower pages on until a page is short). */
export const FEED_PAGE = 10_000;

export class Registry {
  readonly #d: RegistryDeps;

  constructor(d: RegistryDeps) {
    this.#d = d;
  }

  revoke(body: Record<string, unknown>): Result<{ seq: number }> {
    if (!this.#d.writable) return FOLLOWER;
    const { type, value, reason } = body;
    if (typeof type !== "string" || !(REVOCATION_TYPES as readonly string[]).includes(type)) {
      return refuse("BAD_REVOCATION_TYPE", "type must be one of credential, subject, device, key");
    }
    const v = normaliseRevocationValue(type as RevocationType, value);
    if (!v.ok) return refuse("BAD_REVOCATION_VALUE", v.reason);
    if (reason !== undefined && reason !== null && (typeof reason !== "string" || reason.length > 500)) {
      return refuse("BAD_REASON", "reason must be a string of at most 500 characters");
    }
    const seq = this.#d.revocations.add(type as RevocationType, v.value, seconds(this.#d.clock), (reason as string | undefined) ?? null);
    return ok({ seq });
  }

  /** §4 delta feed: entries with seq > since, `next`, and `last` (so a follower sees a feed that went backwards). */
  feed(sinceRaw: string | undefined): Result<RevocationFeed> {
    if (sinceRaw !== undefined && sinceRaw !== "" && !/^[0-9]{1,15}$/.test(sinceRaw)) return refuse("BAD_SINCE", "since must be a non-negative integer (decimal digits)");
    const since = sinceRaw === undefined || sinceRaw === "" ? 0 : Number(sinceRaw);
    const entries = this.#d.db.revocationsSince(since, FEED_PAGE);
    return ok({ entries, next: entries.length ? entries[entries.length - 1]!.seq : since, last: this.#d.db.lastRevocationSeq() });
  }

  createGateway(body: Record<string, unknown>): Result<{ id: string; key: string }> {
    if (!this.#d.writable) return FOLLOWER;
    const { name, scene } = body;
    if (typeof name !== "string" || name.trim() === "" || name.length > 200) {
      return refuse("BAD_NAME", "name must be a non-empty string of at most 200 characters");
    }
    if (typeof scene !== "string" || !this.#d.scenes.has(scene)) {
      return refuse("BAD_SCENE", `scene must be one of: ${[...this.#d.scenes.keys()].join(", ")}`);
    }
    const { gateway, key } = this.#d.gateways.create(name.trim(), scene, seconds(this.#d.clock));
    return ok({ id: gateway.id, key });
  }

  /** §4: the key stops working here at once (and on followers at their next poll). */
  deleteGateway(id: string): Result<null> {
    if (!this.#d.writable) return FOLLOWER;
    return this.#d.gateways.delete(id) ? ok(null) : refuse("NOT_FOUND", "no gateway with that id");
  }

  listGateways(): Result<{ gateways: Gateway[] }> {
    return ok({ gateways: this.#d.gateways.list() });
  }

  /** Hot path: the gateway and scene a bearer key belongs to, or undefined. */
  gatewayByKey(key: string): AuthenticatedGateway | undefined {
    const gateway = this.#d.gateways.byKey(key);
    if (!gateway) return undefined;
    const scene = this.#d.scenes.get(gateway.scene);
    return scene ? { gateway, scene, key } : undefined;
  }
}
