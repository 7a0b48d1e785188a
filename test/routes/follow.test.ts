/**
 * Follower mode (YUKUAI_FOLLOW, DESIGN.md §4/§6): trust, gateways and revocations taken from the issuer node
 * with the feed token (never the admin token) and applied at each poll; deleted gateways and rotated keys
 * follow too; licence scenes answered by the issuer; nothing issued here; readiness tracks the sync and a
 * feed that goes backwards.
 */
import { afterEach, expect, test } from "bun:test";
import { MemoryReplayWindow } from "../../src/verify/replay-window.ts";
import { json, type AccessLog, type ErrorAnswer, type GatewayList, type IssuerKeyMade, type ReadyAnswer, type RevocationFeed, type TrustAnswer } from "../support/api.ts";
import { PERSON_ID } from "../support/ids.ts";
import { ADMIN, issue, makeGateway, makeNode, req, T0, verifyBatch, type TestNode } from "../support/node.ts";

const FEED = "test-feed-token";
const FOLLOWER_ADMIN = "follower-local-admin";

/** The issuer node's management calls: admin only, and never on a follower. */
const MANAGEMENT = [
    ["POST", "/v1/credentials", { kind: "person", idNumber: PERSON_ID, devicePublicKey: "x" }],
    ["POST", "/v1/revocations", { type: "credential", value: "00".repeat(8) }],
    ["POST", "/v1/gateways", { name: "g", scene: "metro" }],
    ["DELETE", "/v1/gateways/gw_0000000000000000", undefined],
    ["POST", "/v1/issuer-keys", undefined],
    ["PUT", `/v1/subjects/person/${PERSON_ID}/licences/identity-card`, { name: "x", idNumber: PERSON_ID }],
    ["GET", `/v1/subjects/person/${PERSON_ID}/access-log`, undefined],
] as const;

let issuer: TestNode;
let follower: TestNode;
/** While true the issuer node does not answer the follower. */
let issuerDown = false;
/** Authorization headers the follower sent to the issuer node. */
let sentTokens: string[] = [];
afterEach(() => {
  follower?.close();
  issuer?.close();
});

/** An issuer node and a follower sharing one replay store (the follower's "Redis"), the follower reaching it through `fetchFn`. */
function pair(followerEnv: Record<string, string> = {}, answer?: (path: string, init: RequestInit) => Response | Promise<Response> | undefined) {
  const shared = new MemoryReplayWindow(1024, 380, T0 - 20);
  issuer = makeNode({ YUKUAI_FEED_TOKEN: FEED }, { replay: shared });
  issuerDown = false;
  sentTokens = [];
  const fetchFn = (async (url: string, init: RequestInit) => {
    if (issuerDown) throw new TypeError("fetch failed: connection refused");
    const u = new URL(url);
    const auth = new Headers(init.headers).get("authorization");
    if (auth) sentTokens.push(auth.replace(/^Bearer /, ""));
    return (await answer?.(u.pathname + u.search, init)) ?? issuer.app.request(u.pathname + u.search, init);
  }) as unknown as typeof fetch;
  follower = makeNode({
    YUKUAI_FOLLOW: "http://issuer.invalid", YUKUAI_FEED_TOKEN: FEED, YUKUAI_ADMIN_TOKEN: FOLLOWER_ADMIN,
    YUKUAI_REDIS_URL: "redis://shared-store.invalid", ...followerEnv,
  }, { fetchFn, replay: shared });
}

test("a follower verifies with the issuer's trust, gateways and revocations, applied at each sync", async () => {
  pair();
  expect((await follower.app.request("/readyz")).status).toBe(503); // never synced
  const metro = await makeGateway(issuer, "metro");
  const h = await issue(issuer, { idNumber: PERSON_ID });
  expect(await follower.node.follower!.syncOnce()).toBe(true);
  expect((await follower.app.request("/readyz")).status).toBe(200);
  const trust = await json<TrustAnswer>(await follower.app.request("/v1/trust"));
  expect(trust).toEqual(await json<TrustAnswer>(await issuer.app.request("/v1/trust")));
  const ok = await verifyBatch(follower, metro, [h.presentText(T0)]);
  expect(ok.body.results[0]!.result).toBe("OK");
  expect(ok.body.revocations).toEqual({ seq: 0, syncedAt: T0 });
  // one replay domain: the same code at the issuer node is REPLAY
  expect((await verifyBatch(issuer, metro, [h.presentText(T0, 0, h.counter)])).body.results[0]!.result).toBe("REPLAY");
  // a revocation on the issuer applies at the follower's next sync
  await issuer.app.request("/v1/revocations", req("POST", { type: "credential", value: ok.body.results[0]!.serial }, ADMIN));
  follower.clock.advance(1);
  expect(await follower.node.follower!.syncOnce()).toBe(true);
  const revoked = await verifyBatch(follower, metro, [h.presentText(T0 + 1)]);
  expect(revoked.body.results[0]!.result).toBe("REVOKED");
  expect(revoked.body.revocations).toEqual({ seq: 1, syncedAt: T0 + 1 });
  const feed = await json<RevocationFeed>(await follower.app.request("/v1/revocations?since=0", req("GET", undefined, FOLLOWER_ADMIN)));
  expect(feed.entries.length).toBe(1);
  // a new gateway too
  const bus = await makeGateway(issuer, "bus");
  expect((await follower.app.request("/v1/verify/batch", req("POST", { scans: [] }, bus))).status).toBe(401);
  await follower.node.follower!.syncOnce();
  expect((await follower.app.request("/v1/verify/batch", req("POST", { scans: [] }, bus))).status).toBe(200);
});

