/**
 * @module The Hono app: routes and middleware, no logic. Unknown paths and uncaught faults answer the
 * §4 error body.
 */
import { Hono } from "hono";
import type { YukuaiNode } from "./node.ts";
import { adminRoutes } from "./routes/admin.ts";
import type { Env } from "./routes/auth.ts";
import { sendError } from "./routes/http.ts";
import { opsRoutes } from "./routes/ops.ts";
import { verifyRoutes } from "./routes/verify.ts";
import { streamRoutes } from "./routes/stream.ts";

export function createApp(node: YukuaiNode, log: (line: string) => void = (l) => console.error(l)): Hono<Env> {
  const app = new Hono<Env>();
  verifyRoutes(app, node);
  streamRoutes(app, node);
  adminRoutes(app, node);
  opsRoutes(app, node);
  app.notFound((c) => sendError(c, 404, "NOT_FOUND", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`));
  app.onError((err, c) => {
    // no request data in the log line: it may carry personal data
    log(`internal error on ${c.req.method} ${c.req.routePath}: ${err.name}: ${err.message}`);
    return sendError(c, 500, "INTERNAL", "internal error");
  });
  return app;
}
