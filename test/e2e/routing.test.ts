/**
 * Routing works (DESIGN.md §6 cross-region, §7 precedence) with real processes on loopback: a Chongqing
 * node routes Sichuan (510000) scans to a Sichuan node and merges the answers in order; a hung or killed
 * upstream costs those scans UPSTREAM_UNAVAILABLE within the timeout, never the batch.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Holder } from "../../src/holder/holder.ts";
import { json, type BatchAnswer, type ScanResult } from "../support/api.ts";
import { PERSON_ID, PERSON_ID_2 } from "../support/ids.ts";
import { gatewayAt, issueAt, post, spawnNode, stopNode, waitFor, type NodeProcess } from "../support/node-process.ts";

const ADMIN = "routing-admin-token";
const TIMEOUT_MS = 500;
/** The most YUKUAI_UPSTREAM_TIMEOUT_MS takes: longer than any test here may run (its timeout is the hang guard). */
const PATIENT_TIMEOUT_MS = 60_000;
// skew 1 s: the §3 warm-up is 2 × skew; workers 0: signatures on the main thread
const COMMON = { YUKUAI_ADMIN_TOKEN: ADMIN, YUKUAI_SKEW_SECONDS: "1", YUKUAI_WORKERS: "0" };
const now = () => Math.floor(Date.now() / 1000);

let sichuan: NodeProcess;
let chongqing: NodeProcess;
/** A Chongqing node that would wait PATIENT_TIMEOUT_MS for its upstream: whatever it answers sooner did not time out. */
let patient: NodeProcess;
let scMetro = ""; // gateway key made on the Sichuan node: Chongqing's upstream key
let cqMetro = "";
let cqHotel = "";
let patientMetro = "";
let sc: Holder;
let cq: Holder;
let patientCq: Holder;
let scSerial = "";

const gateway = (base: string, scene: string) => gatewayAt(base, ADMIN, scene);
const issue = (base: string, idNumber: string) => issueAt(base, ADMIN, idNumber);

/** A batch at `base`; `ms` is how long it took, for the log (never asserted as an upper bound). */
async function batch(base: string, key: string, scans: unknown[]): Promise<{ status: number; results: ScanResult[]; ms: number }> {
  const t = performance.now();
  const res = await post(base, "/v1/verify/batch", { scans }, key);
  const body = await json<BatchAnswer>(res);
  return { status: res.status, results: body.results, ms: performance.now() - t };
}

beforeAll(async () => {
  sichuan = await spawnNode({ ...COMMON, YUKUAI_ISSUER: "510000" });
  await waitFor(sichuan, "/healthz");
  // the upstream key must exist before the Chongqing node starts: it is in its environment (§4)
  scMetro = await gateway(sichuan.base, "metro");
  const upstreams = JSON.stringify({ 510000: { url: sichuan.base, key: scMetro } });
  [chongqing, patient] = await Promise.all([
    spawnNode({ ...COMMON, YUKUAI_UPSTREAMS: upstreams, YUKUAI_UPSTREAM_TIMEOUT_MS: String(TIMEOUT_MS) }),
    spawnNode({ ...COMMON, YUKUAI_UPSTREAMS: upstreams, YUKUAI_UPSTREAM_TIMEOUT_MS: String(PATIENT_TIMEOUT_MS) }),
  ]);
  await Promise.all([waitFor(sichuan, "/readyz"), waitFor(chongqing, "/readyz"), waitFor(patient, "/readyz")]);
  cqMetro = await gateway(chongqing.base, "metro");
  cqHotel = await gateway(chongqing.base, "hotel");
  patientMetro = await gateway(patient.base, "metro");
  patientCq = (await issue(patient.base, PERSON_ID)).holder;
  const s = await issue(sichuan.base, PERSON_ID_2);
  sc = s.holder;
  scSerial = s.serial;
  cq = (await issue(chongqing.base, PERSON_ID)).holder;
  expect(sc.fields.issuer).toBe(510000);
  expect(cq.fields.issuer).toBe(500000);
}, 25_000);

afterAll(async () => {
  await Promise.all([chongqing, patient, sichuan].filter(Boolean).map((n) => stopNode(n)));
});

test("a Chongqing metro gate: own and routed Sichuan scans in one batch, answers merged in order", async () => {
  const scCode = sc.presentText(now());
  const b = await batch(chongqing.base, cqMetro, [cq.presentText(now()), scCode, "junk", scCode]);
  expect(b.status).toBe(200);
  expect(b.results.map((r) => r.result)).toEqual(["OK", "OK", "MALFORMED", "REPLAY"]);
  expect(b.results[0]!.issuer).toBe(500000);
  expect(b.results[1]).toMatchObject({ issuer: 510000, serial: scSerial, kind: "person" });
  // the routed answer is the Sichuan node's own answer for that credential
  const direct = await batch(sichuan.base, scMetro, [sc.presentText(now())]);
  expect(direct.results[0]!.result).toBe("OK");
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
    // the stopped node never answers while stopped: this answer came from the timeout, which is not cut short
    expect(b.ms).toBeGreaterThanOrEqual(TIMEOUT_MS * 0.9);
    expect(b.ms).toBeLessThan(5000); // hang guard only (10 × the timeout), not the assertion
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
  // a refused connection, not a timeout: the patient node answers too, and its timeout outlasts this test
  const p = await batch(patient.base, patientMetro, [sc.presentText(now()), patientCq.presentText(now())]);
  expect(p.status).toBe(200);
  expect(p.results.map((r) => r.result)).toEqual(["UPSTREAM_UNAVAILABLE", "OK"]);
});
