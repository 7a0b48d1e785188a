/**
 * Identity numbers (GB 11643-1999 resident ID, GB 32100-2015 unified social credit code) and the
 * DESIGN.md §2 subject pseudonym, checked against the standards' own examples and an independent HMAC.
 */
import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { checkIdNumber, checkResidentId, checkUscc, subjectPseudonym } from "../src/identity.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("GB 11643 resident ID", () => {
  test('the standard\'s example "11010519491231002X" is valid', () => {
    expect(checkResidentId("11010519491231002X")).toEqual({ ok: true, normalised: "11010519491231002X" });
  });
  test("another valid number with a digit check character", () => {
    // 50010320050101123 → Σ aᵢ·Wᵢ mod 11 = 8 → check character "4" (GB 11643 §8.2)
    expect(checkResidentId("500103200501011234")).toEqual({ ok: true, normalised: "500103200501011234" });
  });
  test("a lower-case x is normalised to X", () => {
    expect(checkResidentId("11010519491231002x")).toEqual({ ok: true, normalised: "11010519491231002X" });
  });
  test("every wrong check character is refused with a reason", () => {
    for (const c of "0123456789") {
      const r = checkResidentId("11010519491231002" + c);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason.length).toBeGreaterThan(0);
    }
    expect(checkResidentId("500103200501011235").ok).toBe(false);
    expect(checkResidentId("50010320050101123X").ok).toBe(false);
  });
  test("a changed digit in the body is caught by the check digit", () => {
    expect(checkResidentId("11010519491231003X").ok).toBe(false);
    expect(checkResidentId("21010519491231002X").ok).toBe(false);
  });
  test("17 and 19 characters are refused", () => {
    expect(checkResidentId("11010519491231002").ok).toBe(false);
    expect(checkResidentId("11010519491231002X0").ok).toBe(false);
    expect(checkResidentId("").ok).toBe(false);
  });
  test("letters in the 17-digit body are refused whatever the check character", () => {
    for (const c of "0123456789X") {
      expect(checkResidentId("1101051949123100A" + c).ok).toBe(false);
      expect(checkResidentId("A1010519491231002" + c).ok).toBe(false);
    }
    expect(checkResidentId("11010519491231002Y").ok).toBe(false);
  });
});

describe("GB 32100 unified social credit code", () => {
  test('"91350100M000100Y43" is valid', () => {
    expect(checkUscc("91350100M000100Y43")).toEqual({ ok: true, normalised: "91350100M000100Y43" });
  });
  test("lower case is normalised", () => {
    expect(checkUscc("91350100m000100y43")).toEqual({ ok: true, normalised: "91350100M000100Y43" });
  });
  test("every wrong check character is refused with a reason", () => {
    for (const c of "0123456789ABCDEFGHJKLMNPQRTUWXY") {
      if (c === "3") continue;
      const r = checkUscc("91350100M000100Y4" + c);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason.length).toBeGreaterThan(0);
    }
  });
  test("a changed character in the body is caught by the check character", () => {
    expect(checkUscc("91350100M000100Y53").ok).toBe(false);
    expect(checkUscc("92350100M000100Y43").ok).toBe(false);
  });
  test("the forbidden letters I, O, S, V, Z are refused in the body and as the check character", () => {
    for (const bad of "IOSVZ") {
      // no check character makes a body with a forbidden letter valid
      for (const c of "0123456789ABCDEFGHJKLMNPQRTUWXYIOSVZ") {
        expect(checkUscc("91350100" + bad + "000100Y4" + c).ok).toBe(false);
      }
      expect(checkUscc("91350100M000100Y4" + bad).ok).toBe(false);
    }
  });
  test("wrong lengths are refused", () => {
    expect(checkUscc("91350100M000100Y4").ok).toBe(false);
    expect(checkUscc("91350100M000100Y430").ok).toBe(false);
  });
  test("checkIdNumber picks the standard by kind", () => {
    expect(checkIdNumber("person", "11010519491231002X").ok).toBe(true);
    expect(checkIdNumber("enterprise", "91350100M000100Y43").ok).toBe(true);
    expect(checkIdNumber("person", "91350100M000100Y43").ok).toBe(false);
    expect(checkIdNumber("enterprise", "11010519491231002X").ok).toBe(false);
  });
});

describe("subject pseudonym (DESIGN.md §2)", () => {
  const secret = new Uint8Array(32).map((_, i) => i + 1);
  const other = new Uint8Array(32).map((_, i) => 255 - i);
  const ID = "11010519491231002X";

  test("16 bytes, deterministic", () => {
    const a = subjectPseudonym(secret, "person", ID);
    expect(a).toBeInstanceOf(Uint8Array);
    expect(a.length).toBe(16);
    expect(hex(subjectPseudonym(secret, "person", ID))).toBe(hex(a));
  });
  test("differs by kind byte, by secret and by ID number", () => {
    const a = hex(subjectPseudonym(secret, "person", ID));
    expect(hex(subjectPseudonym(secret, "enterprise", ID))).not.toBe(a);
    expect(hex(subjectPseudonym(other, "person", ID))).not.toBe(a);
    expect(hex(subjectPseudonym(secret, "person", "500103200501011234"))).not.toBe(a);
  });
  test("equals the first 16 bytes of HMAC-SHA256(secret, kind byte ‖ ID) computed independently", () => {
    const expected = (kindByte: number, id: string, key: Uint8Array) =>
      createHmac("sha256", key).update(Buffer.concat([Buffer.from([kindByte]), Buffer.from(id, "ascii")])).digest().subarray(0, 16).toString("hex");
    expect(hex(subjectPseudonym(secret, "person", ID))).toBe(expected(1, ID, secret));
    expect(hex(subjectPseudonym(secret, "enterprise", "91350100M000100Y43"))).toBe(expected(2, "91350100M000100Y43", secret));
    expect(hex(subjectPseudonym(other, "person", ID))).toBe(expected(1, ID, other));
  });
});
