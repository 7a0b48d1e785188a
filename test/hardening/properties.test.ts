/**
 * Property tests (fast-check, each with a fixed seed named in its test, so a failure reproduces with
 * `fc.assert(…, { seed })`): the §2 codec round-trips every field value and its scan-header readers agree
 * with its decoders; Base45 round-trips any bytes; the decoder and the whole batch route never throw on any
 * input (junk is MALFORMED, a bad body a §4 400, never a 5xx); and both replay stores give exactly the
 * answers of the plain §3 reference model (test/support/replay-model.ts) over random sequences of scans,
 * receive-time jumps past the retention, restarts and, for Redis, lost data.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RedisClient } from "bun";
import fc from "fast-check";
import { Packr } from "msgpackr";
import * as base45 from "../../src/wire/base45.ts";
import {
  CODE_LENGTH, CREDENTIAL_LENGTH, CREDENTIAL_SIGNED, consentOf, counterOf, decodeCredential, decodePresentation, devicePubOf,
  encodeCredentialBody, encodePresentationBody, issuerOf, kidOf, notBeforeOf, OFF, parseCode, serialHexOf, serialHiOf, serialLoOf,
  TEXT_LENGTH, TEXT_PREFIX, timeOf, toText, type CredentialFields, type PresentationFields,
} from "../../src/wire/code.ts";
import { memoryBeginsAfter, MemoryReplayWindow, type ReplayItem } from "../../src/verify/replay-window.ts";
import { RedisReplayStore } from "../../src/verify/redis-replay.ts";
import { json, type BatchAnswer, type ErrorAnswer, type ResultCode } from "../support/api.ts";
import { PERSON_ID, PERSON_ID_2 } from "../support/ids.ts";
import { issue, makeGateway, makeNode, req, T0, type TestNode } from "../support/node.ts";
import { startRedis, type TestRedis } from "../support/redis.ts";
import { ReplayModel } from "../support/replay-model.ts";

/** The seeds; a failing property prints its counterexample and the path to shrink from. */
const SEED = {
  codec: 0x2c0dec, rawBytes: 0x212, base45: 0x45, base45Text: 0x45_7e87, parse: 0x9a25e, parseNear: 0x9a25e2,
  batchScans: 0xba7c4, batchBodies: 0xb0d1e5, batchMsgpack: 0x3e55ac,
  memoryRoomy: 0x4303, memoryTight: 0x4303_f0, redis: 0x7ed15,
} as const;
const hex = (n: number) => `0x${n.toString(16)}`;

/** §3's result codes, as the contract names them. */
const RESULT_CODES: readonly ResultCode[] = [
  "OK", "MALFORMED", "UNKNOWN_ISSUER", "ISSUER_NOT_ACCEPTED", "BAD_ISSUER_SIGNATURE", "BAD_DEVICE_SIGNATURE",
  "NOT_YET_VALID", "EXPIRED", "REVOKED", "STALE", "REPLAY", "UPSTREAM_UNAVAILABLE",
];

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

const credentialFields: fc.Arbitrary<CredentialFields> = fc.record({
  kind: fc.constantFrom(1, 2), issuer: u32, kid: u16, serial: bytes(8), subject: bytes(16), devicePub: bytes(32),
  notBefore: u32, notAfter: u32, flags: u16,
});
const presentationFields: fc.Arbitrary<PresentationFields> = fc.record({ time: u32, counter: u32, consent: u16 });

// ─────────────────────────────────────────────────────────────── the §2 codec

