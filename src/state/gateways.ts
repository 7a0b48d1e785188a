/**
 * @module Gateway keys (DESIGN.md §4-5): each key belongs to one scene. Only SHA-256 hashes of keys are
 * stored; a key is shown once, when made.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Db, GatewayRow } from "./db.ts";

export interface Gateway extends GatewayRow {}

export function hashKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/** Keys already authenticated, so a gateway's requests skip the SHA-256 (only valid keys enter). */
const KEY_CACHE_MAX = 65_536;

export class Gateways {
  readonly #byHash = new Map<string, Gateway>();
  readonly #byKey = new Map<string, Gateway>();

  constructor(private readonly db: Db) {
    for (const g of db.allGateways()) this.#byHash.set(g.keyHash, g);
  }

  /** Makes a gateway; the returned key is never stored or shown again. */
  create(name: string, scene: string, now: number): { gateway: Gateway; key: string } {
    const key = "ykg_" + randomBytes(24).toString("base64url");
    const gateway: Gateway = { id: "gw_" + randomBytes(8).toString("hex"), name, scene, keyHash: hashKey(key) };
    this.db.insertGateway(gateway, now);
    this.#byHash.set(gateway.keyHash, gateway);
    return { gateway, key };
  }

  /** A follower taking the issuer node's list. */
  replace(list: Gateway[], now: number): void {
    for (const g of list) {
      const known = this.#byHash.get(g.keyHash);
      if (known && known.id === g.id && known.scene === g.scene && known.name === g.name) continue;
      this.db.upsertGateway(g, now);
    }
    this.#byHash.clear();
    this.#byKey.clear();
    for (const g of list) this.#byHash.set(g.keyHash, g);
  }

  /** The gateway a bearer key belongs to, or undefined. */
  byKey(key: string): Gateway | undefined {
    const known = this.#byKey.get(key);
    if (known !== undefined) return known;
    const g = this.#byHash.get(hashKey(key));
    if (g !== undefined) {
      if (this.#byKey.size >= KEY_CACHE_MAX) this.#byKey.clear();
      this.#byKey.set(key, g);
    }
    return g;
  }

  list(): Gateway[] {
    return [...this.#byHash.values()];
  }
}
