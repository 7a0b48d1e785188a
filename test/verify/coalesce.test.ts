/**
 * Coalesced checks on the main thread (issue 12, `CoalescingChecker`), on every verifier this machine
 * runs: the checks of concurrent requests in one turn of the event loop are one `verifyScans` call, each
 * request answered with its own results in order; the call's keys table holds each issuer key once; an idle
 * check waits on no timer; a flush larger than the cap is split with the event loop free between the
 * calls; and concurrent requests to a node (single verifies, stream frames) share calls.
 */
import { afterEach, describe, expect, spyOn, test } from "bun:test";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import type { Server } from "bun";
import type { BatchVerifier } from "../../src/crypto/batch.ts";
import { preparePublicKey, rawPublicKey } from "../../src/crypto/ed25519.ts";
import { Holder, newDeviceKey } from "../../src/holder/holder.ts";
import { streamWebSocket } from "../../src/routes/stream.ts";
import { CallSizer, COALESCE_LIMITS, CoalescingChecker, INLINE_SLICE_MS } from "../../src/verify/coalesce.ts";
import { ScanVerifier, SIG_BAD_DEVICE, SIG_OK, type SigJob } from "../../src/verify/signatures.ts";
import { OFF, signCredential, toText } from "../../src/wire/code.ts";
import { PERSON_ID } from "../support/ids.ts";
import { issue, makeGateway, makeNode, req, T0 } from "../support/node.ts";
import { CountingVerifier, IMPLS, verifierOf } from "../support/verifiers.ts";

function issuerKeyPair(): { priv: KeyObject; key: KeyObject; hex: string } {
  const { privateKey } = generateKeyPairSync("ed25519");
  const raw = rawPublicKey(privateKey);
  return { priv: privateKey, key: preparePublicKey(raw), hex: Buffer.from(raw).toString("hex") };
}

function holderOf(issuer: KeyObject, serialByte: number): Holder {
  const d = newDeviceKey();
  return new Holder(d.privateKey, signCredential({
    kind: 1, issuer: 500000, kid: 1, serial: new Uint8Array(8).fill(serialByte), subject: new Uint8Array(16).fill(3),
    devicePub: d.publicKey, notBefore: T0 - 10, notAfter: T0 + 86400, flags: 0,
  }, issuer));
}

const A = issuerKeyPair();
const B = issuerKeyPair();
const C = issuerKeyPair();

/** A presentation whose device signature is forged (one bit flipped). */
function forged(h: Holder): Uint8Array {
  const c = h.present(T0);
  c[OFF.deviceSig + 5]! ^= 0x10;
  return c;
}

const uncached = (code: Uint8Array, issuerKey: KeyObject): SigJob => ({ code, issuerKey, deviceX: null });
const cached = (code: Uint8Array): SigJob => ({ code, issuerKey: null, deviceX: null });

function reference(jobs: readonly SigJob[]): number[] {
  const sv = new ScanVerifier();
  return jobs.map((j) => sv.check(j.code, j.issuerKey, null));
}

/** Resolves after the immediates queued before it (a turn of the event loop's check phase). */
const nextImmediate = () => new Promise<void>((r) => setImmediate(r));

