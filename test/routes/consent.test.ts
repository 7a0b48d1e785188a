/**
 * §5 through HTTP: scenes, e-licences (电子证照), consent-based release, the access log, 一企一码, 一卡通,
 * and that personal data never reaches logs or metrics.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { licenceBit, SCENE_DEFS, LICENCE_TYPES } from "../../src/scenes.ts";
import { FLAG_CARD, toText } from "../../src/wire/code.ts";
import { json, type AccessLog, type ErrorAnswer, type LicenceAnswer } from "../support/api.ts";
import { COMPANY_ID, PERSON_ID, PERSON_ID_2 } from "../support/ids.ts";
import { ADMIN, issue, makeGateway, makeNode, req, sichuanNode, T0, verifyBatch, type TestNode } from "../support/node.ts";
import { foreignHolder, SICHUAN_SEED } from "../support/trust.ts";

let t: TestNode;
afterEach(() => t?.close());

const ID_CARD = { name: "张三", idNumber: PERSON_ID, address: "重庆市渝中区" };
const MEDICAL = { name: "张三", number: "CQ500000123" };
const lic = (kind: string, id: string, type: string) => `/v1/subjects/${kind}/${id}/licences/${type}`;

/** Links a licence; tests read the body of refusals only. */
async function put(kind: string, id: string, type: string, fields: unknown): Promise<{ status: number; body: ErrorAnswer }> {
  const res = await t.app.request(lic(kind, id, type), req("PUT", fields, ADMIN));
  return { status: res.status, body: await json<ErrorAnswer>(res) };
}

async function accessLog(kind: string, id: string) {
  return (await json<AccessLog>(await t.app.request(`/v1/subjects/${kind}/${id}/access-log`, req("GET", undefined, ADMIN)))).entries;
}

describe("e-licences", () => {
  test("PUT, GET, DELETE; fields validated per type with the bad field named", async () => {
    t = makeNode();
    expect((await put("person", PERSON_ID, "identity-card", ID_CARD)).status).toBe(200);
    const got = await json<LicenceAnswer>(await t.app.request(lic("person", PERSON_ID, "identity-card"), req("GET", undefined, ADMIN)));
    expect(got.fields).toEqual(ID_CARD);
    const bad: [string, string, string, unknown, string][] = [
      ["person", PERSON_ID, "identity-card", { name: "张三" }, "idNumber"],
      ["person", PERSON_ID, "identity-card", { name: "张三", idNumber: PERSON_ID_2 }, "idNumber"],
      ["person", PERSON_ID, "driver-licence", { name: "张三", number: "1" }, "class"],
      ["person", PERSON_ID, "vehicle-licence", { plate: "渝A12345", owner: 5 }, "owner"],
      ["person", PERSON_ID, "marriage-certificate", { number: "1" }, "names"],
      ["enterprise", COMPANY_ID, "business-licence", { name: "重庆某公司", uscc: "91500000MA5U000001" }, "uscc"],
      ["person", PERSON_ID, "business-licence", { name: "x", uscc: COMPANY_ID }, "uscc"],
      ["person", PERSON_ID, "medical-insurance", { name: "张三", number: "" }, "number"],
      ["person", PERSON_ID, "social-security-card", { name: "张三" }, "number"],
      ["person", PERSON_ID, "student-card", { name: "张三", school: "重庆大学" }, "studentNumber"],
    ];
    for (const [kind, id, type, fields, field] of bad) {
      const r = await put(kind, id, type, fields);
      expect([r.status, r.body.error.code]).toEqual([400, "BAD_LICENCE_FIELD"]);
      expect(r.body.error.message).toContain(field);
    }
    expect((await put("person", PERSON_ID, "passport", {})).body.error.code).toBe("BAD_LICENCE_TYPE");
    expect((await put("robot", PERSON_ID, "identity-card", ID_CARD)).body.error.code).toBe("BAD_KIND");
    expect((await put("person", "123", "identity-card", ID_CARD)).body.error.code).toBe("BAD_ID_NUMBER");
    const noToken = await t.app.request(lic("person", PERSON_ID, "identity-card"), req("PUT", ID_CARD));
    expect(noToken.status).toBe(401);
    const del = await t.app.request(lic("person", PERSON_ID, "identity-card"), req("DELETE", undefined, ADMIN));
    expect(del.status).toBe(204);
    const gone = await t.app.request(lic("person", PERSON_ID, "identity-card"), req("GET", undefined, ADMIN));
    expect([gone.status, (await json<ErrorAnswer>(gone)).error.code]).toEqual([404, "NOT_FOUND"]);
    expect((await t.app.request(lic("person", PERSON_ID, "identity-card"), req("DELETE", undefined, ADMIN))).status).toBe(404);
  });
});

