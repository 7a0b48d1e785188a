/**
 * @module Base45 (RFC 9285), strict.
 *
 * Hand-written because it is on the hot path (every scan) and because the kept npm `base45` package does
 * not reject what RFC 9285 §4.3 says a decoder must reject (characters outside the alphabet, triples worth
 * more than 65535, a dangling single character); `test/wire/base45.test.ts` checks both agree on valid
 * input and `bench/micro.ts` measures both.
 */

/** RFC 9285 §4: the 45-character alphabet. */
export const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

const ENCODE = new Uint8Array(45);
/** char code → value, 255 where the character is not in the alphabet. */
const DECODE = new Uint8Array(128).fill(255);
for (let i = 0; i < 45; i++) {
  ENCODE[i] = ALPHABET.charCodeAt(i);
  DECODE[ALPHABET.charCodeAt(i)] = i;
}

/** Length of the Base45 text of `n` bytes: 3 characters per 2 bytes, 2 for a trailing byte. */
export function encodedLength(n: number): number {
  return ((n / 2) | 0) * 3 + (n % 2) * 2;
}

/** RFC 9285 §4: encode bytes as Base45 text. */
export function encode(bytes: Uint8Array): string {
  const out = new Uint8Array(encodedLength(bytes.length));
  let o = 0;
  let i = 0;
  for (; i + 1 < bytes.length; i += 2) {
    let x = (bytes[i]! << 8) | bytes[i + 1]!;
    const c = x % 45;
    x = (x - c) / 45;
    const d = x % 45;
    out[o++] = ENCODE[c]!;
    out[o++] = ENCODE[d]!;
    out[o++] = ENCODE[(x - d) / 45]!;
  }
  if (i < bytes.length) {
    const x = bytes[i]!;
    out[o++] = ENCODE[x % 45]!;
    out[o++] = ENCODE[(x / 45) | 0]!;
  }
  return String.fromCharCode.apply(null, out as unknown as number[]);
}

/**
 * RFC 9285 §4.2: decode `text` from character `start` on into `out` (which must hold exactly the
 * decoded length). Returns false for anything §4.3 calls invalid: a length ≡ 1 (mod 3), a character
 * outside the alphabet, or a group worth more than 65535 (or 255 for a final pair).
 */
export function decodeInto(text: string, start: number, out: Uint8Array): boolean {
  const n = text.length - start;
  if (n % 3 === 1) return false;
  if (((n / 3) | 0) * 2 + (n % 3 === 2 ? 1 : 0) !== out.length) return false;
  let o = 0;
  let i = start;
  const end = text.length;
  for (; i + 2 < end; i += 3) {
    const a = text.charCodeAt(i), b = text.charCodeAt(i + 1), c = text.charCodeAt(i + 2);
    if ((a | b | c) > 127) return false;
    const va = DECODE[a]!, vb = DECODE[b]!, vc = DECODE[c]!;
    if ((va | vb | vc) === 255) return false;
    const x = va + vb * 45 + vc * 2025;
    if (x > 0xffff) return false;
    out[o++] = x >> 8;
    out[o++] = x & 0xff;
  }
  if (i < end) {
    const a = text.charCodeAt(i), b = text.charCodeAt(i + 1);
    if ((a | b) > 127) return false;
    const va = DECODE[a]!, vb = DECODE[b]!;
    if ((va | vb) === 255) return false;
    const x = va + vb * 45;
    if (x > 0xff) return false;
    out[o++] = x;
  }
  return true;
}

/** Decoded length of a Base45 text of `n` characters, or -1 when no byte string encodes to `n` characters. */
export function decodedLength(n: number): number {
  if (n % 3 === 1) return -1;
  return ((n / 3) | 0) * 2 + (n % 3 === 2 ? 1 : 0);
}

/** RFC 9285 §4.2: decode a whole Base45 text; null when invalid. */
export function decode(text: string): Uint8Array | null {
  const len = decodedLength(text.length);
  if (len < 0) return null;
  const out = new Uint8Array(len);
  return decodeInto(text, 0, out) ? out : null;
}
