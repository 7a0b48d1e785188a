/**
 * @module Verified credentials (spec §3): a credential whose issuer signature held is kept, with its
 * decoded fields and, on the native core, its device key's decoded x coordinate (32 bytes in the same
 * buffer as the credential), so its next scan pays one signature check and no point decoding. A hit
 * requires all 138 bytes to be equal, not just the serial (a swapped device key under a known serial is
 * re-verified).
 */
import { LRUCache } from "lru-cache";
import {
  CREDENTIAL_LENGTH, FLAG_MASK, flagNames, KIND_NAMES, OFF, serialHiOf, serialLoOf, type FlagName, type KindName,
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

/** The §2 flag names of each flags value, frozen and shared (most credentials have none). */
const FLAG_LISTS: readonly (readonly FlagName[])[] = Array.from({ length: FLAG_MASK + 1 }, (_, f) => Object.freeze(flagNames(f)));

/**
 * Decode a credential whose issuer signature has held; `deviceX` as the native core gave it, if it did.
 * This runs once per first sight, so it reads the fields in place and hexes them through one Buffer view.
 */
export function verifiedCredential(code: Uint8Array, deviceX: Uint8Array | null = null): VerifiedCredential {
  const own = new Uint8Array(CREDENTIAL_LENGTH + (deviceX !== null ? 32 : 0));
  own.set(code.subarray(0, CREDENTIAL_LENGTH));
  const credential = own.subarray(0, CREDENTIAL_LENGTH);
  let x: Uint8Array | null = null;
  if (deviceX !== null) {
    own.set(deviceX, CREDENTIAL_LENGTH);
    x = own.subarray(CREDENTIAL_LENGTH);
  }
  const b = Buffer.from(own.buffer, 0, CREDENTIAL_LENGTH);
  const kind = KIND_NAMES[own[OFF.kind]!]!;
  const issuer = b.readUInt32BE(OFF.issuer);
  const flags = FLAG_LISTS[b.readUInt16BE(OFF.flags) & FLAG_MASK] as FlagName[];
  const serialHex = b.toString("hex", OFF.serial, OFF.serial + 8);
  const subjectHex = b.toString("hex", OFF.subject, OFF.subject + 16);
  return {
    credential, serialHex, serialHi: serialHiOf(credential), serialLo: serialLoOf(credential), subjectHex,
    deviceHex: b.toString("hex", OFF.devicePub, OFF.devicePub + 32), deviceX: x, kind,
    issuer, kid: b.readUInt16BE(OFF.kid), notBefore: b.readUInt32BE(OFF.notBefore), notAfter: b.readUInt32BE(OFF.notAfter), flags,
    ok: Object.freeze({ result: "OK", serial: serialHex, subject: subjectHex, kind, issuer, flags }),
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