describe("the §2 codec", () => {
  test(`every credential and presentation field value round-trips; toText → parseCode gives the 212 bytes; the scan-header readers agree with the decoders, on views at any offset too (seed ${hex(SEED.codec)})`, () => {
    fc.assert(fc.property(credentialFields, presentationFields, bytes(64), bytes(64), fc.nat({ max: 40 }), (f, p, issuerSig, deviceSig, pad) => {
      const body = encodeCredentialBody(f);
      expect(body.length).toBe(CREDENTIAL_SIGNED);
      expect(decodeCredential(body)).toEqual(f);
      const credential = new Uint8Array(CREDENTIAL_LENGTH);
      credential.set(body);
      credential.set(issuerSig, OFF.issuerSig);
      expect(decodeCredential(credential)).toEqual(f);

      const code = encodePresentationBody(credential, p);
      expect(code.length).toBe(CODE_LENGTH);
      expect(code.subarray(0, CREDENTIAL_LENGTH)).toEqual(credential);
      code.set(deviceSig, OFF.deviceSig);
      // the same 212 bytes as a view into a larger buffer, at an offset that is not word-aligned
      const host = new Uint8Array(pad + CODE_LENGTH + 7).fill(0xa5);
      host.set(code, pad);
      for (const c of [code, host.subarray(pad, pad + CODE_LENGTH)]) {
        expect(decodeCredential(c)).toEqual(f);
        expect(decodePresentation(c)).toEqual(p);
        expect([issuerOf(c), kidOf(c), notBeforeOf(c), timeOf(c), counterOf(c), consentOf(c)]).toEqual([f.issuer, f.kid, f.notBefore, p.time, p.counter, p.consent]);
        expect(serialHexOf(c)).toBe(Buffer.from(f.serial).toString("hex"));
        expect(serialHiOf(c) * 2 ** 32 + serialLoOf(c)).toBe(Number(Buffer.from(f.serial).readBigUInt64BE()));
        expect(devicePubOf(c)).toEqual(f.devicePub);
        expect(parseCode(c)).toEqual(code);
      }
      const text = toText(code);
      expect(text.length).toBe(TEXT_LENGTH);
      expect(text.startsWith(TEXT_PREFIX)).toBe(true);
      expect(parseCode(text)).toEqual(code);
    }), { seed: SEED.codec, numRuns: 500 });
  });

  test(`any 212 bytes: parseCode takes them (raw or as text) exactly when version is 1 and kind is 1 or 2 (seed ${hex(SEED.rawBytes)})`, () => {
    const head = fc.tuple(fc.constantFrom(0, 1, 2, 255), fc.constantFrom(0, 1, 2, 3, 255));
    fc.assert(fc.property(bytes(CODE_LENGTH), head, fc.boolean(), (b, [version, kind], keep) => {
      if (!keep) { b[0] = version; b[1] = kind; }
      const valid = b[0] === 1 && (b[1] === 1 || b[1] === 2);
      expect(parseCode(b)).toEqual(valid ? b : null);
      expect(parseCode(toText(b))).toEqual(valid ? b : null);
    }), { seed: SEED.rawBytes, numRuns: 500 });
  });
});

// ─────────────────────────────────────────────────────────────── Base45 (RFC 9285)

describe("Base45", () => {
  test(`encode → decode round-trips any bytes; the text is in the alphabet and of encodedLength (seed ${hex(SEED.base45)})`, () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 700 }), (b) => {
      const text = base45.encode(b);
      expect(text.length).toBe(base45.encodedLength(b.length));
      expect(base45.decodedLength(text.length)).toBe(b.length);
      for (const ch of text) expect(base45.ALPHABET.includes(ch)).toBe(true);
      expect(base45.decode(text)).toEqual(b);
    }), { seed: SEED.base45, numRuns: 1000 });
  });

  test(`decode never throws; what it takes is canonical (re-encodes to the same text) (seed ${hex(SEED.base45Text)})`, () => {
    const alphabetText = fc.string({ unit: fc.constantFrom(...base45.ALPHABET), maxLength: 40 });
    const anyText = fc.oneof(alphabetText, fc.string({ unit: "binary", maxLength: 40 }), fc.string({ maxLength: 40 }));
    fc.assert(fc.property(anyText, (s) => {
      const out = base45.decode(s);
      if (out !== null) expect(base45.encode(out)).toBe(s);
    }), { seed: SEED.base45Text, numRuns: 3000 });
  });
});

// ─────────────────────────────────────────────────────────────── the decoder on any input

