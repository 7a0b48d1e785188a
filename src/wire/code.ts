/**
 * @module The code on the wire, version 1 (spec §2): the 138-byte credential, the 74-byte
 * presentation, and the `YK1:` text form. All integers big-endian.
 */
import type { KeyObject } from "node:crypto";
import { sign } from "../crypto/ed25519.ts";
import * as base45 from "./base45.ts";

export const VERSION = 1;
export const CREDENTIAL_LENGTH = 138;
export const PRESENTATION_LENGTH = 74;
export const CODE_LENGTH = CREDENTIAL_LENGTH + PRESENTATION_LENGTH; // 212
export const TEXT_PREFIX = "YK1:";
/** Length of the whole QR text: prefix + Base45 of 212 bytes. */
export const TEXT_LENGTH = TEXT_PREFIX.length + base45.encodedLength(CODE_LENGTH);

/** §2 offsets. */
export const OFF = {
  version: 0, kind: 1, issuer: 2, kid: 6, serial: 8, subject: 16, devicePub: 32,
  notBefore: 64, notAfter: 68, flags: 72, issuerSig: 74,
  time: 138, counter: 142, consent: 146, deviceSig: 148,
} as const;
/** Bytes covered by issuerSig (after the domain string): 0..73. */
export const CREDENTIAL_SIGNED = 74;
/** Bytes covered by deviceSig (after the domain string): 0..147. */
export const PRESENTATION_SIGNED = 148;

export const CREDENTIAL_DOMAIN = new TextEncoder().encode("YK1-credential");
export const PRESENTATION_DOMAIN = new TextEncoder().encode("YK1-presentation");

export const KIND_PERSON = 1;
export const KIND_ENTERPRISE = 2;
export type KindName = "person" | "enterprise";
export const KIND_NAMES: Record<number, KindName> = { 1: "person", 2: "enterprise" };

/** §2 flags, by bit. */
export const FLAG_NAMES = ["senior", "student", "disability", "veteran", "card"] as const;
export type FlagName = (typeof FLAG_NAMES)[number];
export const FLAG_CARD = 1 << 4;
export const FLAG_MASK = (1 << FLAG_NAMES.length) - 1;

export function flagNames(flags: number): FlagName[] {
  const out: FlagName[] = [];
  for (let i = 0; i < FLAG_NAMES.length; i++) if (flags & (1 << i)) out.push(FLAG_NAMES[i]!);
  return out;
}

/** The fields of a credential (§2 table), with bytes as Uint8Array. */
export interface CredentialFields {
  kind: number;
  issuer: number;
  kid: number;
  serial: Uint8Array; // 8
  subject: Uint8Array; // 16
  devicePub: Uint8Array; // 32
  notBefore: number;
  notAfter: number;
  flags: number;
}

/** The part of a credential that issuerSig covers (bytes 0..73), for the given fields. */
export function encodeCredentialBody(f: CredentialFields): Uint8Array {
  if (f.serial.length !== 8 || f.subject.length !== 16 || f.devicePub.length !== 32) {
    throw new RangeError("credential field of the wrong length");
  }
  const b = new Uint8Array(CREDENTIAL_SIGNED);
  const v = new DataView(b.buffer);
  b[OFF.version] = VERSION;
  b[OFF.kind] = f.kind;
  v.setUint32(OFF.issuer, f.issuer);
  v.setUint16(OFF.kid, f.kid);
  b.set(f.serial, OFF.serial);
  b.set(f.subject, OFF.subject);
  b.set(f.devicePub, OFF.devicePub);
  v.setUint32(OFF.notBefore, f.notBefore);
  v.setUint32(OFF.notAfter, f.notAfter);
  v.setUint16(OFF.flags, f.flags);
  return b;
}

/**
 * A 138-byte credential: `fields` signed with the issuer's private key over `YK1-credential` ‖ bytes 0..73
 * (§2). The one place credentials are assembled (issuance, holders' tests, benches).
 */
export function signCredential(f: CredentialFields, issuerKey: KeyObject): Uint8Array {
  const body = encodeCredentialBody(f);
  const credential = new Uint8Array(CREDENTIAL_LENGTH);
  credential.set(body, 0);
  credential.set(sign(issuerKey, credentialMessage(body)), OFF.issuerSig);
  return credential;
}

/** Issuer-signed message: ASCII `YK1-credential` ‖ bytes 0..73. */
export function credentialMessage(body: Uint8Array): Uint8Array {
  const m = new Uint8Array(CREDENTIAL_DOMAIN.length + CREDENTIAL_SIGNED);
  m.set(CREDENTIAL_DOMAIN, 0);
  m.set(body.subarray(0, CREDENTIAL_SIGNED), CREDENTIAL_DOMAIN.length);
  return m;
}

