/**
 * The code on the wire (DESIGN.md §2): golden vectors in `test/vectors/golden.json` (written by
 * `test/vectors/make-golden.ts`), re-derived here byte for byte, read back field by field from the §2
 * table, and checked with a second Ed25519 implementation (@noble/ed25519) and a second Base45 (npm
 * `base45`); then what `parseCode` must refuse as MALFORMED (§3).
 */
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import * as ed from "@noble/ed25519";
import { preparePublicKey, privateKeyFromSeed, rawPublicKey, sign, verifyStrict } from "../../src/crypto/ed25519.ts";
import { Holder } from "../../src/holder/holder.ts";
import { subjectPseudonym } from "../../src/identity.ts";
import { buildGolden } from "../vectors/make-golden.ts";
import { encode as b45encode } from "../../src/wire/base45.ts";
import {
  CODE_LENGTH, credentialMessage, encodeCredentialBody, encodePresentationBody, parseCode, presentationMessage, toText,
} from "../../src/wire/code.ts";

/** The npm base45 package (CommonJS) ships no type declarations: required, and typed as used here. */
const base45npm = createRequire(import.meta.url)("base45") as { encode(bytes: Uint8Array): string; decode(text: string): Buffer };

ed.hashes.sha512 = (m: Uint8Array) => new Uint8Array(createHash("sha512").update(m).digest());

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const fromHex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));
const ascii = (s: string) => new Uint8Array(Buffer.from(s, "ascii"));
const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

interface GoldenCase {
  name: string;
  issuerSeed: string;
  issuerPublicKey: string;
  deviceSeed: string;
  devicePublicKey: string;
  subjectSecret: string;
  idNumber: string;
  fields: {
    version: number; kind: number; issuer: number; kid: number; serial: string; subject: string; devicePub: string;
    notBefore: number; notAfter: number; flags: number; time: number; counter: number; consent: number;
  };
  credentialMessage: string;
  credential: string;
  presentationMessage: string;
  code: string;
  text: string;
}

const golden = JSON.parse(readFileSync(resolve(import.meta.dir, "../vectors/golden.json"), "utf8")) as { cases: GoldenCase[] };

test("golden.json holds the four cases", () => {
  expect(golden.cases.map((c) => c.name)).toEqual(["person", "enterprise", "card-senior", "consent"]);
});

test("golden.json is what make-golden.ts writes (regenerate with `bun test/vectors/make-golden.ts`)", () => {
  expect(JSON.parse(JSON.stringify(buildGolden()))).toEqual(golden);
});