/** parseCode's contract: null, or 212 bytes of version 1 and kind 1 or 2; never an exception. */
function expectParsedOrNull(input: unknown): void {
  let out: Uint8Array | null;
  try {
    out = parseCode(input);
  } catch (e) {
    throw new Error(`parseCode threw ${(e as Error).name}: ${(e as Error).message} on ${fc.stringify(input).slice(0, 200)}`);
  }
  if (out === null) return;
  expect(out).toBeInstanceOf(Uint8Array);
  expect(out.length).toBe(CODE_LENGTH);
  expect(out[0]).toBe(1);
  expect([1, 2]).toContain(out[1]!);
}

describe("parseCode on any input", () => {
  test(`strings (ASCII, any code point incl. lone surrogates, graphemes), bytes of any length (212 incl.), typed arrays, objects: null or 212 bytes, never an exception (seed ${hex(SEED.parse)})`, () => {
    const input = fc.oneof(
      fc.string(), fc.string({ unit: "binary" }), fc.string({ unit: "grapheme" }), fc.string({ unit: "binary", minLength: TEXT_LENGTH, maxLength: TEXT_LENGTH }),
      fc.uint8Array({ maxLength: 400 }), bytes(CODE_LENGTH), bytes(CODE_LENGTH).map((b) => Buffer.from(b)), bytes(CODE_LENGTH).map((b) => b.buffer),
      fc.constantFrom(new Uint16Array(CODE_LENGTH), new Uint8ClampedArray(CODE_LENGTH), new DataView(new ArrayBuffer(CODE_LENGTH)), new Float64Array(2)),
      fc.anything({ withBigInt: true, withBoxedValues: true, withDate: true, withMap: true, withSet: true, withNullPrototype: true, withObjectString: true, withTypedArray: true, withSparseArray: true }),
    );
    fc.assert(fc.property(input, (x) => expectParsedOrNull(x)), { seed: SEED.parse, numRuns: 3000 });
  });

  test(`near misses of the text form: "YK1:" + ${TEXT_LENGTH - 4} characters from the alphabet or with one character, prefix or length changed (seed ${hex(SEED.parseNear)})`, () => {
    const body = fc.string({ unit: fc.constantFrom(...base45.ALPHABET), minLength: TEXT_LENGTH - 4, maxLength: TEXT_LENGTH - 4 });
    const mutation = fc.record({
      at: fc.nat({ max: TEXT_LENGTH + 1 }),
      ch: fc.oneof(fc.string({ unit: "binary", minLength: 1, maxLength: 2 }), fc.constantFrom("\u0000", "\uffff", "\ud800", "é", "a", "~", "YK1:", "")),
      prefix: fc.constantFrom(TEXT_PREFIX, "yk1:", "YK2:", "YK1", "YK1::", " YK1:", ""),
    });
    fc.assert(fc.property(body, mutation, (b, m) => {
      expectParsedOrNull(TEXT_PREFIX + b);
      const text = m.prefix + b;
      expectParsedOrNull(text.slice(0, m.at) + m.ch + text.slice(m.at + 1));
      expectParsedOrNull(text.slice(0, m.at));
    }), { seed: SEED.parseNear, numRuns: 2000 });
  });
});

// ─────────────────────────────────────────────────────────────── the batch route on any JSON

