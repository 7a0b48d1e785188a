/**
 * @module The Hono app of a composed node: routes and middleware, no logic. Unknown paths and uncaught
 * faults answer the §4 error body; refusals raised at the edge (HTTPException) answer their own response.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import type { Node } from "./compose.ts";
import { adminRoutes } from "./routes/admin.ts";
import { guard, type Env } from "./routes/auth.ts";
import { sendError } from "./routes/errors.ts";
import { openapiRoutes } from "./routes/openapi.ts";
import { opsRoutes } from "./routes/ops.ts";
import { streamRoutes } from "./routes/stream.ts";
import { verifyRoutes } from "./routes/verify.ts";

export function createApp(node: Node, log: (line: string) => void = (l) => console.error(l)): OpenAPIHono<Env> {
  const app = new OpenAPIHono<Env>();
  const { config, metrics, verifier } = node;
  const g = guard({ tokens: node.tokens, registry: node.registry, throttle: node.authThrottle, metrics, trustedProxies: config.trustedProxies });
  const limits = { maxBodyBytes: config.maxBodyBytes, maxBatch: config.maxBatch };
  verifyRoutes(app, { guard: g, verifier, metrics, idempotency: node.idempotency, clock: node.clock, ...limits });
  streamRoutes(app, { guard: g, verifier, metrics, idempotency: node.idempotency, clock: node.clock, ...limits, log });
  adminRoutes(app, {
    guard: g, issuance: node.issuance, registry: node.registry, licences: node.licences, trust: node.trust,
    revocations: node.revocations, clock: node.clock, maxBodyBytes: config.maxBodyBytes, writable: node.keyring !== null,
  });
  opsRoutes(app, { verifier, metrics, refreshGauges: () => node.refreshGauges() });
  openapiRoutes(app, { issuer: config.issuer });
  app.notFound((c) => sendError(c, "NOT_FOUND", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`));
  app.onError((err, c) => {
    if (err instanceof HTTPException) return err.getResponse();
    if (c.req.raw.signal.aborted) {
      // the client went away (an aborted or truncated upload): counted, not logged line by line
      metrics.clientAborts.inc();
      return sendError(c, "BAD_BODY", "the request was aborted by the client");
    }
    // no request data in the log line: it may carry personal data
    let route = "?";
    try {
      route = c.req.routePath;
    } catch { /* no route matched */ }
    log(`internal error on ${c.req.method} ${route}: ${err.name}: ${err.message}`);
    return sendError(c, "INTERNAL", "internal error");
  });
  return app;
}
