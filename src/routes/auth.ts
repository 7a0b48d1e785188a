/**
 * @module Bearer-token middleware: the admin token for issuer-admin calls, gateway keys for verification
 * (each bound to one scene, DESIGN.md §5).
 */
import type { MiddlewareHandler } from "hono";
import type { AuthenticatedGateway, YukuaiNode } from "../node.ts";
import { bearer, sendError } from "./http.ts";

export type Env = { Variables: { gateway: AuthenticatedGateway } };

export function requireAdmin(node: YukuaiNode): MiddlewareHandler<Env> {
  return async function requireAdmin(c, next) {
    const token = bearer(c);
    if (token === null || !node.isAdmin(token)) {
      return sendError(c, 401, "UNAUTHORIZED", "this call needs Authorization: Bearer <admin token>", { "www-authenticate": "Bearer" });
    }
    await next();
  };
}

export function requireGateway(node: YukuaiNode): MiddlewareHandler<Env> {
  return async function requireGateway(c, next) {
    const token = bearer(c);
    const gw = token === null ? undefined : node.gatewayByKey(token);
    if (gw === undefined) {
      return sendError(c, 401, "UNAUTHORIZED", "this call needs Authorization: Bearer <gateway key>", { "www-authenticate": "Bearer" });
    }
    c.set("gateway", gw);
    await next();
  };
}
