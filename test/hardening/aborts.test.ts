/**
 * Client aborts are not internal errors (issue "Hardening"): a real server in-process (Bun.serve with
 * main.ts's serveOptions) takes raw TCP connections that send a request head and part of its body, then
 * go away — a Content-Length upload cut short, a chunked upload cut mid-chunk — and gateways that hang up
 * while their batch is still being verified. The node's log (createApp's log, `t.logs`) gets no "internal
 * error" line for any of them, `yukuai_client_aborts_total` counts the uploads that reached the app, and
 * the server goes on answering.
 */
import { afterEach, expect, test } from "bun:test";
import type { Server } from "bun";
import { connect, type Socket } from "node:net";
import { serveOptions } from "../../src/main.ts";
import type { Holder } from "../../src/holder/holder.ts";
import { json, type BatchAnswer } from "../support/api.ts";
import { GatedChecker } from "../support/gated-checker.ts";
import { PERSON_ID, PERSON_ID_2 } from "../support/ids.ts";
import { ADMIN, issue, makeGateway, makeNode, T0, type TestNode } from "../support/node.ts";
import { pollUntil } from "../support/poll.ts";

/** The node behind a real server; every request that reached the app, by the test's `x-conn` header. */
interface Served {
  t: TestNode;
  server: Server<unknown>;
  /** Requests the app was called for, tagged or not, and their handlers' ends. */
  reached: Map<string, Promise<unknown>>;
  arrivals: ((id: string) => void)[];
}

let s: Served | undefined;
afterEach(() => {
  s?.server.stop(true);
  s?.t.close();
  s = undefined;
});

function serve(t: TestNode): Served {
  const reached = new Map<string, Promise<unknown>>();
  const arrivals: ((id: string) => void)[] = [];
  let untagged = 0;
  const server = Bun.serve({
    ...serveOptions(t.node, (req, srv) => {
      const id = req.headers.get("x-conn") ?? `untagged ${untagged++}`;
      const answer = Promise.resolve(t.app.fetch(req, { server: srv }));
      reached.set(id, answer.catch(() => {}));
      for (const a of arrivals) a(id);
      return answer;
    }),
    port: 0,
    hostname: "127.0.0.1",
  });
  return { t, server, reached, arrivals };
}

/** Resolves when the app has been called for connection `id`. */
function arrived(x: Served, id: string): Promise<void> {
  if (x.reached.has(id)) return Promise.resolve();
  return new Promise((resolve) => {
    const f = (got: string) => {
      if (got !== id) return;
      x.arrivals.splice(x.arrivals.indexOf(f), 1);
      resolve();
    };
    x.arrivals.push(f);
  });
}

/**
 * Opens a connection, writes `bytes`, and destroys it: at once once the bytes are handed to the kernel, or
 * (`waitForApp`) once the app has the request, so the cut lands while the handler reads the body.
 */
function cut(x: Served, id: string, bytes: string, waitForApp: boolean): Promise<void> {
  return new Promise((resolve) => {
    const sock: Socket = connect(x.server.port!, "127.0.0.1", () => {
      sock.write(bytes, () => {
        if (!waitForApp) sock.destroy();
        else void Promise.race([arrived(x, id), Bun.sleep(2000)]).then(() => sock.destroy());
      });
    });
    sock.on("error", () => {});
    sock.on("close", () => resolve());
  });
}

function head(path: string, token: string, id: string, framing: string): string {
  return `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nx-conn: ${id}\r\n${framing}\r\n\r\n`;
}

/** Waits until every handler the app was called for has ended and no new request arrived meanwhile. */
async function settled(x: Served): Promise<void> {
  let seen = -1;
  await pollUntil("the server done with the cut connections", async () => {
    const n = x.reached.size;
    await Promise.all(x.reached.values());
    if (n === seen && n === x.reached.size) return true;
    seen = n;
    return false;
  }, { attempts: 100, pauseMs: 20 });
}

async function abortsCounted(x: Served): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${x.server.port}/metrics`)).text();
  return Number(/^yukuai_client_aborts_total (\d+)/m.exec(text)?.[1] ?? "NaN");
}

const internalErrors = (t: TestNode) => t.logs.filter((l) => /internal error/i.test(l));

async function stillServes(x: Served, key: string, holder: Holder, now: number): Promise<void> {
  const base = `http://127.0.0.1:${x.server.port}`;
  expect((await fetch(base + "/healthz")).status).toBe(200);
  const res = await fetch(base + "/v1/verify/batch", {
    method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ scans: [holder.presentText(now)] }),
  });
  expect(res.status).toBe(200);
  expect((await json<BatchAnswer>(res)).results.map((r) => r.result)).toEqual(["OK"]);
}

