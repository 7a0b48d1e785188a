/**
 * @module `GET /openapi.json` (OpenAPI 3.1, spec §4) describing every route with the schemas the routes
 * validate with (routes/schemas.ts), every error code each can answer, and `GET /docs`, a reference page
 * (Scalar) served with its script from this node — no CDN, so it works on a closed network.
 */
import { createRoute, type OpenAPIHono, type RouteConfig, z } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ErrorCode } from "../errors.ts";
import type { Env } from "./auth.ts";
import { sendError, STATUS } from "./errors.ts";
import * as S from "./schemas.ts";

const JSON_AND_MSGPACK = (schema: z.ZodType) => ({ "application/json": { schema }, "application/msgpack": { schema } });

/** Error responses for `codes`, grouped by their status, each naming its codes. */
function errors(...codes: ErrorCode[]): RouteConfig["responses"] {
  const by = new Map<number, ErrorCode[]>();
  for (const c of codes) by.set(STATUS[c], [...(by.get(STATUS[c]) ?? []), c]);
  const out: RouteConfig["responses"] = {};
  for (const [status, cs] of by) out[status] = { description: cs.join(", "), content: JSON_AND_MSGPACK(S.ErrorBody) };
  return out;
}

const ok = (status: number, description: string, schema: z.ZodType): RouteConfig["responses"] => ({ [status]: { description, content: JSON_AND_MSGPACK(schema) } });

type Security = Record<string, string[]>[];
const GATEWAY: Security = [{ gatewayKey: [] }];
const ADMIN: Security = [{ adminToken: [] }];
const FEED: Security = [{ adminToken: [] }, { feedToken: [] }];
const AUTH_ERRORS: ErrorCode[] = ["UNAUTHORIZED", "TOO_MANY_ATTEMPTS"];
const BODY_ERRORS: ErrorCode[] = ["BAD_BODY", "BODY_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"];
const BATCH_REFUSALS: ErrorCode[] = ["REPLAY_STORE_FULL", "REPLAY_STORE_UNAVAILABLE", "OVERLOADED", "ISSUER_UNAVAILABLE"];
const RETRY_ERRORS: ErrorCode[] = ["BAD_IDEMPOTENCY_KEY", "IDEMPOTENCY_KEY_IN_FLIGHT", "IDEMPOTENCY_KEY_REUSED"];
const IDEMPOTENCY_HEADER = z.object({ "idempotency-key": z.string().min(1).max(64).optional().openapi({ description: "spec §4 retries: 1–64 visible ASCII characters" }) });

const kindParam = z.enum(["person", "enterprise"]);
const SubjectParams = z.object({ kind: kindParam, idNumber: z.string() });
const LicenceParams = SubjectParams.extend({ type: z.string().openapi({ description: "a spec §5 licence type" }) });

