// Independent YK1 client, written from /work/shared/DESIGN.md §2 alone.
// Uses only node:crypto; does not import anything from src/.
import * as crypto from "node:crypto";

// ---------------------------------------------------------------- Base45 (RFC 9285)
const B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
const B45_INDEX: Record<string, number> = Object.fromEntries([...B45].map((c, i) => [c, i]));

export function base45Encode(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  for (; i + 1 < bytes.length; i += 2) {
    let n = bytes[i]! * 256 + bytes[i + 1]!;
    const c = n % 45;
    n = (n - c) / 45;
    const d = n % 45;
    const e = (n - d) / 45;
    out += B45[c]! + B45[d]! + B45[e]!;
  }
  if (i < bytes.length) {
    const n = bytes[i]!;
    out += B45[n % 45]! + B45[Math.floor(n / 45)]!;
  }
  return out;
}

export function base45Decode(text: string): Uint8Array {
  if (text.length % 3 === 1) throw new Error("base45: bad length");
  const out: number[] = [];
  const digit = (ch: string): number => {
    const v = B45_INDEX[ch];
    if (v === undefined) throw new Error(`base45: bad character ${JSON.stringify(ch)}`);
    return v;
  };
  let i = 0;
  for (; i + 2 < text.length; i += 3) {
    const n = digit(text[i]!) + 45 * digit(text[i + 1]!) + 2025 * digit(text[i + 2]!);
    if (n > 0xffff) throw new Error("base45: group out of range");
    out.push(n >> 8, n & 0xff);
  }
  if (i < text.length) {
    const n = digit(text[i]!) + 45 * digit(text[i + 1]!);
    if (n > 0xff) throw new Error("base45: tail out of range");
    out.push(n);
  }
  return Uint8Array.from(out);
}

// ---------------------------------------------------------------- base64url / hex helpers
export const b64u = (b: Uint8Array): string => Buffer.from(b).toString("base64url");
export const fromB64u = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "base64url"));
export const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
export const fromHex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));

// ---------------------------------------------------------------- Ed25519 via node:crypto
const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

export interface DeviceKey {
  publicKey: crypto.KeyObject;
  privateKey: crypto.KeyObject;
  raw: Uint8Array; // 32-byte public key
}

export function rawPublicKey(k: crypto.KeyObject): Uint8Array {
  const der = k.export({ format: "der", type: "spki" }) as Buffer;
  return new Uint8Array(der.subarray(der.length - 32));
}

export function importRawPublicKey(raw: Uint8Array): crypto.KeyObject {
  if (raw.length !== 32) throw new Error("ed25519 public key must be 32 bytes");
  return crypto.createPublicKey({
    key: Buffer.concat([SPKI_ED25519_PREFIX, Buffer.from(raw)]),
    format: "der",
    type: "spki",
  });
}

export function newKey(): DeviceKey {
  const { publicKey, privateKey } = crypto.generateKeyPairSync("ed25519");
  return { publicKey, privateKey, raw: rawPublicKey(publicKey) };
}

export const sign = (priv: crypto.KeyObject, msg: Uint8Array): Uint8Array =>
  new Uint8Array(crypto.sign(null, msg, priv));

export const verify = (pub: crypto.KeyObject, msg: Uint8Array, sig: Uint8Array): boolean =>
  crypto.verify(null, msg, pub, sig);

// ---------------------------------------------------------------- wire layout (§2)
export const CRED_LEN = 138;
export const PRES_LEN = 74;
export const CODE_LEN = 212;
const CRED_DOMAIN = Buffer.from("YK1-credential", "ascii");
const PRES_DOMAIN = Buffer.from("YK1-presentation", "ascii");

export const KIND_PERSON = 1;
export const KIND_ENTERPRISE = 2;

export interface CredentialFields {
  version: number;
  kind: number;
  issuer: number;
  kid: number;
  serial: Uint8Array; // 8
  subject: Uint8Array; // 16
  devicePub: Uint8Array; // 32
  notBefore: number;
  notAfter: number;
  flags: number;
  issuerSig: Uint8Array; // 64
}

export function parseCredential(cred: Uint8Array): CredentialFields {
  if (cred.length !== CRED_LEN) throw new Error(`credential must be ${CRED_LEN} bytes, got ${cred.length}`);
  const dv = new DataView(cred.buffer, cred.byteOffset, cred.byteLength);
  return {
    version: cred[0]!,
    kind: cred[1]!,
    issuer: dv.getUint32(2),
    kid: dv.getUint16(6),
    serial: cred.slice(8, 16),
    subject: cred.slice(16, 32),
    devicePub: cred.slice(32, 64),
    notBefore: dv.getUint32(64),
    notAfter: dv.getUint32(68),
    flags: dv.getUint16(72),
    issuerSig: cred.slice(74, 138),
  };
}

