// Independent-client end-to-end test, written from /work/shared/DESIGN.md alone (§2-§4).
// Spawns the service (src/main.ts) on a free port with a temp data dir and talks to it over HTTP only.
import { test, expect, beforeAll, afterAll } from "bun:test";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import {
  b64u,
  base45Encode,
  buildCode,
  buildCredential,
  CODE_LEN,
  fromB64u,
  hex,
  importRawPublicKey,
  malleateSignature,
  newKey,
  parseCredential,
  resignPresentation,
  residentId,
  residentIdBadChecksum,
  toText,
  verifyCredential,
  type DeviceKey,
} from "./client/yk1.ts";

const ADMIN = "test-admin-token-0123456789";
const ROOT = path.resolve(import.meta.dir, "../..");

let proc: ReturnType<typeof Bun.spawn> | undefined;
let tmp = "";
let base = "";
let procOut = "";

const now = () => Math.floor(Date.now() / 1000);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function drain(stream: ReadableStream<Uint8Array> | undefined) {
  if (!stream) return;
  const dec = new TextDecoder();
  try {
    for await (const chunk of stream) procOut += dec.decode(chunk);
  } catch {}
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "yk1-e2e-"));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  // the environment of the shell running the tests, without any YUKUAI_* setting of its own
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("YUKUAI_")));
  proc = Bun.spawn([process.execPath, "src/main.ts"], {
    cwd: ROOT,
    // skew 2 s: the §3 start-up rule keeps a fresh node warming (not ready, STALE) for 2 × skew
    env: { ...env, PORT: String(port), YUKUAI_DATA_DIR: tmp, YUKUAI_ADMIN_TOKEN: ADMIN, YUKUAI_SKEW_SECONDS: "2" },
    stdout: "pipe",
    stderr: "pipe",
  });
  void drain(proc.stdout as ReadableStream<Uint8Array>);
  void drain(proc.stderr as ReadableStream<Uint8Array>);
  // as a load balancer does: nothing is sent before /readyz says 200 (§3 "warming"); polled, 100 tries at most
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      const r = await fetch(`${base}/readyz`);
      if (r.status === 200) return;
    } catch {}
    if (proc.exitCode !== null) break;
    await Bun.sleep(100);
  }
  throw new Error(`service did not become healthy on ${base}; exit=${proc.exitCode}\n${procOut}`);
}, 15_000);

afterAll(async () => {
  if (proc) {
    proc.kill();
    await Promise.race([proc.exited, Bun.sleep(3000)]); // hang guard
    if (proc.exitCode === null) proc.kill(9);
  }
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------- §4 bodies, as this client reads them
interface ErrorBody {
  error: { code: string; message: string };
}

interface ScanResult {
  result: string;
  serial?: string;
  subject?: string;
  kind?: string;
  issuer?: number;
  flags?: string[];
}

interface BatchBody {
  results: ScanResult[];
  revocations: { seq: number; syncedAt: number };
}

interface TrustBody {
  issuers: { issuer: number; name: string; keys: { kid: number; publicKey: string; notBefore: number; notAfter: number; status?: string }[] }[];
}

interface IssuedBody {
  serial: string;
  credential: string;
  notBefore: number;
  notAfter: number;
}

interface FeedBody {
  entries: { seq: number; type: string; value: string; at: number; reason: string | null }[];
  next: number;
  last: number;
}

// ---------------------------------------------------------------- HTTP helpers
interface Resp<T> {
  status: number;
  /** The parsed JSON as the §4 shape `T` (undefined when the answer was not JSON). */
  body: T;
  text: string;
}

async function call<T = unknown>(
  method: string,
  p: string,
  opts: { token?: string; json?: unknown; raw?: string; contentType?: string } = {},
): Promise<Resp<T>> {
  const headers: Record<string, string> = {};
  if (opts.token !== undefined) headers.Authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers["Content-Type"] = "application/json";
  } else if (opts.raw !== undefined) {
    body = opts.raw;
    headers["Content-Type"] = opts.contentType ?? "application/json";
  }
  if (opts.contentType) headers["Content-Type"] = opts.contentType;
  const r = await fetch(base + p, { method, headers, body });
  const text = await r.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: r.status, body: parsed as T, text };
}