for (const g of golden.cases) {
  describe(`golden case ${g.name}`, () => {
    test("keys derive from the seeds (src and noble agree)", () => {
      expect(hex(rawPublicKey(privateKeyFromSeed(fromHex(g.issuerSeed))))).toBe(g.issuerPublicKey);
      expect(hex(rawPublicKey(privateKeyFromSeed(fromHex(g.deviceSeed))))).toBe(g.devicePublicKey);
      expect(hex(ed.getPublicKey(fromHex(g.issuerSeed)))).toBe(g.issuerPublicKey);
      expect(hex(ed.getPublicKey(fromHex(g.deviceSeed)))).toBe(g.devicePublicKey);
      expect(g.fields.devicePub).toBe(g.devicePublicKey);
    });

    test("subject is HMAC-SHA256(secret, kind byte ‖ idNumber)[0..16]", () => {
      const kind = g.fields.kind === 1 ? "person" : "enterprise";
      expect(hex(subjectPseudonym(fromHex(g.subjectSecret), kind, g.idNumber))).toBe(g.fields.subject);
    });

    test("credential, code, messages and text re-derive byte for byte", () => {
      const f = g.fields;
      const issuerKey = privateKeyFromSeed(fromHex(g.issuerSeed));
      const deviceKey = privateKeyFromSeed(fromHex(g.deviceSeed));
      const body = encodeCredentialBody({
        kind: f.kind, issuer: f.issuer, kid: f.kid, serial: fromHex(f.serial), subject: fromHex(f.subject),
        devicePub: fromHex(f.devicePub), notBefore: f.notBefore, notAfter: f.notAfter, flags: f.flags,
      });
      expect(body.length).toBe(74);
      const credMsg = credentialMessage(body);
      expect(hex(credMsg)).toBe(g.credentialMessage);
      const credential = concat(body, sign(issuerKey, credMsg));
      expect(credential.length).toBe(138);
      expect(hex(credential)).toBe(g.credential);

      // by the Holder, and by hand from encodePresentationBody
      const code = new Holder(deviceKey, credential).present(f.time, f.consent, f.counter);
      expect(code.length).toBe(212);
      expect(hex(code)).toBe(g.code);
      const unsigned = encodePresentationBody(credential, { time: f.time, counter: f.counter, consent: f.consent });
      const presMsg = presentationMessage(unsigned);
      expect(hex(presMsg)).toBe(g.presentationMessage);
      expect(hex(concat(unsigned.subarray(0, 148), sign(deviceKey, presMsg)))).toBe(g.code);

      expect(toText(code)).toBe(g.text);
    });

    test("the bytes match the §2 table field by field", () => {
      const f = g.fields;
      const code = fromHex(g.code);
      const v = new DataView(code.buffer, code.byteOffset, code.byteLength);
      expect(code.length).toBe(212);
      expect(code[0]).toBe(1);
      expect(code[1]).toBe(f.kind);
      expect(v.getUint32(2, false)).toBe(f.issuer);
      expect(v.getUint16(6, false)).toBe(f.kid);
      expect(hex(code.subarray(8, 16))).toBe(f.serial);
      expect(hex(code.subarray(16, 32))).toBe(f.subject);
      expect(hex(code.subarray(32, 64))).toBe(f.devicePub);
      expect(v.getUint32(64, false)).toBe(f.notBefore);
      expect(v.getUint32(68, false)).toBe(f.notAfter);
      expect(v.getUint16(72, false)).toBe(f.flags);
      expect(hex(code.subarray(0, 138))).toBe(g.credential);
      expect(v.getUint32(138, false)).toBe(f.time);
      expect(v.getUint32(142, false)).toBe(f.counter);
      expect(v.getUint16(146, false)).toBe(f.consent);
      expect(g.credentialMessage).toBe(hex(concat(ascii("YK1-credential"), code.subarray(0, 74))));
      expect(g.presentationMessage).toBe(hex(concat(ascii("YK1-presentation"), code.subarray(0, 148))));
    });

    test("the text is YK1: + Base45 of the code (checked with the npm base45 package too)", () => {
      expect(g.text.startsWith("YK1:")).toBe(true);
      expect(g.text.length).toBe(4 + 318);
      expect(hex(base45npm.decode(g.text.slice(4)))).toBe(g.code);
      const parsed = parseCode(g.text);
      expect(parsed).not.toBeNull();
      expect(hex(parsed!)).toBe(g.code);
      const raw = parseCode(fromHex(g.code));
      expect(raw).not.toBeNull();
      expect(hex(raw!)).toBe(g.code);
    });

    test("both signatures verify with verifyStrict and with noble (zip215: false)", () => {
      const code = fromHex(g.code);
      const issuerSig = code.subarray(74, 138);
      const deviceSig = code.subarray(148, 212);
      const credMsg = fromHex(g.credentialMessage);
      const presMsg = fromHex(g.presentationMessage);
      const issuerPub = fromHex(g.issuerPublicKey);
      const devicePub = fromHex(g.devicePublicKey);
      expect(verifyStrict(preparePublicKey(issuerPub), credMsg, issuerSig)).toBe(true);
      expect(verifyStrict(preparePublicKey(devicePub), presMsg, deviceSig)).toBe(true);
      expect(ed.verify(issuerSig, credMsg, issuerPub, { zip215: false })).toBe(true);
      expect(ed.verify(deviceSig, presMsg, devicePub, { zip215: false })).toBe(true);
      // RFC 8032 signatures are deterministic: noble signs the same bytes
      expect(hex(ed.sign(credMsg, fromHex(g.issuerSeed)))).toBe(hex(issuerSig));
      expect(hex(ed.sign(presMsg, fromHex(g.deviceSeed)))).toBe(hex(deviceSig));
      // and neither signature covers the other message or key
      expect(verifyStrict(preparePublicKey(devicePub), credMsg, issuerSig)).toBe(false);
      expect(ed.verify(deviceSig, credMsg, devicePub, { zip215: false })).toBe(false);
    });
  });
}

