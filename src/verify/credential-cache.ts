/**
 * @module Verified credentials (spec §3): a credential whose issuer signature held is kept, with its
 * prepared device key and decoded fields, so its next scan pays one signature check. A hit requires all
 * 138 bytes to be equal, not just the serial (a swapped device key under a known serial is re-verified).
 */
import { LRUCache } from "lru-cache";
import { preparePublicKey, type PreparedPublicKey } from "../crypto/ed25519.ts";
import {
  CREDENTIAL_LENGTH, decodeCredential, flagNames, KIND_NAMES, serialHiOf, serialLoOf, type FlagName, type KindName,
} from "../wire/code.ts";

export interface VerifiedCredential {
  /** The 138 bytes (own copy). */
  credential: Uint8Array;
  serialHex: string;
  serialHi: number;
  serialLo: number;
  subjectHex: string;
  deviceHex: string;
  deviceKey: PreparedPublicKey;
  kind: KindName;
  issuer: number;
  kid: number;
  notBefore: number;
  notAfter: number;
  flags: FlagName[];
  /** The OK result for this credential, shared by every scan of it (frozen). */
  ok: Readonly<OkResult>;
}

export interface OkResult {
  result: "OK";
  serial: string;
  subject: string;
  kind: KindName;
  issuer: number;
  flags: FlagName[];
}

/** Decode a credential whose issuer signature has held. */
export function verifiedCredential(code: Uint8Array): VerifiedCredential {
  const credential = code.slice(0, CREDENTIAL_LENGTH);
  const f = decodeCredential(credential);
  const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
  const flags = Object.freeze(flagNames(f.flags)) as FlagName[];
  const kind = KIND_NAMES[f.kind]!;
  const serialHex = hex(f.serial);
  const subjectHex = hex(f.subject);
  return {
    credential, serialHex, serialHi: serialHiOf(credential), serialLo: serialLoOf(credential), subjectHex,
    deviceHex: hex(f.devicePub), deviceKey: preparePublicKey(f.devicePub), kind,
    issuer: f.issuer, kid: f.kid, notBefore: f.notBefore, notAfter: f.notAfter, flags,
    ok: Object.freeze({ result: "OK", serial: serialHex, subject: subjectHex, kind, issuer: f.issuer, flags }),
  };
}

function sameCredential(a: Uint8Array, code: Uint8Array): boolean {
  for (let i = 0; i < CREDENTIAL_LENGTH; i++) if (a[i] !== code[i]) return false;
  return true;
}

export class CredentialCache {
  readonly #lru: LRUCache<string, VerifiedCredential>;

  constructor(max: number) {
    this.#lru = new LRUCache({ max });
  }

  /** The verified credential equal to the first 138 bytes of `code`, or undefined. */
  get(serialHex: string, code: Uint8Array): VerifiedCredential | undefined {
    const e = this.#lru.get(serialHex);
    return e !== undefined && sameCredential(e.credential, code) ? e : undefined;
  }

  set(e: VerifiedCredential): void {
    this.#lru.set(e.serialHex, e);
  }

  get size(): number {
    return this.#lru.size;
  }
}