/** Device-signed message: ASCII `YK1-presentation` ‖ bytes 0..147 (credential ‖ time, counter, consent). */
export function presentationMessage(code: Uint8Array): Uint8Array {
  const m = new Uint8Array(PRESENTATION_DOMAIN.length + PRESENTATION_SIGNED);
  m.set(PRESENTATION_DOMAIN, 0);
  m.set(code.subarray(0, PRESENTATION_SIGNED), PRESENTATION_DOMAIN.length);
  return m;
}

export function decodeCredential(c: Uint8Array): CredentialFields {
  const v = new DataView(c.buffer, c.byteOffset, c.byteLength);
  return {
    kind: c[OFF.kind]!,
    issuer: v.getUint32(OFF.issuer),
    kid: v.getUint16(OFF.kid),
    serial: c.slice(OFF.serial, OFF.serial + 8),
    subject: c.slice(OFF.subject, OFF.subject + 16),
    devicePub: c.slice(OFF.devicePub, OFF.devicePub + 32),
    notBefore: v.getUint32(OFF.notBefore),
    notAfter: v.getUint32(OFF.notAfter),
    flags: v.getUint16(OFF.flags),
  };
}

export interface PresentationFields {
  time: number;
  counter: number;
  consent: number;
}

/** The 212-byte code without deviceSig filled in: credential ‖ time ‖ counter ‖ consent ‖ zeros. */
export function encodePresentationBody(credential: Uint8Array, p: PresentationFields): Uint8Array {
  if (credential.length !== CREDENTIAL_LENGTH) throw new RangeError("credential must be 138 bytes");
  const code = new Uint8Array(CODE_LENGTH);
  code.set(credential, 0);
  const v = new DataView(code.buffer);
  v.setUint32(OFF.time, p.time);
  v.setUint32(OFF.counter, p.counter);
  v.setUint16(OFF.consent, p.consent);
  return code;
}

export function decodePresentation(code: Uint8Array): PresentationFields {
  const v = new DataView(code.buffer, code.byteOffset, code.byteLength);
  return { time: v.getUint32(OFF.time), counter: v.getUint32(OFF.counter), consent: v.getUint16(OFF.consent) };
}

// ── scan header: the fields the verification pipeline reads from a parsed 212-byte code, without allocating ──

/** Big-endian u32 at `o` (§2: all integers big-endian). */
const u32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
const u16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;

export const issuerOf = (code: Uint8Array): number => u32(code, OFF.issuer);
export const kidOf = (code: Uint8Array): number => u16(code, OFF.kid);
/** The serial as two big-endian words (replay keys). */
export const serialHiOf = (code: Uint8Array): number => u32(code, OFF.serial);
export const serialLoOf = (code: Uint8Array): number => u32(code, OFF.serial + 4);
export const notBeforeOf = (code: Uint8Array): number => u32(code, OFF.notBefore);
export const timeOf = (code: Uint8Array): number => u32(code, OFF.time);
export const counterOf = (code: Uint8Array): number => u32(code, OFF.counter);
export const consentOf = (code: Uint8Array): number => u16(code, OFF.consent);
/** The serial as lowercase hex (§4). */
export const serialHexOf = (code: Uint8Array): string => Buffer.from(code.buffer, code.byteOffset + OFF.serial, 8).toString("hex");
/** The 32 device-key bytes (a view). */
export const devicePubOf = (code: Uint8Array): Uint8Array => code.subarray(OFF.devicePub, OFF.devicePub + 32);

/** The QR text of a 212-byte code. */
export function toText(code: Uint8Array): string {
  if (code.length !== CODE_LENGTH) throw new RangeError("a code is 212 bytes");
  return TEXT_PREFIX + base45.encode(code);
}

/**
 * Parse a scan as a gateway sends it (§2): the `YK1:` text or the 212 raw bytes. Returns the 212 bytes, or
 * null for MALFORMED (wrong prefix, bad Base45, wrong length, unknown version or kind).
 */
export function parseCode(scan: unknown): Uint8Array | null {
  let code: Uint8Array;
  if (typeof scan === "string") {
    if (scan.length !== TEXT_LENGTH || !scan.startsWith(TEXT_PREFIX)) return null;
    code = new Uint8Array(CODE_LENGTH);
    if (!base45.decodeInto(scan, TEXT_PREFIX.length, code)) return null;
  } else if (scan instanceof Uint8Array) {
    if (scan.length !== CODE_LENGTH) return null;
    code = scan;
  } else {
    return null;
  }
  if (code[OFF.version] !== VERSION) return null;
  const kind = code[OFF.kind];
  if (kind !== KIND_PERSON && kind !== KIND_ENTERPRISE) return null;
  return code;
}