export const ROUTES: readonly RouteConfig[] = [
  createRoute({
    method: "post", path: "/v1/verify/batch", tags: ["verify"], summary: "验码: verify a batch of scans", security: GATEWAY,
    request: { headers: IDEMPOTENCY_HEADER, body: { required: true, content: JSON_AND_MSGPACK(S.BatchRequest) } },
    responses: { ...ok(200, "one result per scan, in order (spec §3)", S.BatchAnswer), ...errors(...AUTH_ERRORS, ...BODY_ERRORS, "BATCH_TOO_LARGE", ...RETRY_ERRORS, ...BATCH_REFUSALS, "INTERNAL") },
  }),
  createRoute({
    method: "post", path: "/v1/verify", tags: ["verify"], summary: "verify one scan", security: GATEWAY,
    request: { headers: IDEMPOTENCY_HEADER, body: { required: true, content: JSON_AND_MSGPACK(S.SingleRequest) } },
    responses: { ...ok(200, "the result", S.ScanResult), ...errors(...AUTH_ERRORS, ...BODY_ERRORS, ...RETRY_ERRORS, ...BATCH_REFUSALS, "INTERNAL") },
  }),
  createRoute({
    method: "get", path: "/v1/verify/stream", tags: ["verify"], security: GATEWAY,
    summary: "WebSocket: frames {id, scans, idempotencyKey?} → {id, results, revocations} (JSON text or msgpack binary); errors as {id?, error}",
    responses: { 101: { description: "switching to the WebSocket protocol" }, ...errors(...AUTH_ERRORS, "UPGRADE_REQUIRED") },
  }),
  createRoute({
    method: "post", path: "/v1/credentials", tags: ["issuance"], summary: "申码: issue a credential", security: ADMIN,
    request: { body: { required: true, content: JSON_AND_MSGPACK(S.CredentialRequest) } },
    responses: { ...ok(201, "the credential", S.CredentialAnswer), ...errors(...AUTH_ERRORS, ...BODY_ERRORS, "BAD_KIND", "BAD_ID_NUMBER", "BAD_DEVICE_KEY", "BAD_VALID_DAYS", "BAD_FLAGS", "FOLLOWER", "ISSUER_KEY_REVOKED", "INTERNAL") },
  }),
  createRoute({
    method: "post", path: "/v1/issuer-keys", tags: ["issuance"], summary: "a new issuer kid (spec §7 rotation)", security: ADMIN,
    responses: { ...ok(201, "the new key", S.IssuerKeyAnswer), ...errors(...AUTH_ERRORS, "FOLLOWER", "INTERNAL") },
  }),
  createRoute({
    method: "post", path: "/v1/revocations", tags: ["revocation"], summary: "revoke a credential, subject, device key or issuer key", security: ADMIN,
    request: { body: { required: true, content: JSON_AND_MSGPACK(S.RevocationRequest) } },
    responses: { ...ok(201, "the entry's seq", S.RevocationMade), ...errors(...AUTH_ERRORS, ...BODY_ERRORS, "BAD_REVOCATION_TYPE", "BAD_REVOCATION_VALUE", "BAD_REASON", "FOLLOWER", "INTERNAL") },
  }),
  createRoute({
    method: "get", path: "/v1/revocations", tags: ["revocation"], summary: "the delta feed (admin or feed token)", security: FEED,
    request: { query: z.object({ since: z.string().optional() }) },
    responses: { ...ok(200, "entries with seq > since", S.RevocationFeed), ...errors(...AUTH_ERRORS, "BAD_SINCE", "INTERNAL") },
  }),
  createRoute({
    method: "get", path: "/v1/trust", tags: ["trust"], summary: "issuers and their keys",
    responses: ok(200, "the keys this node verifies with", S.TrustAnswer),
  }),
  createRoute({
    method: "post", path: "/v1/gateways", tags: ["gateways"], summary: "a gateway key bound to one scene", security: ADMIN,
    request: { body: { required: true, content: JSON_AND_MSGPACK(S.GatewayRequest) } },
    responses: { ...ok(201, "the key (shown once)", S.GatewayMade), ...errors(...AUTH_ERRORS, ...BODY_ERRORS, "BAD_NAME", "BAD_SCENE", "FOLLOWER", "INTERNAL") },
  }),
  createRoute({
    method: "get", path: "/v1/gateways", tags: ["gateways"], summary: "gateways with key hashes (admin or feed token)", security: FEED,
    responses: { ...ok(200, "the gateways", S.GatewayList), ...errors(...AUTH_ERRORS, "INTERNAL") },
  }),
  createRoute({
    method: "delete", path: "/v1/gateways/{id}", tags: ["gateways"], summary: "delete a gateway: its key stops working", security: ADMIN,
    request: { params: z.object({ id: z.string() }) },
    responses: { 204: { description: "deleted" }, ...errors(...AUTH_ERRORS, "NOT_FOUND", "FOLLOWER", "INTERNAL") },
  }),
  createRoute({
    method: "put", path: "/v1/subjects/{kind}/{idNumber}/licences/{type}", tags: ["licences"], summary: "link an e-licence", security: ADMIN,
    request: { params: LicenceParams, body: { required: true, content: JSON_AND_MSGPACK(S.LicenceFields) } },
    responses: { ...ok(200, "the linked licence", S.LicencePut), ...errors(...AUTH_ERRORS, ...BODY_ERRORS, "BAD_KIND", "BAD_ID_NUMBER", "BAD_LICENCE_TYPE", "BAD_LICENCE_FIELD", "FOLLOWER", "INTERNAL") },
  }),
  createRoute({
    method: "get", path: "/v1/subjects/{kind}/{idNumber}/licences/{type}", tags: ["licences"], summary: "read a linked e-licence", security: ADMIN,
    request: { params: LicenceParams },
    responses: { ...ok(200, "the licence", S.LicenceGet), ...errors(...AUTH_ERRORS, "BAD_KIND", "BAD_ID_NUMBER", "BAD_LICENCE_TYPE", "NOT_FOUND", "FOLLOWER", "INTERNAL") },
  }),
  createRoute({
    method: "delete", path: "/v1/subjects/{kind}/{idNumber}/licences/{type}", tags: ["licences"], summary: "unlink an e-licence", security: ADMIN,
    request: { params: LicenceParams },
    responses: { 204: { description: "unlinked" }, ...errors(...AUTH_ERRORS, "BAD_KIND", "BAD_ID_NUMBER", "BAD_LICENCE_TYPE", "NOT_FOUND", "FOLLOWER", "INTERNAL") },
  }),
  createRoute({
    method: "get", path: "/v1/subjects/{kind}/{idNumber}/access-log", tags: ["licences"], summary: "every release of the subject's licences", security: ADMIN,
    request: { params: SubjectParams, query: z.object({ limit: z.string().optional(), offset: z.string().optional() }) },
    responses: { ...ok(200, "the releases", S.AccessLog), ...errors(...AUTH_ERRORS, "BAD_KIND", "BAD_ID_NUMBER", "BAD_PAGE", "FOLLOWER", "INTERNAL") },
  }),
  createRoute({ method: "get", path: "/healthz", tags: ["operations"], summary: "liveness", responses: { 200: { description: "alive", content: { "application/json": { schema: S.Health } } } } }),
  createRoute({
    method: "get", path: "/readyz", tags: ["operations"], summary: "readiness (spec §8.4)",
    responses: { 200: { description: "ready", content: { "application/json": { schema: S.Ready } } }, 503: { description: "not ready", content: { "application/json": { schema: S.Ready } } } },
  }),
  createRoute({ method: "get", path: "/metrics", tags: ["operations"], summary: "Prometheus text", responses: { 200: { description: "metrics", content: { "text/plain": { schema: z.string() } } } } }),
  createRoute({ method: "get", path: "/openapi.json", tags: ["operations"], summary: "this document", responses: { 200: { description: "OpenAPI 3.1", content: { "application/json": { schema: z.object({}).passthrough() } } } } }),
];