describe.each(IMPLS)("CoalescingChecker on %s", (impl) => {
  const counting = () => new CountingVerifier(verifierOf(impl));

  test("concurrent check() calls in one turn are one verifyScans call; each caller gets its own results, in order", async () => {
    const v = counting();
    const c = new CoalescingChecker(v, { minScans: 64 });
    const ha = holderOf(A.priv, 1);
    const hb = holderOf(B.priv, 2);
    const requests: SigJob[][] = [
      [uncached(ha.present(T0), A.key)],
      [cached(forged(ha)), cached(ha.present(T0)), uncached(hb.present(T0), A.key)],
      [uncached(hb.present(T0), B.key), cached(forged(hb))],
      [cached(hb.present(T0))],
      [uncached(forged(ha), A.key), uncached(ha.present(T0), A.key), cached(ha.present(T0)), uncached(forged(hb), B.key)],
    ];
    const answers = await Promise.all(requests.map((jobs) => c.check(jobs)));
    expect(v.calls.map((x) => x.n)).toEqual([11]);
    for (const [i, jobs] of requests.entries()) expect([i, ...answers[i]!]).toEqual([i, ...reference(jobs)]);
    expect([...answers[1]!]).toEqual([SIG_BAD_DEVICE, SIG_OK, 1]);
  });

  test("the keys table holds each issuer key once; scans of a verified credential have no slot (−1)", async () => {
    const v = counting();
    const c = new CoalescingChecker(v, { minScans: 64 });
    const [ha, hb, hc] = [holderOf(A.priv, 10), holderOf(B.priv, 11), holderOf(C.priv, 12)];
    const jobs = [
      uncached(hb.present(T0), B.key), uncached(ha.present(T0), A.key), cached(ha.present(T0)), uncached(hb.present(T0), B.key),
      uncached(hc.present(T0), C.key), uncached(ha.present(T0), A.key), cached(hc.present(T0)),
    ];
    const [x, y] = await Promise.all([c.check(jobs.slice(0, 4)), c.check(jobs.slice(4))]);
    expect([...x, ...y]).toEqual(jobs.map(() => SIG_OK));
    expect(v.calls.length).toBe(1);
    const call = v.calls[0]!;
    expect(call.keys).toEqual([B.hex, A.hex, C.hex]);
    expect(call.slots).toEqual([0, 1, -1, 0, 2, 1, -1]);
  });

  test("an idle check is answered in the turn that asked, without any timer", async () => {
    const v = counting();
    const c = new CoalescingChecker(v);
    const h = holderOf(A.priv, 20);
    const timeouts = spyOn(globalThis, "setTimeout");
    const intervals = spyOn(globalThis, "setInterval");
    try {
      let answer = null as Uint8Array | null;
      void Promise.resolve(c.check([uncached(h.present(T0), A.key)])).then((a) => (answer = a));
      // the flush is the first immediate queued; this one comes after it, in the same check phase: no timer
      // can have fired in between, so an answer that waited on one would not be here yet
      await nextImmediate();
      expect(answer === null ? null : [...answer]).toEqual([SIG_OK]);
      expect(timeouts).not.toHaveBeenCalled();
      expect(intervals).not.toHaveBeenCalled();
    } finally {
      timeouts.mockRestore();
      intervals.mockRestore();
    }
  });

  test("a flush larger than the cap is split, and the event loop runs between the calls", async () => {
    const v = counting();
    const c = new CoalescingChecker(v, { minScans: 4, maxScans: 4 });
    const events: string[] = [];
    v.onCall = (call) => {
      events.push(`call ${call.n}`);
      setImmediate(() => events.push("loop"));
    };
    const h = holderOf(A.priv, 30);
    const requests = [3, 4, 3].map((n) => Array.from({ length: n }, (_, i) => (i === 1 ? cached(forged(h)) : uncached(h.present(T0), A.key))));
    const answers = await Promise.all(requests.map((jobs) => c.check(jobs)));
    await nextImmediate(); // the last call's probe
    expect(events).toEqual(["call 4", "loop", "call 4", "loop", "call 2", "loop"]);
    for (const [i, jobs] of requests.entries()) expect([...answers[i]!]).toEqual(reference(jobs));
  });

  test(`a fresh checker's first call takes up to ${COALESCE_LIMITS[impl].inline.min} scans on ${impl} (the size that stays within the slice even when all are forged)`, async () => {
    const v = counting();
    const c = new CoalescingChecker(v);
    const { min } = COALESCE_LIMITS[impl].inline;
    const code = holderOf(A.priv, 40).present(T0);
    const answers = await Promise.all(Array.from({ length: min + 1 }, () => c.check([cached(code)])));
    expect(v.calls.map((x) => x.n)).toEqual([min, 1]);
    expect(answers.every((a) => a.length === 1 && a[0] === SIG_OK)).toBe(true);
  });

  test("checks arriving while a long flush runs wait behind it and are answered", async () => {
    const v = counting();
    const c = new CoalescingChecker(v, { minScans: 2, maxScans: 2 });
    const h = holderOf(A.priv, 50);
    const late: Promise<Uint8Array>[] = [];
    v.onCall = () => {
      if (late.length < 2) late.push(Promise.resolve(c.check([cached(forged(h))])));
    };
    const first = await c.check(Array.from({ length: 5 }, () => cached(h.present(T0))));
    expect([...first]).toEqual([0, 0, 0, 0, 0]);
    expect((await Promise.all(late)).map((a) => [...a])).toEqual([[SIG_BAD_DEVICE], [SIG_BAD_DEVICE]]);
    expect(v.calls.map((x) => x.n)).toEqual([2, 2, 2, 1]); // the 5th scan and the first late one shared a call
  });

  test("a verifier that throws fails the requests of that call, not the checker", async () => {
    const inner = verifierOf(impl);
    let fail = true;
    const throwing: BatchVerifier = {
      impl, verifyOne: inner.verifyOne.bind(inner), verifyBatch: inner.verifyBatch.bind(inner),
      verifyScans(codes, keys, slot, out) {
        if (fail) throw new RangeError("verifyScans: codes, keys, slot and out disagree");
        inner.verifyScans(codes, keys, slot, out);
      },
    };
    const c = new CoalescingChecker(throwing);
    const h = holderOf(A.priv, 60);
    await expect(Promise.resolve(c.check([cached(h.present(T0))]))).rejects.toThrow("disagree");
    fail = false;
    expect([...(await c.check([cached(h.present(T0))]))]).toEqual([SIG_OK]);
  });

  test("a code of the wrong length fails the requests of its call, not the checker", async () => {
    const v = counting();
    const c = new CoalescingChecker(v);
    const h = holderOf(A.priv, 70);
    const short = Promise.resolve(c.check([{ code: new Uint8Array(211), issuerKey: null, deviceX: null }]));
    await expect(short).rejects.toThrow("a code is 212 bytes");
    expect([...(await c.check([cached(h.present(T0))]))]).toEqual([SIG_OK]);
  });

  test("no jobs: answered at once, no call", () => {
    const v = counting();
    expect(new CoalescingChecker(v).check([])).toEqual(new Uint8Array(0));
    expect(v.calls.length).toBe(0);
  });
});

