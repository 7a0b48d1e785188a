/**
 * @module The trust store (spec §7): the issuer keys this node verifies credentials with, from three
 * sources — its own keys (made in the data dir), the signed trust list, and, on a follower, the followed
 * node's `GET /v1/trust`. Nothing else is ever trusted.
 *
 * Precedence: the node's own keys; a trust list's entries for the node's own issuer are ignored (§7).
 * Invariant: every key here passed the §2 key test before it was added (own keys are made here; list and
 * followed keys are tested by their loaders), and is prepared once per distinct public key: an update of
 * the lists keeps the same prepared object for a key it already held.
 */
import { prepareVerifyKey, type PreparedPublicKey } from "../crypto/ed25519.ts";

export interface TrustedKey {
  issuer: number;
  kid: number;
  raw: Uint8Array;
  prepared: PreparedPublicKey;
  /** The key's signing period (§3): it verifies a credential only if the credential's notBefore is within. */
  notBefore: number;
  notAfter: number;
  /** Status `revoked` at its source: its credentials are REVOKED (§3). */
  revoked: boolean;
  /** The last receive second this key verifies: a trust list's nextUpdate; Infinity for the node's own keys. */
  until: number;
}

/** A key as its source gives it. */
export interface KeyInput {
  kid: number;
  raw: Uint8Array;
  notBefore: number;
  notAfter: number;
  revoked: boolean;
}

export interface IssuerInput {
  issuer: number;
  name: string;
  keys: readonly KeyInput[];
  /** As TrustedKey.until, for every key of this issuer. */
  until: number;
}

/** The wire form of an issuer (`GET /v1/trust`, §4; trust list payload, §7). */
export interface IssuerJson {
  issuer: number;
  name: string;
  keys: { kid: number; publicKey: string; notBefore: number; notAfter: number; status: "active" | "revoked" }[];
  /** Entries from a trust list: the list's nextUpdate, after which this node stops verifying them. */
  trustedUntil?: number;
}

export type TrustSource = "own" | "list" | "followed";

/** A key's slot in the trust map: issuer and kid in one number (issuer < 2^20, kid < 2^16). */
const keyId = (issuer: number, kid: number) => issuer * 65536 + kid;

export class TrustStore {
  readonly #sources = new Map<TrustSource, readonly IssuerInput[]>();
  #keys = new Map<number, TrustedKey>();
  #issuers: { issuer: number; name: string; keys: TrustedKey[] }[] = [];
  /** Prepared keys by public key (hex), so a key keeps one prepared object across updates. */
  #prepared = new Map<string, PreparedPublicKey>();

  /** `ownIssuer`: the division code this node issues for (a list's entries for it are ignored). */
  constructor(readonly ownIssuer: number) {}

  /** Replaces what one source says; throws RangeError for a key that fails the §2 key test (loaders test first). */
  set(source: TrustSource, issuers: readonly IssuerInput[]): void {
    this.#sources.set(source, issuers);
    const keys = new Map<number, TrustedKey>();
    const listed: { issuer: number; name: string; keys: TrustedKey[] }[] = [];
    const prepared = new Map<string, PreparedPublicKey>();
    for (const src of ["own", "followed", "list"] as const) {
      for (const i of this.#sources.get(src) ?? []) {
        if (src === "list" && i.issuer === this.ownIssuer) continue;
        if (listed.some((e) => e.issuer === i.issuer)) continue; // an earlier source holds this issuer
        const entry = { issuer: i.issuer, name: i.name, keys: [] as TrustedKey[] };
        for (const k of i.keys) {
          const hex = Buffer.from(k.raw).toString("hex");
          const p = prepared.get(hex) ?? this.#prepared.get(hex) ?? prepareVerifyKey(k.raw);
          if (p === null) throw new RangeError(`issuer ${i.issuer} kid ${k.kid}: the key fails the §2 key test`);
          prepared.set(hex, p);
          const tk: TrustedKey = { issuer: i.issuer, kid: k.kid, raw: k.raw, prepared: p, notBefore: k.notBefore, notAfter: k.notAfter, revoked: k.revoked, until: i.until };
          keys.set(keyId(i.issuer, k.kid), tk);
          entry.keys.push(tk);
        }
        listed.push(entry);
      }
    }
    this.#prepared = prepared;
    this.#keys = keys;
    this.#issuers = listed;
  }

  /**
   * Hot path (§3, §7): the key that verifies a credential of (issuer, kid) whose notBefore is `credentialNotBefore`,
   * at receive second `now`; undefined when none does (the scan is then routed or UNKNOWN_ISSUER).
   */
  verifierFor(issuer: number, kid: number, credentialNotBefore: number, now: number): TrustedKey | undefined {
    const k = this.#keys.get(keyId(issuer, kid));
    if (k === undefined || now > k.until || credentialNotBefore < k.notBefore || credentialNotBefore > k.notAfter) return undefined;
    return k;
  }

  /** `GET /v1/trust` at `now`: the keys that verify; `revokedKey(issuer, kid)` adds revocations made here. */
  toJson(now: number, revokedKey: (issuer: number, kid: number) => boolean): { issuers: IssuerJson[] } {
    const issuers: IssuerJson[] = [];
    for (const e of this.#issuers) {
      const keys = e.keys.filter((k) => now <= k.until);
      if (keys.length === 0) continue;
      const until = keys[0]!.until;
      issuers.push({
        issuer: e.issuer,
        name: e.name,
        keys: keys.map((k) => ({
          kid: k.kid, publicKey: Buffer.from(k.raw).toString("base64url"), notBefore: k.notBefore, notAfter: k.notAfter,
          status: k.revoked || revokedKey(e.issuer, k.kid) ? "revoked" : "active",
        })),
        ...(Number.isFinite(until) ? { trustedUntil: until } : {}),
      });
    }
    return { issuers };
  }
}

/** The input form of issuers in the wire form (keys already passed the §2 key test). */
export function issuersFromJson(list: readonly IssuerJson[], until: number): IssuerInput[] {
  return list.map((i) => ({
    issuer: i.issuer,
    name: i.name,
    until: i.trustedUntil ?? until,
    keys: i.keys.map((k) => ({
      kid: k.kid, raw: new Uint8Array(Buffer.from(k.publicKey, "base64url")), notBefore: k.notBefore, notAfter: k.notAfter,
      revoked: k.status === "revoked",
    })),
  }));
}
