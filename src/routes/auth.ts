/**
 * @module Bearer-token middleware (DESIGN.md §4): the admin token for issuer-admin calls, the feed token
 * for the two feed reads, gateway keys for verification (each bound to one scene, §5), and the brute-force
 * guard in front of all of them: failed authentications are counted per source address and clock minute;
 * after 20, every request from that source that needs a token — a valid one included — gets 429
 * `TOO_MANY_ATTEMPTS` with Retry-After until the minute ends.
 */
import type { Context, MiddlewareHandler } from "hono";
import { seconds, type Clock } from "../clock.ts";
import type { AuthenticatedGateway, YukuaiNode } from "../node.ts";
import { bearer, sendError } from "./http.ts";

export type Env = { Variables: { gateway: AuthenticatedGateway }; Bindings: { server?: { requestIP(req: Request): { address: string } | null } } };

/** §4: failures a source may make in one clock minute. */
export const AUTH_FAILURES_PER_MINUTE = 20;
/** Sources counted per minute; past this, new sources are not counted (tokens are 256-bit random: counting bounds guessing, it does not make it possible). */
const MAX_SOURCES = 1 << 16;

/** Failed authentications per source in the current clock minute. */
export class AuthThrottle {
  #minute = -1;
  readonly #failures = new Map<string, number>();

  constructor(private readonly clock: Clock, private readonly limit = AUTH_FAILURES_PER_MINUTE) {}

  #roll(): number {
    const now = seconds(this.clock);
    const minute = Math.floor(now / 60);
    if (minute !== this.#minute) {
      this.#minute = minute;
      this.#failures.clear();
    }
    return now;
  }

  /** Seconds until the source may try again, or 0 when it may now. */
  retryAfter(source: string): number {
    const now = this.#roll();
    return (this.#failures.get(source) ?? 0) >= this.limit ? 60 - (now % 60) : 0;
  }

  fail(source: string): void {
    this.#roll();
    const n = this.#failures.get(source);
    if (n !== undefined) this.#failures.set(source, n + 1);
    else if (this.#failures.size < MAX_SOURCES) this.#failures.set(source, 1);
  }
}

/** The source of a request: the peer, or the first X-Forwarded-For hop when the peer is a trusted proxy. */
export function sourceOf(c: Context<Env>, trustedProxies: ReadonlySet<string>): string {
  const peer = c.env?.server?.requestIP(c.req.raw)?.address ?? "unknown";
  if (trustedProxies.has(peer)) {
    const hop = c.req.header("x-forwarded-for")?.split(",")[0]?.trim();
    if (hop) return hop;
  }
  return peer;
}

type Check = (c: Context<Env>, token: string) => boolean;

/** A middleware that lets a request through when `check` accepts its bearer token. */
function requireToken(node: YukuaiNode, name: string, what: string, check: Check): MiddlewareHandler<Env> {
  const throttle = node.authThrottle;
  const proxies = node.config.trustedProxies;
  const handler: MiddlewareHandler<Env> = async (c, next) => {
    const source = sourceOf(c, proxies);
    const wait = throttle.retryAfter(source);
    if (wait > 0) {
      node.metrics.authFailures.inc({ outcome: "throttled" });
      return sendError(c, 429, "TOO_MANY_ATTEMPTS", `more than ${AUTH_FAILURES_PER_MINUTE} failed authentications from this source this minute; retry after ${wait} s`, { "retry-after": String(wait) });
    }
    const token = bearer(c);
    if (token === null || !check(c, token)) {
      throttle.fail(source);
      node.metrics.authFailures.inc({ outcome: "refused" });
      return sendError(c, 401, "UNAUTHORIZED", `this call needs Authorization: Bearer <${what}>`, { "www-authenticate": "Bearer" });
    }
    await next();
  };
  Object.defineProperty(handler, "name", { value: name });
  return handler;
}

export function requireAdmin(node: YukuaiNode): MiddlewareHandler<Env> {
  return requireToken(node, "requireAdmin", "admin token", (_c, t) => node.isAdmin(t));
}

/** The admin token, or the feed token (`YUKUAI_FEED_TOKEN`), which reads the feed and nothing else (§4). */
export function requireFeedReader(node: YukuaiNode): MiddlewareHandler<Env> {
  return requireToken(node, "requireFeedReader", "admin or feed token", (_c, t) => node.isAdmin(t) || node.isFeedReader(t));
}

export function requireGateway(node: YukuaiNode): MiddlewareHandler<Env> {
  return requireToken(node, "requireGateway", "gateway key", (c, t) => {
    const gw = node.gatewayByKey(t);
    if (gw === undefined) return false;
    c.set("gateway", gw);
    return true;
  });
}
