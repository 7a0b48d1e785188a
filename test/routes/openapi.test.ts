/**
 * `GET /openapi.json` (spec §4): a valid OpenAPI 3.1 document naming every route the app serves, and real
 * answers — successes and errors, JSON — validate against the response schemas it gives for their status;
 * every error code answered is listed for that route and status. `GET /docs` is checked in a browser in
 * test/e2e/docs-page.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Ajv2020 from "ajv/dist/2020.js";
import { Validator } from "@seriousme/openapi-schema-validator";
import { PERSON_ID, PERSON_ID_2 } from "../support/ids.ts";
import { ADMIN, issue, makeGateway, makeNode, req, T0, type TestNode } from "../support/node.ts";

let t: TestNode;
let doc: any;
beforeAll(async () => {
  t = makeNode({ YUKUAI_FEED_TOKEN: "feed" });
  doc = await (await t.app.request("/openapi.json")).json();
});
afterAll(() => t.close());

/** The OpenAPI path of a concrete request path (`/v1/gateways/gw_1` → `/v1/gateways/{id}`). */
function pathOf(path: string): string {
  const p = path.split("?")[0]!;
  for (const template of Object.keys(doc.paths)) {
    const re = new RegExp("^" + template.replace(/\{[^}]+\}/g, "[^/]+") + "$");
    if (re.test(p)) return template;
  }
  throw new Error(`no path in the document for ${p}`);
}

describe("the document", () => {
  test("is valid OpenAPI 3.1 (checked against the official schema)", async () => {
    expect(doc.openapi).toBe("3.1.0");
    const v = new Validator();
    const r = await v.validate(structuredClone(doc));
    expect(r.errors ?? []).toEqual([]);
    expect(r.valid).toBe(true);
  });

  test("names every route the app serves, with its method", () => {
    const served = new Set<string>();
    for (const r of t.app.routes) {
      if (r.method === "ALL" || r.path === "/*" || r.path.startsWith("/docs")) continue;
      served.add(`${r.method.toLowerCase()} ${r.path.replace(/:([A-Za-z]+)/g, "{$1}")}`);
    }
    const documented = new Set(Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops as object).map((m) => `${m} ${p}`)));
    expect([...served].filter((s) => !documented.has(s))).toEqual([]);
    expect([...documented].filter((s) => !served.has(s))).toEqual([]);
    expect(served.size).toBeGreaterThanOrEqual(18);
  });
});

