/**
 * @module 验码 over HTTP: `POST /v1/verify/batch` and `POST /v1/verify` (spec §4).
 */
import type { Context, Hono } from "hono";
import type { BatchRefusalCode, Refusal } from "../errors.ts";
import type { Clock } from "../clock.ts";
import type { Metrics } from "../metrics.ts";
import type { IdempotencyStore } from "../verify/idempotency.ts";
import type { Verifier } from "../verify/verifier.ts";
import type { Env, Guard } from "./auth.ts";
import { sendError } from "./errors.ts";
import { limitBody, readBody, send } from "./http.ts";
import { idempotent } from "./idempotency.ts";

export interface VerifyDeps {
  guard: Guard;
  verifier: Verifier;
  metrics: Metrics;
  idempotency: IdempotencyStore;
  clock: Clock;
  maxBodyBytes: number;
  maxBatch: number;
}

/** A refused batch as HTTP: 503, and Retry-After where waiting helps. */
export function refusalResponse(c: Context, metrics: Metrics, r: Refusal<BatchRefusalCode>): Response {
  metrics.refusals.inc({ code: r.code });
  return sendError(c, r.code, r.message, { "retry-after": r.code === "OVERLOADED" ? "1" : "5" });
}

export function verifyRoutes(app: Hono<Env>, d: VerifyDeps): void {
  const { verifier, metrics, maxBatch } = d;
  const body = limitBody(d.maxBodyBytes);
  const retries = idempotent(d.idempotency, d.clock);

  app.post("/v1/verify/batch", d.guard.gateway, body, retries, async (c) => {
    const started = performance.now();
    const { scans } = await readBody(c);
    if (!Array.isArray(scans)) return sendError(c, "BAD_BODY", "body must be {\"scans\": [code or {code, at}]}");
    if (scans.length > maxBatch) return sendError(c, "BATCH_TOO_LARGE", `at most ${maxBatch} scans per batch`);
    const r = await verifier.verifyBatch(scans, c.get("gateway"));
    if (!r.ok) return refusalResponse(c, metrics, r);
    metrics.batches.inc({ transport: "http" });
    metrics.batchSeconds.observe({ transport: "http" }, (performance.now() - started) / 1000);
    return send(c, 200, { results: r.value, revocations: verifier.revocationStatus() });
  });

  app.post("/v1/verify", d.guard.gateway, body, retries, async (c) => {
    const scan = await readBody(c);
    if (!("code" in scan)) return sendError(c, "BAD_BODY", "body must be {\"code\": \"YK1:…\", \"at\"?: unix seconds}");
    const r = await verifier.verifyBatch([scan], c.get("gateway"));
    if (!r.ok) return refusalResponse(c, metrics, r);
    metrics.batches.inc({ transport: "single" });
    return send(c, 200, r.value[0]);
  });
}