test("the follower presents the feed token and never the admin token; the feed token reads the feed and nothing else", async () => {
  pair();
  const metro = await makeGateway(issuer, "metro");
  expect(await follower.node.follower!.syncOnce()).toBe(true);
  expect(sentTokens.length).toBeGreaterThan(0);
  expect(new Set(sentTokens)).toEqual(new Set([FEED]));
  expect(sentTokens).not.toContain(ADMIN);
  // the feed token's two reads
  expect((await issuer.app.request("/v1/revocations?since=0", req("GET", undefined, FEED))).status).toBe(200);
  expect((await issuer.app.request("/v1/gateways", req("GET", undefined, FEED))).status).toBe(200);
  // and nothing else: every admin call, every gateway call
  for (const [method, path, body] of [
    ...MANAGEMENT,
    ["GET", `/v1/subjects/person/${PERSON_ID}/licences/identity-card`, undefined],
    ["POST", "/v1/verify/batch", { scans: [] }],
    ["POST", "/v1/verify", { code: "x" }],
  ] as const) {
    const res = await issuer.app.request(path, req(method, body, FEED));
    expect([method, path, res.status, (await json<ErrorAnswer>(res)).error.code]).toEqual([method, path, 401, "UNAUTHORIZED"]);
  }
  // a gateway key reads no feed
  expect((await issuer.app.request("/v1/gateways", req("GET", undefined, metro))).status).toBe(401);
  // a follower's own admin token is not the issuer's
  expect((await issuer.app.request("/v1/gateways", req("GET", undefined, FOLLOWER_ADMIN))).status).toBe(401);
});

test("the poll loop (every 500 ms by default) applies a new revocation, a deleted gateway and a rotated key at its next poll", async () => {
  pair();
  expect(follower.node.config.followIntervalMs).toBe(500);
  const metro = await makeGateway(issuer, "metro");
  const gone = await makeGateway(issuer, "bus");
  const h = await issue(issuer, { idNumber: PERSON_ID });
  const f = follower.node.follower!;
  f.start();
  await f.nextPoll();
  expect((await verifyBatch(follower, gone, [])).status).toBe(200);
  // revocation
  await issuer.app.request("/v1/revocations", req("POST", { type: "device", value: Buffer.from(h.fields.devicePub).toString("hex") }, ADMIN));
  // gateway deletion: 204, at once on the issuer node
  const gw = (await json<GatewayList>(await issuer.app.request("/v1/gateways", req("GET", undefined, ADMIN)))).gateways.find((g) => g.scene === "bus")!;
  const del = await issuer.app.request(`/v1/gateways/${gw.id}`, req("DELETE", undefined, ADMIN));
  expect(del.status).toBe(204);
  expect((await verifyBatch(issuer, gone, [])).status).toBe(401);
  expect((await issuer.app.request(`/v1/gateways/${gw.id}`, req("DELETE", undefined, ADMIN))).status).toBe(404);
  // key rotation: kid 2 signs from now on
  const rotated = await issuer.app.request("/v1/issuer-keys", req("POST", undefined, ADMIN));
  expect(rotated.status).toBe(201);
  expect((await json<IssuerKeyMade>(rotated)).kid).toBe(2);
  await f.nextPoll();
  await f.nextPoll(); // a poll that started before the changes may have been under way
  expect((await verifyBatch(follower, metro, [h.presentText(T0)])).body.results[0]!.result).toBe("REVOKED");
  expect((await verifyBatch(follower, gone, [])).status).toBe(401);
  const kids = (await json<TrustAnswer>(await follower.app.request("/v1/trust"))).issuers[0]!.keys.map((k) => k.kid);
  expect(kids).toEqual([1, 2]);
  const fresh = await issue(issuer, { idNumber: PERSON_ID });
  expect(fresh.fields.kid).toBe(2);
  expect((await verifyBatch(follower, metro, [fresh.presentText(T0)])).body.results[0]!.result).toBe("OK");
  // the follower's database lost the deleted gateway too (a restart does not bring it back)
  const dir = follower.dir;
  follower.node.close();
  const again = makeNode({ YUKUAI_FOLLOW: "http://issuer.invalid", YUKUAI_FEED_TOKEN: FEED, YUKUAI_REDIS_URL: "redis://x.invalid" }, {}, dir);
  try {
    expect((await again.app.request("/v1/verify/batch", req("POST", { scans: [] }, gone))).status).toBe(401);
  } finally {
    again.node.close();
  }
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
  const log = await json<AccessLog>(await issuer.app.request(`/v1/subjects/person/${PERSON_ID}/access-log`, req("GET", undefined, ADMIN)));
  expect(log.entries.length).toBe(1);
  issuerDown = true;
  const down = await follower.app.request("/v1/verify/batch", req("POST", { scans: [h.presentText(T0, 1)] }, hotel));
  expect(down.status).toBe(503);
  expect((await json<ErrorAnswer>(down)).error.code).toBe("ISSUER_UNAVAILABLE");
});