function expectError(r: Resp<unknown>, status: number) {
  expect({ status: r.status, text: r.text }).toMatchObject({ status });
  const e = (r.body as Partial<ErrorBody> | undefined)?.error;
  expect(typeof e?.code).toBe("string");
  expect(typeof e?.message).toBe("string");
}

async function batch(gatewayKey: string, scans: unknown[]): Promise<BatchBody> {
  const r = await call<BatchBody>("POST", "/v1/verify/batch", { token: gatewayKey, json: { scans } });
  expect({ status: r.status, text: r.text }).toMatchObject({ status: 200 });
  expect(Array.isArray(r.body.results)).toBe(true);
  expect(r.body.results.length).toBe(scans.length);
  return r.body;
}

async function scan1(gatewayKey: string, code: string): Promise<ScanResult> {
  return (await batch(gatewayKey, [code])).results[0]!;
}

// ---------------------------------------------------------------- what each test sets up for itself
// The spawned node is shared; every test makes its own gateway, holders and counters.

/** The node's issuer 500000 key from GET /v1/trust. */
async function trustedKey(): Promise<{ key: crypto.KeyObject; kid: number }> {
  const r = await call<TrustBody>("GET", "/v1/trust");
  expect(r.status).toBe(200);
  const cq = r.body.issuers.find((i) => i.issuer === 500000);
  expect(cq).toBeDefined();
  expect(Array.isArray(cq!.keys)).toBe(true);
  const key = cq!.keys.find((k) => k.status === undefined || k.status === "active") ?? cq!.keys[0]!;
  expect(typeof key.kid).toBe("number");
  const raw = fromB64u(key.publicKey);
  expect(raw.length).toBe(32);
  return { key: importRawPublicKey(raw), kid: key.kid };
}

/** A new gateway key of `scene`. */
async function gateway(scene = "metro"): Promise<string> {
  const r = await call<{ id: string; key: string }>("POST", "/v1/gateways", { token: ADMIN, json: { name: `e2e ${scene}`, scene } });
  expect({ status: r.status, text: r.text }).toMatchObject({ status: 201 });
  expect(r.body.id).toBeDefined();
  expect(typeof r.body.key).toBe("string");
  expect(r.body.key.length).toBeGreaterThan(0);
  return r.body.key;
}

interface Holder {
  device: DeviceKey;
  idNumber: string;
  serial: string;
  cred: Uint8Array;
  counter: number;
}

const next = (h: Holder) => ++h.counter;
const fresh = (h: Holder, extra: { time?: number; consent?: number } = {}) =>
  buildCode(h.cred, h.device.privateKey, { counter: next(h), ...extra });

/** A credential issued to a new device key, as a holder whose counter starts at 0. */
async function issue(idNumber: string, kind = "person"): Promise<Holder> {
  const device = newKey();
  const r = await call<IssuedBody>("POST", "/v1/credentials", {
    token: ADMIN,
    json: { kind, idNumber, devicePublicKey: b64u(device.raw) },
  });
  expect({ status: r.status, text: r.text }).toMatchObject({ status: 201 });
  const cred = fromB64u(r.body.credential);
  return { device, idNumber, serial: r.body.serial, cred, counter: 0 };
}

/** Revokes a credential; the feed seq of the entry. */
async function revokeSerial(serial: string, reason?: string): Promise<number> {
  const r = await call<{ seq: number }>("POST", "/v1/revocations", { token: ADMIN, json: { type: "credential", value: serial, reason } });
  expect({ status: r.status, text: r.text }).toMatchObject({ status: 201 });
  expect(typeof r.body.seq).toBe("number");
  return r.body.seq;
}

const ID_A = residentId("50010119900307123"); // Chongqing, 1990-03-07
const ID_B = residentId("50010319851120456");
const ID_C = residentId("51010719720815789"); // a Sichuan-born resident, still issued by 500000; only the subject test uses it

// ---------------------------------------------------------------- 1. trust
test("GET /v1/trust lists issuer 500000 with an Ed25519 key", async () => {
  const { key, kid } = await trustedKey();
  expect(key.asymmetricKeyType).toBe("ed25519");
  expect(Number.isInteger(kid)).toBe(true);
});

// ---------------------------------------------------------------- 2. gateway
test("POST /v1/gateways creates a metro gateway key", async () => {
  const key = await gateway("metro");
  expect((await call("POST", "/v1/verify/batch", { token: key, json: { scans: [] } })).status).toBe(200);
});

