/**
 * @module `Idempotency-Key` on the verify routes (spec §4 retries), at the HTTP edge: a resend from the same
 * gateway with the same key and body gets the first answer byte for byte with `Idempotent-Replayed: true`;
 * another body 422 IDEMPOTENCY_KEY_REUSED; while the first is answered 409 IDEMPOTENCY_KEY_IN_FLIGHT.
 * Without the header nothing changes. The store (verify/idempotency.ts) lives with the replay state.
 */
import type { MiddlewareHandler } from "hono";
import { createHash } from "node:crypto";
import type { Clock } from "../clock.ts";
import { seconds } from "../clock.ts";
import { isIdempotencyKey, type Claim, type IdempotencyStore } from "../verify/idempotency.ts";
import type { Env } from "./auth.ts";
import { sendError } from "./errors.ts";

/** The store's key: the gateway and its Idempotency-Key (hex, so no byte of it can act as a Redis hash tag). */
export const recordKey = (gatewayId: string, key: string): string => `${gatewayId}:${Buffer.from(key).toString("hex")}`;

/** What "the same request" means: the route and the body bytes. */
export const fingerprint = (route: string, body: Uint8Array): string => createHash("sha256").update(route).update("\n").update(body).digest("hex");

/** A claim that is not "new", as the error the gateway gets (or null for "done", answered by the caller). */
export function claimRefusal(claim: Claim): { code: "IDEMPOTENCY_KEY_IN_FLIGHT" | "IDEMPOTENCY_KEY_REUSED" | "REPLAY_STORE_UNAVAILABLE" | "REPLAY_STORE_FULL"; message: string } | null {
  switch (claim.state) {
    case "in-flight": return { code: "IDEMPOTENCY_KEY_IN_FLIGHT", message: "the first request with this Idempotency-Key is still being answered; retry shortly" };
    case "mismatch": return { code: "IDEMPOTENCY_KEY_REUSED", message: "this Idempotency-Key was used with another body" };
    case "unavailable": return { code: "REPLAY_STORE_UNAVAILABLE", message: "retry records cannot be reached; refusing rather than guessing" };
    case "full": return { code: "REPLAY_STORE_FULL", message: "no room for another retry record; retry shortly" };
    default: return null;
  }
}

export function idempotent(store: IdempotencyStore, clock: Clock): MiddlewareHandler<Env> {
  return async function idempotent(c, next) {
    const key = c.req.header("idempotency-key");
    if (key === undefined) return next();
    if (!isIdempotencyKey(key)) return sendError(c, "BAD_IDEMPOTENCY_KEY", "Idempotency-Key must be 1 to 64 visible ASCII characters");
    const body = new Uint8Array(await c.req.raw.arrayBuffer());
    c.set("rawBody", body);
    const rk = recordKey(c.get("gateway").gateway.id, key);
    const fp = fingerprint(c.req.path, body);
    const claim = await store.claim(rk, fp, seconds(clock));
    if (claim.state === "done") {
      const { status, contentType, body: answer } = claim.answer;
      return new Response(answer, { status, headers: { "content-type": contentType, "idempotent-replayed": "true" } });
    }
    const refused = claimRefusal(claim);
    if (refused !== null) return sendError(c, refused.code, refused.message, refused.code === "IDEMPOTENCY_KEY_IN_FLIGHT" ? { "retry-after": "1" } : undefined);
    try {
      await next();
    } finally {
      const res = c.res;
      if (res.status === 200) {
        const answer = new Uint8Array(await res.clone().arrayBuffer());
        await store.complete(rk, fp, { status: 200, contentType: res.headers.get("content-type") ?? "application/json", body: answer }, seconds(clock));
      } else {
        await store.release(rk, fp);
      }
    }
  };
}
