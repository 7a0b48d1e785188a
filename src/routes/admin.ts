/**
 * @module Issuer-admin routes: 申码 (credentials), revocations, gateways, e-licences and the access log
 * (DESIGN.md §4-5); and the public trust list.
 */
import type { Context, Hono } from "hono";
import type { Outcome, YukuaiNode } from "../node.ts";
import { requireAdmin, requireFeedReader, type Env } from "./auth.ts";
import { readBody, send, sendError } from "./http.ts";

function answer<T extends object>(c: Context, status: number, o: Outcome<T>): Response {
  if (!o.ok) return sendError(c, o.status, o.code, o.message);
  const { ok: _ok, ...rest } = o as { ok: true } & T;
  return send(c, status, rest);
}

export function adminRoutes(app: Hono<Env>, node: YukuaiNode): void {
  const admin = requireAdmin(node);
  const feed = requireFeedReader(node);
  const max = node.config.maxBodyBytes;

  app.post("/v1/credentials", admin, async (c) => {
    const body = await readBody(c, max);
    if (body instanceof Response) return body;
    return answer(c, 201, node.issueCredential(body));
  });

  app.post("/v1/revocations", admin, async (c) => {
    const body = await readBody(c, max);
    if (body instanceof Response) return body;
    return answer(c, 201, node.revoke(body));
  });

  app.get("/v1/revocations", feed, (c) => answer(c, 200, node.revocationsSince(c.req.query("since"))));

  app.post("/v1/gateways", admin, async (c) => {
    const body = await readBody(c, max);
    if (body instanceof Response) return body;
    return answer(c, 201, node.createGateway(body));
  });

  app.get("/v1/gateways", feed, (c) => send(c, 200, { gateways: node.gateways.list() }));

  app.delete("/v1/gateways/:id", admin, (c) => {
    const o = node.deleteGateway(c.req.param("id"));
    return o.ok ? c.body(null, 204) : sendError(c, o.status, o.code, o.message);
  });

  app.get("/v1/trust", (c) => send(c, 200, node.trust.toJson(node.now(), (i, k) => node.revocations.keyRevoked(i, k))));

  app.post("/v1/issuer-keys", admin, (c) => answer(c, 201, node.rotateIssuerKey()));

  const licence = "/v1/subjects/:kind/:idNumber/licences/:type";
  app.put(licence, admin, async (c) => {
    const body = await readBody(c, max);
    if (body instanceof Response) return body;
    const { kind, idNumber, type } = c.req.param();
    return answer(c, 200, node.putLicence(kind, idNumber, type, body));
  });
  app.get(licence, admin, (c) => {
    const { kind, idNumber, type } = c.req.param();
    return answer(c, 200, node.getLicence(kind, idNumber, type));
  });
  app.delete(licence, admin, (c) => {
    const { kind, idNumber, type } = c.req.param();
    const o = node.deleteLicence(kind, idNumber, type);
    return o.ok ? c.body(null, 204) : sendError(c, o.status, o.code, o.message);
  });
  app.get("/v1/subjects/:kind/:idNumber/access-log", admin, (c) => {
    const { kind, idNumber } = c.req.param();
    return answer(c, 200, node.accessLog(kind, idNumber, c.req.query("limit"), c.req.query("offset")));
  });
}