// ---------------------------------------------------------------- 3. issuance
test("POST /v1/credentials issues a credential that verifies independently", async () => {
  const { key: trustKey, kid: trustKid } = await trustedKey();
  const device = newKey();
  const r = await call<IssuedBody>("POST", "/v1/credentials", {
    token: ADMIN,
    json: { kind: "person", idNumber: ID_A, devicePublicKey: b64u(device.raw) },
  });
  expect({ status: r.status, text: r.text }).toMatchObject({ status: 201 });
  expect(r.body.serial).toMatch(/^[0-9a-f]{16}$/);
  const cred = fromB64u(r.body.credential);
  expect(cred.length).toBe(138);
  const f = parseCredential(cred);
  expect(f.version).toBe(1);
  expect(f.kind).toBe(1);
  expect(f.issuer).toBe(500000);
  expect(f.kid).toBe(trustKid);
  expect(hex(f.devicePub)).toBe(hex(device.raw));
  expect(hex(f.serial)).toBe(r.body.serial);
  expect(f.notBefore).toBe(r.body.notBefore);
  expect(f.notAfter).toBe(r.body.notAfter);
  expect(f.notBefore).toBeLessThanOrEqual(now() + 10);
  expect(f.notAfter).toBeGreaterThan(now());
  expect(f.flags).toBe(0);
  expect(verifyCredential(cred, trustKey)).toBe(true);
});

// ---------------------------------------------------------------- 4. issuance refusals
async function expectIssue400(devicePublicKey: string, idNumber = ID_A) {
  const r = await call("POST", "/v1/credentials", {
    token: ADMIN,
    json: { kind: "person", idNumber, devicePublicKey },
  });
  expectError(r, 400);
}

test("issuance refuses a resident ID with a wrong checksum", async () => {
  await expectIssue400(b64u(newKey().raw), residentIdBadChecksum("50010119900307123"));
});

test("issuance refuses the identity point as device key (01 00..00)", async () => {
  const id = new Uint8Array(32);
  id[0] = 1;
  await expectIssue400(b64u(id));
});

test("issuance refuses an order-8 device key", async () => {
  await expectIssue400(b64u(Buffer.from("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", "hex")));
});

test("issuance refuses a non-canonical device key y = p (ed ff..ff 7f)", async () => {
  const k = new Uint8Array(32).fill(0xff);
  k[0] = 0xed;
  k[31] = 0x7f;
  await expectIssue400(b64u(k));
});

test("issuance refuses a non-canonical device key y = p + 3 (a large-order point, f0 ff..ff 7f)", async () => {
  const k = new Uint8Array(32).fill(0xff);
  k[0] = 0xf0;
  k[31] = 0x7f;
  await expectIssue400(b64u(k));
});

test("issuance without admin token → 401", async () => {
  const json = { kind: "person", idNumber: ID_A, devicePublicKey: b64u(newKey().raw) };
  expectError(await call("POST", "/v1/credentials", { json }), 401);
  expectError(await call("POST", "/v1/credentials", { json, token: "wrong-token" }), 401);
});

// ---------------------------------------------------------------- 5. verification
test("valid fresh presentation → OK with serial, subject, kind, issuer, flags", async () => {
  const gw = await gateway();
  const a = await issue(ID_A);
  const res = await scan1(gw, toText(buildCode(a.cred, a.device.privateKey, { counter: next(a), time: now() })));
  expect(res).toMatchObject({
    result: "OK",
    serial: a.serial,
    kind: "person",
    issuer: 500000,
    flags: [],
  });
  expect(res.subject).toMatch(/^[0-9a-f]{32}$/);
  expect(res.subject).toBe(hex(parseCredential(a.cred).subject));
});

test("the same code again → REPLAY", async () => {
  const gw = await gateway();
  const a = await issue(ID_A);
  const code = toText(fresh(a, { time: now() }));
  expect((await scan1(gw, code)).result).toBe("OK");
  expect((await scan1(gw, code)).result).toBe("REPLAY");
});

