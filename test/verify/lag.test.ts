/**
 * Backpressure without a worker pool (src/verify/lag.ts): a backlog shows as ticks that keep firing late;
 * one long pause does not; a saturated node answers 503 OVERLOADED with Retry-After.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { LAG_DEFAULTS, LagMonitor } from "../../src/verify/lag.ts";
import { json, type BatchAnswer, type ErrorAnswer } from "../support/api.ts";
import { PERSON_ID } from "../support/ids.ts";
import { issue, makeGateway, makeNode, req, T0, type TestNode } from "../support/node.ts";

let t: TestNode | undefined;
afterEach(() => { t?.close(); t = undefined; });

describe("LagMonitor", () => {
  test("ticks on time: not saturated", () => {
    const m = new LagMonitor({ limitMs: 20, window: 4 });
    for (let i = 0; i < 8; i++) m.observe(i % 2 === 0 ? 0 : 5);
    expect(m.saturated).toBe(false);
    expect(m.lagMs).toBe(0);
  });

  test("a sustained backlog (every tick of the window late) is saturation; one tick on time clears it", () => {
    const m = new LagMonitor({ limitMs: 20, window: 4 });
    for (let i = 0; i < 3; i++) m.observe(40);
    expect(m.saturated).toBe(false); // three of four late
    m.observe(40);
    expect(m.saturated).toBe(true);
    expect(m.lagMs).toBe(40);
    m.observe(0);
    expect(m.saturated).toBe(false);
  });

  test("one long pause delays one tick, not a window: not saturated", () => {
    const m = new LagMonitor({ limitMs: 20, window: 4 });
    for (const late of [0, 0, 0, 200, 0]) m.observe(late);
    expect(m.saturated).toBe(false);
  });

  test("the timer feeds it: a thread kept busy is seen as late, and stop() clears it", async () => {
    const m = new LagMonitor({ limitMs: 1_000_000, intervalMs: 5, window: 1 });
    // the tick itself is the signal: await the timer's first observe() rather than a timer of our own
    const observe = m.observe.bind(m);
    const ticked = new Promise<number>((resolve) => {
      m.observe = (lateMs) => {
        observe(lateMs);
        resolve(lateMs);
      };
    });
    m.start();
    // the stimulus, not a wait: block the thread past the 5 ms tick (a duration, hence performance.now)
    const end = performance.now() + 60;
    while (performance.now() < end) { /* keep the thread busy so the next tick fires late */ }
    expect(await ticked).toBeGreaterThan(0);
    expect(m.lagMs).toBeGreaterThan(0);
    m.stop();
    expect(m.lagMs).toBe(0);
  });

  test("a saturated node refuses batches with 503 OVERLOADED and Retry-After, and takes them again after", async () => {
    t = makeNode();
    const key = await makeGateway(t, "metro");
    const holder = await issue(t, { idNumber: PERSON_ID });
    const lag = t.node.lag;
    lag.stop(); // from here the test feeds the ticks: a full window of late ones
    for (let i = 0; i < LAG_DEFAULTS.window; i++) lag.observe(LAG_DEFAULTS.limitMs + 1);
    expect(lag.saturated).toBe(true);
    const refused = await t.app.request("/v1/verify/batch", req("POST", { scans: [holder.presentText(T0)] }, key));
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect((await json<ErrorAnswer>(refused)).error.code).toBe("OVERLOADED");
    lag.observe(0); // one tick on time
    expect(lag.saturated).toBe(false);
    const ok = await t.app.request("/v1/verify/batch", req("POST", { scans: [holder.presentText(T0)] }, key));
    expect(ok.status).toBe(200);
    expect((await json<BatchAnswer>(ok)).results[0]!.result).toBe("OK");
  });
});

test("the peak lateness since the last read is kept for /metrics, and reading it starts a new period", () => {
  const m = new LagMonitor({ limitMs: 250, window: 4 });
  for (const late of [3, 120, 7]) m.observe(late);
  expect(m.takePeakMs()).toBe(120);
  expect(m.takePeakMs()).toBe(0);
  m.observe(-5);
  m.observe(40);
  expect(m.takePeakMs()).toBe(40);
});
