/**
 * @module The signed trust list (spec §7): a JWS in compact serialization (RFC 7515) with `alg`
 * `EdDSA` (RFC 8037), protected header `{"alg":"EdDSA","typ":"yukuai-trust-list+json","kid"}` where `kid`
 * is the RFC 7638 thumbprint of the authority key (a hint only: every anchor is tried), and payload
 * `{"version","issuedAt","nextUpdate","issuers"}` with `issuers` in the shape of `GET /v1/trust` (§4).
 * Checks run in this order and the first that fails names the refusal: malformed JWS or header →
 * signature under an anchor → payload shape → key test of §2 on every issuer key → rollback →
 * issuedAt ≤ now + skew → now ≤ nextUpdate. A refused list is a result with a `reason`, never an exception.
 */
import { createPrivateKey } from "node:crypto";
import { CompactSign, calculateJwkThumbprint, compactVerify, errors, importJWK, type CryptoKey, type JWK } from "jose";
import { checkPublicKey } from "../crypto/ed25519.ts";

export interface TrustListKey {
  kid: number;
  publicKey: string;
  notBefore: number;
  notAfter: number;
  status: "active" | "revoked";
}

export interface TrustListIssuer {
  issuer: number;
  name: string;
  keys: TrustListKey[];
}

export interface TrustList {
  version: number;
  issuedAt: number;
  nextUpdate: number;
  issuers: TrustListIssuer[];
}

/** Why a list was not taken; `unreachable` is produced by the fetching caller, never by `verifyTrustList`. */
export type TrustListRefusal = "malformed" | "bad-signature" | "rollback" | "not-yet-issued" | "expired" | "bad-key" | "unreachable";

export type TrustListResult = { ok: true; list: TrustList } | { ok: false; reason: TrustListRefusal; message: string };

export const TRUST_LIST_TYP = "yukuai-trust-list+json";

const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const U32_MAX = 0xffffffff;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** RFC 7515 §2 base64url without padding, canonical (RFC 4648 §3.5: unused bits zero); null otherwise. */
function b64urlDecode(s: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) return null;
  const b = Buffer.from(s, "base64url");
  return b.toString("base64url") === s ? new Uint8Array(b) : null;
}

/** A value quoted for a one-line log message: JSON-escaped and bounded. */
function q(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 48 ? `${s.slice(0, 45)}...` : s;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isU32 = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= U32_MAX;

function parseJsonObject(bytes: Uint8Array): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(utf8.decode(bytes));
    return isObject(v) ? v : null;
  } catch {
    return null;
  }
}

/**
 * The payload rules of spec §7 and the key test of §2 on every issuer key, without signature or
 * time checks (also what `trust sign` applies before signing). Unknown members are dropped.
 */
export function validateTrustList(value: unknown): { ok: true; list: TrustList } | { ok: false; reason: "malformed" | "bad-key"; message: string } {
  const bad = (message: string) => ({ ok: false as const, reason: "malformed" as const, message });
  if (!isObject(value)) return bad("payload is not a JSON object");
  const { version, issuedAt, nextUpdate, issuers } = value;
  if (!Number.isSafeInteger(version) || (version as number) < 1) return bad(`version ${q(version)} is not an integer >= 1`);
  if (!isU32(issuedAt)) return bad(`issuedAt ${q(issuedAt)} is not unix seconds (integer 0..2^32-1)`);
  if (!isU32(nextUpdate)) return bad(`nextUpdate ${q(nextUpdate)} is not unix seconds (integer 0..2^32-1)`);
  if (nextUpdate < issuedAt) return bad(`nextUpdate ${nextUpdate} is before issuedAt ${issuedAt}`);
  if (!Array.isArray(issuers)) return bad("issuers is not an array");
  const list: TrustList = { version: version as number, issuedAt, nextUpdate, issuers: [] };
  const raws: Uint8Array[][] = [];
  const seenIssuers = new Set<number>();
  for (const [i, e] of issuers.entries()) {
    if (!isObject(e)) return bad(`issuers[${i}] is not an object`);
    const { issuer, name, keys } = e;
    if (!Number.isInteger(issuer) || (issuer as number) < 100000 || (issuer as number) > 999999) {
      return bad(`issuers[${i}].issuer ${q(issuer)} is not a 6-digit GB/T 2260 code`);
    }
    const code = issuer as number;
    if (seenIssuers.has(code)) return bad(`issuer ${code} appears twice`);
    seenIssuers.add(code);
    if (typeof name !== "string" || name.length === 0 || [...name].length > 200 || /\p{Cc}/u.test(name)) {
      return bad(`issuer ${code}: name is not a non-empty string of at most 200 characters without control characters`);
    }
    if (!Array.isArray(keys)) return bad(`issuer ${code}: keys is not an array`);
    const out: TrustListIssuer = { issuer: code, name, keys: [] };
    const outRaws: Uint8Array[] = [];
    const seenKids = new Set<number>();
    for (const [j, k] of keys.entries()) {
      if (!isObject(k)) return bad(`issuer ${code}: keys[${j}] is not an object`);
      const { kid, publicKey, notBefore, notAfter, status } = k;
      if (!Number.isInteger(kid) || (kid as number) < 0 || (kid as number) > 65535) return bad(`issuer ${code}: keys[${j}].kid ${q(kid)} is not an integer 0..65535`);
      const id = kid as number;
      if (seenKids.has(id)) return bad(`issuer ${code}: kid ${id} appears twice`);
      seenKids.add(id);
      const raw = typeof publicKey === "string" ? b64urlDecode(publicKey) : null;
      if (raw === null) return bad(`issuer ${code} kid ${id}: publicKey is not a base64url string`);
      if (!isU32(notBefore)) return bad(`issuer ${code} kid ${id}: notBefore ${q(notBefore)} is not unix seconds (integer 0..2^32-1)`);
      if (!isU32(notAfter)) return bad(`issuer ${code} kid ${id}: notAfter ${q(notAfter)} is not unix seconds (integer 0..2^32-1)`);
      if (notBefore > notAfter) return bad(`issuer ${code} kid ${id}: notBefore ${notBefore} is after notAfter ${notAfter}`);
      if (status !== "active" && status !== "revoked") return bad(`issuer ${code} kid ${id}: status ${q(status)} is not "active" or "revoked"`);
      out.keys.push({ kid: id, publicKey: publicKey as string, notBefore, notAfter, status });
      outRaws.push(raw);
    }
    list.issuers.push(out);
    raws.push(outRaws);
  }
  // spec §7: every issuer key must pass the key test of §2, or the whole list is refused.
  for (const [i, e] of list.issuers.entries()) {
    for (const [j, k] of e.keys.entries()) {
      const why = checkPublicKey(raws[i]![j]!);
      if (why !== null) return { ok: false, reason: "bad-key", message: `issuer ${e.issuer} kid ${k.kid}: ${why}` };
    }
  }
  return { ok: true, list };
}

