/**
 * @module Bearer-token middleware (spec §4): the admin token for issuer-admin calls, the feed token
 * for the two feed reads, gateway keys for verification (each bound to one scene, §5), and the brute-force
 * guard in front of all of them: after 20 failed authentications in a clock minute from one source, every
 * request from it that needs a token — a valid one included — gets 429 `TOO_MANY_ATTEMPTS` with
 * Retry-After until the minute ends.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { Metrics } from "../metrics.ts";
import type { AuthenticatedGateway, Registry } from "../registry.ts";
import { AUTH_FAILURES_PER_MINUTE, type AuthThrottle, type Tokens } from "../tokens.ts";
import { sendError } from "./errors.ts";
import { bearer } from "./http.ts";

export type Env = {
  /** `rawBody`: the body bytes, when a middleware had to read them before the handler (idempotency). */
  Variables: { gateway: AuthenticatedGateway; rawBody?: Uint8Array };
  Bindings: { server?: { requestIP(req: Request): { address: string } | null } };
};

/** The source of a request: the peer, or the first X-Forwarded-For hop when the peer is a trusted proxy. */
export function sourceOf(c: Context<Env>, trustedProxies: ReadonlySet<string>): string {
  const peer = c.env?.server?.requestIP(c.req.raw)?.address ?? "unknown";
  if (trustedProxies.has(peer)) {
    const hop = c.req.header("x-forwarded-for")?.split(",")[0]?.trim();
    if (hop) return hop;
  }
  return peer;
}

export interface GuardDeps {
  tokens: Tokens;
  registry: Registry;
  throttle: AuthThrottle;
  metrics: Metrics;
  trustedProxies: ReadonlySet<string>;
}

/** The three token checks, each a middleware behind the same brute-force guard. */
export interface Guard {
  admin: MiddlewareHandler<Env>;
  /** The admin token, or the feed token (which reads the feed and nothing else, §4). */
  feedReader: MiddlewareHandler<Env>;
  /** A gateway key; sets `c.var.gateway`. */
  gateway: MiddlewareHandler<Env>;
}

export function guard(d: GuardDeps): Guard {
  const requireToken = (what: string, check: (c: Context<Env>, token: string) => boolean): MiddlewareHandler<Env> =>
    async function requireToken(c, next) {
      const source = sourceOf(c, d.trustedProxies);
      const wait = d.throttle.retryAfter(source);
      if (wait > 0) {
        d.metrics.authFailures.inc({ outcome: "throttled" });
        return sendError(c, "TOO_MANY_ATTEMPTS", `more than ${AUTH_FAILURES_PER_MINUTE} failed authentications from this source this minute; retry after ${wait} s`, { "retry-after": String(wait) });
      }
      const token = bearer(c);
      if (token === null || !check(c, token)) {
        d.throttle.fail(source);
        d.metrics.authFailures.inc({ outcome: "refused" });
        return sendError(c, "UNAUTHORIZED", `this call needs Authorization: Bearer <${what}>`, { "www-authenticate": "Bearer" });
      }
      await next();
    };
  return {
    admin: requireToken("admin token", (_c, t) => d.tokens.isAdmin(t)),
    feedReader: requireToken("admin or feed token", (_c, t) => d.tokens.isAdmin(t) || d.tokens.isFeedReader(t)),
    gateway: requireToken("gateway key", (c, t) => {
      const gw = d.registry.gatewayByKey(t);
      if (gw === undefined) return false;
      c.set("gateway", gw);
      return true;
    }),
  };
}