describe("CallSizer: the size of a call on the main thread", () => {
  test("starts at min; a call that filled its size in under half the slice doubles it, up to max", () => {
    const s = new CallSizer(8, 40);
    const sizes = [s.size];
    for (let i = 0; i < 4; i++) {
      s.took(s.size, INLINE_SLICE_MS / 2 - 1);
      sizes.push(s.size);
    }
    expect(sizes).toEqual([8, 16, 32, 40, 40]);
  });

  test("a call that was not full, or not fast, leaves it", () => {
    const s = new CallSizer(8, 1024);
    s.took(7, 0.01);
    s.took(8, INLINE_SLICE_MS * 0.75);
    s.took(8, INLINE_SLICE_MS);
    expect(s.size).toBe(8);
  });

  test("a call over the slice brings it to what would have taken half the slice at that cost per scan, never below min", () => {
    const s = new CallSizer(8, 1024);
    while (s.size < 1024) s.took(s.size, 0);
    s.took(1024, 4 * INLINE_SLICE_MS); // 1024 forged scans: 8 × the half slice
    expect(s.size).toBe(128);
    s.took(128, 40 * INLINE_SLICE_MS);
    expect(s.size).toBe(8);
  });
});

describe("through a node (workers 0)", () => {
  let server: Server<unknown> | undefined;
  const sockets: WebSocket[] = [];
  afterEach(() => {
    for (const ws of sockets.splice(0)) ws.close();
    server?.stop(true);
    server = undefined;
  });

  test("concurrent single POST /v1/verify requests share verifyScans calls, each answered its own result", async () => {
    const v = new CountingVerifier(verifierOf(IMPLS.at(-1)!));
    const t = makeNode({}, { batchVerifier: v });
    try {
      const key = await makeGateway(t, "metro");
      const holders = await Promise.all(Array.from({ length: 4 }, (_, i) => issue(t, { idNumber: PERSON_ID, validDays: 10 + i })));
      const bad = holders[2]!.present(T0);
      bad[OFF.deviceSig]! ^= 1;
      const codes = [...holders.flatMap((h) => [h.presentText(T0), h.presentText(T0)]), toText(bad)];
      const want = [...codes.slice(0, -1).map(() => "OK"), "BAD_DEVICE_SIGNATURE"];
      const before = v.calls.length;
      const answers = await Promise.all(codes.map((code) => Promise.resolve(t.app.request("/v1/verify", req("POST", { code }, key))).then((r) => r.json() as Promise<{ result: string }>)));
      expect(answers.map((a) => a.result)).toEqual(want);
      const calls = v.calls.slice(before);
      expect(calls.reduce((s, x) => s + x.n, 0)).toBe(codes.length);
      expect(calls.length).toBeLessThan(codes.length);
      console.log(`[coalesce] ${codes.length} concurrent single verifies: ${calls.length} verifyScans call(s) of ${calls.map((x) => x.n).join(", ")} scans`);
    } finally {
      t.close();
    }
  });

  test("pipelined stream frames share verifyScans calls", async () => {
    const v = new CountingVerifier(verifierOf(IMPLS.at(-1)!));
    const t = makeNode({}, { batchVerifier: v });
    try {
      const key = await makeGateway(t, "metro");
      const h = await issue(t, { idNumber: PERSON_ID });
      server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (r, srv) => t.app.fetch(r, { server: srv }), websocket: streamWebSocket(t.node.config.maxBodyBytes) });
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/v1/verify/stream`, { headers: { authorization: `Bearer ${key}` } } as never);
      sockets.push(ws);
      await new Promise<void>((resolve, reject) => { ws.onopen = () => resolve(); ws.onerror = () => reject(new Error("websocket did not open")); });
      const frames = 8;
      const results = new Map<number, string[]>();
      const all = new Promise<void>((resolve) => {
        ws.onmessage = (e: MessageEvent<string>) => {
          const m = JSON.parse(e.data) as { id: number; results: { result: string }[] };
          results.set(m.id, m.results.map((r) => r.result));
          if (results.size === frames) resolve();
        };
      });
      const before = v.calls.length;
      const payload = Array.from({ length: frames }, (_, id) => JSON.stringify({ id, scans: [h.presentText(T0)] }));
      for (const p of payload) ws.send(p);
      await all;
      expect([...results.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: frames }, (_, i) => i));
      for (const r of results.values()) expect(r).toEqual(["OK"]);
      const calls = v.calls.slice(before);
      expect(calls.reduce((s, x) => s + x.n, 0)).toBe(frames);
      expect(calls.length).toBeLessThan(frames); // the frames were sent in one go, so they reach the node in one turn or few
      console.log(`[coalesce] ${frames} pipelined frames: ${calls.length} verifyScans call(s) of ${calls.map((x) => x.n).join(", ")} scans`);
    } finally {
      t.close();
    }
  });
});