describe("real answers validate against it", () => {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addFormat("uri", true);
  let compiledComponents = false;

  /** Validates one answer against the document's schema for its route and status; returns the body. */
  async function check(method: string, path: string, res: Response): Promise<any> {
    if (!compiledComponents) {
      ajv.addSchema({ $id: "doc", components: doc.components });
      compiledComponents = true;
    }
    const op = doc.paths[pathOf(path)]?.[method.toLowerCase()];
    expect({ path, method, documented: op !== undefined }).toEqual({ path, method, documented: true });
    const r = op.responses[String(res.status)];
    expect({ path, method, status: res.status, documented: r !== undefined }).toEqual({ path, method, status: res.status, documented: true });
    if (res.status === 204 || res.status === 101) return null;
    const type = (res.headers.get("content-type") ?? "").split(";")[0]!;
    const media = r.content?.[type];
    expect({ path, status: res.status, type, documented: media !== undefined }).toEqual({ path, status: res.status, type, documented: true });
    const body: any = type === "text/plain" ? await res.text() : await res.json();
    const schema = JSON.parse(JSON.stringify(media.schema).replaceAll("#/components/", "doc#/components/"));
    const validate = ajv.compile(schema);
    const valid = validate(body);
    expect({ path, status: res.status, errors: valid ? null : validate.errors }).toEqual({ path, status: res.status, errors: null });
    if (body?.error?.code) expect({ path, status: res.status, code: body.error.code, listed: (r.description as string).split(", ").includes(body.error.code) })
      .toEqual({ path, status: res.status, code: body.error.code, listed: true });
    return body;
  }
  const call = async (method: string, path: string, body?: unknown, token?: string, headers: Record<string, string> = {}) =>
    check(method, path, await t.app.request(path, req(method, body, token, headers)));

  test("successes of every route", async () => {
    const gw = await call("POST", "/v1/gateways", { name: "Line 2", scene: "hotel" }, ADMIN);
    const h = await issue(t, { idNumber: PERSON_ID });
    await call("POST", "/v1/credentials", { kind: "person", idNumber: PERSON_ID_2, devicePublicKey: Buffer.from(h.fields.devicePub).toString("base64url"), flags: 3 }, ADMIN);
    await call("PUT", `/v1/subjects/person/${PERSON_ID}/licences/identity-card`, { name: "张三", idNumber: PERSON_ID }, ADMIN);
    await call("GET", `/v1/subjects/person/${PERSON_ID}/licences/identity-card`, undefined, ADMIN);
    const batch = await call("POST", "/v1/verify/batch", { scans: [h.presentText(T0, 1), "junk", { code: h.presentText(T0, 1), at: T0 }] }, gw.key);
    expect(batch.results[0].licences["identity-card"].name).toBe("张三");
    await call("POST", "/v1/verify", { code: h.presentText(T0) }, gw.key);
    await call("POST", "/v1/verify/batch", { scans: [h.presentText(T0)] }, gw.key, { "idempotency-key": "k" });
    await call("GET", `/v1/subjects/person/${PERSON_ID}/access-log`, undefined, ADMIN);
    await call("POST", "/v1/revocations", { type: "credential", value: Buffer.from(h.fields.serial).toString("hex"), reason: "lost" }, ADMIN);
    await call("GET", "/v1/revocations?since=0", undefined, "feed");
    await call("GET", "/v1/gateways", undefined, ADMIN);
    await call("POST", "/v1/issuer-keys", undefined, ADMIN);
    await call("GET", "/v1/trust");
    await call("DELETE", `/v1/subjects/person/${PERSON_ID}/licences/identity-card`, undefined, ADMIN);
    await call("DELETE", `/v1/gateways/${gw.id}`, undefined, ADMIN);
    await call("GET", "/healthz");
    await call("GET", "/readyz");
    await call("GET", "/metrics");
    await call("GET", "/openapi.json");
  });

  test("errors of every route, each code listed for its route and status", async () => {
    const gw = (await (await t.app.request("/v1/gateways", req("POST", { name: "g", scene: "metro" }, ADMIN))).json() as { key: string }).key;
    await call("POST", "/v1/verify/batch", { scans: [] }, "wrong");
    await call("POST", "/v1/verify/batch", { nope: 1 }, gw);
    await call("POST", "/v1/verify/batch", { scans: Array(1001).fill("x") }, gw);
    await call("POST", "/v1/verify/batch", { scans: [] }, gw, { "idempotency-key": "a b" });
    await check("POST", "/v1/verify/batch", await t.app.request("/v1/verify/batch", { method: "POST", headers: { authorization: `Bearer ${gw}`, "content-type": "text/plain" }, body: "x" }));
    await call("POST", "/v1/verify", { notcode: 1 }, gw);
    await check("GET", "/v1/verify/stream", await t.app.request("/v1/verify/stream", req("GET", undefined, gw)));
    await call("POST", "/v1/credentials", { kind: "robot" }, ADMIN);
    await call("POST", "/v1/credentials", { kind: "person", idNumber: "123", devicePublicKey: "A".repeat(43) }, ADMIN);
    await call("POST", "/v1/revocations", { type: "credential", value: "xyz" }, ADMIN);
    await call("GET", "/v1/revocations?since=-1", undefined, ADMIN);
    await call("POST", "/v1/gateways", { name: "", scene: "metro" }, ADMIN);
    await call("DELETE", "/v1/gateways/gw_none", undefined, ADMIN);
    await call("PUT", `/v1/subjects/person/${PERSON_ID}/licences/no-such-type`, { a: "b" }, ADMIN);
    await call("GET", `/v1/subjects/person/${PERSON_ID_2}/licences/driver-licence`, undefined, ADMIN);
    await call("GET", `/v1/subjects/robot/${PERSON_ID}/access-log`, undefined, ADMIN);
    await call("GET", `/v1/subjects/person/${PERSON_ID}/access-log?limit=0`, undefined, ADMIN);
    await call("POST", "/v1/issuer-keys", undefined, "nope");
  });
});
