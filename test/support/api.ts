/**
 * The HTTP bodies of DESIGN.md §4 as tests read them, and `json<T>()` to name which one an answer is.
 * A typed view only: the tests' own assertions check the contents.
 */

/** §3, in the order the checks run. */
export type ResultCode =
  | "OK" | "MALFORMED" | "UNKNOWN_ISSUER" | "ISSUER_NOT_ACCEPTED" | "BAD_ISSUER_SIGNATURE" | "BAD_DEVICE_SIGNATURE"
  | "NOT_YET_VALID" | "EXPIRED" | "REVOKED" | "STALE" | "REPLAY" | "UPSTREAM_UNAVAILABLE";

/** Field name → value, as linked by `PUT /v1/subjects/…/licences/{type}` (§5). */
export type LicenceFields = Record<string, string>;

/** One scan's result (§4 "A result"): `result` always, the rest when known. */
export interface ScanResult {
  result: ResultCode;
  serial?: string;
  subject?: string;
  kind?: "person" | "enterprise";
  issuer?: number;
  flags?: string[];
  licences?: Record<string, LicenceFields>;
}

/** `revocations` of every batch answer: the last entry applied and when the node last synced. */
export interface RevocationStatus {
  seq: number;
  syncedAt: number;
}

/** `POST /v1/verify/batch` → 200. */
export interface BatchAnswer {
  results: ScanResult[];
  revocations: RevocationStatus;
}

/** Every 4xx/5xx. */
export interface ErrorAnswer {
  error: { code: string; message: string };
}

/** `POST /v1/credentials` → 201. */
export interface IssuedCredential {
  serial: string;
  /** base64url, 138 bytes */
  credential: string;
  notBefore: number;
  notAfter: number;
}

/** `POST /v1/gateways` → 201. */
export interface GatewayMade {
  id: string;
  key: string;
}

/** `GET /v1/gateways`. */
export interface GatewayList {
  gateways: { id: string; name: string; scene: string; keyHash: string }[];
}

export interface TrustKey {
  kid: number;
  /** base64url, 32 bytes */
  publicKey: string;
  notBefore: number;
  notAfter: number;
  status: "active" | "revoked";
}

export interface TrustIssuer {
  issuer: number;
  name: string;
  keys: TrustKey[];
  /** Issuers taken from a trust list (§7): its nextUpdate. */
  trustedUntil?: number;
}

/** `GET /v1/trust`. */
export interface TrustAnswer {
  issuers: TrustIssuer[];
}

/** `POST /v1/issuer-keys` → 201: the node's new kid. */
export interface IssuerKeyMade {
  issuer: number;
  kid: number;
  publicKey: string;
  notBefore: number;
  notAfter: number;
}

/** `POST /v1/revocations` → 201. */
export interface RevocationMade {
  seq: number;
}

export interface FeedEntry {
  seq: number;
  type: "credential" | "subject" | "device" | "key";
  value: string;
  at: number;
  reason: string | null;
}

/** `GET /v1/revocations?since=N`. */
export interface RevocationFeed {
  entries: FeedEntry[];
  next: number;
  last: number;
}

/** `GET /v1/subjects/{kind}/{idNumber}/access-log`. */
export interface AccessLog {
  entries: { at: number; gateway: string; scene: string; licences: string[] }[];
}

/** `GET /v1/subjects/{kind}/{idNumber}/licences/{type}`. */
export interface LicenceAnswer {
  fields: LicenceFields;
}

/** `GET /readyz` (200 or 503): each check true, or why not. */
export interface ReadyAnswer {
  status: string;
  checks: { replay: true | "warming" | "full" | "unavailable"; trust?: boolean; follow?: true | "lagging" | "feed-backwards" };
  revocations: RevocationStatus;
}

/** The body of `res` as the §4 shape `T`. */
export async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}
