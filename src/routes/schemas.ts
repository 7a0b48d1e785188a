/**
 * @module The request and response bodies of spec §4 as Zod schemas: the admin routes validate their bodies
 * with them (`checked`), and `routes/openapi.ts` describes every route with the same objects, so the
 * OpenAPI document cannot drift from what the node accepts. The verify hot path keeps its hand-written
 * checks (the pipeline answers a bad scan as a result, spec §3); its schemas here only describe it.
 */
import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { ErrorCode } from "../errors.ts";
import { LICENCE_TYPES, SCENE_DEFS } from "../scenes.ts";
import { RESULT_CODES } from "../verify/results.ts";
import { FLAG_MASK, FLAG_NAMES } from "../wire/code.ts";
import { STATUS } from "./errors.ts";
import { refusal } from "./errors.ts";

const u32 = z.number().int().min(0).max(0xffffffff);
const hex = (n: number) => z.string().regex(new RegExp(`^[0-9a-f]{${n}}$`));

export const ErrorBody = z.object({
  error: z.object({
    code: z.enum(Object.keys(STATUS) as [ErrorCode, ...ErrorCode[]]),
    message: z.string(),
  }),
}).openapi("Error");

// ── verification ─────────────────────────────────────────────────────────────

const Code = z.string().startsWith("YK1:").openapi({ description: "QR text: YK1: + Base45 of the 212 bytes (spec §2); in msgpack also the 212 raw bytes (bin)", example: "YK1:…" });
export const Scan = z.union([Code, z.object({ code: Code, at: u32.optional().openapi({ description: "gateway scan time, unix seconds (spec §3)" }) })]).openapi("Scan");
export const BatchRequest = z.object({ scans: z.array(Scan).max(100_000) }).openapi("BatchRequest");
export const SingleRequest = z.object({ code: Code, at: u32.optional() }).openapi("SingleRequest");

export const ScanResult = z.object({
  result: z.enum(RESULT_CODES),
  serial: hex(16).optional(),
  subject: hex(32).optional(),
  kind: z.enum(["person", "enterprise"]).optional(),
  issuer: z.number().int().optional(),
  flags: z.array(z.enum(FLAG_NAMES)).optional(),
  licences: z.record(z.string(), z.record(z.string(), z.string())).optional().openapi({ description: "released licence type → linked fields (spec §5)" }),
}).openapi("ScanResult");
export const RevocationStatus = z.object({ seq: z.number().int(), syncedAt: z.number().int() }).openapi("RevocationStatus");
export const BatchAnswer = z.object({ results: z.array(ScanResult), revocations: RevocationStatus }).openapi("BatchAnswer");

// ── issuance, keys, revocations, gateways ────────────────────────────────────

export const CredentialRequest = z.object({
  kind: z.enum(["person", "enterprise"]),
  idNumber: z.string().min(1).max(64).openapi({ description: "GB 11643 resident ID (person) or GB 32100 USCC (enterprise), checksum verified" }),
  devicePublicKey: z.string().regex(/^[A-Za-z0-9_-]{43}=?$/).openapi({ description: "the holder device's Ed25519 public key, base64url (32 bytes)" }),
  validDays: z.number().int().min(1).max(3650).nullish(),
  flags: z.number().int().min(0).max(FLAG_MASK).nullish().openapi({ description: "bitmask of spec §2 flags" }),
}).openapi("CredentialRequest");
export const CredentialAnswer = z.object({
  serial: hex(16), credential: z.string().openapi({ description: "base64url of the 138-byte credential" }), notBefore: u32, notAfter: u32,
}).openapi("CredentialAnswer");

export const IssuerKeyAnswer = z.object({ issuer: z.number().int(), kid: z.number().int(), publicKey: z.string(), notBefore: u32, notAfter: u32 }).openapi("IssuerKey");