/**
 * `YUKUAI_TRUST_ANCHORS`: comma-separated base64url Ed25519 public keys, 32 bytes each, each passing the
 * §2 key test. Throws on any malformed entry; an empty string is no anchors.
 */
export function parseAnchors(raw: string): Uint8Array[] {
  const text = raw.trim();
  if (text === "") return [];
  const out: Uint8Array[] = [];
  const seen = new Set<string>();
  for (const [i, part] of text.split(",").entries()) {
    const s = part.trim();
    const where = `YUKUAI_TRUST_ANCHORS entry ${i + 1}`;
    if (s === "") throw new Error(`${where} is empty`);
    const bytes = b64urlDecode(s);
    if (bytes === null) throw new Error(`${where} is not base64url`);
    if (bytes.length !== 32) throw new Error(`${where} is ${bytes.length} bytes, not a 32-byte Ed25519 public key`);
    const why = checkPublicKey(bytes);
    if (why !== null) throw new Error(`${where} fails the key test: ${why}`);
    if (seen.has(s)) continue;
    seen.add(s);
    out.push(bytes);
  }
  return out;
}

/** RFC 8037 §2 public JWK of a raw Ed25519 key. */
const publicJwk = (pub: Uint8Array): JWK => ({ kty: "OKP", crv: "Ed25519", x: Buffer.from(pub).toString("base64url") });

/** RFC 7638 thumbprint (SHA-256, base64url) of an anchor's RFC 8037 JWK: the header `kid` hint. */
export async function anchorThumbprint(pub: Uint8Array): Promise<string> {
  if (pub.length !== 32) throw new RangeError("an Ed25519 public key is 32 bytes");
  return calculateJwkThumbprint(publicJwk(pub), "sha256");
}

interface PreparedAnchor {
  key: CryptoKey;
  thumbprint: string;
}

const anchorCache = new Map<string, Promise<PreparedAnchor | null>>();

/** An anchor imported once; null if it cannot be imported (such an anchor verifies nothing). */
function prepareAnchor(pub: Uint8Array): Promise<PreparedAnchor | null> {
  const id = Buffer.from(pub).toString("base64url");
  let p = anchorCache.get(id);
  if (!p) {
    p = (async () => {
      if (pub.length !== 32 || checkPublicKey(pub) !== null) return null;
      const key = await importJWK(publicJwk(pub), "EdDSA");
      if (key instanceof Uint8Array) return null;
      return { key, thumbprint: await anchorThumbprint(pub) };
    })().catch(() => null);
    anchorCache.set(id, p);
  }
  return p;
}

