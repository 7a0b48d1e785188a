/**
 * @module msgpack as gateways send it (spec §4): plain maps with string keys, arrays, strings, `bin`
 * (↔ Uint8Array), integers, floats, booleans and nil — nothing else.
 *
 * Encoding (our answers) uses msgpackr. Decoding untrusted bodies and frames does not: msgpackr decodes its
 * record definitions and its structured-clone, pointer, bundled-string, Set, RegExp, typed-array and error
 * extensions whatever the options say (its extension table is global), and a few hundred bytes of pointers
 * expand into a graph that blocks the event loop and fills memory when it is walked or re-packed. So the
 * decoder here is written by hand: it refuses every extension type and the reserved byte, bounds nesting,
 * and can never produce more values than the input has bytes (no value refers to another), so what one
 * body expands to is linear in its size.
 */
import { Packr } from "msgpackr";

export const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });

/** Deepest nesting a decoded value may have (a batch is 3 deep: {scans: [{code, at}]}). */
export const MAX_DEPTH = 32;

/** Why bytes are not a msgpack value of the accepted subset. */
export class MsgpackError extends Error {
  override readonly name = "MsgpackError";
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Decodes exactly one value of the subset from `bytes` (trailing bytes are an error). Throws
 * MsgpackError for anything else: an extension, 0xc1, a truncated value, a non-string map key, invalid
 * UTF-8, nesting deeper than MAX_DEPTH.
 */
export function decodeStrict(bytes: Uint8Array): unknown {
  const r = new Reader(bytes);
  const v = r.value(0);
  if (r.pos !== bytes.length) throw new MsgpackError("trailing bytes after the value");
  return v;
}

class Reader {
  pos = 0;
  readonly #b: Uint8Array;
  readonly #v: DataView;

  constructor(b: Uint8Array) {
    this.#b = b;
    this.#v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  #need(n: number): number {
    const at = this.pos;
    if (at + n > this.#b.length) throw new MsgpackError("truncated value");
    this.pos = at + n;
    return at;
  }

  #str(n: number): string {
    const at = this.#need(n);
    try {
      return UTF8.decode(this.#b.subarray(at, at + n));
    } catch {
      throw new MsgpackError("a string is not valid UTF-8");
    }
  }

  #bin(n: number): Uint8Array {
    const at = this.#need(n);
    return this.#b.subarray(at, at + n);
  }

  #array(n: number, depth: number): unknown[] {
    // every element takes at least one byte: a declared length beyond the input is refused before allocating
    if (n > this.#b.length - this.pos) throw new MsgpackError("truncated array");
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) out[i] = this.value(depth + 1);
    return out;
  }

  #map(n: number, depth: number): Record<string, unknown> {
    if (2 * n > this.#b.length - this.pos) throw new MsgpackError("truncated map");
    const out: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const k = this.value(depth + 1);
      if (typeof k !== "string") throw new MsgpackError("a map key is not a string");
      const v = this.value(depth + 1);
      // an own property even for "__proto__", as JSON.parse makes it
      if (k === "__proto__") Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
      else out[k] = v;
    }
    return out;
  }

  value(depth: number): unknown {
    if (depth > MAX_DEPTH) throw new MsgpackError(`nested deeper than ${MAX_DEPTH}`);
    const t = this.#b[this.#need(1)]!;
    if (t <= 0x7f) return t;
    if (t >= 0xe0) return t - 0x100;
    if (t <= 0x8f) return this.#map(t & 0x0f, depth);
    if (t <= 0x9f) return this.#array(t & 0x0f, depth);
    if (t <= 0xbf) return this.#str(t & 0x1f);
    const v = this.#v;
    switch (t) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return this.#bin(this.#b[this.#need(1)]!);
      case 0xc5: return this.#bin(v.getUint16(this.#need(2)));
      case 0xc6: return this.#bin(v.getUint32(this.#need(4)));
      case 0xca: return v.getFloat32(this.#need(4));
      case 0xcb: return v.getFloat64(this.#need(8));
      case 0xcc: return this.#b[this.#need(1)]!;
      case 0xcd: return v.getUint16(this.#need(2));
      case 0xce: return v.getUint32(this.#need(4));
      case 0xcf: return Number(v.getBigUint64(this.#need(8)));
      case 0xd0: return v.getInt8(this.#need(1));
      case 0xd1: return v.getInt16(this.#need(2));
      case 0xd2: return v.getInt32(this.#need(4));
      case 0xd3: return Number(v.getBigInt64(this.#need(8)));
      case 0xd9: return this.#str(this.#b[this.#need(1)]!);
      case 0xda: return this.#str(v.getUint16(this.#need(2)));
      case 0xdb: return this.#str(v.getUint32(this.#need(4)));
      case 0xdc: return this.#array(v.getUint16(this.#need(2)), depth);
      case 0xdd: return this.#array(v.getUint32(this.#need(4)), depth);
      case 0xde: return this.#map(v.getUint16(this.#need(2)), depth);
      case 0xdf: return this.#map(v.getUint32(this.#need(4)), depth);
      default:
        // 0xc1 (never used), 0xc7-0xc9 and 0xd4-0xd8 (extensions: none is accepted)
        throw new MsgpackError(t === 0xc1 ? "the reserved byte 0xc1" : `extension types are not accepted (0x${t.toString(16)})`);
    }
  }
}
