/**
 * `GET /v1/verify/stream` (DESIGN.md §4) on a real Bun server on loopback: JSON text and msgpack binary
 * frames answered in kind, error frames that leave the connection open, the gateway key on the upgrade,
 * per-connection backpressure (pipelined frames wait, unread), and draining on shutdown.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { closeStreams, STREAM_LIMITS, streamWebSocket } from "../../src/routes/stream.ts";
import { packr } from "../../src/routes/http.ts";
import { OFF } from "../../src/wire/code.ts";
import { json, type BatchAnswer, type ErrorAnswer } from "../support/api.ts";
import { GatedChecker } from "../support/gated-checker.ts";
import { PERSON_ID, PERSON_ID_2, residentId } from "../support/ids.ts";
import { issue, makeGateway, makeNode, T0, type TestNode } from "../support/node.ts";

let t: TestNode | undefined;
let server: Server<unknown> | undefined;
const sockets: WebSocket[] = [];

afterEach(() => {
  for (const ws of sockets.splice(0)) ws.close();
  server?.stop(true);
  server = undefined;
  t?.close();
  t = undefined;
});

function serve(tn: TestNode): string {
  server = Bun.serve({
    port: 0, hostname: "127.0.0.1",
    fetch: (req, srv) => tn.app.fetch(req, { server: srv }),
    websocket: streamWebSocket(tn.node.config.maxBodyBytes),
  });
  return `127.0.0.1:${server.port}`;
}

/** §4 stream frames the node sends: an answer `{id, results, revocations}`, or an error `{id?, error}`. */
type StreamAnswer = BatchAnswer & { id: string | number };
type StreamError = ErrorAnswer & { id?: string | number };

interface Frame<T> {
  binary: boolean;
  body: T;
}

interface Client {
  ws: WebSocket;
  /**
   * The next frame (its `message` event), as the shape `T`: text frames as parsed JSON, binary frames as
   * unpacked msgpack (with `binary: true` beside). `ms` is a hang guard only: a frame that never comes fails
   * here, named, rather than at the test's timeout.
   */
  next<T = StreamAnswer>(ms?: number): Promise<Frame<T>>;
  /** The `close` event. */
  closed: Promise<CloseEvent>;
}

async function connect(host: string, key: string | null): Promise<Client> {
  const ws = new WebSocket(`ws://${host}/v1/verify/stream`, key === null ? undefined : ({ headers: { authorization: `Bearer ${key}` } } as never));
  ws.binaryType = "arraybuffer";
  sockets.push(ws);
  const queue: Frame<unknown>[] = [];
  const waiters: ((m: Frame<unknown>) => void)[] = [];
  ws.onmessage = (e: MessageEvent<string | ArrayBuffer>) => {
    const m: Frame<unknown> = typeof e.data === "string" ? { binary: false, body: JSON.parse(e.data) } : { binary: true, body: packr.unpack(new Uint8Array(e.data)) };
    const w = waiters.shift();
    if (w) w(m);
    else queue.push(m);
  };
  const closed = new Promise<CloseEvent>((r) => ws.addEventListener("close", (e) => r(e)));
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("websocket did not open"));
  });
  return {
    ws, closed,
    next<T>(ms = 3000): Promise<Frame<T>> {
      const m = queue.shift();
      if (m) return Promise.resolve(m as Frame<T>);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no frame within " + ms + " ms")), ms);
        waiters.push((x) => { clearTimeout(timer); resolve(x as Frame<T>); });
      });
    },
  };
}

async function setup(env: Record<string, string> = {}, checker?: GatedChecker) {
  t = makeNode(env, checker ? { checker } : {});
  const key = await makeGateway(t, "metro");
  const holder = await issue(t, { idNumber: PERSON_ID });
  const other = await issue(t, { idNumber: PERSON_ID_2 });
  return { key, holder, other, host: serve(t) };
}

