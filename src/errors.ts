/**
 * @module The one catalogue of error codes (spec §4: `{"error": {"code", "message"}}`) and the one
 * Result shape every domain operation returns. No HTTP here: `routes/errors.ts` maps each code to its
 * status. A refused request is data with a stable `code` (as jose's `ERR_…` codes), never an exception.
 */

/** The request must change: a body, field, parameter or path that is not what §4 says (400). */
export type InputErrorCode =
  | "BAD_BODY" | "BAD_KIND" | "BAD_ID_NUMBER" | "BAD_DEVICE_KEY" | "BAD_VALID_DAYS" | "BAD_FLAGS"
  | "BAD_REVOCATION_TYPE" | "BAD_REVOCATION_VALUE" | "BAD_REASON" | "BAD_SINCE" | "BAD_NAME" | "BAD_SCENE"
  | "BAD_LICENCE_TYPE" | "BAD_LICENCE_FIELD" | "BAD_PAGE" | "BAD_IDEMPOTENCY_KEY";

/** Why a whole verification batch is refused: the node cannot be sure, so it answers nothing (503). */
export type BatchRefusalCode = "REPLAY_STORE_FULL" | "REPLAY_STORE_UNAVAILABLE" | "OVERLOADED" | "ISSUER_UNAVAILABLE";

/** Errors of a WebSocket frame (§4): answered in an error frame, the connection stays open. */
export type FrameErrorCode = "BAD_FRAME" | "FRAME_TOO_LARGE" | "SHUTTING_DOWN";

export type ErrorCode =
  | InputErrorCode
  | BatchRefusalCode
  | FrameErrorCode
  /** No or a wrong token (401). */
  | "UNAUTHORIZED"
  /** Managed on the issuer node, not on this follower (403). */
  | "FOLLOWER"
  | "NOT_FOUND"
  /** The newest issuer key is revoked: a new kid must be made before issuing (409). */
  | "ISSUER_KEY_REVOKED"
  /** spec §4 retries: the first request with this Idempotency-Key is still being answered (409). */
  | "IDEMPOTENCY_KEY_IN_FLIGHT"
  /** spec §4 retries: this Idempotency-Key came with another body (422). */
  | "IDEMPOTENCY_KEY_REUSED"
  | "BODY_TOO_LARGE" | "BATCH_TOO_LARGE"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "UPGRADE_REQUIRED"
  /** More than 20 failed authentications this minute from the source (429). */
  | "TOO_MANY_ATTEMPTS"
  | "INTERNAL";

export interface Refusal<C extends ErrorCode = ErrorCode> {
  ok: false;
  code: C;
  message: string;
}

/** What a domain operation answers: its value, or why it refused. */
export type Result<T, C extends ErrorCode = ErrorCode> = { ok: true; value: T } | Refusal<C>;

export const ok = <T>(value: T): { ok: true; value: T } => ({ ok: true, value });

export const refuse = <C extends ErrorCode>(code: C, message: string): Refusal<C> => ({ ok: false, code, message });

export const FOLLOWER = refuse("FOLLOWER", "this node follows an issuer node (YUKUAI_FOLLOW): issuance, revocations, gateways, keys and licences are managed there");