describe("consent-based release (§5)", () => {
  test("a hotel receives the identity card only with consent, nothing it does not need, and every release is audited", async () => {
    t = makeNode();
    const hotel = await makeGateway(t, "hotel", "解放碑某酒店");
    const h = await issue(t, { idNumber: PERSON_ID });
    await put("person", PERSON_ID, "identity-card", ID_CARD);
    await put("person", PERSON_ID, "medical-insurance", MEDICAL);
    const all = LICENCE_TYPES.reduce((m, x) => m | licenceBit(x), 0);
    const { body } = await verifyBatch(t, hotel, [
      h.presentText(T0, 0), // no consent
      h.presentText(T0, licenceBit("medical-insurance")), // consent to something the hotel does not need
      h.presentText(T0, all), // consent to everything: only what the scene needs leaves
    ]);
    expect(body.results.map((r) => r.result)).toEqual(["OK", "OK", "OK"]);
    expect(body.results[0]!.licences).toBeUndefined();
    expect(body.results[1]!.licences).toBeUndefined();
    expect(body.results[2]!.licences).toEqual({ "identity-card": ID_CARD });
    const log = await accessLog("person", PERSON_ID);
    expect(log).toEqual([{ at: T0, gateway: expect.stringMatching(/^gw_/), scene: "hotel", licences: ["identity-card"] }]);
  });

  test("a hospital receives identity card and medical insurance, each only with its bit", async () => {
    t = makeNode();
    const hospital = await makeGateway(t, "hospital");
    const h = await issue(t, { idNumber: PERSON_ID });
    await put("person", PERSON_ID, "identity-card", ID_CARD);
    await put("person", PERSON_ID, "medical-insurance", MEDICAL);
    const { body } = await verifyBatch(t, hospital, [h.presentText(T0, licenceBit("medical-insurance")), h.presentText(T0, licenceBit("medical-insurance") | licenceBit("identity-card"))]);
    expect(body.results[0]!.licences).toEqual({ "medical-insurance": MEDICAL });
    expect(body.results[1]!.licences).toEqual({ "medical-insurance": MEDICAL, "identity-card": ID_CARD });
    expect((await accessLog("person", PERSON_ID)).map((e) => e.licences.sort())).toEqual([["medical-insurance"], ["identity-card", "medical-insurance"]]);
  });

  test("a metro gateway never receives licence data, even with full consent, and its path touches no disk", async () => {
    t = makeNode();
    const metro = await makeGateway(t, "metro");
    const h = await issue(t, { idNumber: PERSON_ID, flags: 0b1 });
    await put("person", PERSON_ID, "identity-card", ID_CARD);
    // close SQLite: any statement on the transit path would now throw (500)
    t.node.db.close();
    const { status, body } = await verifyBatch(t, metro, [h.presentText(T0, 0xff), h.presentText(T0, 0xffff)]);
    expect(status).toBe(200);
    expect(body.results.map((r) => [r.result, r.licences, r.flags])).toEqual([["OK", undefined, ["senior"]], ["OK", undefined, ["senior"]]]);
    t.close = () => t.node.checker.close?.(); // db already closed
  });

  test("nothing linked, nothing released and nothing audited", async () => {
    t = makeNode();
    const bank = await makeGateway(t, "bank");
    const h = await issue(t, { idNumber: PERSON_ID });
    const { body } = await verifyBatch(t, bank, [h.presentText(T0, 0xff)]);
    expect(body.results[0]!.licences).toBeUndefined();
    expect(await accessLog("person", PERSON_ID)).toEqual([]);
  });

  test("一企一码: an enterprise code releases its business licence at gov-hall and subsidy, not at a hotel", async () => {
    t = makeNode();
    const hall = await makeGateway(t, "gov-hall");
    const subsidy = await makeGateway(t, "subsidy");
    const hotel = await makeGateway(t, "hotel");
    const bl = { name: "重庆某科技有限公司", uscc: COMPANY_ID, legalRepresentative: "李四" };
    expect((await put("enterprise", COMPANY_ID, "business-licence", bl)).status).toBe(200);
    const e = await issue(t, { kind: "enterprise", idNumber: COMPANY_ID });
    const bit = licenceBit("business-licence");
    const a = (await verifyBatch(t, hall, [e.presentText(T0, bit)])).body.results[0];
    expect(a).toMatchObject({ result: "OK", kind: "enterprise", licences: { "business-licence": bl } });
    const b = (await verifyBatch(t, subsidy, [e.presentText(T0, bit)])).body.results[0]!;
    expect(b.licences).toEqual({ "business-licence": bl });
    const c = (await verifyBatch(t, hotel, [e.presentText(T0, bit)])).body.results[0]!;
    expect([c.result, c.licences]).toEqual(["OK", undefined]);
    expect((await accessLog("enterprise", COMPANY_ID)).map((x) => x.scene)).toEqual(["gov-hall", "subsidy"]);
  });

  test("一卡通: a card tap and a phone code of one subject both pass; revoking the subject stops both", async () => {
    t = makeNode();
    const bus = await makeGateway(t, "bus");
    const phone = await issue(t, { idNumber: PERSON_ID });
    const card = await issue(t, { idNumber: PERSON_ID, flags: FLAG_CARD | 1 });
    expect(card.isCard).toBe(true);
    const tap = card.present(T0); // a card tap: the 212 raw bytes
    const { body } = await verifyBatch(t, bus, [phone.presentText(T0), { code: toText(tap), at: T0 }]);
    expect(body.results.map((r) => r.result)).toEqual(["OK", "OK"]);
    expect(body.results[1]!.flags).toEqual(["senior", "card"]);
    expect(body.results[0]!.subject).toBe(body.results[1]!.subject);
    const rev = await t.app.request("/v1/revocations", req("POST", { type: "subject", value: body.results[0]!.subject, reason: "holder deceased" }, ADMIN));
    expect(rev.status).toBe(201);
    const after = await verifyBatch(t, bus, [phone.presentText(T0), card.presentText(T0)]);
    expect(after.body.results.map((r) => r.result)).toEqual(["REVOKED", "REVOKED"]);
    expect(after.body.revocations.seq).toBe(1);
  });
});