describe("POST /v1/verify/batch on any body", () => {
  let t: TestNode;
  let key: string;
  /** Valid presentations (as text and as the raw 212 bytes) of two holders. */
  let texts: string[];
  let raws: Uint8Array[];
  beforeAll(async () => {
    t = makeNode();
    key = await makeGateway(t, "metro");
    const a = await issue(t, { idNumber: PERSON_ID });
    const b = await issue(t, { idNumber: PERSON_ID_2 });
    texts = [a.presentText(T0), a.presentText(T0 - 5), b.presentText(T0), b.presentText(T0 - 3600)];
    raws = [a.present(T0), b.present(T0 + 5)];
  });
  afterAll(() => t?.close());

  /** `{code, at}` with an `at` of any JSON value: MALFORMED exactly when `at` is neither absent, null nor a non-negative integer. */
  const atIsValid = (at: unknown) => at === undefined || at === null || (typeof at === "number" && Number.isInteger(at) && at >= 0);

  /** A scan and whether it must be MALFORMED (true), must not be (false). */
  type Scan = { scan: unknown; malformed: boolean };
  const scanArb = (valid: () => string[]): fc.Arbitrary<Scan> => fc.oneof(
    { weight: 5, arbitrary: fc.jsonValue({ maxDepth: 6, stringUnit: "binary" }).map((scan) => ({ scan, malformed: true })) },
    { weight: 2, arbitrary: fc.nat().map((i) => ({ scan: valid()[i % valid().length], malformed: false })) },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.nat(), fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.integer({ min: -1, max: T0 + 100 }), fc.constant(undefined)))
        .map(([i, at]) => ({ scan: at === undefined ? { code: valid()[i % valid().length] } : { code: valid()[i % valid().length], at }, malformed: !atIsValid(at) })),
    },
    { weight: 1, arbitrary: fc.tuple(fc.nat(), fc.nat({ max: TEXT_LENGTH }), fc.string({ unit: "binary", maxLength: 2 })).map(([i, at, ch]) => {
      const s = valid()[i % valid().length]!;
      const cut = s.slice(0, at) + ch + s.slice(at + 1);
      return { scan: cut, malformed: parseCode(cut) === null };
    }) },
  );

  /** §4: 200 with one known result per scan, or a 4xx with the error body; never 5xx. */
  async function expectAnswered(res: Response, scans: unknown[] | null): Promise<BatchAnswer | null> {
    expect(res.status).toBeLessThan(500);
    if (res.status !== 200) {
      const e = await json<ErrorAnswer>(res);
      expect(typeof e.error.code).toBe("string");
      expect(typeof e.error.message).toBe("string");
      return null;
    }
    const body = await json<BatchAnswer>(res);
    if (scans !== null) expect(body.results.length).toBe(scans.length);
    for (const r of body.results) expect(RESULT_CODES).toContain(r.result);
    return body;
  }

  test(`arbitrary JSON scan arrays (junk, valid codes, {code, at} with any at, one-character mutations): 200, one result per scan, junk MALFORMED, the rest never (seed ${hex(SEED.batchScans)})`, async () => {
    await fc.assert(fc.asyncProperty(fc.array(scanArb(() => texts), { maxLength: 16 }), async (list) => {
      const scans = list.map((s) => s.scan);
      const res = await t.app.request("/v1/verify/batch", req("POST", { scans }, key));
      expect(res.status).toBe(200);
      const body = (await expectAnswered(res, scans))!;
      list.forEach((s, i) => {
        if (s.malformed) expect([i, body.results[i]!.result]).toEqual([i, "MALFORMED"]);
        else expect([i, body.results[i]!.result]).not.toEqual([i, "MALFORMED"]);
      });
    }), { seed: SEED.batchScans, numRuns: 200 });
  });

  test(`arbitrary JSON bodies (any value, {scans: any value}, fc.anything made JSON): 200 exactly for {scans: [...]}, else 400 BAD_BODY (seed ${hex(SEED.batchBodies)})`, async () => {
    const anythingJson = fc.anything({ withNullPrototype: true, withSparseArray: true, withBoxedValues: true, withObjectString: true, maxDepth: 5 })
      .map((v) => { try { return JSON.stringify(v); } catch { return undefined; } })
      .filter((s): s is string => typeof s === "string");
    const bodyArb = fc.oneof(
      fc.jsonValue({ maxDepth: 5, stringUnit: "binary" }).map((v) => JSON.stringify(v)),
      fc.jsonValue({ maxDepth: 5 }).map((scans) => JSON.stringify({ scans })),
      anythingJson,
      anythingJson.map((s) => `{"scans":${s}}`),
      fc.array(anythingJson, { maxLength: 10 }).map((a) => `{"scans":[${a.join(",")}]}`),
    );
    await fc.assert(fc.asyncProperty(bodyArb, async (text) => {
      const parsed = JSON.parse(text) as unknown;
      const isBatch = typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) && Array.isArray((parsed as { scans?: unknown }).scans);
      const res = await t.app.request("/v1/verify/batch", { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body: text });
      expect([text.slice(0, 80), res.status]).toEqual([text.slice(0, 80), isBatch ? 200 : 400]);
      const body = await expectAnswered(res, isBatch ? (parsed as { scans: unknown[] }).scans : null);
      if (isBatch) for (const r of body!.results) expect(r.result).toBe("MALFORMED");
    }), { seed: SEED.batchBodies, numRuns: 300 });
  });

  test(`arbitrary msgpack batches (any JSON value, bin of any length, the raw 212 bytes, what msgpackr makes of undefined, Date, Set, Map, RegExp, records): 200 with one result per scan, or 400 BAD_BODY exactly when the pack holds an extension or a non-string key (seed ${hex(SEED.batchMsgpack)})`, async () => {
    const plainPackr = new Packr({ useRecords: false });
    // records and structured clone: every object becomes an extension (a record definition), the batch itself included
    const recordsPackr = new Packr({ useRecords: true, structuredClone: true });
    /** `refused`: msgpackr packs it as an extension (undefined 0xd4 00, Date −1) or a map with an integer key; Set and RegExp pack as plain arrays. */
    const scan = fc.oneof(
      { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 6, stringUnit: "binary" }).map((v) => ({ v, refused: false })) },
      { weight: 2, arbitrary: fc.uint8Array({ maxLength: 300 }).map((v) => ({ v: v as unknown, refused: false })) },
      { weight: 2, arbitrary: fc.nat().map((i) => ({ v: raws[i % raws.length] as unknown, refused: false })) },
      { weight: 1, arbitrary: fc.constantFrom({ v: undefined, refused: true }, { v: new Date(0), refused: true }, { v: new Map([[1, 2]]), refused: true }, { v: new Set([1]), refused: false }, { v: /x/, refused: false }) },
    );
    await fc.assert(fc.asyncProperty(fc.array(scan, { maxLength: 12 }), fc.boolean(), async (list, records) => {
      const scans = list.map((s) => s.v);
      const res = await t.app.request("/v1/verify/batch", {
        method: "POST", headers: { "content-type": "application/msgpack", accept: "application/json", authorization: `Bearer ${key}` },
        body: (records ? recordsPackr : plainPackr).pack({ scans }),
      });
      const refused = records || list.some((s) => s.refused);
      expect(res.status).toBe(refused ? 400 : 200);
      const body = await expectAnswered(res.clone() as Response, scans);
      if (body === null) expect((await json<ErrorAnswer>(res)).error.code).toBe("BAD_BODY");
    }), { seed: SEED.batchMsgpack, numRuns: 200 });
  });
});

