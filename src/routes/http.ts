/**
 * @module The HTTP edge shared by every route: content negotiation (JSON or msgpack, spec §4), the
 * body limit (Hono's `bodyLimit`: 413 from Content-Length or while counting a chunked body, before any
 * parsing), bearer tokens, and body parsing that raises the §4 refusals as `HTTPException`s.
 */
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { decodeStrict, packr } from "../wire/msgpack.ts";
import { refusal, sendError } from "./errors.ts";

export type Format = "json" | "msgpack";

export { packr };

const MSGPACK_TYPES = new Set(["application/msgpack", "application/x-msgpack", "application/vnd.msgpack"]);

export function mediaType(header: string | undefined | null): string {
  return (header ?? "").split(";")[0]!.trim().toLowerCase();
}

/** Format of a request body, or null when neither JSON nor msgpack. */
export function requestFormat(c: Context): Format | null {
  const t = mediaType(c.req.header("content-type"));
  if (t === "application/json") return "json";
  if (MSGPACK_TYPES.has(t)) return "msgpack";
  return null;
}

/** The answer's format: `Accept` when it names one, else the request's. */
export function responseFormat(c: Context, fallback: Format = "json"): Format {
  const accept = c.req.header("accept");
  if (accept) {
    const a = accept.toLowerCase();
    const m = [...MSGPACK_TYPES].some((t) => a.includes(t));
    const j = a.includes("application/json");
    if (m && !j) return "msgpack";
    if (j && !m) return "json";
  }
  return requestFormat(c) ?? fallback;
}

export function send(c: Context, status: number, body: unknown, format: Format = responseFormat(c)): Response {
  if (format === "msgpack") {
    return new Response(packr.pack(body), { status, headers: { "content-type": "application/msgpack" } });
  }
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

export function bearer(c: Context): string | null {
  const h = c.req.header("authorization");
  if (!h) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1]! : null;
}

const MEDIA_TYPES = "Content-Type must be application/json or application/msgpack";

/** §4: another Content-Type is 415; a body over `maxBytes` is 413, before it is parsed. */
export function limitBody(maxBytes: number): MiddlewareHandler {
  const limit = bodyLimit({ maxSize: maxBytes, onError: (c) => sendError(c, "BODY_TOO_LARGE", `request body is larger than ${maxBytes} bytes`) });
  return async function limitBody(c, next) {
    if (requestFormat(c) === null) return sendError(c, "UNSUPPORTED_MEDIA_TYPE", MEDIA_TYPES);
    return limit(c, next);
  };
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses a request body (after `limitBody`): 415 for another content type, 400 when it does not parse or is
 * not an object, each raised as an HTTPException carrying the §4 error body.
 */
export async function readBody(c: Context): Promise<Record<string, unknown>> {
  const format = requestFormat(c);
  if (format === null) throw refusal(c, "UNSUPPORTED_MEDIA_TYPE", MEDIA_TYPES);
  const bytes = (c.get("rawBody") as Uint8Array | undefined) ?? new Uint8Array(await c.req.raw.arrayBuffer());
  let parsed: unknown;
  try {
    parsed = format === "json" ? JSON.parse(UTF8.decode(bytes)) : decodeStrict(bytes);
  } catch {
    throw refusal(c, "BAD_BODY", format === "json" ? "body is not valid JSON" : "body is not valid msgpack");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw refusal(c, "BAD_BODY", "body must be an object");
  return parsed as Record<string, unknown>;
}
