/**
 * The strict msgpack decoder (src/wire/msgpack.ts): the subset gateways send decodes exactly as msgpackr
 * packs it; every extension type, the reserved byte, truncation, non-string keys, invalid UTF-8 and deep
 * nesting are refused with MsgpackError; and no body expands to more values than it has bytes.
 */
import { describe, expect, test } from "bun:test";
import { Packr } from "msgpackr";
import { decodeStrict, MAX_DEPTH, MsgpackError, packr } from "../../src/wire/msgpack.ts";
import { rng } from "../support/rng.ts";

const bytes = (...b: number[]) => new Uint8Array(b);

describe("the accepted subset", () => {
  test("decodes what msgpackr packs: maps, arrays, strings, bin, integers of every width, floats, booleans, nil", () => {
    const values: unknown[] = [
      0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1,
      0.5, -1.25, 1e300, Number.MAX_VALUE, true, false, null, "", "a", "x".repeat(31), "x".repeat(32), "x".repeat(255), "x".repeat(256), "x".repeat(70000),
      "渝快码", new Uint8Array(0), new Uint8Array(212).fill(7), new Uint8Array(70000), [], [1, [2, [3]]], Array.from({ length: 70000 }, (_, i) => i % 100),
      {}, { scans: ["YK1:abc", { code: "YK1:def", at: 1795478400 }] }, Object.fromEntries(Array.from({ length: 70000 }, (_, i) => [`k${i}`, i])),
    ];
    const wide = new Packr({ useRecords: false, variableMapSize: true });
    for (const v of values) expect(decodeStrict(wide.pack(v))).toEqual(v);
    expect(decodeStrict(packr.pack(values.slice(0, 40)))).toEqual(values.slice(0, 40)); // and the node's own packer
  });

  test("a float32 decodes to its value", () => {
    expect(decodeStrict(bytes(0xca, 0x3f, 0xc0, 0x00, 0x00))).toBe(1.5);
  });

  test("a key named __proto__ is an own property, as JSON.parse makes it; no prototype is changed", () => {
    const v = decodeStrict(bytes(0x81, 0xa9, ...new TextEncoder().encode("__proto__"), 0x81, 0xa1, 0x78, 0x01)) as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.keys(v)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});

describe("refused", () => {
  const refused = (b: Uint8Array) => expect(() => decodeStrict(b)).toThrow(MsgpackError);

  test("every extension type: fixext 1/2/4/8/16 and ext 8/16/32, whatever the type byte (msgpackr's records, pointers, structured clone, bundles, timestamps)", () => {
    for (let type = 0; type < 256; type++) {
      for (const [tok, len] of [[0xd4, 1], [0xd5, 2], [0xd6, 4], [0xd7, 8], [0xd8, 16]] as const) refused(bytes(tok, type, ...new Array(len).fill(0)));
      refused(bytes(0xc7, 1, type, 0));
      refused(bytes(0xc8, 0, 1, type, 0));
      refused(bytes(0xc9, 0, 0, 0, 1, type, 0));
    }
  });

  test("what msgpackr's default and structured-clone encoders make of shared references and records", () => {
    const shared = { a: "x".repeat(10) };
    const graph = { scans: [shared, shared, shared] };
    for (const p of [new Packr(), new Packr({ structuredClone: true }), new Packr({ useRecords: true }), new Packr({ bundleStrings: true })]) {
      const b = p.pack(graph);
      const ours = (() => { try { return decodeStrict(b); } catch (e) { return e; } })();
      // either refused, or decoded as plain data no larger than its input
      if (ours instanceof MsgpackError) continue;
      expect(JSON.stringify(ours).length).toBeLessThan(b.length * 8);
    }
    refused(new Packr({ structuredClone: true }).pack({ a: new Set([1]) }));
    refused(new Packr({ structuredClone: true }).pack({ a: /x/ }));
    refused(new Packr().pack(new Date(0)));
  });

  test("the reserved byte, truncation, trailing bytes, declared lengths beyond the input (2^32 included)", () => {
    refused(bytes(0xc1));
    refused(bytes());
    for (const b of [bytes(0xd9, 5, 0x61), bytes(0xc4, 3, 1), bytes(0xcd, 1), bytes(0xcb, 0, 0), bytes(0x92, 1), bytes(0x82, 0xa1, 0x61)]) refused(b);
    refused(bytes(0x01, 0x02));
    for (const tok of [0xdb, 0xc6, 0xdd, 0xdf]) refused(bytes(tok, 0xff, 0xff, 0xff, 0xff));
  });

  test("a map key that is not a string, invalid UTF-8", () => {
    refused(bytes(0x81, 0x01, 0x02));
    refused(bytes(0x81, 0x90, 0x02));
    refused(bytes(0xa2, 0xc3, 0x28));
    refused(bytes(0xa1, 0xff));
  });

  test(`nesting deeper than ${MAX_DEPTH}; ${MAX_DEPTH} is fine`, () => {
    expect(() => decodeStrict(new Uint8Array([...new Array(MAX_DEPTH).fill(0x91), 0x00]))).not.toThrow();
    refused(new Uint8Array([...new Array(MAX_DEPTH + 1).fill(0x91), 0x00]));
    refused(new Uint8Array(1 << 20).fill(0x91)); // a megabyte of nested arrays: refused at depth 33, no stack overflow
  });
});

describe("any bytes", () => {
  test("seeded: 20,000 random and mutated inputs either decode to at most one value per byte or throw MsgpackError, nothing else", () => {
    const r = rng(0x6d7067);
    const seeds = [packr.pack({ scans: ["YK1:x", { code: new Uint8Array(212), at: 1 }] }), packr.pack([1, 2, { a: "b" }]), packr.pack("x".repeat(40))];
    const count = (v: unknown): number => (Array.isArray(v) ? 1 + v.reduce((s: number, x) => s + count(x), 0)
      : v !== null && typeof v === "object" && !(v instanceof Uint8Array) ? 1 + Object.values(v).reduce((s: number, x) => s + 1 + count(x), 0) : 1);
    for (let i = 0; i < 20_000; i++) {
      let b: Uint8Array;
      if (i % 2 === 0) {
        b = new Uint8Array(1 + Math.floor(r() * 64));
        for (let k = 0; k < b.length; k++) b[k] = Math.floor(r() * 256);
      } else {
        b = seeds[i % seeds.length]!.slice();
        for (let m = 0; m < 1 + Math.floor(r() * 4); m++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
      }
      try {
        const v = decodeStrict(b);
        expect(count(v)).toBeLessThanOrEqual(b.length);
      } catch (e) {
        if (!(e instanceof MsgpackError)) throw new Error(`input ${Buffer.from(b).toString("hex")} threw ${(e as Error).name}: ${(e as Error).message}`);
      }
    }
  });
});
