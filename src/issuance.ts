/**
 * @module 申码 / 制码 (spec §1, §2, §4 `POST /v1/credentials`) and the issuer key ring (§7
 * `POST /v1/issuer-keys`): binds a subject to a holder device key in a credential signed with the newest
 * issuer key; rotates the key without downtime. On a follower (no key ring) every call is FOLLOWER.
 */
import { randomBytes } from "node:crypto";
import type { Clock } from "./clock.ts";
import { seconds } from "./clock.ts";
import type { Config } from "./config.ts";
import { checkPublicKey } from "./crypto/ed25519.ts";
import { ISSUER_NAMES, type IssuerKeyring } from "./crypto/keys.ts";
import { FOLLOWER, ok, refuse, type Result } from "./errors.ts";
import { checkIdNumber, subjectPseudonym } from "./identity.ts";
import type { Db } from "./state/db.ts";
import type { Revocations } from "./state/revocations.ts";
import type { TrustStore } from "./trust/store.ts";
import { FLAG_MASK, KIND_ENTERPRISE, KIND_PERSON, signCredential } from "./wire/code.ts";

export interface IssuedCredential {
  serial: string;
  /** base64url of the 138 bytes. */
  credential: string;
  notBefore: number;
  notAfter: number;
}

export interface IssuerKeyInfo {
  issuer: number;
  kid: number;
  publicKey: string;
  notBefore: number;
  notAfter: number;
}

export interface IssuanceDeps {
  config: Pick<Config, "issuer" | "defaultValidDays">;
  clock: Clock;
  /** Null on a follower, which issues nothing. */
  keyring: IssuerKeyring | null;
  db: Db;
  revocations: Revocations;
  trust: TrustStore;
}

const b64url = (b: Uint8Array) => Buffer.from(b).toString("base64url");
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

export class Issuance {
  readonly #d: IssuanceDeps;

  constructor(d: IssuanceDeps) {
    this.#d = d;
    this.#trustOwnKeys();
  }

  /** The trust store's own keys are the key ring's (at start and after each rotation). */
  #trustOwnKeys(): void {
    const ring = this.#d.keyring;
    if (ring === null) return;
    this.#d.trust.set("own", [{
      issuer: ring.issuer, name: ISSUER_NAMES[ring.issuer] ?? String(ring.issuer), until: Infinity,
      keys: ring.keys.map((k) => ({ kid: k.kid, raw: k.publicKey, notBefore: k.notBefore, notAfter: k.notAfter, revoked: false })),
    }]);
  }

  issue(body: Record<string, unknown>): Result<IssuedCredential> {
    const ring = this.#d.keyring;
    if (ring === null) return FOLLOWER;
    const { issuer, defaultValidDays } = this.#d.config;
    const key = ring.current;
    if (this.#d.revocations.keyRevoked(issuer, key.kid)) {
      return refuse("ISSUER_KEY_REVOKED", `issuer key ${issuer}:${key.kid} is revoked: make a new one (POST /v1/issuer-keys) before issuing`);
    }
    const { kind, idNumber, devicePublicKey, validDays, flags } = body;
    if (kind !== "person" && kind !== "enterprise") return refuse("BAD_KIND", "kind must be \"person\" or \"enterprise\"");
    if (typeof idNumber !== "string") return refuse("BAD_ID_NUMBER", "idNumber must be a string");
    const id = checkIdNumber(kind, idNumber);
    if (!id.ok) return refuse("BAD_ID_NUMBER", id.reason);
    if (typeof devicePublicKey !== "string" || !/^[A-Za-z0-9_-]{43}=?$/.test(devicePublicKey)) {
      return refuse("BAD_DEVICE_KEY", "devicePublicKey must be the 32-byte Ed25519 public key in base64url");
    }
    const device = new Uint8Array(Buffer.from(devicePublicKey, "base64url"));
    const why = checkPublicKey(device);
    if (why) return refuse("BAD_DEVICE_KEY", `device ${why}`);
    const days = validDays ?? defaultValidDays;
    if (typeof days !== "number" || !Number.isInteger(days) || days < 1 || days > 3650) {
      return refuse("BAD_VALID_DAYS", "validDays must be an integer from 1 to 3650");
    }
    const f = flags ?? 0;
    if (typeof f !== "number" || !Number.isInteger(f) || f < 0 || (f & ~FLAG_MASK) !== 0) {
      return refuse("BAD_FLAGS", `flags must be an integer bitmask of §2 bits 0-4 (0 to ${FLAG_MASK})`);
    }
    const now = seconds(this.#d.clock);
    const subject = subjectPseudonym(ring.subjectSecret, kind, id.normalised);
    const notAfter = now + days * 86400;
    const kindByte = kind === "person" ? KIND_PERSON : KIND_ENTERPRISE;
    for (let attempt = 0; ; attempt++) {
      const serial = new Uint8Array(randomBytes(8));
      const credential = signCredential({ kind: kindByte, issuer, kid: key.kid, serial, subject, devicePub: device, notBefore: now, notAfter, flags: f }, key.privateKey);
      try {
        this.#d.db.insertCredential({
          serial: hex(serial), kind: kindByte, subject: hex(subject), devicePub: hex(device), issuer, kid: key.kid,
          notBefore: now, notAfter, flags: f, issuedAt: now, credential,
        });
      } catch (e) {
        if (attempt < 3 && String(e).includes("UNIQUE")) continue; // 2^-64 serial collision: draw again
        throw e;
      }
      return ok({ serial: hex(serial), credential: b64url(credential), notBefore: now, notAfter });
    }
  }

  /** §7: a new kid, signing from now; the previous kid's signing period ends now. */
  rotateKey(): Result<IssuerKeyInfo> {
    const ring = this.#d.keyring;
    if (ring === null) return FOLLOWER;
    const k = ring.rotate(seconds(this.#d.clock));
    this.#trustOwnKeys();
    return ok({ issuer: ring.issuer, kid: k.kid, publicKey: b64url(k.publicKey), notBefore: k.notBefore, notAfter: k.notAfter });
  }
}