describe("GET /v1/verify/stream", () => {
  test("JSON text frames get JSON text answers: the same results as POST /v1/verify/batch", async () => {
    const { key, holder, other, host } = await setup();
    const c = await connect(host, key);
    const code = holder.presentText(T0);
    c.ws.send(JSON.stringify({ id: "a1", scans: [code, "junk", { code: other.presentText(T0), at: T0 - 5 }, code] }));
    const { binary, body } = await c.next();
    expect(binary).toBe(false);
    expect(body.id).toBe("a1");
    expect(body.results.map((r) => r.result)).toEqual(["OK", "MALFORMED", "OK", "REPLAY"]);
    expect(body.results[0]).toEqual({
      result: "OK", serial: Buffer.from(holder.fields.serial).toString("hex"), subject: Buffer.from(holder.fields.subject).toString("hex"),
      kind: "person", issuer: 500000, flags: [],
    });
    expect(body.revocations).toEqual({ seq: 0, syncedAt: T0 });
  });

  test("msgpack binary frames (raw 212-byte codes or text) get msgpack binary answers", async () => {
    const { key, holder, other, host } = await setup();
    const c = await connect(host, key);
    const bad = holder.present(T0);
    bad[OFF.deviceSig]! ^= 1;
    c.ws.send(packr.pack({ id: 7, scans: [holder.present(T0), other.presentText(T0), bad, new Uint8Array(5)] }));
    const { binary, body } = await c.next();
    expect(binary).toBe(true);
    expect(body.id).toBe(7);
    expect(body.results.map((r) => r.result)).toEqual(["OK", "OK", "BAD_DEVICE_SIGNATURE", "MALFORMED"]);
  });

  test("a frame that is not a valid batch gets an error frame, and the connection stays open", async () => {
    const { key, holder, host } = await setup({ YUKUAI_MAX_BATCH: "2" });
    const c = await connect(host, key);
    c.ws.send("{not json");
    expect(await c.next<StreamError>()).toEqual({ binary: false, body: { error: { code: "BAD_FRAME", message: "frame is not valid JSON" } } });
    c.ws.send(new Uint8Array([0xc1]));
    const m = await c.next<StreamError>();
    expect(m.binary).toBe(true);
    expect(m.body.error.code).toBe("BAD_FRAME");
    c.ws.send(JSON.stringify([1, 2]));
    expect((await c.next<StreamError>()).body.error.code).toBe("BAD_FRAME");
    c.ws.send(JSON.stringify({ scans: [] }));
    expect((await c.next<StreamError>()).body).toEqual({ error: { code: "BAD_FRAME", message: "a frame needs an \"id\": a string or a number" } });
    c.ws.send(JSON.stringify({ id: "x" }));
    const noScans = (await c.next<StreamError>()).body;
    expect(noScans.id).toBe("x");
    expect(noScans.error.code).toBe("BAD_FRAME");
    c.ws.send(JSON.stringify({ id: "big", scans: ["a", "b", "c"] }));
    expect((await c.next<StreamError>()).body).toEqual({ id: "big", error: { code: "BATCH_TOO_LARGE", message: "at most 2 scans per frame" } });
    c.ws.send(JSON.stringify({ id: "ok", scans: [holder.presentText(T0)] }));
    const ok = (await c.next()).body;
    expect(ok.id).toBe("ok");
    expect(ok.results[0]!.result).toBe("OK");
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
  });

  test("a frame over the body limit gets FRAME_TOO_LARGE and the connection stays open", async () => {
    const { key, holder, host } = await setup({ YUKUAI_MAX_BODY_BYTES: "4096" });
    const c = await connect(host, key);
    c.ws.send(JSON.stringify({ id: 1, scans: ["x".repeat(5000)] }));
    expect((await c.next<StreamError>()).body.error.code).toBe("FRAME_TOO_LARGE");
    c.ws.send(JSON.stringify({ id: 2, scans: [holder.presentText(T0)] }));
    expect((await c.next()).body.results[0]!.result).toBe("OK");
  });

  test("the gateway key is checked on the upgrade: 401 without one or with a wrong one; 426 without Upgrade", async () => {
    const { key, host } = await setup();
    const upgrade = { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" };
    const none = await fetch(`http://${host}/v1/verify/stream`, { headers: upgrade });
    expect(none.status).toBe(401);
    expect((await json<ErrorAnswer>(none)).error.code).toBe("UNAUTHORIZED");
    const wrong = await fetch(`http://${host}/v1/verify/stream`, { headers: { ...upgrade, authorization: "Bearer not-a-key" } });
    expect(wrong.status).toBe(401);
    await expect(connect(host, null)).rejects.toThrow();
    const plain = await fetch(`http://${host}/v1/verify/stream`, { headers: { authorization: `Bearer ${key}` } });
    expect(plain.status).toBe(426);
    expect((await json<ErrorAnswer>(plain)).error.code).toBe("UPGRADE_REQUIRED");
  });

  test("pipelined frames past STREAM_LIMITS.framesInFlight wait, unread, and are answered in turn — never refused for being early (spec §4)", async () => {
    const gate = new GatedChecker();
    const { key, holder, host } = await setup({}, gate);
    const c = await connect(host, key);
    const n = STREAM_LIMITS.framesInFlight;
    for (let i = 0; i < n + 4; i++) c.ws.send(JSON.stringify({ id: i, scans: [holder.presentText(T0, 0, i + 1)] }));
    await gate.reached(n);
    expect(gate.waiting).toBe(n); // the bound holds: the other 4 wait outside the checker
    const answered: StreamAnswer[] = [];
    while (answered.length < n + 4) {
      gate.release();
      const m = await c.next();
      answered.push(m.body);
    }
    expect(answered.map((b) => b.id as number).sort((a, b) => a - b)).toEqual([...Array(n + 4).keys()]);
    for (const b of answered) expect(b.results[0]!.result).toBe("OK");
  });

  test("50 pipelined frames → 50 answers, all OK, ids matched", async () => {
    const { key, host } = await setup();
    const holders = await Promise.all(Array.from({ length: 10 }, (_, k) => issue(t!, { idNumber: residentId(`5001011990010${String(k).padStart(4, "0")}`) })));
    const c = await connect(host, key);
    const sent = new Map<string, string>();
    for (let i = 0; i < 50; i++) {
      const h = holders[i % 10]!;
      const id = `f${i}`;
      sent.set(id, Buffer.from(h.fields.serial).toString("hex"));
      c.ws.send(i % 2 === 0 ? JSON.stringify({ id, scans: [h.presentText(T0)] }) : packr.pack({ id, scans: [h.present(T0)] }));
    }
    const got = new Map<string, StreamAnswer>();
    for (let i = 0; i < 50; i++) {
      const m = await c.next();
      got.set(m.body.id as string, m.body);
    }
    expect([...got.keys()].sort()).toEqual([...sent.keys()].sort());
    for (const [id, b] of got) expect([id, b.results[0]!.result, b.results[0]!.serial]).toEqual([id, "OK", sent.get(id)]);
  });

  test("a saturated node answers the frame with an OVERLOADED error frame (no queue, no timeout)", async () => {
    const gate = new GatedChecker();
    const { key, holder, other, host } = await setup({ YUKUAI_MAX_INFLIGHT_SCANS: "2" }, gate);
    const c = await connect(host, key);
    const c2 = await connect(host, key);
    c.ws.send(JSON.stringify({ id: "first", scans: [holder.presentText(T0), other.presentText(T0)] }));
    await gate.reached(1); // both scans of "first" are in flight: the node's bound of 2 is held
    c2.ws.send(packr.pack({ id: "second", scans: [holder.presentText(T0)] }));
    const refused = await c2.next<StreamError>();
    expect(refused.binary).toBe(true);
    expect(refused.body.id).toBe("second");
    expect(refused.body.error.code).toBe("OVERLOADED");
    gate.release();
    expect((await c.next()).body.results.map((r) => r.result)).toEqual(["OK", "OK"]);
  });

  test("closeStreams (draining): frames in flight are answered, new ones refused, then close 1001", async () => {
    const gate = new GatedChecker();
    const { key, holder, host } = await setup({}, gate);
    const c = await connect(host, key);
    c.ws.send(JSON.stringify({ id: "inflight", scans: [holder.presentText(T0)] }));
    await gate.reached(1);
    closeStreams(t!.node.verifier);
    c.ws.send(JSON.stringify({ id: "late", scans: [holder.presentText(T0)] }));
    expect((await c.next<StreamError>()).body).toMatchObject({ id: "late", error: { code: "SHUTTING_DOWN" } });
    gate.release();
    expect((await c.next()).body.results[0]!.result).toBe("OK");
    expect((await c.closed).code).toBe(1001);
  });
});
