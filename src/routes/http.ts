/**
 * @module The HTTP edge shared by every route: content negotiation (JSON or msgpack, DESIGN.md §4), the
 * body limit (413 before parsing), bearer tokens, and the error body `{"error": {code, message}}`.
 */
import type { Context } from "hono";
import { packr } from "../wire/msgpack.ts";

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

export function sendError(c: Context, status: number, code: string, message: string, headers?: Record<string, string>): Response {
  const res = send(c, status, { error: { code, message } });
  if (headers) for (const [k, v] of Object.entries(headers)) res.headers.set(k, v);
  return res;
}

export function bearer(c: Context): string | null {
  const h = c.req.header("authorization");
  if (!h) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1]! : null;
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** A body of unknown length (chunked), counted while read; null once it passes `maxBytes`. */
async function readCapped(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<Uint8Array | null> {
  if (body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      void reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/**
 * Reads and parses a request body: 415 for another content type, 413 over `maxBytes` (from
 * Content-Length, or counted while reading, before any parsing), 400 when it does not parse or is not an
 * object. On failure returns the error Response.
 */
export async function readBody(c: Context, maxBytes: number): Promise<Record<string, unknown> | Response> {
  const format = requestFormat(c);
  if (format === null) {
    return sendError(c, 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json or application/msgpack");
  }
  const declared = c.req.header("content-length");
  if (declared !== undefined && Number(declared) > maxBytes) {
    return sendError(c, 413, "BODY_TOO_LARGE", `request body is larger than ${maxBytes} bytes`);
  }
  let bytes: Uint8Array;
  if (declared !== undefined && /^[0-9]+$/.test(declared)) {
    // a declared length is exactly what the server reads (and Bun.serve caps it): read it in one piece
    bytes = new Uint8Array(await c.req.raw.arrayBuffer());
  } else {
    const read = await readCapped(c.req.raw.body, maxBytes);
    if (read === null) return sendError(c, 413, "BODY_TOO_LARGE", `request body is larger than ${maxBytes} bytes`);
    bytes = read;
  }
  let parsed: unknown;
  try {
    parsed = format === "json" ? JSON.parse(UTF8.decode(bytes)) : packr.unpack(bytes);
  } catch {
    return sendError(c, 400, "BAD_BODY", format === "json" ? "body is not valid JSON" : "body is not valid msgpack");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return sendError(c, 400, "BAD_BODY", "body must be an object");
  }
  return parsed as Record<string, unknown>;
}