export function credentialSignedBytes(cred: Uint8Array): Uint8Array {
  return new Uint8Array(Buffer.concat([CRED_DOMAIN, Buffer.from(cred.subarray(0, 74))]));
}

export function verifyCredential(cred: Uint8Array, issuerPub: crypto.KeyObject): boolean {
  return verify(issuerPub, credentialSignedBytes(cred), cred.subarray(74, 138));
}

/** Build and sign a credential with an issuer key we hold. */
export function buildCredential(opts: {
  issuerKey: crypto.KeyObject; // private
  issuer: number;
  kid: number;
  kind?: number;
  serial?: Uint8Array;
  subject?: Uint8Array;
  devicePub: Uint8Array;
  notBefore?: number;
  notAfter?: number;
  flags?: number;
  version?: number;
}): Uint8Array {
  const now = Math.floor(Date.now() / 1000);
  const cred = new Uint8Array(CRED_LEN);
  const dv = new DataView(cred.buffer);
  cred[0] = opts.version ?? 1;
  cred[1] = opts.kind ?? KIND_PERSON;
  dv.setUint32(2, opts.issuer);
  dv.setUint16(6, opts.kid);
  cred.set(opts.serial ?? crypto.randomBytes(8), 8);
  cred.set(opts.subject ?? crypto.randomBytes(16), 16);
  cred.set(opts.devicePub, 32);
  dv.setUint32(64, opts.notBefore ?? now - 86400);
  dv.setUint32(68, opts.notAfter ?? now + 365 * 86400);
  dv.setUint16(72, opts.flags ?? 0);
  resignCredential(cred, opts.issuerKey);
  return cred;
}

/** Recompute the issuerSig of a (modified) credential in place. */
export function resignCredential(cred: Uint8Array, issuerKey: crypto.KeyObject): Uint8Array {
  cred.set(sign(issuerKey, credentialSignedBytes(cred)), 74);
  return cred;
}

/** Build the 212-byte code: credential ‖ presentation (time, counter, consent, deviceSig). */
export function buildCode(
  cred: Uint8Array,
  device: crypto.KeyObject, // private
  opts: { time?: number; counter: number; consent?: number },
): Uint8Array {
  if (cred.length !== CRED_LEN) throw new Error("credential must be 138 bytes");
  const code = new Uint8Array(CODE_LEN);
  code.set(cred, 0);
  const dv = new DataView(code.buffer);
  dv.setUint32(138, opts.time ?? Math.floor(Date.now() / 1000));
  dv.setUint32(142, opts.counter);
  dv.setUint16(146, opts.consent ?? 0);
  resignPresentation(code, device);
  return code;
}

export function presentationSignedBytes(code: Uint8Array): Uint8Array {
  return new Uint8Array(Buffer.concat([PRES_DOMAIN, Buffer.from(code.subarray(0, 148))]));
}

/** Recompute the deviceSig of a (modified) code in place. */
export function resignPresentation(code: Uint8Array, device: crypto.KeyObject): Uint8Array {
  code.set(sign(device, presentationSignedBytes(code)), 148);
  return code;
}

export const toText = (code: Uint8Array): string => "YK1:" + base45Encode(code);

export function fromText(text: string): Uint8Array {
  if (!text.startsWith("YK1:")) throw new Error("not YK1:");
  return base45Decode(text.slice(4));
}

// ---------------------------------------------------------------- S + L malleation
export const ED25519_L = (1n << 252n) + 27742317777372353535851937790883648493n;

function leToBig(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
  return n;
}

function bigToLe(n: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  if (n !== 0n) throw new Error("value does not fit");
  return out;
}

/** Return a copy of a 64-byte signature with S replaced by S + L (still < 2^256). */
export function malleateSignature(sig: Uint8Array): Uint8Array {
  if (sig.length !== 64) throw new Error("signature must be 64 bytes");
  const out = sig.slice();
  out.set(bigToLe(leToBig(sig.subarray(32, 64)) + ED25519_L, 32), 32);
  return out;
}

// ---------------------------------------------------------------- GB 11643 resident ID
const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = "10X98765432";

export function residentIdCheckChar(first17: string): string {
  if (!/^\d{17}$/.test(first17)) throw new Error("need 17 digits");
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * ID_WEIGHTS[i]!;
  return ID_CHECK[sum % 11]!;
}

export const residentId = (first17: string): string => first17 + residentIdCheckChar(first17);

/** Same 17 digits with a wrong check character. */
export function residentIdBadChecksum(first17: string): string {
  const good = residentIdCheckChar(first17);
  const bad = [..."0123456789X"].find((c) => c !== good)!;
  return first17 + bad;
}
