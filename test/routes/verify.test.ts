/**
 * Every §3 result code and every error path of the verification routes, through `app.request()`.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { Packr } from "msgpackr";
import { toText, OFF } from "../../src/wire/code.ts";
import { privateKeyFromSeed } from "../../src/crypto/ed25519.ts";
import { json, type BatchAnswer, type ErrorAnswer, type ReadyAnswer, type RevocationFeed, type ScanResult, type TrustAnswer } from "../support/api.ts";
import { PERSON_ID, PERSON_ID_2 } from "../support/ids.ts";
import { ADMIN, issue, makeGateway, makeNode, req, sichuanNode, T0, verifyBatch, type TestNode } from "../support/node.ts";
import { foreignHolder, SICHUAN_SEED } from "../support/trust.ts";

const packr = new Packr({ useRecords: false, mapsAsObjects: true });
const L = (1n << 252n) + 27742317777372353535851937790883648493n;

function addL(code: Uint8Array, off: number): Uint8Array {
  const c = code.slice();
  let s = 0n;
  for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(c[off + 32 + i]!);
  s += L;
  for (let i = 0; i < 32; i++) { c[off + 32 + i] = Number(s & 0xffn); s >>= 8n; }
  return c;
}

let t: TestNode;
afterEach(() => t?.close());

async function setup(scene = "metro", env: Record<string, string> = {}) {
  t = makeNode(env);
  const key = await makeGateway(t, scene);
  const holder = await issue(t, { idNumber: PERSON_ID });
  return { key, holder };
}

describe("results (§3)", () => {
  test("OK carries serial, subject, kind, issuer and flag names; the same code again is REPLAY", async () => {
    t = makeNode();
    const key = await makeGateway(t, "metro");
    const holder = await issue(t, { idNumber: PERSON_ID, flags: 0b01001 });
    const code = holder.presentText(T0);
    const { status, body } = await verifyBatch(t, key, [code, code]);
    expect(status).toBe(200);
    const serial = Buffer.from(holder.fields.serial).toString("hex");
    expect(body.results[0]).toEqual({
      result: "OK", serial, subject: Buffer.from(holder.fields.subject).toString("hex"), kind: "person", issuer: 500000, flags: ["senior", "veteran"],
    });
    expect(body.results[1]).toEqual({ result: "REPLAY", serial });
    expect(body.revocations).toEqual({ seq: 0, syncedAt: T0 });
  });

  test("sliding window: above H, inside unseen, inside seen, below", async () => {
    const { key, holder } = await setup();
    const r = async (counter: number) => (await verifyBatch(t, key, [holder.presentText(T0, 0, counter)])).body.results[0]!.result;
    expect(await r(100)).toBe("OK");
    expect(await r(37)).toBe("OK"); // H − 63 = 37 is inside the window and unseen
    expect(await r(37)).toBe("REPLAY");
    expect(await r(36)).toBe("REPLAY"); // H − 64 is below the window
    expect(await r(99)).toBe("OK");
    expect(await r(99)).toBe("REPLAY");
    expect(await r(101)).toBe("OK");
  });

  test("MALFORMED: junk inside a batch is a result, the batch is 200 and ordered", async () => {
    const { key, holder } = await setup();
    const good = holder.present(T0);
    const v2 = good.slice(); v2[0] = 2;
    const k3 = good.slice(); k3[1] = 3;
    const scans = ["hello", "YK1:$$$", toText(good).slice(0, -3), toText(v2), toText(k3), 42, null, { code: 7 }, { code: toText(good), at: "x" }, toText(good)];
    const { status, body } = await verifyBatch(t, key, scans);
    expect(status).toBe(200);
    expect(body.results.map((r) => r.result)).toEqual([...Array(9).fill("MALFORMED"), "OK"]);
  });

  test("UNKNOWN_ISSUER: no key for the issuer and no route", async () => {
    const { key } = await setup();
    const h = foreignHolder({ seed: new Uint8Array(32).fill(9), issuer: 440000, notBefore: T0 - 10, notAfter: T0 + 1000 });
    const unknownKid = foreignHolder({ seed: SICHUAN_SEED, issuer: 510000, kid: 2, notBefore: T0 - 10, notAfter: T0 + 1000 });
    const { body } = await verifyBatch(t, key, [h.presentText(T0), unknownKid.presentText(T0)]);
    expect(body.results).toEqual([{ result: "UNKNOWN_ISSUER" }, { result: "UNKNOWN_ISSUER" }]);
  });

  test("ISSUER_NOT_ACCEPTED: a hotel takes only Chongqing codes; metro takes Sichuan too (川渝通乘)", async () => {
    t = await sichuanNode();
    const hotel = await makeGateway(t, "hotel");
    const metro = await makeGateway(t, "metro");
    const sc = foreignHolder({ seed: SICHUAN_SEED, issuer: 510000, notBefore: T0 - 10, notAfter: T0 + 1000 });
    expect((await verifyBatch(t, hotel, [sc.presentText(T0)])).body.results[0]).toEqual({ result: "ISSUER_NOT_ACCEPTED" });
    const ok = (await verifyBatch(t, metro, [sc.presentText(T0)])).body.results[0]!;
    expect(ok.result).toBe("OK");
    expect(ok.issuer).toBe(510000);
  });

  test("BAD_ISSUER_SIGNATURE: flipped bit, S+L, and a swapped device key under a verified serial", async () => {
    const { key, holder } = await setup();
    expect((await verifyBatch(t, key, [holder.presentText(T0)])).body.results[0]!.result).toBe("OK");
    const flipped = holder.present(T0); flipped[OFF.issuerSig + 5]! ^= 1;
    const malleated = addL(holder.present(T0), OFF.issuerSig);
    const { rawPublicKey } = await import("../../src/crypto/ed25519.ts");
    const swappedCred = holder.credential.slice();
    swappedCred.set(rawPublicKey(privateKeyFromSeed(new Uint8Array(32).fill(1))), OFF.devicePub);
    const { Holder } = await import("../../src/holder/holder.ts");
    // the thief signs with its own device key under the victim's serial and issuer signature
    const swapped = new Holder(privateKeyFromSeed(new Uint8Array(32).fill(1)), swappedCred);
    const { body } = await verifyBatch(t, key, [toText(flipped), toText(malleated), swapped.presentText(T0, 0, 50)]);
    expect(body.results.map((r) => r.result)).toEqual(["BAD_ISSUER_SIGNATURE", "BAD_ISSUER_SIGNATURE", "BAD_ISSUER_SIGNATURE"]);
    expect(body.results[0]).toEqual({ result: "BAD_ISSUER_SIGNATURE" });
  });

  test("BAD_DEVICE_SIGNATURE: flipped bit, S+L, altered counter; forged scans burn no counter", async () => {
    const { key, holder } = await setup();
    const a = holder.present(T0, 0, 10); a[OFF.deviceSig]! ^= 0x80;
    const b = addL(holder.present(T0, 0, 11), OFF.deviceSig);
    const c = holder.present(T0, 0, 12); c[OFF.counter + 3] = 200; // counter changed after signing
    const { body } = await verifyBatch(t, key, [toText(a), toText(b), toText(c)]);
    expect(body.results.map((r) => r.result)).toEqual(["BAD_DEVICE_SIGNATURE", "BAD_DEVICE_SIGNATURE", "BAD_DEVICE_SIGNATURE"]);
    // counters 10-12 and 200 were not recorded
    for (const n of [10, 11, 12, 200]) expect((await verifyBatch(t, key, [holder.presentText(T0, 0, n)])).body.results[0]!.result).toBe("OK");
  });

  test("NOT_YET_VALID and EXPIRED, with the clock skew", async () => {
    t = await sichuanNode();
    const key = await makeGateway(t, "metro");
    const future = foreignHolder({ seed: SICHUAN_SEED, issuer: 510000, notBefore: T0 + 11, notAfter: T0 + 1000 });
    const edge = foreignHolder({ seed: SICHUAN_SEED, issuer: 510000, notBefore: T0 + 10, notAfter: T0 + 1000 });
    const expired = foreignHolder({ seed: SICHUAN_SEED, issuer: 510000, notBefore: T0 - 1000, notAfter: T0 - 11 });
    const justIn = foreignHolder({ seed: SICHUAN_SEED, issuer: 510000, notBefore: T0 - 1000, notAfter: T0 - 10 });
    const { body } = await verifyBatch(t, key, [future, edge, expired, justIn].map((h) => h.presentText(T0)));
    expect(body.results.map((r) => r.result)).toEqual(["NOT_YET_VALID", "OK", "EXPIRED", "OK"]);
  });

  test("EXPIRED after validDays", async () => {
    const { key } = await setup();
    const h = await issue(t, { idNumber: PERSON_ID_2, validDays: 1 });
    t.clock.advance(86400 + 11);
    expect((await verifyBatch(t, key, [h.presentText(T0 + 86400 + 11)])).body.results[0]!.result).toBe("EXPIRED");
  });

  test("REVOKED: by serial, subject, device key and issuer key; the feed lists them in order", async () => {
    t = await sichuanNode();
    const key = await makeGateway(t, "metro");
    const hs = [await issue(t, { idNumber: PERSON_ID }), await issue(t, { idNumber: PERSON_ID_2 }), await issue(t, { idNumber: "11010519491231002X".slice(0, 17) + "X" })];
    const sc = foreignHolder({ seed: SICHUAN_SEED, issuer: 510000, notBefore: T0 - 10, notAfter: T0 + 1000 });
    const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
    const revs = [
      { type: "credential", value: hex(hs[0]!.fields.serial) },
      { type: "subject", value: hex(hs[1]!.fields.subject).toUpperCase() },
      { type: "device", value: hex(hs[2]!.fields.devicePub) },
      { type: "key", value: "510000:1", reason: "key compromise drill" },
    ];
    for (const [i, r] of revs.entries()) {
      const res = await t.app.request("/v1/revocations", req("POST", r, ADMIN));
      expect(res.status).toBe(201);
      expect(await res.json()).toEqual({ seq: i + 1 });
    }
    const { body } = await verifyBatch(t, key, [...hs, sc].map((h) => h.presentText(T0)));
    expect(body.results.map((r) => r.result)).toEqual(["REVOKED", "REVOKED", "REVOKED", "REVOKED"]);
    expect(body.revocations.seq).toBe(4);
    const feed = await json<RevocationFeed>(await t.app.request("/v1/revocations?since=1", req("GET", undefined, ADMIN)));
    expect(feed.entries.map((e) => [e.seq, e.type, e.value])).toEqual([
      [2, "subject", hex(hs[1]!.fields.subject)], [3, "device", hex(hs[2]!.fields.devicePub)], [4, "key", "510000:1"],
    ]);
    expect(feed.next).toBe(4);
    expect(feed.entries[2]!.reason).toBe("key compromise drill");
    const none = await json<RevocationFeed>(await t.app.request("/v1/revocations?since=9", req("GET", undefined, ADMIN)));
    expect(none).toEqual({ entries: [], next: 9, last: 4 });
    const trust = await json<TrustAnswer>(await t.app.request("/v1/trust"));
    expect(trust.issuers.find((i) => i.issuer === 510000)!.keys[0]!.status).toBe("revoked");
  });

  test("revocations survive a restart", async () => {
    t = makeNode();
    const h = await issue(t, { idNumber: PERSON_ID });
    await t.app.request("/v1/revocations", req("POST", { type: "credential", value: Buffer.from(h.fields.serial).toString("hex") }, ADMIN));
    const key = await makeGateway(t, "metro");
    const dir = t.dir;
    t.node.close();
    const t2 = makeNode({}, {}, dir);
    try {
      expect((await verifyBatch(t2, key, [h.presentText(T0)])).body.results[0]!.result).toBe("REVOKED");
      expect(t2.node.verifier.revocationStatus().seq).toBe(1);
    } finally {
      t2.node.close();
    }
    t = makeNode(); // afterEach closes this one
  });

  test("STALE: too old, too far ahead, and made before the node started", async () => {
    const { key, holder } = await setup();
    t.clock.advance(120);
    const now = T0 + 120;
    const r = async (time: number) => (await verifyBatch(t, key, [holder.presentText(time)])).body.results[0]!.result;
    expect(await r(now - 61)).toBe("STALE");
    expect(await r(now + 11)).toBe("STALE");
    expect(await r(now - 60)).toBe("OK");
    expect(await r(now + 10)).toBe("OK");
  });

  test("start-up rule (§3): a restarted node answers STALE to presentations before start + 2 × skew and is warming until then", async () => {
    t = makeNode();
    const key = await makeGateway(t, "metro");
    const h = await issue(t, { idNumber: PERSON_ID });
    const dir = t.dir;
    t.node.close();
    const { ManualClock } = await import("../../src/clock.ts");
    t = makeNode({}, { clock: new ManualClock((T0 + 30) * 1000) }, dir);
    // before the restart a code up to `skew` ahead of an `at` up to `skew` ahead of receive time could pass
    const early = await verifyBatch(t, key, [h.presentText(T0 + 29), h.presentText(T0 + 30), h.presentText(T0 + 40, 0, 100)]);
    expect(early.body.results.map((r) => r.result)).toEqual(["STALE", "STALE", "STALE"]);
    const warming = await t.app.request("/readyz");
    expect(warming.status).toBe(503);
    expect((await json<ReadyAnswer>(warming)).checks.replay).toBe("warming");
    t.clock.advance(19);
    expect((await t.app.request("/readyz")).status).toBe(503);
    t.clock.advance(1); // start + 20 s
    expect((await t.app.request("/readyz")).status).toBe(200);
    const later = await verifyBatch(t, key, [h.presentText(T0 + 49), h.presentText(T0 + 50)]);
    expect(later.body.results.map((r) => r.result)).toEqual(["STALE", "OK"]);
  });

  test("start-up rule with a wider skew: 2 × 30 s", async () => {
    t = makeNode({ YUKUAI_SKEW_SECONDS: "30" }, { clock: new (await import("../../src/clock.ts")).ManualClock(T0 * 1000) });
    const key = await makeGateway(t, "metro");
    const h = await issue(t, { idNumber: PERSON_ID });
    t.clock.advance(59);
    expect((await verifyBatch(t, key, [h.presentText(T0 + 59)])).body.results[0]!.result).toBe("STALE");
    expect((await t.app.request("/readyz")).status).toBe(503);
    t.clock.advance(1);
    expect((await verifyBatch(t, key, [h.presentText(T0 + 60)])).body.results[0]!.result).toBe("OK");
    expect((await t.app.request("/readyz")).status).toBe(200);
  });

  test("`at` moves now back up to 300 s; outside that it is ignored", async () => {
    const { key, holder } = await setup();
    t.clock.advance(400);
    const r = async (time: number, at: number) => (await verifyBatch(t, key, [{ code: holder.presentText(time), at }])).body.results[0]!.result;
    expect(await r(T0 + 110, T0 + 110)).toBe("OK"); // scanned 290 s ago, answered now
    expect(await r(T0 + 50, T0 + 50)).toBe("STALE"); // `at` 350 s back is ignored: receive time decides
    expect(await r(T0 + 400, T0 + 400 + 11)).toBe("OK"); // `at` beyond skew ignored
  });

  test("UPSTREAM_UNAVAILABLE, and routed scans answered by the upstream, merged in order", async () => {
    // the Sichuan node (issuer 510000) as an upstream, reached through its app
    const up = makeNode({ YUKUAI_ISSUER: "510000" });
    try {
      const upKey = await makeGateway(up, "metro");
      const scHolder = await issue(up, { idNumber: PERSON_ID });
      const fetchFn = ((url: string, init: RequestInit) => up.app.request(new URL(url).pathname, init)) as unknown as typeof fetch;
      t = makeNode({ YUKUAI_UPSTREAMS: JSON.stringify({ 510000: { url: "http://sichuan.invalid", key: upKey } }) }, { fetchFn });
      const key = await makeGateway(t, "metro");
      const local = await issue(t, { idNumber: PERSON_ID_2 });
      const scan = scHolder.presentText(T0);
      const { body } = await verifyBatch(t, key, [local.presentText(T0), scan, "junk", scan]);
      expect(body.results.map((r) => r.result)).toEqual(["OK", "OK", "MALFORMED", "REPLAY"]);
      expect(body.results[1]!.issuer).toBe(510000);
      // a hotel does not accept Sichuan codes: refused here, never forwarded
      const hotel = await makeGateway(t, "hotel");
      expect((await verifyBatch(t, hotel, [scHolder.presentText(T0)])).body.results[0]!.result).toBe("ISSUER_NOT_ACCEPTED");
    } finally {
      up.close();
    }
    // an upstream that never answers costs UPSTREAM_UNAVAILABLE when the node gives up on it, not the batch
    t.close();
    let abandoned = 0;
    const hang = ((_u: string, init: RequestInit) => new Promise((_r, reject) => init.signal!.addEventListener("abort", () => {
      abandoned++;
      reject(new Error("aborted"));
    }))) as unknown as typeof fetch;
    t = makeNode({ YUKUAI_UPSTREAM_TIMEOUT_MS: "50", YUKUAI_UPSTREAMS: JSON.stringify({ 510000: { url: "http://sichuan.invalid", key: "k" } }) }, { fetchFn: hang });
    const key = await makeGateway(t, "metro");
    const local = await issue(t, { idNumber: PERSON_ID });
    const sc = foreignHolder({ seed: SICHUAN_SEED, issuer: 510000, notBefore: T0 - 10, notAfter: T0 + 1000 });
    const { status, body } = await verifyBatch(t, key, [sc.presentText(T0), local.presentText(T0)]);
    expect(status).toBe(200);
    expect(body.results.map((r) => r.result)).toEqual(["UPSTREAM_UNAVAILABLE", "OK"]);
    // this upstream answers nothing, ever: the batch was answered because the node's timeout abandoned it
    expect(abandoned).toBe(1);
  });

  test("an upstream's OK must be about the routed credential: naming its issuer and its serial", async () => {
    const sc = foreignHolder({ seed: SICHUAN_SEED, issuer: 510000, notBefore: T0 - 10, notAfter: T0 + 1000 });
    const serial = Buffer.from(sc.fields.serial).toString("hex");
    const answers = [
      { result: "OK" }, { result: "OK", issuer: 510000 }, { result: "OK", serial }, { result: "OK", issuer: 500000, serial },
      { result: "OK", issuer: 510000, serial: "00".repeat(8) }, { result: "REVOKED", serial: "00".repeat(8) },
      { result: "NOT_A_RESULT" }, { result: "OK", issuer: 510000, serial }, { result: "REVOKED", serial }, { result: "STALE" },
    ];
    let k = 0;
    const fetchFn = (async () => Response.json({ results: [answers[k++]] })) as unknown as typeof fetch;
    t = makeNode({ YUKUAI_UPSTREAMS: JSON.stringify({ 510000: { url: "http://x.invalid", key: "k" } }) }, { fetchFn });
    const key = await makeGateway(t, "metro");
    const got: string[] = [];
    for (let i = 0; i < answers.length; i++) got.push((await verifyBatch(t, key, [sc.presentText(T0, 0, i + 1)])).body.results[0]!.result);
    expect(got).toEqual([...Array(7).fill("UPSTREAM_UNAVAILABLE"), "OK", "REVOKED", "STALE"]);
  });

  test("an upstream answering an error or a wrong-length list is UPSTREAM_UNAVAILABLE", async () => {
    const bad = (async () => new Response(JSON.stringify({ results: [] }), { status: 200 })) as unknown as typeof fetch;
    t = makeNode({ YUKUAI_UPSTREAMS: JSON.stringify({ 510000: { url: "http://x.invalid", key: "k" } }) }, { fetchFn: bad });
    const key = await makeGateway(t, "metro");
    const sc = foreignHolder({ seed: SICHUAN_SEED, issuer: 510000, notBefore: T0 - 10, notAfter: T0 + 1000 });
    expect((await verifyBatch(t, key, [sc.presentText(T0)])).body.results[0]!.result).toBe("UPSTREAM_UNAVAILABLE");
  });
});

describe("replay store full (§3: fail closed)", () => {
  test("503 REPLAY_STORE_FULL, readyz fails, nothing of the refused batch recorded, known serials still served", async () => {
    t = makeNode({ YUKUAI_REPLAY_CAPACITY: "16" });
    const key = await makeGateway(t, "metro");
    const holders = [];
    for (let i = 0; i < 17; i++) holders.push(await issue(t, { idNumber: PERSON_ID }));
    const first = await verifyBatch(t, key, holders.slice(0, 16).map((h) => h.presentText(T0)));
    expect(first.body.results.every((r) => r.result === "OK")).toBe(true);
    const refused = await t.app.request("/v1/verify/batch", req("POST", { scans: [holders[0]!.presentText(T0), holders[16]!.presentText(T0, 0, 5)] }, key));
    expect(refused.status).toBe(503);
    expect((await json<ErrorAnswer>(refused)).error.code).toBe("REPLAY_STORE_FULL");
    expect(refused.headers.get("retry-after")).toBeTruthy();
    expect((await t.app.request("/readyz")).status).toBe(503);
    expect(await (await t.app.request("/metrics")).text()).toContain("yukuai_replay_full 1");
    // a serial already held is still served
    expect((await verifyBatch(t, key, [holders[1]!.presentText(T0)])).body.results[0]!.result).toBe("OK");
    // after the retention (380 s) the old serials expire and the refused scan (counter 5) is accepted: it was not recorded
    t.clock.advance(381);
    expect((await t.app.request("/readyz")).status).toBe(200);
    expect((await verifyBatch(t, key, [holders[16]!.presentText(T0 + 381, 0, 5)])).body.results[0]!.result).toBe("OK");
  });
});

describe("single verify, msgpack and content negotiation", () => {
  test("POST /v1/verify answers one result", async () => {
    const { key, holder } = await setup();
    const res = await t.app.request("/v1/verify", req("POST", { code: holder.presentText(T0) }, key));
    expect(res.status).toBe(200);
    expect((await json<ScanResult>(res)).result).toBe("OK");
    const junk = await t.app.request("/v1/verify", req("POST", { code: "nope" }, key));
    expect(await junk.json()).toEqual({ result: "MALFORMED" });
  });

  test("msgpack in and out, raw 212-byte scans, and Accept choosing JSON", async () => {
    const { key, holder } = await setup();
    const body = packr.pack({ scans: [holder.present(T0), { code: holder.present(T0), at: T0 }, holder.presentText(T0), new Uint8Array(211)] });
    const res = await t.app.request("/v1/verify/batch", { method: "POST", headers: { "content-type": "application/msgpack", authorization: `Bearer ${key}` }, body });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/msgpack");
    const out = packr.unpack(new Uint8Array(await res.arrayBuffer())) as BatchAnswer;
    expect(out.results.map((r) => r.result)).toEqual(["OK", "OK", "OK", "MALFORMED"]);
    expect(out.revocations.seq).toBe(0);
    const asJson = await t.app.request("/v1/verify/batch", {
      method: "POST", headers: { "content-type": "application/msgpack", accept: "application/json", authorization: `Bearer ${key}` },
      body: packr.pack({ scans: [holder.present(T0)] }),
    });
    expect(asJson.headers.get("content-type")).toBe("application/json");
    expect((await json<BatchAnswer>(asJson)).results[0]!.result).toBe("OK");
    const asPack = await t.app.request("/v1/verify/batch", req("POST", { scans: [] }, key, { accept: "application/msgpack" }));
    expect(packr.unpack(new Uint8Array(await asPack.arrayBuffer()))).toEqual({ results: [], revocations: { seq: 0, syncedAt: T0 } });
  });
});

describe("errors (§4)", () => {
  test("401 without or with a wrong gateway key; an admin token is not a gateway key", async () => {
    const { holder } = await setup();
    for (const token of [undefined, "nope", ADMIN]) {
      const res = await t.app.request("/v1/verify/batch", req("POST", { scans: [holder.presentText(T0)] }, token));
      expect(res.status).toBe(401);
      expect((await json<ErrorAnswer>(res)).error.code).toBe("UNAUTHORIZED");
    }
    const single = await t.app.request("/v1/verify", req("POST", { code: holder.presentText(T0) }));
    expect(single.status).toBe(401);
  });

  test("400 for bad JSON, bad msgpack, a non-object body, scans not a list, a single verify without code", async () => {
    const { key } = await setup();
    const raw = (body: string | Uint8Array, type = "application/json", path = "/v1/verify/batch") =>
      t.app.request(path, { method: "POST", headers: { "content-type": type, authorization: `Bearer ${key}` }, body });
    for (const res of [
      await raw("{not json"), await raw(new Uint8Array([0xc1]), "application/msgpack"), await raw("[1,2]"), await raw("{\"scans\": 5}"),
      await raw("{}", "application/json", "/v1/verify"), await raw(new Uint8Array([0xff, 0xfe]), "application/json"),
    ]) {
      expect(res.status).toBe(400);
      // errors come in the request's format (§4)
      const bytes = new Uint8Array(await res.arrayBuffer());
      const e = ((res.headers.get("content-type") === "application/msgpack" ? packr.unpack(bytes) : JSON.parse(new TextDecoder().decode(bytes))) as ErrorAnswer).error;
      expect(typeof e.code).toBe("string");
      expect(e.message.length).toBeGreaterThan(0);
    }
  });

  test("413 for a body over the limit (declared or streamed) and for a batch over the scan limit", async () => {
    const { key, holder } = await setup("metro", { YUKUAI_MAX_BATCH: "3", YUKUAI_MAX_BODY_BYTES: "4096" });
    const big = JSON.stringify({ scans: Array(40).fill(holder.presentText(T0)) });
    const declared = await t.app.request("/v1/verify/batch", req("POST", JSON.parse(big), key));
    expect(declared.status).toBe(413);
    expect((await json<ErrorAnswer>(declared)).error.code).toBe("BODY_TOO_LARGE");
    const stream = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode(big)); c.close(); } });
    const streamed = await t.app.request("/v1/verify/batch", { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body: stream, duplex: "half" } as RequestInit);
    expect(streamed.status).toBe(413);
    const batch = await t.app.request("/v1/verify/batch", req("POST", { scans: Array(4).fill("x") }, key));
    expect(batch.status).toBe(413);
    expect((await json<ErrorAnswer>(batch)).error.code).toBe("BATCH_TOO_LARGE");
  });

  test("415 for another content type, 404 for an unknown path", async () => {
    const { key } = await setup();
    const res = await t.app.request("/v1/verify/batch", { method: "POST", headers: { "content-type": "text/plain", authorization: `Bearer ${key}` }, body: "{}" });
    expect(res.status).toBe(415);
    expect((await json<ErrorAnswer>(res)).error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
    const none = await t.app.request("/v1/verify/batch", { method: "POST", headers: { authorization: `Bearer ${key}` }, body: "{}" });
    expect(none.status).toBe(415);
    const nf = await t.app.request("/v2/nothing");
    expect(nf.status).toBe(404);
    expect((await json<ErrorAnswer>(nf)).error.code).toBe("NOT_FOUND");
  });

  test("an internal fault is a 500 with the error body, and the log line carries no request data", async () => {
    const { key, holder } = await setup();
    t.node.pipeline.verifyBatch = async () => { throw new Error("boom"); };
    const res = await t.app.request("/v1/verify/batch", req("POST", { scans: [holder.presentText(T0)] }, key));
    expect(res.status).toBe(500);
    expect((await json<ErrorAnswer>(res)).error.code).toBe("INTERNAL");
    expect(t.logs.join("\n")).toContain("boom");
    expect(t.logs.join("\n")).not.toContain(PERSON_ID);
  });
});
