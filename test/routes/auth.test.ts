/**
 * Authentication (DESIGN.md §4): failed authentications counted per source and clock minute; after 20,
 * every token request from that source — a valid one included — is 429 TOO_MANY_ATTEMPTS with Retry-After
 * until the minute ends. The source is the peer, or the first X-Forwarded-For hop when the peer is listed in
 * YUKUAI_TRUSTED_PROXIES. Tokens are kept as SHA-256 digests only and compared in constant time.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { json, type ErrorAnswer } from "../support/api.ts";
import { ADMIN, makeGateway, makeNode, req, T0, type TestNode } from "../support/node.ts";

let t: TestNode | undefined;
afterEach(() => {
  t?.close();
  t = undefined;
});

/** `app.request` as if from `peer` (the Bun server's requestIP, which routes read through Hono's env). */
const from = (node: TestNode, peer: string, path: string, init: RequestInit) =>
  node.app.request(path, init, { server: { requestIP: () => ({ address: peer, family: "IPv4", port: 40000 }) } });

const PEER = "192.0.2.10";
const OTHER = "192.0.2.11";

describe("brute force → 429", () => {
  test("20 failures are 401; from the 21st request on, every token request from that source is 429 until the minute ends, a valid token included", async () => {
    t = makeNode();
    t.clock.set(T0 + 7); // 53 s left in this clock minute
    const gw = await makeGateway(t, "metro");
    for (let i = 0; i < 20; i++) {
      const r = await from(t, PEER, "/v1/gateways", req("GET", undefined, `guess-${i}`));
      expect(r.status).toBe(401);
    }
    for (const [path, init] of [
      ["/v1/gateways", req("GET", undefined, ADMIN)],
      ["/v1/verify/batch", req("POST", { scans: [] }, gw)],
      ["/v1/revocations", req("GET", undefined, "guess")],
      ["/v1/credentials", req("POST", {}, undefined)],
    ] as const) {
      const r = await from(t, PEER, path, init);
      expect([path, r.status]).toEqual([path, 429]);
      expect(r.headers.get("retry-after")).toBe("53");
      expect((await json<ErrorAnswer>(r)).error.code).toBe("TOO_MANY_ATTEMPTS");
    }
    // routes without a token still answer, and other sources are not affected
    expect((await from(t, PEER, "/v1/trust", req("GET"))).status).toBe(200);
    expect((await from(t, OTHER, "/v1/gateways", req("GET", undefined, ADMIN))).status).toBe(200);
    // the next clock minute starts afresh
    t.clock.set(T0 + 60);
    expect((await from(t, PEER, "/v1/gateways", req("GET", undefined, ADMIN))).status).toBe(200);
    const m = await (await t.app.request("/metrics")).text();
    expect(m).toContain('yukuai_auth_failures_total{outcome="refused"} 20');
    expect(m).toContain('yukuai_auth_failures_total{outcome="throttled"} 4');
  });

  test("a missing or malformed Authorization header is a failed authentication too", async () => {
    t = makeNode();
    for (let i = 0; i < 20; i++) {
      const init = i % 2 === 0 ? req("GET") : req("GET", undefined, undefined, { authorization: "Basic abc" });
      expect((await from(t, PEER, "/v1/gateways", init)).status).toBe(401);
    }
    expect((await from(t, PEER, "/v1/gateways", req("GET", undefined, ADMIN))).status).toBe(429);
  });

  test("the WebSocket upgrade is guarded the same way", async () => {
    t = makeNode();
    for (let i = 0; i < 20; i++) await from(t, PEER, "/v1/verify/stream", req("GET", undefined, "nope", { upgrade: "websocket" }));
    expect((await from(t, PEER, "/v1/verify/stream", req("GET", undefined, "nope", { upgrade: "websocket" }))).status).toBe(429);
  });

  test("X-Forwarded-For is believed only from a trusted proxy: behind it each client is its own source; from anyone else the header is ignored", async () => {
    const LB = "192.0.2.1";
    t = makeNode({ YUKUAI_TRUSTED_PROXIES: `198.51.100.7, ${LB}` });
    const fwd = (client: string, token: string) => req("GET", undefined, token, { "x-forwarded-for": `${client}, 203.0.113.9` });
    for (let i = 0; i < 20; i++) expect((await from(t, LB, "/v1/gateways", fwd("203.0.113.50", "bad"))).status).toBe(401);
    expect((await from(t, LB, "/v1/gateways", fwd("203.0.113.50", ADMIN))).status).toBe(429);
    expect((await from(t, LB, "/v1/gateways", fwd("203.0.113.51", ADMIN))).status).toBe(200); // another client behind the LB
    // an untrusted peer cannot pick its source by header: its failures count against the peer itself
    for (let i = 0; i < 20; i++) expect((await from(t, PEER, "/v1/gateways", fwd(`203.0.113.${100 + i}`, "bad"))).status).toBe(401);
    expect((await from(t, PEER, "/v1/gateways", fwd("203.0.113.200", ADMIN))).status).toBe(429);
  });
});

