/**
 * @module Errors at the HTTP edge (spec §4): the one table from error code to status, the error body
 * `{"error": {"code", "message"}}`, and `HTTPException`s for refusals raised while reading a request.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ErrorCode, Result } from "../errors.ts";
import { send } from "./http.ts";

export const STATUS: Readonly<Record<ErrorCode, ContentfulStatusCode>> = {
  BAD_BODY: 400, BAD_KIND: 400, BAD_ID_NUMBER: 400, BAD_DEVICE_KEY: 400, BAD_VALID_DAYS: 400, BAD_FLAGS: 400,
  BAD_REVOCATION_TYPE: 400, BAD_REVOCATION_VALUE: 400, BAD_REASON: 400, BAD_SINCE: 400, BAD_NAME: 400, BAD_SCENE: 400,
  BAD_LICENCE_TYPE: 400, BAD_LICENCE_FIELD: 400, BAD_PAGE: 400, BAD_FRAME: 400, BAD_IDEMPOTENCY_KEY: 400,
  UNAUTHORIZED: 401,
  FOLLOWER: 403,
  NOT_FOUND: 404,
  ISSUER_KEY_REVOKED: 409, IDEMPOTENCY_KEY_IN_FLIGHT: 409,
  IDEMPOTENCY_KEY_REUSED: 422,
  BODY_TOO_LARGE: 413, BATCH_TOO_LARGE: 413, FRAME_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UPGRADE_REQUIRED: 426,
  TOO_MANY_ATTEMPTS: 429,
  INTERNAL: 500,
  REPLAY_STORE_FULL: 503, REPLAY_STORE_UNAVAILABLE: 503, OVERLOADED: 503, ISSUER_UNAVAILABLE: 503, SHUTTING_DOWN: 503,
};

/** The §4 error body with the code's status. */
export function sendError(c: Context, code: ErrorCode, message: string, headers?: Record<string, string>): Response {
  const res = send(c, STATUS[code], { error: { code, message } });
  if (headers) for (const [k, v] of Object.entries(headers)) res.headers.set(k, v);
  return res;
}

/** A refusal raised at the edge (body, media type, size): `app.onError` answers its response as it is. */
export function refusal(c: Context, code: ErrorCode, message: string): HTTPException {
  return new HTTPException(STATUS[code], { res: sendError(c, code, message) });
}

/** A domain Result as HTTP: its value with `status`, or its refusal with the code's status. */
export function answer<T>(c: Context, status: ContentfulStatusCode, r: Result<T>): Response {
  return r.ok ? send(c, status, r.value) : sendError(c, r.code, r.message);
}