test("sliding window: 200 OK, 100 REPLAY (below window), 199 OK (inside, unseen), 199 again REPLAY", async () => {
  const gw = await gateway();
  const a = await issue(ID_A);
  const c = (n: number) => toText(buildCode(a.cred, a.device.privateKey, { counter: n }));
  expect((await scan1(gw, c(200))).result).toBe("OK");
  expect((await scan1(gw, c(100))).result).toBe("REPLAY");
  expect((await scan1(gw, c(199))).result).toBe("OK");
  expect((await scan1(gw, c(199))).result).toBe("REPLAY");
});

test("POST /v1/verify (single) → OK", async () => {
  const gw = await gateway();
  const a = await issue(ID_A);
  const r = await call<ScanResult>("POST", "/v1/verify", { token: gw, json: { code: toText(fresh(a)) } });
  expect({ status: r.status, text: r.text }).toMatchObject({ status: 200 });
  expect(r.body).toMatchObject({ result: "OK", serial: a.serial, kind: "person", issuer: 500000 });
});

test("scan object {code, at} with at = now → OK", async () => {
  const gw = await gateway();
  const a = await issue(ID_A);
  const res = (await batch(gw, [{ code: toText(fresh(a)), at: now() }])).results[0]!;
  expect(res.result).toBe("OK");
});

test("presentation time now-3600 → STALE; now+3600 → STALE", async () => {
  const gw = await gateway();
  const a = await issue(ID_A);
  expect((await scan1(gw, toText(fresh(a, { time: now() - 3600 })))).result).toBe("STALE");
  expect((await scan1(gw, toText(fresh(a, { time: now() + 3600 })))).result).toBe("STALE");
});

test("one flipped bit in deviceSig → BAD_DEVICE_SIGNATURE", async () => {
  const gw = await gateway();
  const a = await issue(ID_A);
  const code = fresh(a);
  code[150] = code[150]! ^ 0x04;
  expect((await scan1(gw, toText(code))).result).toBe("BAD_DEVICE_SIGNATURE");
});

test("issuerSig with S+L → BAD_ISSUER_SIGNATURE", async () => {
  const gw = await gateway();
  const a = await issue(ID_A);
  const cred = a.cred.slice();
  cred.set(malleateSignature(cred.subarray(74, 138)), 74);
  const code = buildCode(cred, a.device.privateKey, { counter: next(a) });
  expect((await scan1(gw, toText(code))).result).toBe("BAD_ISSUER_SIGNATURE");
});

test("deviceSig with S+L → BAD_DEVICE_SIGNATURE", async () => {
  const gw = await gateway();
  const a = await issue(ID_A);
  const code = fresh(a);
  code.set(malleateSignature(code.subarray(148, 212)), 148);
  expect((await scan1(gw, toText(code))).result).toBe("BAD_DEVICE_SIGNATURE");
});

test("device key swapped under an already-verified serial → BAD_ISSUER_SIGNATURE", async () => {
  const gw = await gateway();
  const a = await issue(ID_A);
  // make sure the genuine credential is in the verified cache
  expect((await scan1(gw, toText(fresh(a)))).result).toBe("OK");
  const other = newKey();
  const cred = a.cred.slice();
  cred.set(other.raw, 32);
  const code = buildCode(cred, other.privateKey, { counter: next(a) });
  expect((await scan1(gw, toText(code))).result).toBe("BAD_ISSUER_SIGNATURE");
});

test("credential of unknown issuer 440000 signed by a key we hold → UNKNOWN_ISSUER", async () => {
  const gw = await gateway();
  const fakeIssuer = newKey();
  const dev = newKey();
  const cred = buildCredential({ issuerKey: fakeIssuer.privateKey, issuer: 440000, kid: 1, devicePub: dev.raw });
  const code = buildCode(cred, dev.privateKey, { counter: 1 });
  expect((await scan1(gw, toText(code))).result).toBe("UNKNOWN_ISSUER");
});

test("junk scans in a batch are MALFORMED, the batch is 200, results in request order", async () => {
  const gw = await gateway();
  const a = await issue(ID_A);
  const valid = toText(fresh(a));
  const v2 = fresh(a);
  v2[0] = 2;
  resignPresentation(v2, a.device.privateKey);
  const short = crypto.randomBytes(CODE_LEN - 1);
  const scans = [
    "hello",
    "YK1:" + "!!not~base45 at all;",
    valid,
    "YK1:" + base45Encode(short),
    toText(v2),
  ];
  const body = await batch(gw, scans);
  expect(body.results.map((r) => r.result)).toEqual(["MALFORMED", "MALFORMED", "OK", "MALFORMED", "MALFORMED"]);
  expect(body.results[2]!.serial).toBe(a.serial);
});

