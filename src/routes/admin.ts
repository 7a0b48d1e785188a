/**
 * @module Issuer-admin routes (spec §4–§5, §7): 申码 (credentials), issuer keys, revocations and their
 * feed, gateways, e-licences and the access log; and the public trust list. Each route reads its input,
 * checks it against its schema (routes/schemas.ts, the same the OpenAPI document shows), calls one domain
 * operation and answers its Result.
 */
import type { Hono } from "hono";
import type { Clock } from "../clock.ts";
import { seconds } from "../clock.ts";
import { FOLLOWER, type Result } from "../errors.ts";
import type { Issuance } from "../issuance.ts";
import type { Licences } from "../licences.ts";
import type { Registry } from "../registry.ts";
import type { Revocations } from "../state/revocations.ts";
import type { TrustStore } from "../trust/store.ts";
import type { Env, Guard } from "./auth.ts";
import { answer, sendError } from "./errors.ts";
import { limitBody, readBody, send } from "./http.ts";
import * as S from "./schemas.ts";
import { checked } from "./schemas.ts";
import type { Context, MiddlewareHandler } from "hono";

export interface AdminDeps {
  guard: Guard;
  issuance: Issuance;
  registry: Registry;
  licences: Licences;
  trust: TrustStore;
  revocations: Revocations;
  clock: Clock;
  maxBodyBytes: number;
  /** False on a follower: its management routes answer FOLLOWER before reading a body. */
  writable: boolean;
}

/** 204 for a Result without a value. */
const noContent = (c: Context, r: Result<null>): Response => (r.ok ? c.body(null, 204) : sendError(c, r.code, r.message));

export function adminRoutes(app: Hono<Env>, d: AdminDeps): void {
  const { feedReader } = d.guard;
  const body = limitBody(d.maxBodyBytes);
  const issuerOnly: MiddlewareHandler<Env> = async function issuerOnly(c, next) {
    if (!d.writable) return sendError(c, FOLLOWER.code, FOLLOWER.message);
    await next();
  };
  /**
   * Management calls: on the issuer node, with its admin token. A follower answers FOLLOWER before any token
   * check: its own admin token is not the issuer's, and a 401 there would count toward the per-source 429.
   */
  const admin = [issuerOnly, d.guard.admin] as const;

  app.post("/v1/credentials", ...admin, body, async (c) => answer(c, 201, d.issuance.issue(checked(c, S.CredentialRequest, S.CREDENTIAL_FIELDS, await readBody(c)))));
  app.post("/v1/issuer-keys", ...admin, (c) => answer(c, 201, d.issuance.rotateKey()));

  app.post("/v1/revocations", ...admin, body, async (c) => answer(c, 201, d.registry.revoke(checked(c, S.RevocationRequest, S.REVOCATION_FIELDS, await readBody(c)))));
  app.get("/v1/revocations", feedReader, (c) => answer(c, 200, d.registry.feed(c.req.query("since"))));

  app.post("/v1/gateways", ...admin, body, async (c) => answer(c, 201, d.registry.createGateway(checked(c, S.GatewayRequest, S.GATEWAY_FIELDS, await readBody(c)))));
  app.get("/v1/gateways", feedReader, (c) => answer(c, 200, d.registry.listGateways()));
  app.delete("/v1/gateways/:id", ...admin, (c) => noContent(c, d.registry.deleteGateway(c.req.param("id"))));

  app.get("/v1/trust", (c) => send(c, 200, d.trust.toJson(seconds(d.clock), (i, k) => d.revocations.keyRevoked(i, k))));

  const licence = "/v1/subjects/:kind/:idNumber/licences/:type";
  app.put(licence, ...admin, body, async (c) => {
    const { kind, idNumber, type } = c.req.param();
    return answer(c, 200, d.licences.put(kind, idNumber, type, checked(c, S.LicenceFields, S.LICENCE_FIELDS, await readBody(c))));
  });
  app.get(licence, ...admin, (c) => {
    const { kind, idNumber, type } = c.req.param();
    return answer(c, 200, d.licences.get(kind, idNumber, type));
  });
  app.delete(licence, ...admin, (c) => {
    const { kind, idNumber, type } = c.req.param();
    return noContent(c, d.licences.delete(kind, idNumber, type));
  });
  app.get("/v1/subjects/:kind/:idNumber/access-log", ...admin, (c) => {
    const { kind, idNumber } = c.req.param();
    return answer(c, 200, d.licences.accessLog(kind, idNumber, c.req.query("limit"), c.req.query("offset")));
  });
}
