/**
 * Follower mode (YUKUAI_FOLLOW): trust, gateways and revocations taken from the issuer node and applied
 * within a sync; licence scenes answered by the issuer; nothing issued here; readiness tracks the sync.
 */
import { afterEach, expect, test } from "bun:test";
import { ADMIN, issue, makeGateway, makeNode, PERSON_ID, req, T0, verifyBatch, type TestNode } from "../helpers.ts";

let issuer: TestNode;
let follower: TestNode;
/** While true the issuer node does not answer the follower. */
let issuerDown = false;
afterEach(() => {
  follower?.close();
  issuer?.close();
});

function pair() {
  issuer = makeNode();
  issuerDown = false;
  const fetchFn = (async (url: string, init: RequestInit) => {
    if (issuerDown) throw new TypeError("fetch failed: connection refused");
    const u = new URL(url);
    return issuer.app.request(u.pathname + u.search, init);
  }) as unknown as typeof fetch;
  follower = makeNode({ YUKUAI_FOLLOW: "http://issuer.invalid", YUKUAI_KEYS_DIR: "/nonexistent" }, { fetchFn });
}

test("a follower verifies with the issuer's trust, gateways and revocations, applied at each sync", async () => {
  pair();
  expect((await follower.app.request("/readyz")).status).toBe(503); // never synced
  const metro = await makeGateway(issuer, "metro");
  const h = await issue(issuer, { idNumber: PERSON_ID });
  expect(await follower.node.follower!.syncOnce()).toBe(true);
  expect((await follower.app.request("/readyz")).status).toBe(200);
  const trust = await (await follower.app.request("/v1/trust")).json();
  expect(trust).toEqual(await (await issuer.app.request("/v1/trust")).json());
  const ok = await verifyBatch(follower, metro, [h.presentText(T0)]);
  expect(ok.body.results[0].result).toBe("OK");
  expect(ok.body.revocations).toEqual({ seq: 0, syncedAt: T0 });
  // a revocation on the issuer applies at the follower's next sync
  await issuer.app.request("/v1/revocations", req("POST", { type: "credential", value: ok.body.results[0].serial }, ADMIN));
  follower.clock.advance(1);
  expect(await follower.node.follower!.syncOnce()).toBe(true);
  const revoked = await verifyBatch(follower, metro, [h.presentText(T0 + 1)]);
  expect(revoked.body.results[0].result).toBe("REVOKED");
  expect(revoked.body.revocations).toEqual({ seq: 1, syncedAt: T0 + 1 });
  const feed = await (await follower.app.request("/v1/revocations?since=0", req("GET", undefined, ADMIN))).json();
  expect(feed.entries.length).toBe(1);
  // a new gateway too
  const bus = await makeGateway(issuer, "bus");
  expect((await follower.app.request("/v1/verify/batch", req("POST", { scans: [] }, bus))).status).toBe(401);
  await follower.node.follower!.syncOnce();
  expect((await follower.app.request("/v1/verify/batch", req("POST", { scans: [] }, bus))).status).toBe(200);
});

test("the poll loop applies a new revocation within a second", async () => {
  issuer = makeNode();
  const fetchFn = ((url: string, init: RequestInit) => { const u = new URL(url); return issuer.app.request(u.pathname + u.search, init); }) as unknown as typeof fetch;
  follower = makeNode({ YUKUAI_FOLLOW: "http://issuer.invalid", YUKUAI_FOLLOW_INTERVAL_MS: "100" }, { fetchFn });
  const metro = await makeGateway(issuer, "metro");
  const h = await issue(issuer, { idNumber: PERSON_ID });
  follower.node.follower!.start();
  await Bun.sleep(300);
  await issuer.app.request("/v1/revocations", req("POST", { type: "device", value: Buffer.from(h.fields.devicePub).toString("hex") }, ADMIN));
  await Bun.sleep(1000);
  expect((await verifyBatch(follower, metro, [h.presentText(T0)])).body.results[0].result).toBe("REVOKED");
});

test("licence scenes are answered by the issuer (release and audit happen there); issuer down is 503", async () => {
  pair();
  const hotel = await makeGateway(issuer, "hotel");
  const h = await issue(issuer, { idNumber: PERSON_ID });
  const card = { name: "张三", idNumber: PERSON_ID };
  await issuer.app.request(`/v1/subjects/person/${PERSON_ID}/licences/identity-card`, req("PUT", card, ADMIN));
  await follower.node.follower!.syncOnce();
  const { body } = await verifyBatch(follower, hotel, [h.presentText(T0, 1)]);
  expect(body.results[0]).toMatchObject({ result: "OK", licences: { "identity-card": card } });
  const log = await (await issuer.app.request(`/v1/subjects/person/${PERSON_ID}/access-log`, req("GET", undefined, ADMIN))).json();
  expect(log.entries.length).toBe(1);
  issuerDown = true;
  const down = await follower.app.request("/v1/verify/batch", req("POST", { scans: [h.presentText(T0, 1)] }, hotel));
  expect(down.status).toBe(503);
  expect((await down.json()).error.code).toBe("ISSUER_UNAVAILABLE");
});

test("a follower issues nothing and holds no licences: 403 FOLLOWER", async () => {
  pair();
  for (const [method, path, body] of [
    ["POST", "/v1/credentials", { kind: "person", idNumber: PERSON_ID, devicePublicKey: "x" }],
    ["POST", "/v1/revocations", { type: "credential", value: "00".repeat(8) }],
    ["POST", "/v1/gateways", { name: "g", scene: "metro" }],
    ["PUT", `/v1/subjects/person/${PERSON_ID}/licences/identity-card`, { name: "x", idNumber: PERSON_ID }],
    ["GET", `/v1/subjects/person/${PERSON_ID}/access-log`, undefined],
  ] as const) {
    const res = await follower.app.request(path, req(method, body, ADMIN));
    expect([path, res.status, (await res.json()).error.code]).toEqual([path, 403, "FOLLOWER"]);
  }
});

test("readiness fails when the issuer has not answered for longer than the allowed lag", async () => {
  pair();
  await follower.node.follower!.syncOnce();
  expect((await follower.app.request("/readyz")).status).toBe(200);
  issuerDown = true;
  follower.clock.advance(10);
  expect(await follower.node.follower!.syncOnce()).toBe(false);
  expect((await follower.app.request("/readyz")).status).toBe(200); // 10 s behind: still within the allowed lag
  follower.clock.advance(1);
  expect((await follower.app.request("/readyz")).status).toBe(503);
  issuerDown = false;
  expect(await follower.node.follower!.syncOnce()).toBe(true);
  expect((await follower.app.request("/readyz")).status).toBe(200);
});

test("a follower needs the issuer's admin token", () => {
  expect(() => makeNode({ YUKUAI_FOLLOW: "http://issuer.invalid", YUKUAI_ADMIN_TOKEN: "" })).toThrow("YUKUAI_ADMIN_TOKEN");
});