test("revoked serial → REVOKED; GET /v1/revocations?since=0 lists it", async () => {
  const gw = await gateway();
  const a = await issue(ID_A);
  const b = await issue(ID_B);
  expect((await scan1(gw, toText(fresh(b)))).result).toBe("OK");
  const seq = await revokeSerial(b.serial, "e2e test");
  expect(seq).toBeGreaterThanOrEqual(1);
  expect((await scan1(gw, toText(fresh(b)))).result).toBe("REVOKED");

  const feed = await call<FeedBody>("GET", "/v1/revocations?since=0", { token: ADMIN });
  expect(feed.status).toBe(200);
  const e = feed.body.entries.find((x) => x.type === "credential" && x.value === b.serial);
  expect(e).toBeDefined();
  expect(e!.seq).toBeGreaterThanOrEqual(1);
  expect(e!.seq).toBe(seq);
  expect(feed.body.next).toBe(feed.body.entries[feed.body.entries.length - 1]!.seq);
  // the batch answer reports the applied revocation seq
  const bb = await batch(gw, [toText(fresh(a))]);
  expect(bb.revocations).toBeDefined();
  expect(bb.revocations.seq).toBeGreaterThanOrEqual(seq);
  expect(bb.revocations.syncedAt).toBeDefined();
});

test("revoked subject → REVOKED", async () => {
  const gw = await gateway();
  const c = await issue(ID_C);
  const ok = await scan1(gw, toText(fresh(c)));
  expect(ok.result).toBe("OK");
  expect(ok.subject).toMatch(/^[0-9a-f]{32}$/);
  const r = await call("POST", "/v1/revocations", { token: ADMIN, json: { type: "subject", value: ok.subject } });
  expect({ status: r.status, text: r.text }).toMatchObject({ status: 201 });
  expect((await scan1(gw, toText(fresh(c)))).result).toBe("REVOKED");
});

test("batch answer carries revocations {seq, syncedAt}", async () => {
  const gw = await gateway();
  const a = await issue(ID_A);
  // two revocations of its own (the feed's seq starts at 1 and steps by 1), of credentials issued for them
  let last = 0;
  for (let i = 0; i < 2; i++) last = await revokeSerial((await issue(ID_B)).serial);
  const body = await batch(gw, [toText(fresh(a))]);
  expect(body.results[0]!.result).toBe("OK");
  expect(typeof body.revocations?.seq).toBe("number");
  expect(body.revocations.seq).toBeGreaterThanOrEqual(2);
  expect(body.revocations.seq).toBeGreaterThanOrEqual(last);
  expect(body.revocations.syncedAt).toBeDefined();
});

test("verify without / with a wrong gateway bearer → 401", async () => {
  const a = await issue(ID_A);
  const json = { scans: [toText(fresh(a))] };
  expectError(await call("POST", "/v1/verify/batch", { json }), 401);
  expectError(await call("POST", "/v1/verify/batch", { json, token: "not-a-gateway-key" }), 401);
  expectError(await call("POST", "/v1/verify", { json: { code: toText(fresh(a)) } }), 401);
});

test("verify body over 1 MiB → 413", async () => {
  const gw = await gateway();
  const raw = JSON.stringify({ scans: ["x".repeat(1024 * 1024 + 16)] });
  let r: Resp<unknown>;
  try {
    r = await call("POST", "/v1/verify/batch", { token: gw, raw });
  } catch (e) {
    throw new Error(`413 expected, request failed: ${e}`);
  }
  expectError(r, 413);
});

test("verify with Content-Type text/plain → 415", async () => {
  const gw = await gateway();
  const a = await issue(ID_A);
  const raw = JSON.stringify({ scans: [toText(fresh(a))] });
  expectError(await call("POST", "/v1/verify/batch", { token: gw, raw, contentType: "text/plain" }), 415);
});

test("verify with malformed JSON → 400", async () => {
  const gw = await gateway();
  expectError(await call("POST", "/v1/verify/batch", { token: gw, raw: '{"scans": [' }), 400);
});
