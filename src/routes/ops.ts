/**
 * @module Operator routes: liveness, readiness (spec §3 warming, §7 stale trust), Prometheus metrics.
 */
import type { Hono } from "hono";
import type { Metrics } from "../metrics.ts";
import type { Verifier } from "../verify/verifier.ts";
import type { Env } from "./auth.ts";

export interface OpsDeps {
  verifier: Verifier;
  metrics: Metrics;
  /** Gauges read at scrape time. */
  refreshGauges: () => void;
}

export function opsRoutes(app: Hono<Env>, d: OpsDeps): void {
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    const r = await d.verifier.ready();
    return c.json({ status: r.ok ? "ready" : "not ready", checks: r.checks, revocations: d.verifier.revocationStatus() }, r.ok ? 200 : 503);
  });
  app.get("/metrics", async (c) => {
    d.refreshGauges();
    return c.body(await d.metrics.registry.metrics(), 200, { "content-type": d.metrics.registry.contentType });
  });
}
