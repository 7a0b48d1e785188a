/**
 * Backpressure over HTTP (DESIGN.md §4, issue "bounded work in flight"): when `YUKUAI_MAX_INFLIGHT_SCANS`
 * scans are being verified, new batches and single scans are answered 503 OVERLOADED with Retry-After at
 * once — never queued, never left to time out — and capacity returns when the work finishes.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { issue, makeGateway, makeNode, PERSON_ID, PERSON_ID_2, req, T0, type TestNode } from "../helpers.ts";
import { GatedChecker } from "../verify/gated-checker.ts";

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
    const first = t!.app.request("/v1/verify/batch", req("POST", { scans: [a.presentText(T0), b.presentText(T0), a.presentText(T0), b.presentText(T0)] }, key));
    await Bun.sleep(5);
    expect(t!.node.pipeline.inflight).toBe(4);
    expect(gate.waiting).toBe(1);

    const started = performance.now();
    const batch = await t!.app.request("/v1/verify/batch", req("POST", { scans: [a.presentText(T0)] }, key));
    expect(batch.status).toBe(503);
    expect(batch.headers.get("retry-after")).toBe("1");
    expect((await batch.json()).error.code).toBe("OVERLOADED");
    const single = await t!.app.request("/v1/verify", req("POST", { code: b.presentText(T0) }, key));
    expect(single.status).toBe(503);
    expect(single.headers.get("retry-after")).toBe("1");
    expect((await single.json()).error.code).toBe("OVERLOADED");
    expect(performance.now() - started).toBeLessThan(500); // refused at once, not queued
    expect(gate.waiting).toBe(1); // nothing else reached the signature checks

    gate.release();
    const done = await first;
    expect(done.status).toBe(200);
    expect((await done.json()).results.map((r: any) => r.result)).toEqual(["OK", "OK", "OK", "OK"]);
    expect(t!.node.pipeline.inflight).toBe(0);

    const again = t!.app.request("/v1/verify", req("POST", { code: a.presentText(T0) }, key));
    await Bun.sleep(5);
    gate.release();
    const r = await again;
    expect(r.status).toBe(200);
    expect((await r.json()).result).toBe("OK");
  });

  test("the bound holds under a burst: in flight never exceeds it, every request is answered 200 or 503", async () => {
    const { gate, key, a } = await setup(8);
    let peak = 0;
    const requests = Array.from({ length: 40 }, (_, i) =>
      t!.app.request("/v1/verify/batch", req("POST", { scans: [a.presentText(T0, 0, 3 * i + 1), a.presentText(T0, 0, 3 * i + 2), a.presentText(T0, 0, 3 * i + 3)] }, key)));
    for (let k = 0; k < 20 && gate.waiting < 2; k++) await Bun.sleep(5);
    peak = Math.max(peak, t!.node.pipeline.inflight);
    expect(peak).toBeLessThanOrEqual(8);
    gate.release();
    const statuses = await Promise.all(requests.map(async (p) => {
      const r = await p;
      if (r.status === 503) expect(r.headers.get("retry-after")).toBe("1");
      return r.status;
    }));
    expect(statuses.filter((s) => s === 200).length).toBe(2); // two batches of 3 fit under 8
    expect(statuses.filter((s) => s === 503).length).toBe(38);
    expect(t!.node.pipeline.inflight).toBe(0);
    const metrics = await (await t!.app.request("/metrics")).text();
    expect(metrics).toContain('yukuai_batch_refusals_total{code="OVERLOADED"} 38');
  });
});