// ─────────────────────────────────────────────────────────────── the replay stores against the §3 model

const CQ = 500000, SC = 510000;
/** §3 defaults: retention 300 s of `at` + 60 s window + 2 × 10 s skew; warm-up 2 × skew. */
const RETENTION = 380, SKEW = 10, WARM = 2 * SKEW;

/** Serials that differ in one word only, the same serial under two issuers, and the extremes of each word. */
const SERIALS: readonly { issuer: number; serialHi: number; serialLo: number }[] = [
  { issuer: CQ, serialHi: 0, serialLo: 0 }, { issuer: CQ, serialHi: 0, serialLo: 1 }, { issuer: CQ, serialHi: 1, serialLo: 0 },
  { issuer: CQ, serialHi: 0xffffffff, serialLo: 0xffffffff }, { issuer: SC, serialHi: 0, serialLo: 1 }, { issuer: SC, serialHi: 0xffffffff, serialLo: 0xffffffff },
  { issuer: CQ, serialHi: 0x80000000, serialLo: 0 }, { issuer: CQ, serialHi: 0x0a0a0a0a, serialLo: 0xa0a0a0a0 },
];

/**
 * How an item's counter is chosen, relative to the highest counter the generator has used for its serial
 * (h): inside and below the window, its edges (h − 63, h − 64), the top itself, small and word-crossing
 * jumps (31, 32, 33, 63, 64, 65), 0 and the u32 extremes.
 */
type CounterMode = "below" | "top" | "next" | "jump" | "edge63" | "edge64" | "jump64" | "random" | "zero" | "max";
const COUNTER_MODES: readonly CounterMode[] = ["below", "below", "below", "top", "next", "next", "next", "jump", "jump", "edge63", "edge64", "jump64", "random", "zero", "max"];