describe("scene catalogue", () => {
  test("every scene of §5 is there, with its seed task and needs", async () => {
    const ids = SCENE_DEFS.map((s) => s.id);
    for (const id of ["metro", "bus", "internet-cafe", "hotel", "venue", "scenic", "park-gate", "community-gate", "utilities", "bank", "housing-fund", "tax", "nontax-payment", "pharmacy", "hospital", "campus", "traffic-fine", "subsidy", "gov-hall"]) {
      expect(ids).toContain(id);
    }
    const tasks = new Set(SCENE_DEFS.flatMap((s) => s.tasks));
    for (let i = 1; i <= 20; i++) expect(tasks.has(i)).toBe(true); // the seeds' 20-task list is covered
    const g = SCENE_DEFS.find((s) => s.id === "gov-hall")!;
    expect(g.needs).not.toContain("student-card");
    expect(g.needs.length).toBe(7);
  });

  test("operators override accepted issuers from a file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "yukuai-scenes-"));
    const file = join(dir, "scenes.json");
    writeFileSync(file, JSON.stringify({ hotel: { issuers: [500000, 510000] }, metro: { issuers: [500000] } }));
    try {
      t = await sichuanNode({ YUKUAI_SCENES_FILE: file });
      const hotel = await makeGateway(t, "hotel");
      const metro = await makeGateway(t, "metro");
      const sc = foreignHolder({ seed: SICHUAN_SEED, issuer: 510000, notBefore: T0 - 10, notAfter: T0 + 1000 });
      expect((await verifyBatch(t, hotel, [sc.presentText(T0)])).body.results[0]!.result).toBe("OK");
      expect((await verifyBatch(t, metro, [sc.presentText(T0)])).body.results[0]!.result).toBe("ISSUER_NOT_ACCEPTED");
      writeFileSync(file, JSON.stringify({ casino: { issuers: [500000] } }));
      expect(() => makeNode({ YUKUAI_SCENES_FILE: file })).toThrow("casino");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("personal data", () => {
  test("ID numbers and names never appear in logs, console output or metrics", async () => {
    const seen: string[] = [];
    const orig = { log: console.log, error: console.error, warn: console.warn, info: console.info };
    for (const k of Object.keys(orig) as (keyof typeof orig)[]) console[k] = (...a: unknown[]) => { seen.push(a.map(String).join(" ")); };
    try {
      t = makeNode();
      const hotel = await makeGateway(t, "hotel");
      const h = await issue(t, { idNumber: PERSON_ID });
      await put("person", PERSON_ID, "identity-card", ID_CARD);
      await verifyBatch(t, hotel, [h.presentText(T0, 1), "junk"]);
      await put("person", PERSON_ID, "identity-card", { name: "张三" }); // a refused request
      await t.app.request("/v1/credentials", req("POST", { kind: "person", idNumber: PERSON_ID.slice(0, 17) + "0", devicePublicKey: "x" }, ADMIN));
      seen.push(await (await t.app.request("/metrics")).text());
    } finally {
      Object.assign(console, orig);
    }
    const all = seen.concat(t.logs).join("\n");
    expect(all).toContain("yukuai_licence_releases_total");
    for (const pii of [PERSON_ID, PERSON_ID.slice(0, 17), "张三", "重庆市渝中区"]) expect(all).not.toContain(pii);
  });
});
