/**
 * Routing works (DESIGN.md §6 cross-region, §7 precedence) with real processes on loopback: a Chongqing
 * node routes Sichuan (510000) scans to a Sichuan node and merges the answers in order; a hung or killed
 * upstream costs those scans UPSTREAM_UNAVAILABLE within the timeout, never the batch.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Holder, newDeviceKey } from "../../src/holder/holder.ts";
import { PERSON_ID, PERSON_ID_2 } from "../helpers.ts";
import { post, spawnNode, stopNode, waitFor, type NodeProcess } from "../support/node-process.ts";

const ADMIN = "routing-admin-token";
const TIMEOUT_MS = 500;
// skew 1 s: the §3 warm-up is 2 × skew; workers 0: signatures on the main thread
const COMMON = { YUKUAI_ADMIN_TOKEN: ADMIN, YUKUAI_SKEW_SECONDS: "1", YUKUAI_WORKERS: "0" };
const now = () => Math.floor(Date.now() / 1000);

let sichuan: NodeProcess;
let chongqing: NodeProcess;
let scMetro = ""; // gateway key made on the Sichuan node: Chongqing's upstream key
let cqMetro = "";
let cqHotel = "";
let sc: Holder;
let cq: Holder;
let scSerial = "";

async function issue(base: string, idNumber: string): Promise<{ holder: Holder; serial: string }> {
  const device = newDeviceKey();
  const res = await post(base, "/v1/credentials", { kind: "person", idNumber, devicePublicKey: Buffer.from(device.publicKey).toString("base64url") }, ADMIN);
  expect(res.status).toBe(201);
  const j: any = await res.json();
  return { holder: new Holder(device.privateKey, new Uint8Array(Buffer.from(j.credential, "base64url"))), serial: j.serial };
}

async function gateway(base: string, scene: string): Promise<string> {
  const res = await post(base, "/v1/gateways", { name: `${scene} gate`, scene }, ADMIN);
  expect(res.status).toBe(201);
  return ((await res.json()) as any).key;
}

async function batch(base: string, key: string, scans: unknown[]): Promise<{ status: number; results: any[]; ms: number }> {
  const t = performance.now();
  const res = await post(base, "/v1/verify/batch", { scans }, key);
  const body: any = await res.json();
  return { status: res.status, results: body.results, ms: performance.now() - t };
}

beforeAll(async () => {
  sichuan = await spawnNode({ ...COMMON, YUKUAI_ISSUER: "510000" });
  await waitFor(sichuan, "/healthz");
  // the upstream key must exist before the Chongqing node starts: it is in its environment (§4)
  scMetro = await gateway(sichuan.base, "metro");
  chongqing = await spawnNode({
    ...COMMON,
    YUKUAI_UPSTREAMS: JSON.stringify({ 510000: { url: sichuan.base, key: scMetro } }),
    YUKUAI_UPSTREAM_TIMEOUT_MS: String(TIMEOUT_MS),
  });
  await Promise.all([waitFor(sichuan, "/readyz"), waitFor(chongqing, "/readyz")]);
  cqMetro = await gateway(chongqing.base, "metro");
  cqHotel = await gateway(chongqing.base, "hotel");
  const s = await issue(sichuan.base, PERSON_ID_2);
  sc = s.holder;
  scSerial = s.serial;
  cq = (await issue(chongqing.base, PERSON_ID)).holder;
  expect(sc.fields.issuer).toBe(510000);
  expect(cq.fields.issuer).toBe(500000);
}, 25_000);

afterAll(async () => {
  await Promise.all([chongqing, sichuan].filter(Boolean).map((n) => stopNode(n)));
});

test("a Chongqing metro gate: own and routed Sichuan scans in one batch, answers merged in order", async () => {
  const scCode = sc.presentText(now());
  const b = await batch(chongqing.base, cqMetro, [cq.presentText(now()), scCode, "junk", scCode]);
  expect(b.status).toBe(200);
  expect(b.results.map((r) => r.result)).toEqual(["OK", "OK", "MALFORMED", "REPLAY"]);
  expect(b.results[0].issuer).toBe(500000);
  expect(b.results[1]).toMatchObject({ issuer: 510000, serial: scSerial, kind: "person" });
  // the routed answer is the Sichuan node's own answer for that credential
  const direct = await batch(sichuan.base, scMetro, [sc.presentText(now())]);
  expect(direct.results[0].result).toBe("OK");
  expect(b.results[1]).toEqual(direct.results[0]);
});

test("a Chongqing hotel gate: a Sichuan code is ISSUER_NOT_ACCEPTED and never forwarded", async () => {
  const code = sc.presentText(now());
  const b = await batch(chongqing.base, cqHotel, [code]);
  expect(b.status).toBe(200);
  expect(b.results.map((r) => r.result)).toEqual(["ISSUER_NOT_ACCEPTED"]);
  // not forwarded: the Sichuan node never saw this counter, so the same code is still OK there
  const again = await batch(chongqing.base, cqMetro, [code]);
  expect(again.results[0]).toMatchObject({ result: "OK", issuer: 510000, serial: scSerial });
});

test("a hung upstream (SIGSTOP): its scans are UPSTREAM_UNAVAILABLE after the timeout, local ones OK", async () => {
  process.kill(sichuan.pid, "SIGSTOP");
  sichuan.stopped = true;
  try {
    const b = await batch(chongqing.base, cqMetro, [sc.presentText(now()), cq.presentText(now())]);
    console.log(`routing: hung upstream answered in ${b.ms.toFixed(0)} ms (timeout ${TIMEOUT_MS} ms)`);
    expect(b.status).toBe(200);
    expect(b.results.map((r) => r.result)).toEqual(["UPSTREAM_UNAVAILABLE", "OK"]);
    expect(b.ms).toBeGreaterThanOrEqual(TIMEOUT_MS * 0.9);
    expect(b.ms).toBeLessThan(5000);
  } finally {
    process.kill(sichuan.pid, "SIGCONT");
    sichuan.stopped = false;
  }
  // resumed: routing works again (a fresh counter; the stopped node may still answer the abandoned one)
  const b = await batch(chongqing.base, cqMetro, [sc.presentText(now()), cq.presentText(now())]);
  expect(b.results.map((r) => r.result)).toEqual(["OK", "OK"]);
  expect(b.results[0]).toMatchObject({ issuer: 510000, serial: scSerial });
});

test("a killed upstream (SIGKILL): its scans are UPSTREAM_UNAVAILABLE promptly, local ones OK", async () => {
  sichuan.proc.kill("SIGKILL");
  await sichuan.proc.exited;
  const b = await batch(chongqing.base, cqMetro, [sc.presentText(now()), cq.presentText(now())]);
  console.log(`routing: killed upstream answered in ${b.ms.toFixed(0)} ms`);
  expect(b.status).toBe(200);
  expect(b.results.map((r) => r.result)).toEqual(["UPSTREAM_UNAVAILABLE", "OK"]);
  expect(b.ms).toBeLessThan(TIMEOUT_MS); // a refused connection, not a timeout
});
