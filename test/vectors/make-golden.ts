/**
 * Writes `golden.json` beside this file: YK1 codes (DESIGN.md §2) made from fixed keys and fields, for
 * other implementations to check themselves against. Ed25519 (RFC 8032) is deterministic, so running
 * this again writes the same file. Run: `bun test/vectors/make-golden.ts`.
 *
 * Keys: issuer seed 0x01..0x20, device seed 0x21..0x40, subject secret 0x41..0x60 (all 32 bytes).
 * `test/wire/code.test.ts` re-derives every case and expects byte equality.
 */
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { privateKeyFromSeed, rawPublicKey, sign } from "../../src/crypto/ed25519.ts";
import { Holder } from "../../src/holder/holder.ts";
import { subjectPseudonym } from "../../src/identity.ts";
import {
  CREDENTIAL_LENGTH, credentialMessage, encodeCredentialBody, KIND_ENTERPRISE, KIND_PERSON, presentationMessage, toText,
} from "../../src/wire/code.ts";

const seq = (from: number) => Uint8Array.from({ length: 32 }, (_, i) => from + i);
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const fromHex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));

export const ISSUER_SEED = seq(0x01);
export const DEVICE_SEED = seq(0x21);
export const SUBJECT_SECRET = seq(0x41);

/** 2026-11-24T00:00:00Z. */
const T0 = 1795478400;

/** The fixed inputs of each case; everything else in the file is derived from these. */
export const CASES = [
  {
    name: "person",
    description: "natural person, no flags, first presentation, no consent",
    kind: KIND_PERSON, idNumber: "11010519491231002X", issuer: 500000, kid: 1, serial: "0102030405060708",
    notBefore: T0, notAfter: T0 + 365 * 86400, flags: 0, time: T0 + 3600, counter: 1, consent: 0,
  },
  {
    name: "enterprise",
    description: "legal entity (GB 32100 code), consent to business-licence (bit 4)",
    kind: KIND_ENTERPRISE, idNumber: "91350100M000100Y43", issuer: 500000, kid: 1, serial: "f1e2d3c4b5a69788",
    notBefore: T0, notAfter: T0 + 3 * 365 * 86400, flags: 0, time: T0 + 86400 + 7, counter: 300, consent: 0x0010,
  },
  {
    name: "card-senior",
    description: "resident service card (flag card, bit 4) of a senior (bit 0): flags 0x0011",
    kind: KIND_PERSON, idNumber: "11010519491231002X", issuer: 500000, kid: 1, serial: "8000000000000001",
    notBefore: T0 - 86400, notAfter: T0 + 10 * 365 * 86400, flags: 0x0011, time: T0 + 120, counter: 0x01020304, consent: 0,
  },
  {
    name: "consent",
    description: "student (bit 1) with consent bits 0 identity-card, 5 medical-insurance, 7 student-card: 0x00a1",
    kind: KIND_PERSON, idNumber: "500103200501011234", issuer: 500000, kid: 1, serial: "00ff00ff00ff00ff",
    notBefore: T0, notAfter: T0 + 30 * 86400, flags: 0x0002, time: T0 + 59, counter: 4294967295, consent: 0x00a1,
  },
] as const;

export function buildGolden() {
  const issuerKey = privateKeyFromSeed(ISSUER_SEED);
  const deviceKey = privateKeyFromSeed(DEVICE_SEED);
  const issuerPub = rawPublicKey(issuerKey);
  const devicePub = rawPublicKey(deviceKey);
  const cases = CASES.map((c) => {
    const kindName = c.kind === KIND_PERSON ? "person" : "enterprise";
    const subject = subjectPseudonym(SUBJECT_SECRET, kindName, c.idNumber);
    const body = encodeCredentialBody({
      kind: c.kind, issuer: c.issuer, kid: c.kid, serial: fromHex(c.serial), subject, devicePub,
      notBefore: c.notBefore, notAfter: c.notAfter, flags: c.flags,
    });
    const credMsg = credentialMessage(body);
    const credential = new Uint8Array(CREDENTIAL_LENGTH);
    credential.set(body, 0);
    credential.set(sign(issuerKey, credMsg), 74);
    const code = new Holder(deviceKey, credential).present(c.time, c.consent, c.counter);
    return {
      name: c.name,
      description: c.description,
      issuerSeed: hex(ISSUER_SEED),
      issuerPublicKey: hex(issuerPub),
      deviceSeed: hex(DEVICE_SEED),
      devicePublicKey: hex(devicePub),
      subjectSecret: hex(SUBJECT_SECRET),
      idNumber: c.idNumber,
      fields: {
        version: 1, kind: c.kind, issuer: c.issuer, kid: c.kid, serial: c.serial, subject: hex(subject),
        devicePub: hex(devicePub), notBefore: c.notBefore, notAfter: c.notAfter, flags: c.flags,
        time: c.time, counter: c.counter, consent: c.consent,
      },
      credentialMessage: hex(credMsg),
      credential: hex(credential),
      presentationMessage: hex(presentationMessage(code)),
      code: hex(code),
      text: toText(code),
    };
  });
  return {
    description: "Yukuai Code YK1 golden vectors (DESIGN.md §2). Messages are the exact bytes each Ed25519 (RFC 8032, pure) "
      + "signature covers: ASCII 'YK1-credential' ‖ credential bytes 0..73, and ASCII 'YK1-presentation' ‖ code bytes 0..147. "
      + "subject = first 16 bytes of HMAC-SHA256(subjectSecret, kind byte ‖ idNumber). All hex is lowercase; integers in the bytes are big-endian.",
    generator: "test/vectors/make-golden.ts",
    cases,
  };
}

if (import.meta.main) {
  const out = resolve(import.meta.dir, "golden.json");
  writeFileSync(out, JSON.stringify(buildGolden(), null, 2) + "\n");
  console.log(`wrote ${out}`);
}
