/**
 * Base45 (RFC 9285): the RFC's own examples, round trips, agreement with the npm `base45` package on
 * valid input, and the §4.3 rejections the hand-written decoder must make.
 */
import { describe, expect, test } from "bun:test";
import { createRequire } from "node:module";
import { ALPHABET, decode, decodedLength, decodeInto, encode, encodedLength } from "../../src/wire/base45.ts";
import { rng } from "../support/rng.ts";

/** The npm base45 package (CommonJS) ships no type declarations: required, and typed as used here. */
const base45 = createRequire(import.meta.url)("base45") as { encode(bytes: Uint8Array): string; decode(text: string): Buffer };

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

function randomBytes(r: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

describe("RFC 9285 §4.3 examples", () => {
  test('"AB" encodes as "BB8"', () => {
    expect(encode(utf8("AB"))).toBe("BB8");
  });
  test('"Hello!!" encodes as "%69 VD92EX0"', () => {
    expect(encode(utf8("Hello!!"))).toBe("%69 VD92EX0");
  });
  test('"base-45" encodes as "UJCLQE7W581"', () => {
    expect(encode(utf8("base-45"))).toBe("UJCLQE7W581");
  });
  test('"QED8WEX0" decodes as "ietf!"', () => {
    const out = decode("QED8WEX0");
    expect(out).not.toBeNull();
    expect(text(out!)).toBe("ietf!");
  });
  test("the examples decode back", () => {
    expect(text(decode("BB8")!)).toBe("AB");
    expect(text(decode("%69 VD92EX0")!)).toBe("Hello!!");
    expect(text(decode("UJCLQE7W581")!)).toBe("base-45");
  });
});

describe("edges", () => {
  test("empty input encodes to empty text and back", () => {
    expect(encode(new Uint8Array(0))).toBe("");
    const out = decode("");
    expect(out).not.toBeNull();
    expect(out!.length).toBe(0);
  });
  test("the alphabet is RFC 9285 §4's 45 characters", () => {
    expect(ALPHABET).toBe("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:");
  });
  test("boundary groups: 65535 is FGW, 255 is U5, 0 is 000 / 00", () => {
    expect(encode(new Uint8Array([0xff, 0xff]))).toBe("FGW");
    expect(Array.from(decode("FGW")!)).toEqual([0xff, 0xff]);
    expect(encode(new Uint8Array([0xff]))).toBe("U5");
    expect(Array.from(decode("U5")!)).toEqual([0xff]);
    expect(encode(new Uint8Array([0, 0]))).toBe("000");
    expect(encode(new Uint8Array([0]))).toBe("00");
  });
  test("encodedLength and decodedLength agree with the codec", () => {
    for (let n = 0; n < 40; n++) {
      expect(encodedLength(n)).toBe(encode(new Uint8Array(n)).length);
      expect(decodedLength(encodedLength(n))).toBe(n);
    }
    expect(decodedLength(1)).toBe(-1);
    expect(decodedLength(4)).toBe(-1);
  });
});

describe("round trips", () => {
  test("random inputs of every length 0..300 decode back to themselves", () => {
    const r = rng(9285);
    for (let n = 0; n <= 300; n++) {
      const bytes = randomBytes(r, n);
      const t = encode(bytes);
      expect(t.length).toBe(encodedLength(n));
      for (const ch of t) expect(ALPHABET.includes(ch)).toBe(true);
      const back = decode(t);
      expect(back).not.toBeNull();
      expect(Buffer.from(back!).equals(Buffer.from(bytes))).toBe(true);
      const into = new Uint8Array(n);
      expect(decodeInto(t, 0, into)).toBe(true);
      expect(Buffer.from(into).equals(Buffer.from(bytes))).toBe(true);
    }
  });
  test("decodeInto starts at the given offset", () => {
    const bytes = utf8("Hello!!");
    const out = new Uint8Array(bytes.length);
    expect(decodeInto("YK1:" + encode(bytes), 4, out)).toBe(true);
    expect(text(out)).toBe("Hello!!");
  });
});

describe("agreement with the npm base45 package", () => {
  test("same text for random inputs, and each decodes the other's text", () => {
    const r = rng(45);
    for (let k = 0; k < 500; k++) {
      const n = Math.floor(r() * 260);
      const bytes = randomBytes(r, n);
      const ours = encode(bytes);
      const theirs: string = base45.encode(Buffer.from(bytes));
      expect(ours).toBe(theirs);
      expect(Buffer.from(decode(theirs)!).equals(Buffer.from(bytes))).toBe(true);
      expect(Buffer.from(base45.decode(ours)).equals(Buffer.from(bytes))).toBe(true);
    }
  });
  test("same bytes for random valid texts (every triple ≤ 65535, final pair ≤ 255)", () => {
    const r = rng(4545);
    const ch = (v: number) => ALPHABET[v]!;
    for (let k = 0; k < 500; k++) {
      let t = "";
      const groups = Math.floor(r() * 100);
      for (let g = 0; g < groups; g++) {
        const x = Math.floor(r() * 65536);
        t += ch(x % 45) + ch(Math.floor(x / 45) % 45) + ch(Math.floor(x / 2025));
      }
      if (r() < 0.5) {
        const x = Math.floor(r() * 256);
        t += ch(x % 45) + ch(Math.floor(x / 45));
      }
      const ours = decode(t);
      expect(ours).not.toBeNull();
      expect(Buffer.from(ours!).equals(base45.decode(t))).toBe(true);
      expect(encode(ours!)).toBe(t);
    }
  });
});

describe("RFC 9285 §4.3 rejections", () => {
  const bad: Array<[string, string]> = [
    ["lower-case letter", "aB8"],
    ["lower-case letter in the final pair", "BB8a0"],
    ["'~'", "BB~"],
    ["a non-ASCII character", "BBé"],
    ["a non-ASCII character beyond Latin-1", "BB码"],
    ["a non-ASCII character whose low 7 bits are 'A' (U+0141)", "BB\u0141"],
    ["length 1", "B"],
    ["length 4 (≡ 1 mod 3)", "BB8B"],
    ["length 7 (≡ 1 mod 3)", "BB8BB8B"],
    ['a triple worth 91124 (":::")', ":::"],
    ["a triple worth 65536 (GGW)", "GGW"],
    ["a too-large triple after a good one", "BB8:::"],
    ['a final pair worth 2024 ("::")', "::"],
    ["a final pair worth 256 (V5)", "V5"],
    ["a too-large final pair after a good triple", "BB8::"],
  ];
  for (const [what, t] of bad) {
    test(`decode → null and decodeInto → false for ${what}`, () => {
      expect(decode(t)).toBeNull();
      const n = Math.max(0, decodedLength(t.length));
      expect(decodeInto(t, 0, new Uint8Array(n))).toBe(false);
    });
  }
  test("decodeInto refuses an output of the wrong length", () => {
    expect(decodeInto("BB8", 0, new Uint8Array(1))).toBe(false);
    expect(decodeInto("BB8", 0, new Uint8Array(3))).toBe(false);
    expect(decodeInto("BB8", 0, new Uint8Array(0))).toBe(false);
    expect(decodeInto("%69 VD92EX0", 0, new Uint8Array(8))).toBe(false);
    expect(decodeInto("%69 VD92EX0", 0, new Uint8Array(7))).toBe(true);
  });
});
