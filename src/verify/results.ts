/**
 * @module Scan results (spec §3), in the order the checks run. A bad scan is a result, never an
 * exception.
 */
export const RESULT_CODES = [
  "OK", "MALFORMED", "UNKNOWN_ISSUER", "ISSUER_NOT_ACCEPTED", "BAD_ISSUER_SIGNATURE", "BAD_DEVICE_SIGNATURE",
  "NOT_YET_VALID", "EXPIRED", "REVOKED", "STALE", "REPLAY", "UPSTREAM_UNAVAILABLE",
] as const;
export type ResultCode = (typeof RESULT_CODES)[number];

/** A result as it goes on the wire: `result` always; the rest when known. */
export interface ScanResult {
  result: ResultCode;
  serial?: string;
  subject?: string;
  kind?: string;
  issuer?: number;
  flags?: readonly string[];
  licences?: Record<string, Record<string, string>>;
}

/** Failing results without fields are shared (frozen): no allocation per bad scan. */
export const BARE: Readonly<Record<ResultCode, Readonly<ScanResult>>> = Object.freeze(
  Object.fromEntries(RESULT_CODES.map((c) => [c, Object.freeze({ result: c })])) as Record<ResultCode, ScanResult>,
);
