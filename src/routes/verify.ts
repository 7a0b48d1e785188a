/**
 * @module 验码 over HTTP: `POST /v1/verify/batch` and `POST /v1/verify` (DESIGN.md §4).
 */
import type { Hono } from "hono";
import type { YukuaiNode } from "../node.ts";
import type { BatchOutcome } from "../verify/pipeline.ts";
import { requireGateway, type Env } from "./auth.ts";
import { readBody, send, sendError } from "./http.ts";
import type { Context } from "hono";

/** A refused batch as HTTP: 503, and Retry-After where waiting helps. */
export function refusalResponse(c: Context, node: YukuaiNode, outcome: Extract<BatchOutcome, { ok: false }>): Response {
  node.metrics.refusals.inc({ code: outcome.refusal });
  return sendError(c, 503, outcome.refusal, outcome.message, { "retry-after": outcome.refusal === "OVERLOADED" ? "1" : "5" });
}

export function verifyRoutes(app: Hono<Env>, node: YukuaiNode): void {
  const gateway = requireGateway(node);
  const { maxBodyBytes, maxBatch } = node.config;

  app.post("/v1/verify/batch", gateway, async (c) => {
    const started = performance.now();
    const body = await readBody(c, maxBodyBytes);
    if (body instanceof Response) return body;
    const scans = body.scans;
    if (!Array.isArray(scans)) return sendError(c, 400, "BAD_BODY", "body must be {\"scans\": [code or {code, at}]}");
    if (scans.length > maxBatch) return sendError(c, 413, "BATCH_TOO_LARGE", `at most ${maxBatch} scans per batch`);
    const outcome = await node.verifyBatch(scans, c.get("gateway"));
    if (!outcome.ok) return refusalResponse(c, node, outcome);
    node.metrics.batches.inc({ transport: "http" });
    node.metrics.batchSeconds.observe({ transport: "http" }, (performance.now() - started) / 1000);
    return send(c, 200, { results: outcome.results, revocations: node.revocationStatus() });
  });

  app.post("/v1/verify", gateway, async (c) => {
    const body = await readBody(c, maxBodyBytes);
    if (body instanceof Response) return body;
    if (!("code" in body)) return sendError(c, 400, "BAD_BODY", "body must be {\"code\": \"YK1:…\", \"at\"?: unix seconds}");
    const outcome = await node.verifyBatch([body], c.get("gateway"));
    if (!outcome.ok) return refusalResponse(c, node, outcome);
    node.metrics.batches.inc({ transport: "single" });
    return send(c, 200, outcome.results[0]);
  });
}
