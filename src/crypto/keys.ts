/**
 * @module Issuer keys and the trust store. The node's own issuer key and subject secret are made on first
 * start in the data dir (never in the repository); other issuers' public keys come from `keys/*.json`.
 * Invariant: every trusted key is imported once (`preparePublicKey`) when loaded, never per scan.
 */
import { randomBytes, type KeyObject } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { preparePublicKey, privateKeyFromSeed, rawPublicKey, type PreparedPublicKey } from "./ed25519.ts";

export interface TrustedKey {
  issuer: number;
  kid: number;
  raw: Uint8Array;
  prepared: PreparedPublicKey;
  notBefore: number;
  notAfter: number;
}

export interface IssuerEntry {
  issuer: number;
  name: string;
  keys: TrustedKey[];
}

/** The JSON form of an issuer in `keys/*.json` and in `GET /v1/trust`. */
export interface IssuerJson {
  issuer: number;
  name: string;
  keys: { kid: number; publicKey: string; notBefore: number; notAfter: number; status?: string }[];
}

const b64url = (b: Uint8Array) => Buffer.from(b).toString("base64url");

/** A key's slot in the trust map: issuer and kid in one number (issuer < 2^20, kid < 2^16). */
export const keyId = (issuer: number, kid: number) => issuer * 65536 + kid;

export class TrustStore {
  readonly #issuers = new Map<number, IssuerEntry>();
  readonly #keys = new Map<number, TrustedKey>();

  add(issuer: number, name: string, keys: Omit<TrustedKey, "prepared" | "issuer">[]): void {
    const entry = this.#issuers.get(issuer) ?? { issuer, name, keys: [] };
    entry.name = name;
    for (const k of keys) {
      if (this.#keys.has(keyId(issuer, k.kid))) continue;
      const tk: TrustedKey = { ...k, issuer, prepared: preparePublicKey(k.raw) };
      entry.keys.push(tk);
      this.#keys.set(keyId(issuer, k.kid), tk);
    }
    this.#issuers.set(issuer, entry);
  }

  addJson(j: IssuerJson): void {
    if (!Number.isInteger(j.issuer) || !Array.isArray(j.keys) || typeof j.name !== "string") {
      throw new Error("trust entry must be {issuer, name, keys: [{kid, publicKey, notBefore, notAfter}]}");
    }
    this.add(j.issuer, j.name, j.keys.map((k) => {
      const raw = new Uint8Array(Buffer.from(k.publicKey, "base64url"));
      if (raw.length !== 32 || !Number.isInteger(k.kid)) throw new Error(`issuer ${j.issuer}: bad key ${JSON.stringify(k)}`);
      return { kid: k.kid, raw, notBefore: k.notBefore ?? 0, notAfter: k.notAfter ?? 0xffffffff };
    }));
  }

  /** Hot path: the prepared key for (issuer, kid), or undefined. */
  key(issuer: number, kid: number): TrustedKey | undefined {
    return this.#keys.get(keyId(issuer, kid));
  }

  hasIssuer(issuer: number): boolean {
    return this.#issuers.has(issuer);
  }

  /** `GET /v1/trust`; `revokedKey(issuer, kid)` marks key status. */
  toJson(revokedKey: (issuer: number, kid: number) => boolean): { issuers: IssuerJson[] } {
    return {
      issuers: [...this.#issuers.values()].map((e) => ({
        issuer: e.issuer,
        name: e.name,
        keys: e.keys.map((k) => ({
          kid: k.kid, publicKey: b64url(k.raw), notBefore: k.notBefore, notAfter: k.notAfter,
          status: revokedKey(e.issuer, k.kid) ? "revoked" : "active",
        })),
      })),
    };
  }

  /** Loads every `*.json` in `dir` (other issuers' public trust material). */
  loadDir(dir: string): void {
    if (!existsSync(dir)) return;
    for (const f of readdirSync(dir).sort()) {
      if (!f.endsWith(".json")) continue;
      let j: IssuerJson;
      try {
        j = JSON.parse(readFileSync(join(dir, f), "utf8"));
      } catch (e) {
        throw new Error(`keys/${f}: ${(e as Error).message}`);
      }
      this.addJson(j);
    }
  }
}

export const ISSUER_NAMES: Record<number, string> = { 500000: "重庆市 Chongqing", 510000: "四川省 Sichuan" };

export interface IssuerSecrets {
  issuer: number;
  kid: number;
  privateKey: KeyObject;
  publicKey: Uint8Array;
  subjectSecret: Uint8Array;
  createdAt: number;
  /** True when this start made them. */
  created: boolean;
}

function writeSecret(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600, flag: "wx" });
  chmodSync(path, 0o600);
}

/**
 * The node's own issuer key (kid 1) and subject secret, made on first start in `dataDir`:
 * `issuer-<code>.key` (hex seed) and `subject-<code>.secret` (hex), both mode 0600.
 */
export function loadOrCreateIssuerSecrets(dataDir: string, issuer: number, nowSeconds: number): IssuerSecrets {
  mkdirSync(dataDir, { recursive: true });
  const keyPath = join(dataDir, `issuer-${issuer}.key`);
  const secretPath = join(dataDir, `subject-${issuer}.secret`);
  let created = false;
  if (!existsSync(keyPath)) {
    writeSecret(keyPath, JSON.stringify({ issuer, kid: 1, createdAt: nowSeconds, seed: randomBytes(32).toString("hex") }) + "\n");
    created = true;
  }
  if (!existsSync(secretPath)) writeSecret(secretPath, randomBytes(32).toString("hex") + "\n");
  const k = JSON.parse(readFileSync(keyPath, "utf8")) as { kid: number; createdAt: number; seed: string };
  const privateKey = privateKeyFromSeed(new Uint8Array(Buffer.from(k.seed, "hex")));
  const subjectSecret = new Uint8Array(Buffer.from(readFileSync(secretPath, "utf8").trim(), "hex"));
  if (subjectSecret.length !== 32) throw new Error(`${secretPath} must hold 32 hex bytes`);
  return { issuer, kid: k.kid, privateKey, publicKey: rawPublicKey(privateKey), subjectSecret, createdAt: k.createdAt, created };
}
