/**
 * Issuance (申码/制码), gateways, trust, health and their error paths, through `app.request()`.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { newDeviceKey } from "../../src/holder/holder.ts";
import { credentialMessage, decodeCredential } from "../../src/wire/code.ts";
import { preparePublicKey, verifyStrict } from "../../src/crypto/ed25519.ts";
import { json, type ErrorAnswer, type GatewayList, type GatewayMade, type IssuedCredential, type TrustAnswer } from "../support/api.ts";
import { COMPANY_ID, PERSON_ID } from "../support/ids.ts";
import { ADMIN, makeNode, req, T0, type TestNode } from "../support/node.ts";

let t: TestNode;
afterEach(() => t?.close());

const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64url");
const hex = (h: string) => new Uint8Array(Buffer.from(h, "hex"));

/** `POST path` as the admin (or with `token`); the answer's body as the §4 shape `T`. */
async function post<T>(path: string, body: unknown, token: string | null = ADMIN): Promise<{ status: number; body: T }> {
  const res = await t.app.request(path, req("POST", body, token ?? undefined));
  return { status: res.status, body: await json<T>(res) };
}

describe("POST /v1/credentials", () => {
  test("issues a signed 138-byte credential bound to the device key, recorded in SQLite", async () => {
    t = makeNode();
    const dev = newDeviceKey();
    const { status, body } = await post<IssuedCredential>("/v1/credentials", { kind: "person", idNumber: PERSON_ID.toLowerCase(), devicePublicKey: b64(dev.publicKey), validDays: 30, flags: 0b10010 });
    expect(status).toBe(201);
    const cred = new Uint8Array(Buffer.from(body.credential, "base64url"));
    expect(cred.length).toBe(138);
    const f = decodeCredential(cred);
    expect(f).toMatchObject({ kind: 1, issuer: 500000, kid: 1, notBefore: T0, notAfter: T0 + 30 * 86400, flags: 0b10010 });
    expect(Buffer.from(f.serial).toString("hex")).toBe(body.serial);
    expect(f.devicePub).toEqual(dev.publicKey);
    expect({ notBefore: body.notBefore, notAfter: body.notAfter }).toEqual({ notBefore: T0, notAfter: T0 + 30 * 86400 });
    const trust = await json<TrustAnswer>(await t.app.request("/v1/trust"));
    const key = trust.issuers.find((i) => i.issuer === 500000)!.keys[0]!;
    expect(verifyStrict(preparePublicKey(new Uint8Array(Buffer.from(key.publicKey, "base64url"))), credentialMessage(cred), cred.subarray(74))).toBe(true);
    // same person, same pseudonym; recorded
    const again = await post<IssuedCredential>("/v1/credentials", { kind: "person", idNumber: PERSON_ID, devicePublicKey: b64(newDeviceKey().publicKey) });
    expect(decodeCredential(new Uint8Array(Buffer.from(again.body.credential, "base64url"))).subject).toEqual(f.subject);
    expect(t.node.db.serialsOfSubject(Buffer.from(f.subject).toString("hex"))).toEqual([body.serial, again.body.serial]);
  });

  test("an enterprise credential (一企一码) is kind 2 with a USCC subject", async () => {
    t = makeNode();
    const { status, body } = await post<IssuedCredential>("/v1/credentials", { kind: "enterprise", idNumber: COMPANY_ID, devicePublicKey: b64(newDeviceKey().publicKey) });
    expect(status).toBe(201);
    expect(decodeCredential(new Uint8Array(Buffer.from(body.credential, "base64url"))).kind).toBe(2);
  });

  test("400 with a reason for every bad field", async () => {
    t = makeNode();
    const dev = b64(newDeviceKey().publicKey);
    const wrongCheck = PERSON_ID.slice(0, 17) + (PERSON_ID[17] === "1" ? "2" : "1");
    const cases: [unknown, string][] = [
      [{ kind: "robot", idNumber: PERSON_ID, devicePublicKey: dev }, "BAD_KIND"],
      [{ idNumber: PERSON_ID, devicePublicKey: dev }, "BAD_KIND"],
      [{ kind: "person", devicePublicKey: dev }, "BAD_ID_NUMBER"],
      [{ kind: "person", idNumber: wrongCheck, devicePublicKey: dev }, "BAD_ID_NUMBER"],
      [{ kind: "person", idNumber: COMPANY_ID, devicePublicKey: dev }, "BAD_ID_NUMBER"],
      [{ kind: "enterprise", idNumber: PERSON_ID, devicePublicKey: dev }, "BAD_ID_NUMBER"],
      [{ kind: "person", idNumber: PERSON_ID }, "BAD_DEVICE_KEY"],
      [{ kind: "person", idNumber: PERSON_ID, devicePublicKey: "abc" }, "BAD_DEVICE_KEY"],
      [{ kind: "person", idNumber: PERSON_ID, devicePublicKey: b64(hex("01" + "00".repeat(31))) }, "BAD_DEVICE_KEY"],
      [{ kind: "person", idNumber: PERSON_ID, devicePublicKey: b64(hex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")) }, "BAD_DEVICE_KEY"],
      [{ kind: "person", idNumber: PERSON_ID, devicePublicKey: b64(hex("ed" + "ff".repeat(30) + "7f")) }, "BAD_DEVICE_KEY"],
      [{ kind: "person", idNumber: PERSON_ID, devicePublicKey: dev, validDays: 0 }, "BAD_VALID_DAYS"],
      [{ kind: "person", idNumber: PERSON_ID, devicePublicKey: dev, validDays: 1.5 }, "BAD_VALID_DAYS"],
      [{ kind: "person", idNumber: PERSON_ID, devicePublicKey: dev, flags: 32 }, "BAD_FLAGS"],
      [{ kind: "person", idNumber: PERSON_ID, devicePublicKey: dev, flags: "senior" }, "BAD_FLAGS"],
    ];
    for (const [body, code] of cases) {
      const r = await post<ErrorAnswer>("/v1/credentials", body);
      expect([r.status, r.body.error.code]).toEqual([400, code]);
      expect(r.body.error.message.length).toBeGreaterThan(5);
    }
    // no refused request recorded a credential: the one issued now is the only one of PERSON_ID's subject
    // (most cases above carry that valid ID with another field wrong)
    const issued = await post<IssuedCredential>("/v1/credentials", { kind: "person", idNumber: PERSON_ID, devicePublicKey: dev });
    expect(issued.status).toBe(201);
    const subject = Buffer.from(decodeCredential(new Uint8Array(Buffer.from(issued.body.credential, "base64url"))).subject).toString("hex");
    expect(t.node.db.serialsOfSubject(subject)).toEqual([issued.body.serial]);
  });

  test("401 without the admin token, or with a gateway key", async () => {
    t = makeNode();
    const gw = (await post<GatewayMade>("/v1/gateways", { name: "g", scene: "metro" })).body.key;
    for (const token of [null, "wrong", gw]) {
      const r = await post<ErrorAnswer>("/v1/credentials", { kind: "person", idNumber: PERSON_ID, devicePublicKey: b64(newDeviceKey().publicKey) }, token);
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe("UNAUTHORIZED");
    }
  });
});

describe("gateways", () => {
  test("made per scene; the list shows key hashes, never keys; keys survive a restart", async () => {
    t = makeNode();
    const made = await post<GatewayMade>("/v1/gateways", { name: "Line 2 Jiaochangkou", scene: "metro" });
    expect(made.status).toBe(201);
    expect(made.body.id).toMatch(/^gw_[0-9a-f]{16}$/);
    const list = await json<GatewayList>(await t.app.request("/v1/gateways", req("GET", undefined, ADMIN)));
    const sha = new Bun.CryptoHasher("sha256").update(made.body.key).digest("hex");
    expect(list).toEqual({ gateways: [{ id: made.body.id, name: "Line 2 Jiaochangkou", scene: "metro", keyHash: sha }] });
    expect(JSON.stringify(list)).not.toContain(made.body.key);
    const dir = t.dir;
    t.node.close();
    t = makeNode({}, {}, dir);
    const ok = await t.app.request("/v1/verify/batch", req("POST", { scans: [] }, made.body.key));
    expect(ok.status).toBe(200);
  });

  test("400 for an unknown scene or a missing name; 401 for the list without the token", async () => {
    t = makeNode();
    expect((await post<ErrorAnswer>("/v1/gateways", { name: "x", scene: "casino" })).body.error.code).toBe("BAD_SCENE");
    expect((await post<ErrorAnswer>("/v1/gateways", { name: "", scene: "metro" })).body.error.code).toBe("BAD_NAME");
    expect((await t.app.request("/v1/gateways")).status).toBe(401);
  });
});

describe("revocation errors", () => {
  test("400 for a bad type, value or reason; 401 without the token; 400 for a bad since", async () => {
    t = makeNode();
    const cases: [unknown, string][] = [
      [{ type: "person", value: "00" }, "BAD_REVOCATION_TYPE"],
      [{ type: "credential", value: "xyz" }, "BAD_REVOCATION_VALUE"],
      [{ type: "credential", value: "00".repeat(9) }, "BAD_REVOCATION_VALUE"],
      [{ type: "subject", value: "00".repeat(8) }, "BAD_REVOCATION_VALUE"],
      [{ type: "device", value: 5 }, "BAD_REVOCATION_VALUE"],
      [{ type: "key", value: "500000" }, "BAD_REVOCATION_VALUE"],
      [{ type: "key", value: "500000:70000" }, "BAD_REVOCATION_VALUE"],
      [{ type: "credential", value: "00".repeat(8), reason: 5 }, "BAD_REASON"],
    ];
    for (const [body, code] of cases) {
      const r = await post<ErrorAnswer>("/v1/revocations", body);
      expect([r.status, r.body.error.code]).toEqual([400, code]);
    }
    expect((await post("/v1/revocations", { type: "credential", value: "00".repeat(8) }, "x")).status).toBe(401);
    expect((await t.app.request("/v1/revocations?since=0")).status).toBe(401);
    const bad = await t.app.request("/v1/revocations?since=-1", req("GET", undefined, ADMIN));
    expect([bad.status, (await json<ErrorAnswer>(bad)).error.code]).toEqual([400, "BAD_SINCE"]);
    expect(t.node.verifier.revocationStatus().seq).toBe(0);
  });
});

describe("operations", () => {
  test("healthz, readyz, metrics", async () => {
    t = makeNode();
    expect(await (await t.app.request("/healthz")).json()).toEqual({ status: "ok" });
    const ready = await t.app.request("/readyz");
    expect(ready.status).toBe(200);
    const m = await t.app.request("/metrics");
    expect(m.headers.get("content-type")).toContain("text/plain");
    const text = await m.text();
    for (const name of ["yukuai_scans_total", "yukuai_replay_capacity", "yukuai_revocation_seq", "yukuai_credential_cache_entries"]) expect(text).toContain(name);
  });

  test("the admin token is made on first start, printed once, and kept", async () => {
    const { mkdtempSync, readFileSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { loadConfig } = await import("../../src/config.ts");
    const { compose } = await import("../../src/compose.ts");
    const { ManualClock } = await import("../../src/clock.ts");
    const dir = mkdtempSync(join(tmpdir(), "yukuai-token-"));
    try {
      const logs: string[] = [];
      const config = loadConfig({ YUKUAI_DATA_DIR: dir, YUKUAI_WORKERS: "0" });
      const a = compose(config, { clock: new ManualClock(T0 * 1000), log: (l) => logs.push(l) });
      const token = readFileSync(join(dir, "admin-token"), "utf8").trim();
      expect(logs.filter((l) => l.includes(token)).length).toBe(1);
      expect(a.tokens.isAdmin(token)).toBe(true);
      expect(a.tokens.isAdmin(token + "x")).toBe(false);
      a.close();
      const logs2: string[] = [];
      const b = compose(config, { clock: new ManualClock(T0 * 1000), log: (l) => logs2.push(l) });
      expect(logs2.join("\n")).not.toContain(token);
      expect(b.tokens.isAdmin(token)).toBe(true);
      expect(Buffer.from(b.keyring!.current.publicKey)).toEqual(Buffer.from(a.keyring!.current.publicKey));
      b.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("configuration errors name the variable", async () => {
    const { loadConfig } = await import("../../src/config.ts");
    expect(() => loadConfig({ PORT: "http" })).toThrow("PORT");
    expect(() => loadConfig({ YUKUAI_ISSUER: "5000" })).toThrow("YUKUAI_ISSUER");
    expect(() => loadConfig({ YUKUAI_UPSTREAMS: "{" })).toThrow("YUKUAI_UPSTREAMS");
    expect(() => loadConfig({ YUKUAI_VERIFIER: "bogus" })).toThrow('YUKUAI_VERIFIER must be "native" or "node:crypto"');
    expect([loadConfig({}).verifier, loadConfig({ YUKUAI_VERIFIER: "" }).verifier, loadConfig({ YUKUAI_VERIFIER: "native" }).verifier, loadConfig({ YUKUAI_VERIFIER: "node:crypto" }).verifier])
      .toEqual([null, null, "native", "node:crypto"]);
    expect(() => loadConfig({ YUKUAI_UPSTREAMS: "{\"510000\": {\"url\": 5}}" })).toThrow("YUKUAI_UPSTREAMS");
    expect(loadConfig({ YUKUAI_UPSTREAMS: "{\"510000\": {\"url\": \"http://a/\", \"key\": \"k\"}}" }).upstreams.get(510000)).toEqual({ url: "http://a", key: "k" });
  });
});
