/**
 * @module Electronic licences (电子证照, spec §5) and the access log: linking, reading and unlinking a
 * subject's licences, the fields each type requires (a flat JSON object of strings; required ones are
 * checked, others kept as given), and every release of them. They belong to this node's own issuer (§7):
 * subjects are its pseudonyms; a follower holds none (FOLLOWER).
 */
import type { Clock } from "./clock.ts";
import { seconds } from "./clock.ts";
import type { IssuerKeyring } from "./crypto/keys.ts";
import { FOLLOWER, ok, refuse, type Result } from "./errors.ts";
import { checkIdNumber, subjectPseudonym } from "./identity.ts";
import { isLicenceType, type LicenceType } from "./scenes.ts";
import type { Db } from "./state/db.ts";
import type { KindName } from "./wire/code.ts";

const REQUIRED: Record<LicenceType, readonly string[]> = {
  "identity-card": ["name", "idNumber"],
  "driver-licence": ["name", "number", "class"],
  "vehicle-licence": ["plate", "owner"],
  "marriage-certificate": ["number", "names"],
  "business-licence": ["name", "uscc"],
  "medical-insurance": ["name", "number"],
  "social-security-card": ["name", "number"],
  "student-card": ["name", "school", "studentNumber"],
};

const MAX_FIELDS = 64;
const MAX_VALUE = 2048;

export type LicenceCheck = { ok: true; fields: Record<string, string> } | { ok: false; field: string; reason: string };

/**
 * Validates `fields` for licence `type` of the subject identified by `normalisedId`: every required field is
 * a non-empty string; `identity-card.idNumber` and `business-licence.uscc` equal the subject's number.
 */
export function checkLicence(type: LicenceType, kind: KindName, normalisedId: string, fields: unknown): LicenceCheck {
  if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
    return { ok: false, field: "", reason: "licence fields must be a flat JSON object of strings" };
  }
  const entries = Object.entries(fields);
  if (entries.length > MAX_FIELDS) return { ok: false, field: "", reason: `at most ${MAX_FIELDS} fields` };
  const out: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (typeof v !== "string") return { ok: false, field: k, reason: `field ${k} must be a string` };
    if (v.length > MAX_VALUE) return { ok: false, field: k, reason: `field ${k} is longer than ${MAX_VALUE} characters` };
    out[k] = v;
  }
  for (const f of REQUIRED[type]) {
    if (!out[f] || out[f]!.trim() === "") return { ok: false, field: f, reason: `${type} requires a non-empty field ${f}` };
  }
  if (type === "identity-card") {
    if (kind !== "person") return { ok: false, field: "idNumber", reason: "idNumber: an identity-card belongs to a person" };
    if (out.idNumber!.trim().toUpperCase() !== normalisedId) return { ok: false, field: "idNumber", reason: "idNumber must equal the subject's ID number" };
  }
  if (type === "business-licence") {
    if (kind !== "enterprise") return { ok: false, field: "uscc", reason: "uscc: a business-licence belongs to an enterprise" };
    if (out.uscc!.trim().toUpperCase() !== normalisedId) return { ok: false, field: "uscc", reason: "uscc must equal the subject's unified social credit code" };
  }
  return { ok: true, fields: out };
}

export interface AccessLogEntry {
  at: number;
  gateway: string;
  scene: string;
  licences: string[];
}

export interface LicencesDeps {
  clock: Clock;
  db: Db;
  /** Its subject secret makes the pseudonyms; null on a follower. */
  keyring: IssuerKeyring | null;
}

const UNKNOWN_TYPE = "unknown licence type (see spec §5)";
const NOT_LINKED = "no licence of that type is linked to this subject";

export class Licences {
  readonly #d: LicencesDeps;

  constructor(d: LicencesDeps) {
    this.#d = d;
  }

  #subjectOf(kindRaw: string, idNumber: string): Result<{ kind: KindName; normalised: string; subject: string }> {
    const ring = this.#d.keyring;
    if (ring === null) return FOLLOWER;
    if (kindRaw !== "person" && kindRaw !== "enterprise") return refuse("BAD_KIND", "kind must be person or enterprise");
    const id = checkIdNumber(kindRaw, idNumber);
    if (!id.ok) return refuse("BAD_ID_NUMBER", id.reason);
    const subject = Buffer.from(subjectPseudonym(ring.subjectSecret, kindRaw, id.normalised)).toString("hex");
    return ok({ kind: kindRaw, normalised: id.normalised, subject });
  }

  put(kind: string, idNumber: string, type: string, fields: unknown): Result<{ subject: string; type: string; fields: Record<string, string> }> {
    const s = this.#subjectOf(kind, idNumber);
    if (!s.ok) return s;
    if (!isLicenceType(type)) return refuse("BAD_LICENCE_TYPE", UNKNOWN_TYPE);
    const c = checkLicence(type, s.value.kind, s.value.normalised, fields);
    if (!c.ok) return refuse("BAD_LICENCE_FIELD", c.reason);
    this.#d.db.putLicence(s.value.subject, type, c.fields, seconds(this.#d.clock));
    return ok({ subject: s.value.subject, type, fields: c.fields });
  }

  get(kind: string, idNumber: string, type: string): Result<{ type: string; fields: Record<string, string>; updatedAt: number }> {
    const s = this.#subjectOf(kind, idNumber);
    if (!s.ok) return s;
    if (!isLicenceType(type)) return refuse("BAD_LICENCE_TYPE", UNKNOWN_TYPE);
    const l = this.#d.db.getLicence(s.value.subject, type);
    return l ? ok({ type, ...l }) : refuse("NOT_FOUND", NOT_LINKED);
  }

  delete(kind: string, idNumber: string, type: string): Result<null> {
    const s = this.#subjectOf(kind, idNumber);
    if (!s.ok) return s;
    if (!isLicenceType(type)) return refuse("BAD_LICENCE_TYPE", UNKNOWN_TYPE);
    return this.#d.db.deleteLicence(s.value.subject, type) ? ok(null) : refuse("NOT_FOUND", NOT_LINKED);
  }

  /** §4: one entry per result that released at least one licence of the subject. */
  accessLog(kind: string, idNumber: string, limitRaw?: string, offsetRaw?: string): Result<{ entries: AccessLogEntry[] }> {
    const s = this.#subjectOf(kind, idNumber);
    if (!s.ok) return s;
    const limit = limitRaw ? Number(limitRaw) : 1000;
    const offset = offsetRaw ? Number(offsetRaw) : 0;
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000 || !Number.isSafeInteger(offset) || offset < 0) {
      return refuse("BAD_PAGE", "limit must be 1-10000 and offset a non-negative integer");
    }
    return ok({ entries: this.#d.db.auditOf(s.value.subject, limit, offset) });
  }
}