test("300 Content-Length uploads cut short, 60 chunked uploads cut mid-chunk (and 40 on other routes): no internal error, counted, still serving", async () => {
  const t = makeNode();
  s = serve(t);
  const key = await makeGateway(t, "metro");
  const holder = await issue(t, { idNumber: PERSON_ID });
  const part = JSON.stringify({ scans: Array.from({ length: 40 }, (_, i) => holder.presentText(T0, 0, 1000 + i)) }).slice(0, 9000);
  const jobs: (() => Promise<void>)[] = [];
  for (let i = 0; i < 300; i++) {
    const id = `cl-${i}`;
    jobs.push(() => cut(s!, id, head("/v1/verify/batch", key, id, "Content-Length: 100000") + part.slice(0, 100 + ((i * 97) % 8800)), i % 2 === 1));
  }
  for (let i = 0; i < 60; i++) {
    const id = `chunked-${i}`;
    // a chunk of 0x2000 bytes announced, a few hundred sent (some after a complete first chunk)
    const chunks = i % 3 === 0 ? `10\r\n${part.slice(0, 16)}\r\n2000\r\n${part.slice(16, 400)}` : `2000\r\n${part.slice(0, 100 + i * 7)}`;
    jobs.push(() => cut(s!, id, head("/v1/verify/batch", key, id, "Transfer-Encoding: chunked") + chunks, i % 2 === 1));
  }
  for (let i = 0; i < 20; i++) {
    const single = `single-${i}`;
    jobs.push(() => cut(s!, single, head("/v1/verify", key, single, "Content-Length: 5000") + `{"code":"${holder.presentText(T0, 0, 5000 + i).slice(0, 50)}`, i % 2 === 1));
    const admin = `admin-${i}`;
    jobs.push(() => cut(s!, admin, head("/v1/credentials", ADMIN, admin, "Content-Length: 4000") + "{\"kind\":\"person\",\"idNumber\":\"", i % 2 === 1));
  }
  // 50 connections at a time
  for (let i = 0; i < jobs.length; i += 50) await Promise.all(jobs.slice(i, i + 50).map((j) => j()));
  await settled(s);

  const reached = [...s.reached.keys()].filter((id) => !id.startsWith("untagged"));
  const counted = await abortsCounted(s);
  const byKind = (p: string) => reached.filter((id) => id.startsWith(p)).length;
  console.log(`aborts: ${jobs.length} cut connections, ${reached.length} reached the app (content-length ${byKind("cl-")}, chunked ${byKind("chunked-")}, `
    + `single ${byKind("single-")}, admin ${byKind("admin-")}); yukuai_client_aborts_total = ${counted}; log lines: ${t.logs.length}`);
  expect(internalErrors(t)).toEqual([]);
  // every cut upload the app was called for is counted as a client abort (the ones the server dropped before the app are not)
  expect(counted).toBeGreaterThanOrEqual(reached.length);
  expect(reached.length).toBeGreaterThan(jobs.length / 2); // at least those cut only once the app had them
  await stillServes(s, key, holder, T0);
}, 20_000);

test("gateways that hang up while their batch is held at the signature checks: no internal error line; the server goes on", async () => {
  const gate = new GatedChecker();
  const t = makeNode({}, { checker: gate });
  s = serve(t);
  const key = await makeGateway(t, "metro");
  const holder = await issue(t, { idNumber: PERSON_ID });
  const other = await issue(t, { idNumber: PERSON_ID_2 });
  const n = 20;
  const codes = Array.from({ length: n }, (_, i) => holder.presentText(T0, 0, 100 + i));
  const socks: Socket[] = [];
  const closed: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const body = JSON.stringify({ scans: [codes[i]] });
    const sock = connect(s.server.port!, "127.0.0.1", () => sock.write(head("/v1/verify/batch", key, `slow-${i}`, `Content-Length: ${Buffer.byteLength(body)}`) + body));
    sock.on("error", () => {});
    closed.push(new Promise((resolve) => sock.on("close", () => resolve())));
    socks.push(sock);
  }
  await gate.reached(n); // every batch read and held
  for (const sock of socks) sock.destroy();
  await Promise.all(closed);
  const before = await abortsCounted(s);
  gate.release();
  await settled(s);
  const after = await abortsCounted(s);
  // the batches were verified and answered into closed connections: what a resend of the same codes gets
  const resending = fetch(`http://127.0.0.1:${s.server.port}/v1/verify/batch`, {
    method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ scans: codes }),
  });
  await gate.reached(1);
  gate.release();
  const resent = await resending;
  const resendAnswer = resent.status;
  const results = (await json<BatchAnswer>(resent)).results.map((r) => r.result);
  console.log(`hung-up gateways: ${n} batches held then abandoned; yukuai_client_aborts_total ${before} → ${after}; resent codes: ${resendAnswer} ${JSON.stringify(results.reduce<Record<string, number>>((m, r) => ((m[r] = (m[r] ?? 0) + 1), m), {}))}`);
  expect(internalErrors(t)).toEqual([]);
  const check = stillServes(s, key, other, T0);
  await gate.reached(1);
  gate.release();
  await check;
});