interface ItemSpec { s: number; mode: CounterMode; k: number; big: number; dt: number }
/** `step`: seconds the receive time moves first. */
type Op =
  | { type: "batch"; step: number; items: ItemSpec[] }
  /** In memory: a node restart (state gone, memory begins at restart + 2 × skew). On Redis: a node restart on a store that kept its data. */
  | { type: "restart"; step: number }
  /** Redis only: the store lost its data (FLUSHALL). */
  | { type: "lost"; step: number };

const itemArb: fc.Arbitrary<ItemSpec> = fc.record({
  s: fc.nat({ max: SERIALS.length - 1 }), mode: fc.constantFrom(...COUNTER_MODES), k: fc.nat({ max: 90 }), big: u32,
  // presentation time − receive time: mostly fresh, some from well before (around the start-up rule)
  dt: fc.integer({ min: -40, max: 25 }),
});
/** Receive-time steps: the same second, a few seconds, minutes, around the retention (376..386) and far beyond. */
const stepArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant(0) }, { weight: 4, arbitrary: fc.integer({ min: 1, max: 5 }) },
  { weight: 2, arbitrary: fc.integer({ min: 6, max: 120 }) }, { weight: 3, arbitrary: fc.integer({ min: RETENTION - 4, max: RETENTION + 6 }) },
  { weight: 1, arbitrary: fc.integer({ min: RETENTION + 7, max: 5000 }) },
);
function opsArb(maxOps: number, withLost: boolean): fc.Arbitrary<Op[]> {
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 14, arbitrary: fc.record({ type: fc.constant("batch" as const), step: stepArb, items: fc.array(itemArb, { minLength: 1, maxLength: 6 }) }) },
    { weight: 1, arbitrary: fc.record({ type: fc.constant("restart" as const), step: stepArb }) },
    ...(withLost ? [{ weight: 1, arbitrary: fc.record({ type: fc.constant("lost" as const), step: stepArb }) }] : []),
  );
  return fc.array(op, { minLength: 1, maxLength: maxOps, size: "max" });
}

/** Turns item specs into ReplayItems at receive second `now`; `highest` is the generator's memory per serial. */
function itemsOf(specs: readonly ItemSpec[], now: number, highest: number[]): ReplayItem[] {
  return specs.map(({ s, mode, k, big, dt }) => {
    const h = highest[s]!;
    const raw = mode === "below" ? h - k : mode === "top" ? h : mode === "next" ? h + 1 + (k % 3) : mode === "jump" ? h + [31, 32, 33, 63, 64, 65, k][k % 7]!
      : mode === "edge63" ? h - 63 : mode === "edge64" ? h - 64 : mode === "jump64" ? h + 64 + (k % 2) : mode === "random" ? big : mode === "zero" ? 0 : 0xffffffff;
    const counter = Math.min(0xffffffff, Math.max(0, raw));
    highest[s] = Math.max(h, counter);
    return { ...SERIALS[s]!, counter, time: now + dt };
  });
}

/** The stores' answer as a plain array, or the refusal. */
const plain = (out: Uint8Array | string) => (out instanceof Uint8Array ? Array.from(out) : out);

/** A replayable trace for a failure: which op, the receive second (from T0), the items, the answers. */
function mismatch(i: number, now: number, items: ReplayItem[], got: unknown, want: unknown): string {
  return `op ${i} at T0+${now - T0}: ${JSON.stringify(items.map((x) => [x.issuer, x.serialHi, x.serialLo, x.counter, x.time - now]))} → store ${JSON.stringify(got)}, model ${JSON.stringify(want)}`;
}

/** What a property's runs exercised, so it cannot pass vacuously: answers by kind, and scans exactly at the retention boundary. */
interface Tally { accepted: number; replay: number; beforeMemory: number; full: number; atRetention: number; pastRetention: number; restarts: number }
const newTally = (): Tally => ({ accepted: 0, replay: 0, beforeMemory: 0, full: 0, atRetention: 0, pastRetention: 0, restarts: 0 });

