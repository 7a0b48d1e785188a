/**
 * The signed trust list in a node (DESIGN.md §7): taken under the anchors, never replaced by a refused or
 * unreachable list (each refusal logged and counted), kept in the data dir across restarts, rollback
 * refused, and past nextUpdate its issuers stop verifying and the node is not ready.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { JWK } from "jose";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ManualClock } from "../../src/clock.ts";
import { signTrustList, type TrustList } from "../../src/trust/list.ts";
import { json, type ReadyAnswer, type TrustAnswer } from "../support/api.ts";
import { PERSON_ID } from "../support/ids.ts";
import { issue, makeGateway, makeNode, startNode, T0, verifyBatch, type TestNode } from "../support/node.ts";
import { AUTHORITY_SEED, b64u, foreignHolder, SICHUAN_SEED, sichuanEntry, trustListEnv } from "../support/trust.ts";

let t: TestNode | undefined;
afterEach(() => {
  t?.close();
  t = undefined;
});

const WEEK = 7 * 86400;
const list = (version: number, o: Partial<TrustList> = {}): TrustList => ({ version, issuedAt: T0 - 60, nextUpdate: T0 + WEEK, issuers: [sichuanEntry()], ...o });
const sichuanCode = (time = T0, opts: { notBefore?: number; kid?: number } = {}) =>
  foreignHolder({ seed: SICHUAN_SEED, issuer: 510000, kid: opts.kid, notBefore: opts.notBefore ?? T0 - 10, notAfter: T0 + 30 * 86400 }).presentText(time);

async function metrics(node: TestNode): Promise<string> {
  return (await node.app.request("/metrics")).text();
}
const refusals = (m: string, reason: string) => Number(new RegExp(`yukuai_trust_list_refusals_total\\{reason="${reason}"\\} (\\d+)`).exec(m)?.[1] ?? 0);

describe("taking a list", () => {
  test("a signed list makes its issuers verify; GET /v1/trust shows them with trustedUntil; /readyz has trust: true", async () => {
    const { env } = await trustListEnv(list(3));
    t = await startNode(env);
    const metro = await makeGateway(t, "metro");
    const r = (await verifyBatch(t, metro, [sichuanCode()])).body.results[0];
    expect(r).toMatchObject({ result: "OK", issuer: 510000 });
    const trust = await json<TrustAnswer>(await t.app.request("/v1/trust"));
    expect(trust.issuers.map((i) => i.issuer)).toEqual([500000, 510000]);
    expect(trust.issuers[1]).toMatchObject({ trustedUntil: T0 + WEEK, keys: [{ kid: 1, status: "active" }] });
    expect(trust.issuers[0]!.trustedUntil).toBeUndefined(); // own keys do not expire with a list
    const ready = await json<ReadyAnswer>(await t.app.request("/readyz"));
    expect(ready.checks).toEqual({ replay: true, trust: true });
    const m = await metrics(t);
    expect(m).toContain("yukuai_trust_list_version 3");
    expect(m).toContain(`yukuai_trust_list_next_update_seconds ${T0 + WEEK}`);
    expect(t.logs.some((l) => l.includes("took list version 3"))).toBe(true);
  });

  test("from an http(s) URL", async () => {
    const jws = await signTrustList(list(1), AUTHORITY_SEED);
    const fetchFn = (async (url: string) => (url === "https://authority.invalid/list.jws" ? new Response(jws) : new Response("no", { status: 404 }))) as unknown as typeof fetch;
    const { env } = await trustListEnv(list(1));
    t = await startNode({ ...env, YUKUAI_TRUST_LIST: "https://authority.invalid/list.jws" }, { fetchFn });
    const metro = await makeGateway(t, "metro");
    expect((await verifyBatch(t, metro, [sichuanCode()])).body.results[0]!.result).toBe("OK");
  });

  test("entries for the node's own issuer are ignored: a list cannot add or replace a Chongqing key", async () => {
    const attacker = new Uint8Array(randomBytes(32));
    const { rawPublicKey, privateKeyFromSeed } = await import("../../src/crypto/ed25519.ts");
    const attackerKey = b64u(rawPublicKey(privateKeyFromSeed(attacker)));
    const own = { issuer: 500000, name: "forged", keys: [1, 7].map((kid) => ({ kid, publicKey: attackerKey, notBefore: 0, notAfter: 0xffffffff, status: "active" as const })) };
    const { env } = await trustListEnv(list(1, { issuers: [own, sichuanEntry()] }));
    t = await startNode(env);
    const metro = await makeGateway(t, "metro");
    const forged = [1, 7].map((kid) => foreignHolder({ seed: attacker, issuer: 500000, kid, notBefore: T0 - 10, notAfter: T0 + 1000 }).presentText(T0));
    const { body } = await verifyBatch(t, metro, forged);
    expect(body.results.map((r) => r.result)).toEqual(["BAD_ISSUER_SIGNATURE", "UNKNOWN_ISSUER"]);
    const trust = await json<TrustAnswer>(await t.app.request("/v1/trust"));
    expect(trust.issuers.find((i) => i.issuer === 500000)!.keys.map((k) => k.publicKey)).not.toContain(attackerKey);
  });

  test("a key listed as revoked makes its credentials REVOKED and shows as revoked", async () => {
    const { env } = await trustListEnv(list(1, { issuers: [sichuanEntry({ status: "revoked" })] }));
    t = await startNode(env);
    const metro = await makeGateway(t, "metro");
    expect((await verifyBatch(t, metro, [sichuanCode()])).body.results[0]!.result).toBe("REVOKED");
    const trust = await json<TrustAnswer>(await t.app.request("/v1/trust"));
    expect(trust.issuers[1]!.keys[0]!.status).toBe("revoked");
  });

  test("an issuer key verifies only credentials whose notBefore lies in its period (§3); otherwise UNKNOWN_ISSUER", async () => {
    const { env } = await trustListEnv(list(1, { issuers: [sichuanEntry({ notBefore: T0 - 1000, notAfter: T0 + 1000 })] }));
    t = await startNode(env);
    const metro = await makeGateway(t, "metro");
    const codes = [T0 - 1001, T0 - 1000, T0 + 1000, T0 + 1001].map((nb) => sichuanCode(T0, { notBefore: nb }));
    const { body } = await verifyBatch(t, metro, codes);
    expect(body.results.map((r) => r.result)).toEqual(["UNKNOWN_ISSUER", "OK", "NOT_YET_VALID", "UNKNOWN_ISSUER"]);
  });
});

describe("refusals never replace the list in force", () => {
  test("malformed, unsigned, wrongly signed, rolled back, expired, a bad key, unreachable: each logged and counted", async () => {
    const { env, path } = await trustListEnv(list(5));
    t = await startNode(env);
    const metro = await makeGateway(t, "metro");
    const other = new Uint8Array(randomBytes(32));
    const good = readFileSync(path, "utf8");
    const [h, , s] = good.split(".");
    const unsigned = `${Buffer.from(JSON.stringify({ alg: "none", typ: "yukuai-trust-list+json" })).toString("base64url")}.${Buffer.from(JSON.stringify(list(9))).toString("base64url")}.`;
    const smallOrder = Buffer.from("0100000000000000000000000000000000000000000000000000000000000000", "hex").toString("base64url");
    const cases: [string, string][] = [
      ["malformed", "this is not a JWS"],
      ["malformed", unsigned],
      ["bad-signature", await signTrustList(list(9), other)],
      ["bad-signature", `${h}.${Buffer.from(JSON.stringify(list(9))).toString("base64url")}.${s}`],
      ["rollback", await signTrustList(list(4), AUTHORITY_SEED)],
      ["expired", await signTrustList(list(9, { issuedAt: T0 - 2 * WEEK, nextUpdate: T0 - 1 }), AUTHORITY_SEED)],
      ["not-yet-issued", await signTrustList(list(9, { issuedAt: T0 + 11 }), AUTHORITY_SEED)],
    ];
    for (const [reason, jws] of cases) {
      writeFileSync(path, jws);
      expect([reason, await t.node.trustList!.refresh()]).toEqual([reason, false]);
      expect(t.node.trustList!.current!.version).toBe(5);
      expect(t.logs.at(-1)).toContain(`refused a trust list (${reason})`);
      expect(t.logs.at(-1)).toContain("the list in force is version 5");
    }
    // a list with one small-order key is refused whole (signTrustList refuses to sign it, so sign the payload by hand)
    const { CompactSign, importJWK } = await import("jose");
    const { createPrivateKey } = await import("node:crypto");
    const jwk = createPrivateKey({ key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), AUTHORITY_SEED]), format: "der", type: "pkcs8" }).export({ format: "jwk" });
    const bad = list(9, { issuers: [sichuanEntry(), { issuer: 520000, name: "贵州", keys: [{ kid: 1, publicKey: smallOrder, notBefore: 0, notAfter: 1, status: "active" }] }] });
    writeFileSync(path, await new CompactSign(new TextEncoder().encode(JSON.stringify(bad))).setProtectedHeader({ alg: "EdDSA", typ: "yukuai-trust-list+json" }).sign(await importJWK(jwk as JWK, "EdDSA")));
    expect(await t.node.trustList!.refresh()).toBe(false);
    expect(t.logs.at(-1)).toContain("(bad-key)");
    rmSync(path);
    expect(await t.node.trustList!.refresh()).toBe(false);
    expect(t.logs.at(-1)).toContain("(unreachable)");
    const m = await metrics(t);
    for (const [reason, n] of [["malformed", 2], ["bad-signature", 2], ["rollback", 1], ["expired", 1], ["not-yet-issued", 1], ["bad-key", 1], ["unreachable", 1]] as const) {
      expect([reason, refusals(m, reason)]).toEqual([reason, n]);
    }
    // through all of it, version 5 stayed in force
    expect((await verifyBatch(t, metro, [sichuanCode()])).body.results[0]!.result).toBe("OK");
    expect((await t.app.request("/readyz")).status).toBe(200);
    // and a newer good list is taken
    writeFileSync(path, await signTrustList(list(6, { issuers: [] }), AUTHORITY_SEED));
    expect(await t.node.trustList!.refresh()).toBe(true);
    expect((await verifyBatch(t, metro, [sichuanCode(T0)])).body.results[0]!.result).toBe("UNKNOWN_ISSUER");
  });

  test("the same version again is taken (not a rollback); an equal list re-read changes nothing", async () => {
    const { env, path } = await trustListEnv(list(2));
    t = await startNode(env);
    expect(await t.node.trustList!.refresh()).toBe(true);
    writeFileSync(path, await signTrustList(list(2, { issuedAt: T0 - 30 }), AUTHORITY_SEED));
    expect(await t.node.trustList!.refresh()).toBe(true);
    expect(t.node.trustList!.current!.issuedAt).toBe(T0 - 30);
  });
});

describe("stale trust is visible, never silent", () => {
  test("past nextUpdate the list's issuers stop verifying (UNKNOWN_ISSUER), GET /v1/trust drops them, /readyz fails with trust: false; a newer list restores them", async () => {
    const { env, path } = await trustListEnv(list(1, { nextUpdate: T0 + 100 }));
    t = await startNode(env);
    const metro = await makeGateway(t, "metro");
    const own = await issue(t, { idNumber: PERSON_ID });
    t.clock.advance(100);
    expect((await verifyBatch(t, metro, [sichuanCode(T0 + 100)])).body.results[0]!.result).toBe("OK"); // now = nextUpdate: still in force
    t.clock.advance(1);
    const stale = await verifyBatch(t, metro, [sichuanCode(T0 + 101), own.presentText(T0 + 101)]);
    expect(stale.body.results.map((r) => r.result)).toEqual(["UNKNOWN_ISSUER", "OK"]); // own keys are not the list's
    const ready = await t.app.request("/readyz");
    expect(ready.status).toBe(503);
    expect((await json<ReadyAnswer>(ready)).checks.trust).toBe(false);
    expect((await json<TrustAnswer>(await t.app.request("/v1/trust"))).issuers.map((i) => i.issuer)).toEqual([500000]);
    // the authority has not published: re-reading the same list counts an "expired" refusal
    expect(await t.node.trustList!.refresh()).toBe(false);
    expect(refusals(await metrics(t), "expired")).toBe(1);
    writeFileSync(path, await signTrustList(list(2, { issuedAt: T0 + 90, nextUpdate: T0 + WEEK }), AUTHORITY_SEED));
    expect(await t.node.trustList!.refresh()).toBe(true);
    expect((await t.app.request("/readyz")).status).toBe(200);
    expect((await verifyBatch(t, metro, [sichuanCode(T0 + 101)])).body.results[0]!.result).toBe("OK");
  });

  test("past nextUpdate with an upstream for the issuer, its scans are routed instead (§7 precedence)", async () => {
    const routed: string[] = [];
    const fetchFn = (async (url: string, init: RequestInit) => {
      routed.push(url);
      const { parseCode } = await import("../../src/wire/code.ts");
      const scans = JSON.parse(String(init.body)).scans as string[];
      return Response.json({ results: scans.map((c) => ({ result: "OK", issuer: 510000, serial: Buffer.from(parseCode(c)!.subarray(8, 16)).toString("hex") })) });
    }) as unknown as typeof fetch;
    const { env } = await trustListEnv(list(1, { nextUpdate: T0 + 100 }));
    t = await startNode({ ...env, YUKUAI_UPSTREAMS: JSON.stringify({ 510000: { url: "http://sichuan.invalid", key: "k" } }) }, { fetchFn });
    const metro = await makeGateway(t, "metro");
    expect((await verifyBatch(t, metro, [sichuanCode()])).body.results[0]!.result).toBe("OK");
    expect(routed).toEqual([]); // held here: verified here
    t.clock.advance(101);
    expect((await verifyBatch(t, metro, [sichuanCode(T0 + 101)])).body.results[0]).toMatchObject({ result: "OK", issuer: 510000 });
    expect(routed).toEqual(["http://sichuan.invalid/v1/verify/batch"]);
  });

  test("a node whose configured list cannot be read and that has none saved starts, verifies its own codes, and is not ready", async () => {
    const { env, path } = await trustListEnv(list(1));
    rmSync(path);
    t = await startNode(env);
    const metro = await makeGateway(t, "metro");
    const own = await issue(t, { idNumber: PERSON_ID });
    expect((await verifyBatch(t, metro, [own.presentText(T0), sichuanCode()])).body.results.map((r) => r.result)).toEqual(["OK", "UNKNOWN_ISSUER"]);
    const ready = await t.app.request("/readyz");
    expect(ready.status).toBe(503);
    expect((await json<ReadyAnswer>(ready)).checks.trust).toBe(false);
  });
});

describe("the last taken list is kept in the data dir", () => {
  test("a restart needs no network, and a rollback is refused across restarts", async () => {
    const { env, path } = await trustListEnv(list(2));
    t = await startNode(env);
    const dir = t.dir;
    const saved = join(dir, "trust-list.jws");
    expect(readFileSync(saved, "utf8").trim()).toBe(readFileSync(path, "utf8").trim());
    t.node.close();
    // the source is gone: the saved list serves
    rmSync(path);
    t = await startNode(env, { clock: new ManualClock((T0 + 60) * 1000) }, dir);
    t.clock.advance(20); // past the §3 warm-up of this restart
    const metro = await makeGateway(t, "metro");
    expect((await verifyBatch(t, metro, [sichuanCode(T0 + 80)])).body.results[0]!.result).toBe("OK");
    expect(refusals(await metrics(t), "unreachable")).toBe(1);
    t.node.close();
    // the source now serves an older version: refused, the saved version 2 stays
    writeFileSync(path, await signTrustList(list(1, { issuers: [] }), AUTHORITY_SEED));
    t = await startNode(env, {}, dir);
    expect(t.node.trustList!.current!.version).toBe(2);
    expect(refusals(await metrics(t), "rollback")).toBe(1);
    expect(existsSync(saved)).toBe(true);
  });

  test("a saved list that expired while the node was down is the version floor, but verifies nothing", async () => {
    const { env, path } = await trustListEnv(list(4, { nextUpdate: T0 + 100 }));
    t = await startNode(env);
    const dir = t.dir;
    t.node.close();
    rmSync(path);
    t = await startNode(env, { clock: new ManualClock((T0 + 1000) * 1000) }, dir);
    t.clock.advance(20);
    expect(t.node.trustList!.current!.version).toBe(4);
    expect((await t.app.request("/readyz")).status).toBe(503);
    const metro = await makeGateway(t, "metro");
    expect((await verifyBatch(t, metro, [sichuanCode(T0 + 1020)])).body.results[0]!.result).toBe("UNKNOWN_ISSUER");
    writeFileSync(path, await signTrustList(list(3, { issuedAt: T0 + 900, nextUpdate: T0 + WEEK }), AUTHORITY_SEED));
    expect(await t.node.trustList!.refresh()).toBe(false); // 3 < 4
    expect(t.logs.at(-1)).toContain("(rollback)");
  });
});

describe("configuration", () => {
  test("a list needs anchors; anchors must be 32-byte keys that pass the key test", async () => {
    expect(() => makeNode({ YUKUAI_TRUST_LIST: "/x.jws" })).toThrow("YUKUAI_TRUST_ANCHORS");
    expect(() => makeNode({ YUKUAI_TRUST_LIST: "/x.jws", YUKUAI_TRUST_ANCHORS: "AAAA" })).toThrow("YUKUAI_TRUST_ANCHORS");
  });
});
