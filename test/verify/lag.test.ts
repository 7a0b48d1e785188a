/**
 * Backpressure without a worker pool (src/verify/lag.ts): a backlog shows as ticks that keep firing late;
 * one long pause does not; a saturated node answers 503 OVERLOADED with Retry-After.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { LagMonitor } from "../../src/verify/lag.ts";
import { issue, makeGateway, makeNode, PERSON_ID, req, T0, type TestNode } from "../helpers.ts";

const busy = (ms: number) => { const end = performance.now() + ms; while (performance.now() < end) { /* the thread is busy */ } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let t: TestNode | undefined;
afterEach(() => { t?.close(); t = undefined; });

describe("LagMonitor", () => {
  test("idle: not saturated", async () => {
    const m = new LagMonitor({ limitMs: 20, intervalMs: 5, window: 4 }).start();
    await sleep(60);
    expect(m.saturated).toBe(false);
    expect(m.lagMs).toBeLessThan(20);
    m.stop();
  });

  test("a sustained backlog (every tick late) is saturation; it clears when ticks are on time again", async () => {
    const m = new LagMonitor({ limitMs: 20, intervalMs: 5, window: 4 }).start();
    for (let i = 0; i < 8; i++) {
      busy(40);
      await sleep(0);
      await sleep(1);
    }
    expect(m.saturated).toBe(true);
    expect(m.lagMs).toBeGreaterThan(20);
    await sleep(80);
    expect(m.saturated).toBe(false);
    m.stop();
  });

  test("one long pause delays one tick, not a window: not saturated", async () => {
    const m = new LagMonitor({ limitMs: 20, intervalMs: 5, window: 4 }).start();
    await sleep(40);
    busy(200);
    await sleep(1);
    expect(m.saturated).toBe(false);
    m.stop();
  });

  test("a saturated node refuses batches with 503 OVERLOADED and Retry-After, and takes them again after", async () => {
    t = makeNode();
    const key = await makeGateway(t, "metro");
    const holder = await issue(t, { idNumber: PERSON_ID });
    let saturated = true;
    Object.defineProperty(t.node.lag, "saturated", { get: () => saturated });
    const refused = await t.app.request("/v1/verify/batch", req("POST", { scans: [holder.presentText(T0)] }, key));
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect((await refused.json()).error.code).toBe("OVERLOADED");
    saturated = false;
    const ok = await t.app.request("/v1/verify/batch", req("POST", { scans: [holder.presentText(T0)] }, key));
    expect(ok.status).toBe(200);
    expect((await ok.json()).results[0].result).toBe("OK");
  });
});