/** Counts `answers` into `t`; `last` maps a key to the receive second of its last acceptance (the model's view). */
function count(t: Tally, items: readonly ReplayItem[], answers: number[] | "FULL", now: number, last: Map<string, number>, retention: number): void {
  if (answers === "FULL") {
    t.full++;
    return;
  }
  items.forEach((it, i) => {
    const k = ReplayModel.key(it);
    const gap = now - (last.get(k) ?? -Infinity);
    if (gap === retention) t.atRetention++;
    if (gap === retention + 1) t.pastRetention++;
    const a = answers[i]!;
    if (a === 1) { t.accepted++; last.set(k, now); } else if (a === 0) t.replay++; else t.beforeMemory++;
  });
}

describe("MemoryReplayWindow against the §3 model", () => {
  /** Runs `ops` through a window and the model, counting into `t`. */
  function run(ops: Op[], capacity: number, t: Tally): void {
    const firstBegins = T0 - 86400;
    const last = new Map<string, number>();
    let w = new MemoryReplayWindow(capacity, RETENTION, firstBegins);
    const model = new ReplayModel({ retention: RETENTION, memoryBegins: firstBegins, capacity });
    const highest = SERIALS.map(() => 1000);
    let now = T0;
    ops.forEach((op, i) => {
      now += op.step;
      if (op.type === "restart") {
        w = new MemoryReplayWindow(capacity, RETENTION, memoryBeginsAfter(now, SKEW));
        model.restart(now + 2 * SKEW);
        last.clear();
        t.restarts++;
        return;
      }
      if (op.type !== "batch") return;
      const items = itemsOf(op.items, now, highest);
      const want = model.apply(items, now);
      const got = plain(w.apply(items, now));
      if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(mismatch(i, now, items, got, want));
      expect(w.stats().held).toBeLessThanOrEqual(capacity);
      count(t, items, want, now, last, RETENTION);
    });
  }

  test(`room to spare (capacity 1024): ≤ 40 ops of batches, jumps past the retention and restarts, 1000 runs (seed ${hex(SEED.memoryRoomy)})`, () => {
    const t = newTally();
    fc.assert(fc.property(opsArb(40, false), (ops) => run(ops, 1024, t)), { seed: SEED.memoryRoomy, numRuns: 1000 });
    console.log("memory, capacity 1024:", JSON.stringify(t));
    expect(t.full).toBe(0);
    for (const k of ["accepted", "replay", "beforeMemory", "atRetention", "pastRetention", "restarts"] as const) expect([k, t[k] > 20]).toEqual([k, true]);
  });

  test(`tight (capacity 3 for 8 serials): FULL refusals included, nothing of a refused batch recorded, 1000 runs (seed ${hex(SEED.memoryTight)})`, () => {
    const t = newTally();
    fc.assert(fc.property(opsArb(40, false), (ops) => run(ops, 3, t)), { seed: SEED.memoryTight, numRuns: 1000 });
    console.log("memory, capacity 3:", JSON.stringify(t));
    for (const k of ["accepted", "replay", "beforeMemory", "full", "atRetention", "pastRetention"] as const) expect([k, t[k] > 20]).toEqual([k, true]);
  });
});