export const RevocationRequest = z.object({
  type: z.enum(["credential", "subject", "device", "key"]),
  value: z.string().max(80).openapi({ description: "serial (16 hex), subject (32 hex), device key (64 hex) or \"issuer:kid\"" }),
  reason: z.string().max(500).nullable().optional(),
}).openapi("RevocationRequest");
export const RevocationMade = z.object({ seq: z.number().int().min(1) }).openapi("RevocationMade");
export const RevocationFeed = z.object({
  entries: z.array(z.object({ seq: z.number().int(), type: z.enum(["credential", "subject", "device", "key"]), value: z.string(), at: z.number().int(), reason: z.string().nullable() })),
  next: z.number().int(),
  last: z.number().int(),
}).openapi("RevocationFeed");

export const GatewayRequest = z.object({
  name: z.string().min(1).max(200),
  scene: z.enum(SCENE_DEFS.map((s) => s.id) as [string, ...string[]]),
}).openapi("GatewayRequest");
export const GatewayMade = z.object({ id: z.string(), key: z.string().openapi({ description: "shown once; only its SHA-256 is kept" }) }).openapi("GatewayMade");
export const GatewayList = z.object({ gateways: z.array(z.object({ id: z.string(), name: z.string(), scene: z.string(), keyHash: hex(64) })) }).openapi("GatewayList");

export const TrustAnswer = z.object({
  issuers: z.array(z.object({
    issuer: z.number().int(),
    name: z.string(),
    keys: z.array(z.object({ kid: z.number().int(), publicKey: z.string(), notBefore: u32, notAfter: u32, status: z.enum(["active", "revoked"]) })),
    trustedUntil: z.number().int().optional().openapi({ description: "entries from a trust list: its nextUpdate (spec §8.2)" }),
  })),
}).openapi("Trust");

// ── licences and the access log ──────────────────────────────────────────────

export const LicenceFields = z.record(z.string(), z.string().max(2048)).openapi("LicenceFields", { description: "a flat object of strings; the fields each type requires are in spec §5" });
export const LicencePut = z.object({ subject: hex(32), type: z.enum(LICENCE_TYPES), fields: LicenceFields }).openapi("LicencePut");
export const LicenceGet = z.object({ type: z.enum(LICENCE_TYPES), fields: LicenceFields, updatedAt: z.number().int() }).openapi("Licence");
export const AccessLog = z.object({ entries: z.array(z.object({ at: z.number().int(), gateway: z.string(), scene: z.string(), licences: z.array(z.enum(LICENCE_TYPES)) })) }).openapi("AccessLog");

// ── operations ───────────────────────────────────────────────────────────────

export const Health = z.object({ status: z.literal("ok") });
export const Ready = z.object({
  status: z.enum(["ready", "not ready"]),
  checks: z.object({
    replay: z.union([z.literal(true), z.enum(["warming", "full", "unavailable"])]),
    trust: z.boolean().optional(),
    follow: z.union([z.literal(true), z.enum(["lagging", "feed-backwards"])]).optional(),
  }),
  revocations: RevocationStatus,
}).openapi("Readiness");

/** Which error code a schema failure on a body field is. */
export type FieldCodes = Readonly<Record<string, ErrorCode>>;
export const CREDENTIAL_FIELDS: FieldCodes = { kind: "BAD_KIND", idNumber: "BAD_ID_NUMBER", devicePublicKey: "BAD_DEVICE_KEY", validDays: "BAD_VALID_DAYS", flags: "BAD_FLAGS" };
export const REVOCATION_FIELDS: FieldCodes = { type: "BAD_REVOCATION_TYPE", value: "BAD_REVOCATION_VALUE", reason: "BAD_REASON" };
export const GATEWAY_FIELDS: FieldCodes = { name: "BAD_NAME", scene: "BAD_SCENE" };
export const LICENCE_FIELDS: FieldCodes = { "*": "BAD_LICENCE_FIELD" };

/**
 * `body` checked against `schema`: the parsed value, or an HTTPException with the §4 error body whose code
 * names the first offending field (`codes["*"]` for any field, else BAD_BODY).
 */
export function checked<S extends z.ZodType>(c: Context, schema: S, codes: FieldCodes, body: unknown): z.infer<S> {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = issue.path.length > 0 ? String(issue.path[0]) : "";
  const code = codes[field] ?? codes["*"] ?? "BAD_BODY";
  throw refusal(c, code, field === "" ? issue.message : `${field}: ${issue.message}`);
}
