/**
 * @module Electronic licences (电子证照, DESIGN.md §5): the fields each type requires. Fields are a flat
 * JSON object of strings; required ones are checked, others kept as given.
 */
import type { KindName } from "./wire/code.ts";
import type { LicenceType } from "./scenes.ts";

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
