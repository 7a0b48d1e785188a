/**
 * @module Gateway keys (spec §4-5): each key belongs to one scene. Only SHA-256 hashes of keys are
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

  /** Deletes a gateway: its key stops working at once (§4). False when there is no such gateway. */
  delete(id: string): boolean {
    if (!this.db.deleteGateway(id)) return false;
    for (const [hash, g] of this.#byHash) if (g.id === id) this.#byHash.delete(hash);
    this.#byKey.clear();
    return true;
  }

  /** A follower taking the issuer node's whole list: gateways missing from it stop working at once. */
  replace(list: readonly Gateway[], now: number): void {
    const same = list.length === this.#byHash.size && list.every((g) => {
      const known = this.#byHash.get(g.keyHash);
      return known !== undefined && known.id === g.id && known.scene === g.scene && known.name === g.name;
    });
    if (same) return;
    this.db.replaceGateways(list, now);
    this.#byHash.clear();
    this.#byKey.clear();
    for (const g of list) this.#byHash.set(g.keyHash, { id: g.id, name: g.name, scene: g.scene, keyHash: g.keyHash });
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
