/**
 * Backpressure over HTTP (DESIGN.md §4, issue "bounded work in flight"): when `YUKUAI_MAX_INFLIGHT_SCANS`
 * scans are being verified, new batches and single scans are answered 503 OVERLOADED with Retry-After at
 * once — never queued, never left to time out — and capacity returns when the work finishes.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { json, type BatchAnswer, type ErrorAnswer, type ScanResult } from "../support/api.ts";
import { GatedChecker } from "../support/gated-checker.ts";
import { PERSON_ID, PERSON_ID_2 } from "../support/ids.ts";
import { issue, makeGateway, makeNode, req, T0, type TestNode } from "../support/node.ts";

let t: TestNode | undefined;
afterEach(() => {
  t?.close();
  t = undefined;
});

async function setup(limit: number) {
  const gate = new GatedChecker();
  t = makeNode({ YUKUAI_MAX_INFLIGHT_SCANS: String(limit) }, { checker: gate });
  const key = await makeGateway(t, "metro");
  const a = await issue(t, { idNumber: PERSON_ID });
  const b = await issue(t, { idNumber: PERSON_ID_2 });
  return { gate, key, a, b };
}

describe("503 OVERLOADED when the work in flight is at its bound", () => {
  test("a batch and a single scan are refused with Retry-After while the bound is held; accepted after", async () => {
    const { gate, key, a, b } = await setup(4);
    let firstAnswered = false;
    const first = Promise.resolve(t!.app.request("/v1/verify/batch", req("POST", { scans: [a.presentText(T0), b.presentText(T0), a.presentText(T0), b.presentText(T0)] }, key)))
      .then((r) => { firstAnswered = true; return r; });
    await gate.reached(1);
    expect(t!.node.pipeline.inflight).toBe(4);
    expect(gate.waiting).toBe(1);

    // the gate holds the first batch until released below: a refusal that waited for capacity would never come
    const batch = await t!.app.request("/v1/verify/batch", req("POST", { scans: [a.presentText(T0)] }, key));
    expect(batch.status).toBe(503);
    expect(batch.headers.get("retry-after")).toBe("1");
    expect((await json<ErrorAnswer>(batch)).error.code).toBe("OVERLOADED");
    const single = await t!.app.request("/v1/verify", req("POST", { code: b.presentText(T0) }, key));
    expect(single.status).toBe(503);
    expect(single.headers.get("retry-after")).toBe("1");
    expect((await json<ErrorAnswer>(single)).error.code).toBe("OVERLOADED");
    expect(firstAnswered).toBe(false); // refused at once, while the bound was still held: not queued behind it
    expect(gate.waiting).toBe(1); // nothing else reached the signature checks

    gate.release();
    const done = await first;
    expect(done.status).toBe(200);
    expect((await json<BatchAnswer>(done)).results.map((r) => r.result)).toEqual(["OK", "OK", "OK", "OK"]);
    expect(t!.node.pipeline.inflight).toBe(0);

    const again = t!.app.request("/v1/verify", req("POST", { code: a.presentText(T0) }, key));
    await gate.reached(1);
    gate.release();
    const r = await again;
    expect(r.status).toBe(200);
    expect((await json<ScanResult>(r)).result).toBe("OK");
  });

  test("the bound holds under a burst: in flight never exceeds it, every request is answered 200 or 503", async () => {
    const { gate, key, a } = await setup(8);
    let peak = 0;
    let settled = 0;
    let wake = () => {};
    const changed = () => new Promise<void>((resolve) => (wake = resolve));
    const requests = Array.from({ length: 40 }, (_, i) =>
      Promise.resolve(t!.app.request("/v1/verify/batch", req("POST", { scans: [a.presentText(T0, 0, 3 * i + 1), a.presentText(T0, 0, 3 * i + 2), a.presentText(T0, 0, 3 * i + 3)] }, key)))
        .then((r) => {
          peak = Math.max(peak, t!.node.pipeline.inflight);
          settled++;
          wake();
          if (r.status === 503) expect(r.headers.get("retry-after")).toBe("1");
          return r.status;
        }));
    // before any release, every request is decided: answered (refused at once) or waiting at the signature checks
    while (settled + gate.waiting < requests.length) await Promise.race([changed(), gate.reached(gate.waiting + 1)]);
    peak = Math.max(peak, t!.node.pipeline.inflight);
    expect(peak).toBeLessThanOrEqual(8);
    expect(gate.waiting).toBe(2);
    gate.release();
    const statuses = await Promise.all(requests);
    expect(statuses.filter((s) => s === 200).length).toBe(2); // two batches of 3 fit under 8
    expect(statuses.filter((s) => s === 503).length).toBe(38);
    expect(t!.node.pipeline.inflight).toBe(0);
    const metrics = await (await t!.app.request("/metrics")).text();
    expect(metrics).toContain('yukuai_batch_refusals_total{code="OVERLOADED"} 38');
  });
});
