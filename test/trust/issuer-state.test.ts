/**
 * State is kept per issuer (DESIGN.md §3, §7). Each test reproduces an attack by a trusted foreign issuer
 * (or a compromised one), which can write any serial, subject and device key into its credentials:
 * - replay state is keyed by (issuer, serial): a foreign credential carrying a victim's serial cannot burn
 *   the victim's counters;
 * - licences and the access log belong to this node's own issuer only;
 * - serial and subject revocations are scoped to the node's own issuer;
 * - the §2 key test applies at verification: a small-order device key verifies nothing;
 * - a credential enters the verified LRU only after its device signature held;
 * plus the node's own key ring: rotation without downtime, periods, revocation of a kid.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { privateKeyFromSeed } from "../../src/crypto/ed25519.ts";
import { RedisReplayStore } from "../../src/verify/redis-replay.ts";
import { encodePresentationBody, OFF, signCredential, toText } from "../../src/wire/code.ts";
import { json, type AccessLog, type BatchAnswer, type ErrorAnswer, type IssuerKeyMade, type TrustAnswer } from "../support/api.ts";
import { PERSON_ID, PERSON_ID_2 } from "../support/ids.ts";
import { ADMIN, issue, makeGateway, makeNode, req, sichuanNode, startNode, T0, verifyBatch, type TestNode } from "../support/node.ts";
import { startRedis, type TestRedis } from "../support/redis.ts";
import { foreignHolder, SICHUAN_SEED } from "../support/trust.ts";

let t: TestNode | undefined;
afterEach(() => {
  t?.close();
  t = undefined;
});

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const results = (r: { body: BatchAnswer }) => r.body.results.map((x) => x.result);
/** A Sichuan credential (the test issuer the node trusts by list) copying fields of a Chongqing victim. */
const impostor = (victim: { serial?: Uint8Array; subject?: Uint8Array }) =>
  foreignHolder({ seed: SICHUAN_SEED, issuer: 510000, notBefore: T0 - 10, notAfter: T0 + 1000, ...victim });

describe("replay state per (issuer, serial)", () => {
  async function replayAttack(node: TestNode) {
    const metro = await makeGateway(node, "metro");
    const victim = await issue(node, { idNumber: PERSON_ID });
    expect(results(await verifyBatch(node, metro, [victim.presentText(T0, 0, 1)]))).toEqual(["OK"]);
    // the serial is readable from the victim's QR; the forged credential is validly signed by a trusted issuer
    const forged = impostor({ serial: victim.fields.serial });
    expect(results(await verifyBatch(node, metro, [forged.presentText(T0, 0, 0xffffffff)]))).toEqual(["OK"]);
    // the victim's next taps still pass; the forged key has its own window
    expect(results(await verifyBatch(node, metro, [victim.presentText(T0, 0, 2), victim.presentText(T0, 0, 3)]))).toEqual(["OK", "OK"]);
    expect(results(await verifyBatch(node, metro, [forged.presentText(T0, 0, 5)]))).toEqual(["REPLAY"]);
  }

  test("in memory: a foreign credential with the victim's serial and counter 2^32−1 does not make the victim REPLAY", async () => {
    t = await sichuanNode();
    await replayAttack(t);
  });

  describe("in Redis", () => {
    let redis: TestRedis;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => {
      await redis?.close();
    });
    test("the same attack against the shared store, fleet-wide", async () => {
      await redis.cli("SET", "yk:boot", String(T0 - 3600));
      const store = new RedisReplayStore(redis.url, 380, 20);
      await store.start();
      t = await sichuanNode({}, { replay: store });
      await replayAttack(t);
      const keys = (await redis.cli("KEYS", "yk:r:*")).trim().split("\n").sort();
      expect(keys.length).toBe(2);
      expect(keys.every((k) => /^yk:r:\{(500000|510000):[0-9a-f]{16}\}$/.test(k))).toBe(true);
    });
  });
});

