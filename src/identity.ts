/**
 * @module Identity numbers and subject pseudonyms: GB 11643-1999 resident ID numbers (persons),
 * GB 32100-2015 unified social credit codes (enterprises), and the §2 subject pseudonym.
 */
import { createHmac } from "node:crypto";
import { KIND_ENTERPRISE, KIND_PERSON, type KindName } from "./wire/code.ts";

/** GB 11643-1999 §8.2: weights W_i = 2^(17-i) mod 11 and the check character for sum mod 11. */
const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = "10X98765432";

/** GB 32100-2015 §4: the 31-character set (no I, O, S, V, Z) and weights 3^(i) mod 31. */
const USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

export type IdCheck = { ok: true; normalised: string } | { ok: false; reason: string };

/** A person's 18-character resident ID number, checksum verified (GB 11643). Lower-case x is normalised. */
export function checkResidentId(raw: string): IdCheck {
  const id = raw.trim().toUpperCase();
  if (!/^[0-9]{17}[0-9X]$/.test(id)) {
    return { ok: false, reason: "idNumber must be an 18-character resident ID number (17 digits and a check digit 0-9 or X, GB 11643)" };
  }
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (id.charCodeAt(i) - 48) * ID_WEIGHTS[i]!;
  if (ID_CHECK[sum % 11] !== id[17]) return { ok: false, reason: "idNumber check digit is wrong (GB 11643)" };
  return { ok: true, normalised: id };
}

/** An enterprise's 18-character unified social credit code, checksum verified (GB 32100). */
export function checkUscc(raw: string): IdCheck {
  const code = raw.trim().toUpperCase();
  if (!/^[0-9A-HJ-NPQRTUWXY]{18}$/.test(code)) {
    return { ok: false, reason: "idNumber must be an 18-character unified social credit code (GB 32100 character set)" };
  }
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += USCC_CHARSET.indexOf(code[i]!) * USCC_WEIGHTS[i]!;
  const check = (31 - (sum % 31)) % 31;
  if (USCC_CHARSET[check] !== code[17]) return { ok: false, reason: "idNumber check character is wrong (GB 32100)" };
  return { ok: true, normalised: code };
}

export function kindByte(kind: KindName): number {
  return kind === "person" ? KIND_PERSON : KIND_ENTERPRISE;
}

/** The check for a kind: resident ID for a person, USCC for an enterprise. */
export function checkIdNumber(kind: KindName, raw: string): IdCheck {
  return kind === "person" ? checkResidentId(raw) : checkUscc(raw);
}

/** §2 subject: first 16 bytes of HMAC-SHA256(issuer subject secret, kind byte ‖ normalised ID number). */
export function subjectPseudonym(secret: Uint8Array, kind: KindName, normalisedId: string): Uint8Array {
  const h = createHmac("sha256", secret);
  h.update(new Uint8Array([kindByte(kind)]));
  h.update(normalisedId, "utf8");
  return new Uint8Array(h.digest().subarray(0, 16));
}
