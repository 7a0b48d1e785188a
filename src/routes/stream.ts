/**
 * @module 验码 over a WebSocket: `GET /v1/verify/stream` (spec §4).
 *
 * The gateway key is checked on the upgrade request (Bearer header), as for the HTTP routes. Each frame
 * `{"id", "scans"}` is answered `{"id", "results", "revocations"}` in the frame type it came in (JSON text or
 * msgpack binary), with the same results and refusals as `POST /v1/verify/batch`. A frame that is not a
 * valid batch gets `{"id"?, "error": {"code", "message"}}` and the connection stays open.
 *
 * Backpressure, per connection (spec §4: a gateway may pipeline frames):
 * - at most `STREAM_LIMITS.framesInFlight` frames are handled at once; frames past that wait in arrival
 *   order and the server stops reading the connection (`pause()`, so the client sees TCP backpressure)
 *   until they have been taken up: each is answered in turn, never refused for being early. Only frames Bun
 *   had already read when the connection was paused can arrive meanwhile; past `queuedFrames` or
 *   `queuedBytes` of those a frame is answered `OVERLOADED`;
 * - answers the client is not reading pile up in the socket's send buffer: past
 *   `STREAM_LIMITS.sendBufferBytes` the server stops reading the connection until the buffer drains to
 *   half; an answer Bun drops (buffer at `backpressureLimit`) closes the connection with 1013 (try again
 *   later), since the gateway would otherwise wait for it forever.
 */
import type { Hono } from "hono";
import { upgradeWebSocket, websocket as honoWebSocket } from "hono/bun";
import type { ServerWebSocket, WebSocketHandler } from "bun";
import { seconds } from "../clock.ts";
import type { ErrorCode } from "../errors.ts";
import { isIdempotencyKey } from "../verify/idempotency.ts";
import { claimRefusal, fingerprint, recordKey } from "./idempotency.ts";
import type { Verifier } from "../verify/verifier.ts";
import type { Env } from "./auth.ts";
import type { VerifyDeps } from "./verify.ts";
import { sendError } from "./errors.ts";
import { decodeStrict } from "../wire/msgpack.ts";
import { packr } from "./http.ts";

export interface StreamDeps extends VerifyDeps {
  /** Where faults go (no frame data: it may carry personal data). */
  log: (line: string) => void;
}

export const STREAM_LIMITS = {
  /** Frames handled at once per connection; later ones wait, the connection unread meanwhile. */
  framesInFlight: 8,
  /** Frames (and their bytes) that may wait once the connection is paused (already read by then). */
  queuedFrames: 64,
  queuedBytes: 8 << 20,
  /** Send-buffer bytes past which the connection stops being read until it drains. */
  sendBufferBytes: 1 << 20,
  /** Send-buffer bytes at which Bun drops a message (and the connection is closed, 1013). */
  backpressureLimit: 16 << 20,
} as const;

type FrameId = string | number;

/** Per-connection events; `onDrain` is ours (Bun's `drain`, which hono does not forward). */
interface StreamEvents {
  onOpen(evt: Event, ws: { raw?: unknown }): void;
  onMessage(evt: MessageEvent, ws: { raw?: unknown }): void;
  onClose(): void;
  onDrain(ws: ServerWebSocket<unknown>): void;
}

/**
 * Bun.serve's `websocket` option: hono's handler, plus `drain` (resumes a paused connection) and the
 * limits above. `maxPayloadLength` is a little over the body limit so a too-large frame within it gets
 * the §4 error frame; a much larger one closes the connection (1009) before it is buffered.
 */
export function streamWebSocket(maxBodyBytes: number): WebSocketHandler<any> {
  return {
    ...(honoWebSocket as unknown as WebSocketHandler<any>),
    drain(ws: ServerWebSocket<any>) {
      (ws.data?.events as Partial<StreamEvents> | undefined)?.onDrain?.(ws);
    },
    maxPayloadLength: maxBodyBytes + 65536,
    backpressureLimit: STREAM_LIMITS.backpressureLimit,
    closeOnBackpressureLimit: false,
  };
}

/** Open connections per node (its verifier), so start-up code can close them when draining (`closeStreams`). */
const OPEN = new WeakMap<Verifier, Set<{ drain(): void }>>();

/**
 * Draining (SIGTERM): every open stream answers the frames it has in flight, then closes with 1001
 * (going away); frames that arrive meanwhile get a `SHUTTING_DOWN` error frame. Without this a gateway's
 * open stream would keep `server.stop()` waiting.
 */
