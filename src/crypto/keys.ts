/**
 * @module The node's own issuer keys and subject secret (spec §6, §7), made on first start in the
 * data dir, never in the repository or an image.
 *
 * `issuer-<code>.keys.json` (mode 0600) holds the key ring: `{"issuer", "keys": [{kid, notBefore, notAfter,
 * seed}]}`. The newest key signs new credentials; `rotate` adds kid + 1 and ends the previous key's signing
 * period at that second, so older kids keep verifying the credentials they signed (§3: a key verifies a
 * credential only if the credential's notBefore lies within the key's period). `subject-<code>.secret`
 * (mode 0600) is the HMAC key of subject pseudonyms (§2). A data dir of an earlier version, with a single
 * `issuer-<code>.key`, is taken over as kid 1.
 */
import { randomBytes, type KeyObject } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { privateKeyFromSeed, rawPublicKey } from "./ed25519.ts";

export const ISSUER_NAMES: Record<number, string> = { 500000: "重庆市 Chongqing", 510000: "四川省 Sichuan" };

/** A u32 "forever" for the newest key's notAfter (§2 times are u32 unix seconds). */
export const NO_END = 0xffffffff;

export interface OwnKey {
  kid: number;
  privateKey: KeyObject;
  publicKey: Uint8Array;
  notBefore: number;
  notAfter: number;
}

interface StoredKey {
  kid: number;
  notBefore: number;
  notAfter: number;
  seed: string;
}

function writeSecret(path: string, text: string): void {
  // a new file, written whole, then renamed over the old one: a crash leaves the old ring or the new one
  const tmp = `${path}.tmp-${process.pid}`;
  rmSync(tmp, { force: true });
  writeFileSync(tmp, text, { mode: 0o600, flag: "wx" });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

export class IssuerKeyring {
  readonly issuer: number;
  readonly subjectSecret: Uint8Array;
  /** True when this start made the ring. */
  readonly created: boolean;
  readonly #path: string;
  #keys: OwnKey[];

  private constructor(issuer: number, path: string, keys: OwnKey[], subjectSecret: Uint8Array, created: boolean) {
    this.issuer = issuer;
    this.#path = path;
    this.#keys = keys;
    this.subjectSecret = subjectSecret;
    this.created = created;
  }

  /** The ring in `dataDir`, made (kid 1 from `now`) when there is none. */
  static open(dataDir: string, issuer: number, now: number): IssuerKeyring {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const path = join(dataDir, `issuer-${issuer}.keys.json`);
    const legacy = join(dataDir, `issuer-${issuer}.key`);
    const secretPath = join(dataDir, `subject-${issuer}.secret`);
    let created = false;
    if (!existsSync(path)) {
      let first: StoredKey;
      if (existsSync(legacy)) {
        const k = JSON.parse(readFileSync(legacy, "utf8")) as { kid: number; createdAt: number; seed: string };
        first = { kid: k.kid, notBefore: k.createdAt, notAfter: NO_END, seed: k.seed };
      } else {
        first = { kid: 1, notBefore: now, notAfter: NO_END, seed: randomBytes(32).toString("hex") };
        created = true;
      }
      writeSecret(path, JSON.stringify({ issuer, keys: [first] }) + "\n");
      if (existsSync(legacy)) rmSync(legacy);
    }
    if (!existsSync(secretPath)) writeSecret(secretPath, randomBytes(32).toString("hex") + "\n");
    const stored = JSON.parse(readFileSync(path, "utf8")) as { issuer: number; keys: StoredKey[] };
    if (stored.issuer !== issuer || !Array.isArray(stored.keys) || stored.keys.length === 0) {
      throw new Error(`${path} is not the key ring of issuer ${issuer}`);
    }
    const subjectSecret = new Uint8Array(Buffer.from(readFileSync(secretPath, "utf8").trim(), "hex"));
    if (subjectSecret.length !== 32) throw new Error(`${secretPath} must hold 32 hex bytes`);
    return new IssuerKeyring(issuer, path, stored.keys.map(ownKey), subjectSecret, created);
  }

  /** Every key, oldest first. */
  get keys(): readonly OwnKey[] {
    return this.#keys;
  }

  /** The key that signs new credentials: the newest. */
  get current(): OwnKey {
    return this.#keys[this.#keys.length - 1]!;
  }

  /** Adds kid + 1, signing from `now`; the previous key's signing period ends at `now`. Durable before it returns. */
  rotate(now: number): OwnKey {
    const prev = this.current;
    if (prev.kid >= 0xffff) throw new RangeError("no kid is left (kid is a u16, §2)");
    const next: StoredKey = { kid: prev.kid + 1, notBefore: now, notAfter: NO_END, seed: randomBytes(32).toString("hex") };
    const stored = JSON.parse(readFileSync(this.#path, "utf8")) as { issuer: number; keys: StoredKey[] };
    stored.keys[stored.keys.length - 1]!.notAfter = Math.max(now, prev.notBefore);
    stored.keys.push(next);
    writeSecret(this.#path, JSON.stringify(stored) + "\n");
    this.#keys = stored.keys.map(ownKey);
    return this.current;
  }
}

function ownKey(k: StoredKey): OwnKey {
  const privateKey = privateKeyFromSeed(new Uint8Array(Buffer.from(k.seed, "hex")));
  return { kid: k.kid, privateKey, publicKey: rawPublicKey(privateKey), notBefore: k.notBefore, notAfter: k.notAfter };
}