describe("licences and the access log belong to this node's own issuer (§7)", () => {
  test("a foreign credential carrying a Chongqing subject releases nothing at a hotel that accepts its issuer, and nothing is logged under the victim", async () => {
    const dir = mkdtempSync(join(tmpdir(), "yukuai-scenes-"));
    const scenes = join(dir, "scenes.json");
    writeFileSync(scenes, JSON.stringify({ hotel: { issuers: [500000, 510000] } }));
    try {
      t = await sichuanNode({ YUKUAI_SCENES_FILE: scenes });
      const hotel = await makeGateway(t, "hotel");
      const victim = await issue(t, { idNumber: PERSON_ID });
      const card = { name: "张三", idNumber: PERSON_ID };
      expect((await t.app.request(`/v1/subjects/person/${PERSON_ID}/licences/identity-card`, req("PUT", card, ADMIN))).status).toBe(200);
      const forged = impostor({ subject: victim.fields.subject });
      const r = (await verifyBatch(t, hotel, [forged.presentText(T0, 1)])).body.results[0]!;
      expect(r.result).toBe("OK");
      expect(r.issuer).toBe(510000);
      expect(r.licences).toBeUndefined();
      const log = await json<AccessLog>(await t.app.request(`/v1/subjects/person/${PERSON_ID}/access-log`, req("GET", undefined, ADMIN)));
      expect(log.entries).toEqual([]);
      // the victim's own code still releases, and is logged
      expect((await verifyBatch(t, hotel, [victim.presentText(T0, 1)])).body.results[0]!.licences).toEqual({ "identity-card": card });
      const after = await json<AccessLog>(await t.app.request(`/v1/subjects/person/${PERSON_ID}/access-log`, req("GET", undefined, ADMIN)));
      expect(after.entries.length).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("revocation by serial and by subject is scoped to the node's own issuer", () => {
  test("revoking a Chongqing serial or subject does not revoke a Sichuan credential that carries the same bytes; a revoked device key is revoked everywhere", async () => {
    t = await sichuanNode();
    const metro = await makeGateway(t, "metro");
    const a = await issue(t, { idNumber: PERSON_ID });
    const b = await issue(t, { idNumber: PERSON_ID_2 });
    for (const r of [{ type: "credential", value: hex(a.fields.serial) }, { type: "subject", value: hex(b.fields.subject) }]) {
      expect((await t.app.request("/v1/revocations", req("POST", r, ADMIN))).status).toBe(201);
    }
    const sameSerial = impostor({ serial: a.fields.serial });
    const sameSubject = impostor({ subject: b.fields.subject });
    const { body } = await verifyBatch(t, metro, [a.presentText(T0), b.presentText(T0), sameSerial.presentText(T0), sameSubject.presentText(T0)]);
    expect(body.results.map((r) => r.result)).toEqual(["REVOKED", "REVOKED", "OK", "OK"]);
    // a device key is the holder's chip or phone: compromised is compromised, whoever issued the credential
    const shared = impostor({});
    await t.app.request("/v1/revocations", req("POST", { type: "device", value: hex(shared.fields.devicePub) }, ADMIN));
    expect(results(await verifyBatch(t, metro, [shared.presentText(T0)]))).toEqual(["REVOKED"]);
  });
});

/** A credential of `issuer` signed by `seed` whose device key is the identity point (small order), with R = identity, S = 0. */
function smallOrderDeviceCode(seed: Uint8Array, issuer: number, counter: number): string {
  const identity = new Uint8Array(32);
  identity[0] = 1;
  const cred = signCredential({
    kind: 1, issuer, kid: 1, serial: new Uint8Array(8).fill(0x5a), subject: new Uint8Array(16).fill(3), devicePub: identity,
    notBefore: T0 - 10, notAfter: T0 + 1000, flags: 0,
  }, privateKeyFromSeed(seed));
  const code = encodePresentationBody(cred, { time: T0, counter, consent: 0 });
  // [S]B = R + [k]A holds for every message when A and R are the identity and S = 0 (cofactorless verifiers accept it)
  code.set(identity, OFF.deviceSig);
  return toText(code);
}

describe("the §2 key test at verification", () => {
  for (const workers of ["0", "1"]) {
    test(`a trusted foreign issuer's credential with a small-order device key verifies no presentation (workers ${workers})`, async () => {
      t = await sichuanNode({ YUKUAI_WORKERS: workers });
      const metro = await makeGateway(t, "metro");
      const codes = [1, 2, 3, 1000].map((c) => smallOrderDeviceCode(SICHUAN_SEED, 510000, c));
      expect(results(await verifyBatch(t, metro, codes))).toEqual(Array(4).fill("BAD_DEVICE_SIGNATURE"));
      expect(t.node.cache.size).toBe(0);
    });
  }
});

describe("the verified-credential LRU (§3)", () => {
  test("a credential enters it only after its device signature held: forged presentations cannot fill it", async () => {
    t = await sichuanNode();
    const metro = await makeGateway(t, "metro");
    const forgedScans = Array.from({ length: 20 }, () => {
      const code = impostor({}).present(T0);
      code[OFF.deviceSig + 3]! ^= 1;
      return toText(code);
    });
    expect(results(await verifyBatch(t, metro, forgedScans))).toEqual(Array(20).fill("BAD_DEVICE_SIGNATURE"));
    expect(t.node.cache.size).toBe(0);
    const h = impostor({});
    expect(results(await verifyBatch(t, metro, [h.presentText(T0)]))).toEqual(["OK"]);
    expect(t.node.cache.size).toBe(1);
  });
});

describe("the node's own key ring (§7)", () => {
  test("rotation without downtime: new credentials use the new kid, old kids keep verifying their own credentials, GET /v1/trust shows it at once", async () => {
    t = await startNode();
    const metro = await makeGateway(t, "metro");
    const old = await issue(t, { idNumber: PERSON_ID });
    expect(old.fields.kid).toBe(1);
    t.clock.advance(5);
    const res = await t.app.request("/v1/issuer-keys", req("POST", undefined, ADMIN));
    expect(res.status).toBe(201);
    const made = await json<IssuerKeyMade>(res);
    expect(made).toMatchObject({ issuer: 500000, kid: 2, notBefore: T0 + 5, notAfter: 0xffffffff });
    const trust = (await json<TrustAnswer>(await t.app.request("/v1/trust"))).issuers[0]!.keys;
    expect(trust.map((k) => [k.kid, k.notBefore, k.notAfter, k.status])).toEqual([[1, T0 - 20, T0 + 5, "active"], [2, T0 + 5, 0xffffffff, "active"]]);
    expect(trust[1]!.publicKey).toBe(made.publicKey);
    const fresh = await issue(t, { idNumber: PERSON_ID_2 });
    expect(fresh.fields.kid).toBe(2);
    expect(results(await verifyBatch(t, metro, [old.presentText(T0 + 5), fresh.presentText(T0 + 5)]))).toEqual(["OK", "OK"]);
    // kid 1's period has ended: a credential it signs after the rotation (a leaked old key) verifies nothing
    const kid1Seed = JSON.parse(readFileSync(join(t.dir, "issuer-500000.keys.json"), "utf8")).keys[0]!.seed;
    const late = foreignHolder({ seed: new Uint8Array(Buffer.from(kid1Seed, "hex")), issuer: 500000, kid: 1, notBefore: T0 + 6, notAfter: T0 + 1000 });
    expect(results(await verifyBatch(t, metro, [late.presentText(T0 + 6)]))).toEqual(["UNKNOWN_ISSUER"]);
    // the ring survives a restart
    const dir = t.dir;
    t.node.close();
    t = makeNode({}, {}, dir);
    expect(t.node.keyring!.keys.map((k) => k.kid)).toEqual([1, 2]);
    expect((await issue(t, { idNumber: PERSON_ID })).fields.kid).toBe(2);
  });

  test("a revoked kid makes its credentials REVOKED and stops issuance (409) until a new kid is made", async () => {
    t = await startNode();
    const metro = await makeGateway(t, "metro");
    const h = await issue(t, { idNumber: PERSON_ID });
    await t.app.request("/v1/revocations", req("POST", { type: "key", value: "500000:1", reason: "compromise" }, ADMIN));
    expect(results(await verifyBatch(t, metro, [h.presentText(T0)]))).toEqual(["REVOKED"]);
    expect((await json<TrustAnswer>(await t.app.request("/v1/trust"))).issuers[0]!.keys[0]!.status).toBe("revoked");
    const refused = await t.app.request("/v1/credentials", req("POST", { kind: "person", idNumber: PERSON_ID, devicePublicKey: Buffer.from(h.fields.devicePub).toString("base64url") }, ADMIN));
    expect(refused.status).toBe(409);
    expect((await json<ErrorAnswer>(refused)).error.code).toBe("ISSUER_KEY_REVOKED");
    expect((await t.app.request("/v1/issuer-keys", req("POST", undefined, ADMIN))).status).toBe(201);
    const again = await issue(t, { idNumber: PERSON_ID });
    expect(again.fields.kid).toBe(2);
    expect(results(await verifyBatch(t, metro, [again.presentText(T0)]))).toEqual(["OK"]);
  });

  test("rotation needs the admin token", async () => {
    t = await startNode();
    expect((await t.app.request("/v1/issuer-keys", req("POST", undefined, "nope"))).status).toBe(401);
  });

  test("a data dir of the earlier layout (one issuer-<code>.key) is taken over as kid 1: its credentials keep verifying", async () => {
    const dir = mkdtempSync(join(tmpdir(), "yukuai-legacy-"));
    const seed = new Uint8Array(32).fill(0x42);
    writeFileSync(join(dir, "issuer-500000.key"), JSON.stringify({ issuer: 500000, kid: 1, createdAt: T0 - 86400, seed: hex(seed) }) + "\n", { mode: 0o600 });
    t = makeNode({}, {}, dir);
    try {
      expect(existsSync(join(dir, "issuer-500000.key"))).toBe(false);
      expect(existsSync(join(dir, "issuer-500000.keys.json"))).toBe(true);
      const metro = await makeGateway(t, "metro");
      const h = foreignHolder({ seed, issuer: 500000, kid: 1, notBefore: T0 - 3600, notAfter: T0 + 1000 });
      expect(results(await verifyBatch(t, metro, [h.presentText(T0)]))).toEqual(["OK"]);
    } finally {
      t.close();
      t = undefined;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("files holding personal data and secrets are mode 0600 (§6)", () => {
  test("the database, its WAL, the key ring, the subject secret and the admin token; the data dir 0700", async () => {
    const parent = mkdtempSync(join(tmpdir(), "yukuai-modes-"));
    const dir = join(parent, "data");
    const old = process.umask(0o022);
    try {
      t = makeNode({ YUKUAI_ADMIN_TOKEN: "" }, {}, dir);
      await makeGateway(t, "metro").catch(() => undefined);
      await issue(t, { idNumber: PERSON_ID }).catch(() => undefined);
      // the WAL exists once something was written
      const mode = (f: string) => (statSync(join(dir, f)).mode & 0o777).toString(8);
      expect(mode("yukuai.db")).toBe("600");
      expect(existsSync(join(dir, "yukuai.db-wal"))).toBe(true);
      expect(mode("yukuai.db-wal")).toBe("600");
      expect(mode("issuer-500000.keys.json")).toBe("600");
      expect(mode("subject-500000.secret")).toBe("600");
      expect(mode("admin-token")).toBe("600");
      expect((statSync(dir).mode & 0o777).toString(8)).toBe("700");
      t.close();
      t = undefined;
      // a database made loose by hand is tightened at start
      chmodSync(join(dir, "yukuai.db"), 0o644);
      t = makeNode({ YUKUAI_ADMIN_TOKEN: "" }, {}, dir);
      expect(mode("yukuai.db")).toBe("600");
    } finally {
      process.umask(old);
      t?.close();
      t = undefined;
      rmSync(parent, { recursive: true, force: true });
    }
  });
});