export function closeStreams(verifier: Verifier): void {
  for (const conn of OPEN.get(verifier) ?? []) conn.drain();
}

/** A frame's scans as bytes for its retry fingerprint (raw codes as base64, so text and msgpack frames agree). */
const canonicalScans = (scans: unknown[]): Uint8Array =>
  new TextEncoder().encode(JSON.stringify(scans, (_k, v: unknown) => (v instanceof Uint8Array ? { bin: Buffer.from(v).toString("base64") } : v)));

const isId = (v: unknown): v is FrameId =>
  (typeof v === "string" && v.length <= 256) || (typeof v === "number" && Number.isFinite(v));

export function streamRoutes(app: Hono<Env>, d: StreamDeps): void {
  const { verifier, metrics, maxBodyBytes, maxBatch } = d;

  app.get("/v1/verify/stream", d.guard.gateway, async (c, next) => {
    if ((c.req.header("upgrade") ?? "").toLowerCase() !== "websocket") {
      return sendError(c, "UPGRADE_REQUIRED", "GET /v1/verify/stream is a WebSocket: send Upgrade: websocket", { upgrade: "websocket" });
    }
    await next();
  }, upgradeWebSocket((c) => {
    const gw = c.get("gateway");
    let inflight = 0;
    let open = true;
    let draining = false;
    /** Frames waiting for a place (arrival order), and their bytes. */
    const waiting: unknown[] = [];
    let waitingBytes = 0;
    /** The send buffer passed `sendBufferBytes` and has not drained to half since. */
    let sendBackedUp = false;
    /** Read the connection only while nothing waits and answers are being taken. */
    const reconcile = (ws: ServerWebSocket<unknown>): void => {
      const hold = waiting.length > 0 || sendBackedUp;
      if (hold && !ws.isPaused) ws.pause();
      else if (!hold && ws.isPaused) ws.resume();
    };
    let socket: ServerWebSocket<unknown> | null = null;
    const conns = OPEN.get(verifier) ?? OPEN.set(verifier, new Set()).get(verifier)!;
    const conn = {
      drain() {
        draining = true;
        if (inflight === 0 && waiting.length === 0 && socket !== null) socket.close(1001, "server is shutting down");
      },
    };

    const send = (ws: ServerWebSocket<unknown>, binary: boolean, body: unknown): void => {
      if (!open) return;
      const status = ws.send(binary ? packr.pack(body) : JSON.stringify(body));
      if (status === 0) {
        ws.close(1013, "answers are not being read");
        return;
      }
      if (status === -1 && ws.getBufferedAmount() > STREAM_LIMITS.sendBufferBytes) {
        sendBackedUp = true;
        reconcile(ws);
      }
    };
    const fail = (ws: ServerWebSocket<unknown>, binary: boolean, id: FrameId | undefined, code: ErrorCode, message: string) =>
      send(ws, binary, id === undefined ? { error: { code, message } } : { id, error: { code, message } });

    const frame = async (ws: ServerWebSocket<unknown>, data: unknown): Promise<void> => {
      const binary = typeof data !== "string";
      const size = binary ? (data as ArrayBuffer).byteLength : Buffer.byteLength(data as string);
      if (size > maxBodyBytes) return fail(ws, binary, undefined, "FRAME_TOO_LARGE", `a frame is at most ${maxBodyBytes} bytes`);
      let msg: unknown;
      try {
        msg = binary ? decodeStrict(new Uint8Array(data as ArrayBuffer)) : JSON.parse(data as string);
      } catch {
        return fail(ws, binary, undefined, "BAD_FRAME", binary ? "frame is not valid msgpack" : "frame is not valid JSON");
      }
      if (typeof msg !== "object" || msg === null || Array.isArray(msg)) {
        return fail(ws, binary, undefined, "BAD_FRAME", "a frame is {\"id\", \"scans\": [code or {code, at}]}");
      }
      const { id, scans } = msg as { id?: unknown; scans?: unknown };
      if (!isId(id)) return fail(ws, binary, undefined, "BAD_FRAME", "a frame needs an \"id\": a string or a number");
      if (!Array.isArray(scans)) return fail(ws, binary, id, "BAD_FRAME", "a frame is {\"id\", \"scans\": [code or {code, at}]}");
      if (scans.length > maxBatch) return fail(ws, binary, id, "BATCH_TOO_LARGE", `at most ${maxBatch} scans per frame`);
      if (draining) return fail(ws, binary, id, "SHUTTING_DOWN", "this node is shutting down; reconnect to another");
      // spec §4 retries: a frame may carry "idempotencyKey", with the meaning of the Idempotency-Key header
      const ik = (msg as { idempotencyKey?: unknown }).idempotencyKey;
      let retry: { rk: string; fp: string } | null = null;
      if (ik !== undefined) {
        if (typeof ik !== "string" || !isIdempotencyKey(ik)) return fail(ws, binary, id, "BAD_IDEMPOTENCY_KEY", "idempotencyKey must be 1 to 64 visible ASCII characters");
        retry = { rk: recordKey(gw.gateway.id, ik), fp: fingerprint("/v1/verify/stream", canonicalScans(scans)) };
        const claim = await d.idempotency.claim(retry.rk, retry.fp, seconds(d.clock));
        if (claim.state === "done") {
          return send(ws, binary, { id, ...(JSON.parse(new TextDecoder().decode(claim.answer.body)) as object), idempotentReplayed: true });
        }
        const refused = claimRefusal(claim);
        if (refused !== null) return fail(ws, binary, id, refused.code, refused.message);
      }
      const started = performance.now();
      let kept = false;
      try {
        const r = await verifier.verifyBatch(scans, gw);
        if (!r.ok) {
          metrics.refusals.inc({ code: r.code });
          return fail(ws, binary, id, r.code, r.message);
        }
        metrics.batches.inc({ transport: "stream" });
        metrics.batchSeconds.observe({ transport: "stream" }, (performance.now() - started) / 1000);
        const answer = { results: r.value, revocations: verifier.revocationStatus() };
        if (retry !== null) {
          const bytes = new TextEncoder().encode(JSON.stringify(answer));
          await d.idempotency.complete(retry.rk, retry.fp, { status: 200, contentType: "application/json", body: bytes }, seconds(d.clock));
          kept = true;
        }
        send(ws, binary, { id, ...answer });
      } finally {
        // a refusal or a fault frees the key at once (as the HTTP middleware does): a resend is handled afresh
        if (retry !== null && !kept) await d.idempotency.release(retry.rk, retry.fp);
      }
    };

    const sizeOf = (data: unknown): number => (typeof data === "string" ? data.length : (data as ArrayBuffer).byteLength);

    /** Handles a frame in a free place; when it is done, the next waiting frame takes the place. */
    const take = (ws: ServerWebSocket<unknown>, data: unknown): void => {
      inflight++;
      frame(ws, data)
        .catch((e: unknown) => {
          // no frame data in the log: it may carry personal data
          d.log(`internal error on the verify stream: ${(e as Error)?.name}: ${(e as Error)?.message}`);
          fail(ws, typeof data !== "string", undefined, "INTERNAL", "internal error");
        })
        .finally(() => {
          inflight--;
          const next = waiting.shift();
          if (next !== undefined) {
            waitingBytes -= sizeOf(next);
            take(ws, next);
          }
          if (open) reconcile(ws);
          if (draining && inflight === 0 && waiting.length === 0 && open) ws.close(1001, "server is shutting down");
        });
    };

    const events: StreamEvents = {
      onOpen(_evt, ws) {
        socket = ws.raw as ServerWebSocket<unknown>;
        conns.add(conn);
      },
      onMessage(evt, ws) {
        const raw = ws.raw as ServerWebSocket<unknown>;
        if (inflight < STREAM_LIMITS.framesInFlight && waiting.length === 0) return take(raw, evt.data);
        const size = sizeOf(evt.data);
        if (waiting.length >= STREAM_LIMITS.queuedFrames || waitingBytes + size > STREAM_LIMITS.queuedBytes) {
          metrics.refusals.inc({ code: "OVERLOADED" });
          return fail(raw, typeof evt.data !== "string", undefined, "OVERLOADED", "too many frames waiting on this connection; wait for answers before sending more");
        }
        waiting.push(evt.data);
        waitingBytes += size;
        reconcile(raw);
      },
      onClose() {
        open = false;
        conns.delete(conn);
      },
      onDrain(ws) {
        if (sendBackedUp && ws.getBufferedAmount() <= STREAM_LIMITS.sendBufferBytes / 2) {
          sendBackedUp = false;
          reconcile(ws);
        }
      },
    };
    return events as never;
  }));
}