test("a follower issues nothing, manages nothing and holds no licences: 403 FOLLOWER", async () => {
  pair();
  for (const [method, path, body] of MANAGEMENT) {
    const res = await follower.app.request(path, req(method, body, FOLLOWER_ADMIN));
    expect([path, res.status, (await json<ErrorAnswer>(res)).error.code]).toEqual([path, 403, "FOLLOWER"]);
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
  const lag = await follower.app.request("/readyz");
  expect(lag.status).toBe(503);
  expect((await json<ReadyAnswer>(lag)).checks.follow).toBe("lagging");
  issuerDown = false;
  expect(await follower.node.follower!.syncOnce()).toBe(true);
  expect((await follower.app.request("/readyz")).status).toBe(200);
});

test("a feed whose sequence goes backwards (issuer restored from a backup) makes the follower unready, loudly, and nothing more is applied", async () => {
  let restored = false;
  pair({}, (path) => {
    if (restored && path.startsWith("/v1/revocations")) {
      // the restored issuer holds only entry 1
      return new Response(JSON.stringify({ entries: [], next: 2, last: 1 }), { headers: { "content-type": "application/json" } });
    }
    return undefined;
  });
  for (const v of ["01", "02"]) await issuer.app.request("/v1/revocations", req("POST", { type: "credential", value: v.repeat(8) }, ADMIN));
  expect(await follower.node.follower!.syncOnce()).toBe(true);
  expect(follower.node.revocations.seq).toBe(2);
  restored = true;
  expect(await follower.node.follower!.syncOnce()).toBe(false);
  const r = await follower.app.request("/readyz");
  expect(r.status).toBe(503);
  expect((await json<ReadyAnswer>(r)).checks.follow).toBe("feed-backwards");
  expect(follower.logs.some((l) => l.includes("NOT READY") && l.includes("went backwards") && l.includes("applied 2"))).toBe(true);
  // it stays so, even when the feed looks sane again, until an operator resolves it
  restored = false;
  expect(await follower.node.follower!.syncOnce()).toBe(false);
  expect((await follower.app.request("/readyz")).status).toBe(503);
});

test("the followed node's trust is taken only when every key passes the §2 key test and it serves this node's issuer", async () => {
  const smallOrder = Buffer.from("0100000000000000000000000000000000000000000000000000000000000000", "hex").toString("base64url");
  let trust: unknown = null;
  pair({}, (path) => (path === "/v1/trust" && trust !== null ? Response.json(trust) : undefined));
  expect(await follower.node.follower!.syncOnce()).toBe(true);
  const good = await json<TrustAnswer>(await issuer.app.request("/v1/trust"));
  trust = { issuers: [...good.issuers, { issuer: 520000, name: "x", keys: [{ kid: 1, publicKey: smallOrder, notBefore: 0, notAfter: 0xffffffff, status: "active" }] }] };
  expect(await follower.node.follower!.syncOnce()).toBe(false);
  expect(follower.logs.some((l) => l.includes("trust refused") && l.includes("small order"))).toBe(true);
  expect((await json<TrustAnswer>(await follower.app.request("/v1/trust")))).toEqual(good); // the last good trust stays
  trust = { issuers: [{ ...good.issuers[0], issuer: 510000 }] };
  expect(await follower.node.follower!.syncOnce()).toBe(false);
  expect(follower.logs.some((l) => l.includes("does not list issuer 500000"))).toBe(true);
});

test("a follower needs a shared replay store and the feed token; it takes no trust list of its own", () => {
  const base = { YUKUAI_FOLLOW: "http://issuer.invalid", YUKUAI_FEED_TOKEN: FEED, YUKUAI_REDIS_URL: "redis://127.0.0.1:1" };
  expect(() => makeNode({ ...base, YUKUAI_REDIS_URL: "" })).toThrow("YUKUAI_REDIS_URL");
  expect(() => makeNode({ ...base, YUKUAI_FEED_TOKEN: "" })).toThrow("YUKUAI_FEED_TOKEN");
  expect(() => makeNode({ ...base, YUKUAI_TRUST_LIST: "/x.jws", YUKUAI_TRUST_ANCHORS: "x" })).toThrow("YUKUAI_TRUST_LIST");
});