/**
 * Where the Scalar standalone script is: the image carries it as vendor/scalar-standalone.js (Dockerfile: one
 * file from a build stage, not the package's 300 dependencies); a checkout has the package (a devDependency),
 * whose browser build sits beside its entry point. Null when neither is there (the page then cannot load).
 */
function scalarScriptPath(): string | null {
  const vendored = fileURLToPath(new URL("../../vendor/scalar-standalone.js", import.meta.url));
  if (existsSync(vendored)) return vendored;
  try {
    return join(dirname(createRequire(import.meta.url).resolve("@scalar/api-reference")), "browser/standalone.js");
  } catch {
    return null;
  }
}

const scalarScript = (() => {
  let js: string | null | undefined;
  return (): string | null => {
    if (js === undefined) {
      const path = scalarScriptPath();
      js = path !== null && existsSync(path) ? readFileSync(path, "utf8") : null;
    }
    return js;
  };
})();

export function openapiRoutes(app: OpenAPIHono<Env>, info: { issuer: number }): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "gatewayKey", { type: "http", scheme: "bearer", description: "a gateway key (POST /v1/gateways), bound to one scene" });
  app.openAPIRegistry.registerComponent("securitySchemes", "adminToken", { type: "http", scheme: "bearer", description: "the issuer node's admin token" });
  app.openAPIRegistry.registerComponent("securitySchemes", "feedToken", { type: "http", scheme: "bearer", description: "the issuer node's feed token: GET /v1/revocations and GET /v1/gateways only" });
  for (const r of ROUTES) app.openAPIRegistry.registerPath(r);
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: { title: "Yukuai Code verification node", version: "1", description: `渝快码 verification (issuer ${info.issuer}). The contract: docs/spec.md.` },
  });
  app.get("/docs/scalar.js", (c) => {
    const js = scalarScript();
    if (js === null) return sendError(c, "NOT_FOUND", "the reference page's script is not installed here (npm install, or the image's vendor/)");
    return c.body(js, 200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=3600" });
  });
  app.get("/docs", Scalar({ url: "/openapi.json", cdn: "/docs/scalar.js", pageTitle: "Yukuai Code API" }));
}