describe("RedisReplayStore against the §3 model (a real redis-server)", () => {
  let redis: TestRedis;
  let admin: RedisClient;
  beforeAll(async () => {
    redis = await startRedis();
    admin = new RedisClient(redis.url);
    await admin.connect();
  });
  afterAll(async () => {
    admin?.close();
    await redis?.close();
  });

  /**
   * Redis keeps time by its own clock, and a test cannot wait 380 s; so receive time advancing by Δ seconds is
   * played on Redis too: every replay key's TTL drops by Δ s (deleted at 0), as if Redis' clock ran in step
   * with the receive seconds (same sub-second phase). The TTL the store sets is what is under test.
   */
  const WARP = `
local ms = tonumber(ARGV[1])
for _, k in ipairs(redis.call('KEYS', 'yk:r:*')) do
  local t = redis.call('PTTL', k)
  if t >= 0 then
    if t <= ms then redis.call('DEL', k) else redis.call('PEXPIRE', k, t - ms) end
  end
end
return 0`;
  const warp = (seconds: number) => (seconds > 0 ? admin.send("EVAL", [WARP, "0", String(seconds * 1000)]) : Promise.resolve(0));

  const newStore = async () => {
    // a generous timeout: a slow reply on a busy machine must not read as UNAVAILABLE here
    const s = new RedisReplayStore(redis.url, RETENTION, WARM, 5000);
    await s.start();
    return s;
  };

  /**
   * The store keeps a key TTL retention + 2 s (spec §8.4), which on a clock in step with receive seconds is
   * one second more than the memory window keeps state: through r + 381, gone at r + 382. The model is run
   * with that retention here; the boundary itself, where Redis and memory differ, is the next test.
   * When the store drops state at r + 381 (as §6 "same answers as in memory" asks), set this to RETENTION.
   */
  const REDIS_RETENTION = RETENTION + 1;

  test(`≤ 20 ops of batches, jumps past the retention, node restarts on kept data and lost data (FLUSHALL: start-up rule from then), 300 runs (seed ${hex(SEED.redis)})`, async () => {
    const t = newTally();
    let store = await newStore();
    try {
      await fc.assert(fc.asyncProperty(opsArb(20, true), async (ops) => {
        await admin.send("FLUSHALL", []);
        // a store that kept its data since long before: the start-up rule does not apply
        await admin.send("SET", ["yk:boot", "0"]);
        const model = new ReplayModel({ retention: REDIS_RETENTION, memoryBegins: WARM });
        const last = new Map<string, number>();
        const highest = SERIALS.map(() => 1000);
        let now = T0;
        for (let i = 0; i < ops.length; i++) {
          const op = ops[i]!;
          now += op.step;
          await warp(op.step);
          if (op.type === "restart") {
            store.close();
            store = await newStore();
            t.restarts++;
            continue;
          }
          if (op.type === "lost") {
            await admin.send("FLUSHALL", []);
            model.lostData(WARM);
            last.clear();
            continue;
          }
          const items = itemsOf(op.items, now, highest);
          const want = model.apply(items, now);
          const got = plain(await store.apply(items, now));
          if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(mismatch(i, now, items, got, want));
          count(t, items, want, now, last, REDIS_RETENTION);
        }
      }), { seed: SEED.redis, numRuns: 300 });
    } finally {
      store.close();
    }
    console.log("redis:", JSON.stringify(t));
    for (const k of ["accepted", "replay", "beforeMemory", "atRetention", "pastRetention", "restarts"] as const) expect([k, t[k] > 20]).toEqual([k, true]);
  }, 30_000);

  test("§3 retention boundary: state accepted at r is found at r + 380 (memory and Redis) and gone at r + 381 in memory; Redis may keep it one second more, never less", async () => {
    await admin.send("FLUSHALL", []);
    await admin.send("SET", ["yk:boot", "0"]);
    const store = await newStore();
    const mem = new MemoryReplayWindow(16, RETENTION, 0);
    const model = new ReplayModel({ retention: RETENTION, memoryBegins: 0 });
    const it = (counter: number, at: number): ReplayItem => ({ issuer: CQ, serialHi: 7, serialLo: 7, counter, time: at });
    const answers: Record<string, unknown[]> = { model: [], memory: [], redis: [] };
    let now = T0;
    // accepted at r; counter 100 again at r + 380 (still a replay); counter 3, below the old window (100 − 64), at r + 381 (state gone: accepted)
    for (const [step, counter] of [[0, 100], [RETENTION, 100], [1, 3]] as const) {
      now += step;
      await warp(step);
      answers.model!.push(...(model.apply([it(counter, now)], now) as number[]));
      answers.memory!.push(...plain(mem.apply([it(counter, now)], now)));
      answers.redis!.push(...plain(await store.apply([it(counter, now)], now)));
    }
    store.close();
    expect(answers.model).toEqual([1, 0, 1]);
    expect(answers.memory).toEqual(answers.model!);
    // Redis counts its TTL from its own clock, not from the node's whole receive seconds: to never drop state
    // before r + 380 on any clock phase, the key lives retention + 2 s (spec §8.5), so at r + 381 it may still
    // answer REPLAY where memory accepts. That only ever refuses more; it never accepts a replay.
    expect(answers.redis!.slice(0, 2)).toEqual([1, 0]);
    expect([0, 1]).toContain(answers.redis![2] as number);
  });
});
