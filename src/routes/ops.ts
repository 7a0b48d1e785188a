/**
 * @module Operator routes: liveness, readiness, Prometheus metrics.
 */
import type { Hono } from "hono";
import type { YukuaiNode } from "../node.ts";
import type { Env } from "./auth.ts";

export function opsRoutes(app: Hono<Env>, node: YukuaiNode): void {
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    const r = await node.ready();
    return c.json({ status: r.ok ? "ready" : "not ready", checks: r.checks, revocations: node.revocationStatus() }, r.ok ? 200 : 503);
  });
  app.get("/metrics", async (c) => {
    node.refreshGauges();
    return c.body(await node.metrics.registry.metrics(), 200, { "content-type": node.metrics.registry.contentType });
  });
}