describe("each token reaches only its own routes", () => {
  test("a gateway key reaches no admin or feed route (401), and the admin token verifies nothing (401)", async () => {
    t = makeNode({ YUKUAI_FEED_TOKEN: "feed-token-value" });
    const gw = await makeGateway(t, "metro");
    for (const [method, path, body] of [
      ["POST", "/v1/credentials", { kind: "person" }], ["POST", "/v1/revocations", { type: "credential", value: "00".repeat(8) }],
      ["GET", "/v1/revocations", undefined], ["POST", "/v1/gateways", { name: "g", scene: "metro" }], ["GET", "/v1/gateways", undefined],
      ["DELETE", "/v1/gateways/gw_x", undefined], ["POST", "/v1/issuer-keys", undefined],
      ["GET", "/v1/subjects/person/110105194912310021/access-log", undefined],
    ] as const) {
      const r = await t.app.request(path, req(method, body, gw));
      expect([method, path, r.status]).toEqual([method, path, 401]);
    }
    for (const path of ["/v1/verify/batch", "/v1/verify"]) {
      expect([path, (await t.app.request(path, req("POST", { scans: [], code: "x" }, ADMIN))).status]).toEqual([path, 401]);
      expect([path, (await t.app.request(path, req("POST", { scans: [], code: "x" }, "feed-token-value"))).status]).toEqual([path, 401]);
    }
  });
});

describe("tokens and keys at rest", () => {
  test("gateway keys are stored as SHA-256 digests; the admin token lives only in its 0600 file (or the environment), and the database holds no token", async () => {
    t = makeNode({ YUKUAI_FEED_TOKEN: "feed-token-value" });
    const key = await makeGateway(t, "metro");
    const db = readFileSync(join(t.dir, "yukuai.db"));
    const wal = readFileSync(join(t.dir, "yukuai.db-wal"));
    for (const secret of [key, ADMIN, "feed-token-value"]) {
      expect(db.includes(Buffer.from(secret))).toBe(false);
      expect(wal.includes(Buffer.from(secret))).toBe(false);
    }
    const { createHash } = await import("node:crypto");
    expect(wal.includes(Buffer.from(createHash("sha256").update(key).digest("hex")))).toBe(true);
  });

  test("token comparison is constant-time over digests (timingSafeEqual on SHA-256), never string equality", () => {
    const src = readFileSync(resolve(import.meta.dir, "../../src/tokens.ts"), "utf8");
    const fns = ["isAdmin", "isFeedReader"].map((f) => src.slice(src.indexOf(`${f}(token: string): boolean {`)).split("\n  }")[0]!);
    for (const body of fns) {
      expect(body).toMatch(/timingSafeEqual\(digest\(token\), this\.#(admin|feed)\)/);
      expect(body).not.toMatch(/===\s*token|token\s*===/);
    }
  });
});