/** The checks of spec §7, in the order given in the module comment. Never throws on any `jws`. */
export async function verifyTrustList(
  jws: string,
  anchors: readonly Uint8Array[],
  opts: { now: number; skewSeconds: number; currentVersion: number | null },
): Promise<TrustListResult> {
  const malformed = (message: string): TrustListResult => ({ ok: false, reason: "malformed", message });
  if (typeof jws !== "string") return malformed("trust list is not a string");
  const text = jws.trim();
  const parts = text.split(".");
  if (parts.length !== 3) return malformed(`not a JWS compact serialization (${parts.length} parts, RFC 7515 §7.1 has 3)`);
  const [h, p, s] = parts as [string, string, string];
  const headerBytes = b64urlDecode(h);
  if (headerBytes === null) return malformed("protected header is not base64url");
  const header = parseJsonObject(headerBytes);
  if (header === null) return malformed("protected header is not a JSON object");
  if (header["alg"] !== "EdDSA") return malformed(`alg ${q(header["alg"])} is not "EdDSA" (RFC 8037 §3.1)`);
  if (header["typ"] !== TRUST_LIST_TYP) return malformed(`typ ${q(header["typ"])} is not "${TRUST_LIST_TYP}"`);
  if ("crit" in header) return malformed("crit header present (RFC 7515 §4.1.11): no extensions are understood");
  if ("b64" in header) return malformed("b64 header present (RFC 7797): the payload must be base64url");
  const kid = header["kid"];
  if (kid !== undefined && typeof kid !== "string") return malformed("kid is not a string");
  const payloadBytes = b64urlDecode(p);
  if (payloadBytes === null) return malformed("payload is not base64url");
  const sig = b64urlDecode(s);
  if (sig === null || sig.length !== 64) return malformed("signature is not base64url of 64 bytes (RFC 8037 §3.1)");

  const prepared = (await Promise.all(anchors.map(prepareAnchor))).filter((a): a is PreparedAnchor => a !== null);
  // The kid hint orders the attempts; it never excludes an anchor.
  prepared.sort((a, b) => Number(b.thumbprint === kid) - Number(a.thumbprint === kid));
  let verified = false;
  for (const anchor of prepared) {
    try {
      await compactVerify(text, anchor.key, { algorithms: ["EdDSA"] });
      verified = true;
      break;
    } catch (e) {
      if (e instanceof errors.JWSSignatureVerificationFailed) continue;
      return malformed(`JWS refused by the verifier: ${e instanceof errors.JOSEError ? e.code : "error"}`);
    }
  }
  if (!verified) {
    return { ok: false, reason: "bad-signature", message: prepared.length === 0 ? "no trust anchors configured" : `signature verifies under none of ${prepared.length} trust anchor(s)` };
  }

  const payload = parseJsonObject(payloadBytes);
  if (payload === null) return malformed("payload is not a JSON object");
  const v = validateTrustList(payload);
  if (!v.ok) return v;
  const list = v.list;
  if (opts.currentVersion !== null && list.version < opts.currentVersion) {
    return { ok: false, reason: "rollback", message: `version ${list.version} is lower than the current list's ${opts.currentVersion}` };
  }
  if (list.issuedAt > opts.now + opts.skewSeconds) {
    return { ok: false, reason: "not-yet-issued", message: `issuedAt ${list.issuedAt} is after now ${opts.now} + skew ${opts.skewSeconds}` };
  }
  if (opts.now > list.nextUpdate) {
    return { ok: false, reason: "expired", message: `nextUpdate ${list.nextUpdate} has passed (now ${opts.now})` };
  }
  return { ok: true, list };
}

/** The authority's private JWK (RFC 8037 §2) from its 32-byte RFC 8032 seed. */
function authorityJwk(seed: Uint8Array): JWK {
  if (seed.length !== 32) throw new RangeError("an Ed25519 seed is 32 bytes");
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
  return key.export({ format: "jwk" }) as JWK;
}

/** The authority public key of a 32-byte seed. */
export function authorityPublicKey(seed: Uint8Array): Uint8Array {
  return new Uint8Array(Buffer.from(authorityJwk(seed).x!, "base64url"));
}

/**
 * Signs `list` as a spec §7 trust list. Throws if the list breaks the payload rules or the key
 * test, so an authority never publishes a list that nodes refuse.
 */
export async function signTrustList(list: TrustList, authoritySeed: Uint8Array): Promise<string> {
  const v = validateTrustList(list);
  if (!v.ok) throw new Error(`trust list not signed: ${v.message}`);
  const jwk = authorityJwk(authoritySeed);
  const key = await importJWK({ kty: "OKP", crv: "Ed25519", d: jwk.d, x: jwk.x }, "EdDSA");
  const kid = await anchorThumbprint(new Uint8Array(Buffer.from(jwk.x!, "base64url")));
  const { version, issuedAt, nextUpdate, issuers } = v.list;
  const payload = new TextEncoder().encode(JSON.stringify({ version, issuedAt, nextUpdate, issuers }));
  return new CompactSign(payload).setProtectedHeader({ alg: "EdDSA", typ: TRUST_LIST_TYP, kid }).sign(key);
}
