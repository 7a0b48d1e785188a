/**
 * `GET /docs` (the API reference page, Scalar) in a real browser: headless Chromium (Debian `chromium`, which
 * .ci/run installs) loads it from a node on loopback — its script comes from the node itself, not a CDN —
 * and the rendered page shows the verify routes read from `/openapi.json`.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Server } from "bun";
import { serveOptions } from "../../src/main.ts";
import { makeNode, type TestNode } from "../support/node.ts";

const chromium = Bun.which("chromium") ?? Bun.which("chromium-browser");
let t: TestNode;
let srv: Server<unknown>;
beforeAll(() => {
  t = makeNode();
  srv = Bun.serve({ ...serveOptions(t.node, (r, s) => t.app.fetch(r, { server: s })), port: 0, hostname: "127.0.0.1" });
});
afterAll(() => {
  srv?.stop(true);
  t?.close();
});

// CI installs chromium; a developer machine without it skips this one test, saying so
test.skipIf(chromium === null && process.env.CI !== "true")("the reference page loads in headless Chromium and shows the verify routes", async () => {
  expect(chromium).not.toBeNull();
  const script = await fetch(`http://127.0.0.1:${srv.port}/docs/scalar.js`);
  expect([script.status, script.headers.get("content-type")]).toEqual([200, "text/javascript; charset=utf-8"]);
  await script.arrayBuffer();
  const p = Bun.spawn([chromium!, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--virtual-time-budget=20000", "--dump-dom", `http://127.0.0.1:${srv.port}/docs`], { stdout: "pipe", stderr: "pipe" });
  const dom = await new Response(p.stdout).text();
  expect(await p.exited).toBe(0);
  // rendered from /openapi.json by the page's script (the served HTML itself names no route)
  const html = await (await fetch(`http://127.0.0.1:${srv.port}/docs`)).text();
  expect(html).not.toContain("/v1/verify/batch");
  for (const s of ["/v1/verify/batch", "/v1/verify/stream", "verify a batch of scans", "Yukuai Code verification node"]) expect([s, dom.includes(s)]).toEqual([s, true]);
}, 60_000);
