/**
 * @module Verified credentials (spec §3): a credential whose issuer signature held is kept, with its
 * decoded fields and, on the native core, its device key's decoded x coordinate (32 bytes in the same
 * buffer as the credential), so its next scan pays one signature check and no point decoding. A hit
 * requires all 138 bytes to be equal, not just the serial (a swapped device key under a known serial is
 * re-verified).
 */
import { LRUCache } from "lru-cache";
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
  /** The device key's x coordinate from the native core (SigJob.deviceX), or null. */
  deviceX: Uint8Array | null;
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

/** Decode a credential whose issuer signature has held; `deviceX` as the native core gave it, if it did. */
export function verifiedCredential(code: Uint8Array, deviceX: Uint8Array | null = null): VerifiedCredential {
  const own = new Uint8Array(CREDENTIAL_LENGTH + (deviceX !== null ? 32 : 0));
  own.set(code.subarray(0, CREDENTIAL_LENGTH));
  const credential = own.subarray(0, CREDENTIAL_LENGTH);
  let x: Uint8Array | null = null;
  if (deviceX !== null) {
    own.set(deviceX, CREDENTIAL_LENGTH);
    x = own.subarray(CREDENTIAL_LENGTH);
  }
  const f = decodeCredential(credential);
  const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
  const flags = Object.freeze(flagNames(f.flags)) as FlagName[];
  const kind = KIND_NAMES[f.kind]!;
  const serialHex = hex(f.serial);
  const subjectHex = hex(f.subject);
  return {
    credential, serialHex, serialHi: serialHiOf(credential), serialLo: serialLoOf(credential), subjectHex,
    deviceHex: hex(f.devicePub), deviceX: x, kind,
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