describe("parseCode refuses (MALFORMED)", () => {
  const g = golden.cases[0]!;
  const code = fromHex(g.code);
  const textOf = (bytes: Uint8Array) => "YK1:" + b45encode(bytes);
  const withByte = (at: number, value: number) => {
    const c = code.slice();
    c[at] = value;
    return c;
  };

  test("the unmodified golden text and bytes parse (control)", () => {
    expect(parseCode(g.text)).not.toBeNull();
    expect(parseCode(code.slice())).not.toBeNull();
  });
  test('a wrong prefix "YK2:"', () => {
    expect(parseCode("YK2:" + g.text.slice(4))).toBeNull();
  });
  test('a lower-case prefix "yk1:"', () => {
    expect(parseCode("yk1:" + g.text.slice(4))).toBeNull();
  });
  test("no prefix at all", () => {
    expect(parseCode(g.text.slice(4))).toBeNull();
  });
  test("a text of the wrong length (a 210- or 214-byte code, one character more or less)", () => {
    expect(parseCode(textOf(code.subarray(0, 210)))).toBeNull();
    expect(parseCode(textOf(concat(code, new Uint8Array(2))))).toBeNull();
    expect(parseCode(g.text + "0")).toBeNull();
    expect(parseCode(g.text.slice(0, -1))).toBeNull();
    expect(parseCode("")).toBeNull();
    expect(parseCode("YK1:")).toBeNull();
  });
  test("bad Base45: a character outside the alphabet, a triple over 65535", () => {
    const at = 4 + 30;
    expect(parseCode(g.text.slice(0, at) + "a" + g.text.slice(at + 1))).toBeNull();
    expect(parseCode(g.text.slice(0, at) + "~" + g.text.slice(at + 1))).toBeNull();
    expect(parseCode(g.text.slice(0, at) + "码" + g.text.slice(at + 1))).toBeNull();
    // the last triple (a group boundary: (318 − 3) is a multiple of 3) worth 91124
    expect(parseCode(g.text.slice(0, -3) + ":::")).toBeNull();
  });
  test("211 and 213 raw bytes", () => {
    expect(parseCode(code.slice(0, 211))).toBeNull();
    expect(parseCode(concat(code, new Uint8Array(1)))).toBeNull();
    expect(parseCode(new Uint8Array(0))).toBeNull();
  });
  test("version byte 2, as bytes and as text", () => {
    expect(parseCode(withByte(0, 2))).toBeNull();
    expect(parseCode(textOf(withByte(0, 2)))).toBeNull();
    expect(parseCode(withByte(0, 0))).toBeNull();
  });
  test("kind byte 0 and 3, as bytes and as text", () => {
    for (const k of [0, 3, 255]) {
      expect(parseCode(withByte(1, k))).toBeNull();
      expect(parseCode(textOf(withByte(1, k)))).toBeNull();
    }
  });
  test("kind 2 (enterprise) with a valid layout parses", () => {
    expect(parseCode(withByte(1, 2))).not.toBeNull();
    expect(parseCode(textOf(withByte(1, 2)))).not.toBeNull();
  });
  test("neither a string nor bytes: number, null, undefined, object, array", () => {
    expect(parseCode(212)).toBeNull();
    expect(parseCode(null)).toBeNull();
    expect(parseCode(undefined)).toBeNull();
    expect(parseCode({ code: g.text })).toBeNull();
    expect(parseCode(Array.from(code))).toBeNull();
    expect(parseCode(code.buffer)).toBeNull();
  });
});

describe("parseCode accepts 212 raw bytes", () => {
  const g = golden.cases[1]!;
  test("as a Uint8Array", () => {
    const out = parseCode(fromHex(g.code));
    expect(out).not.toBeNull();
    expect(out!.length).toBe(CODE_LENGTH);
    expect(hex(out!)).toBe(g.code);
  });
  test("as a Buffer", () => {
    const out = parseCode(Buffer.from(g.code, "hex"));
    expect(out).not.toBeNull();
    expect(hex(out!)).toBe(g.code);
  });
  test("as a view into a larger buffer", () => {
    const big = new Uint8Array(300);
    big.set(fromHex(g.code), 50);
    const out = parseCode(big.subarray(50, 262));
    expect(out).not.toBeNull();
    expect(hex(out!)).toBe(g.code);
  });
});
