/**
 * The design rule of issue 12 (spec §3: "whichever core checks them"): every path gives the same answer for
 * the same code; only speed differs. One set of codes — good ones, a bad issuer and a bad device signature,
 * S + L in either signature, small-order and non-canonical device keys, a mixed-order device key, torsion
 * in R (signed so that only the cofactored equation holds, and added after signing) — goes through a single
 * POST /v1/verify each (concurrently, so they coalesce), POST /v1/verify/batch in JSON and in msgpack, and
 * the WebSocket stream (one frame per scan, pipelined), on nodes verifying inline (workers 0) and on a pool
 * (workers 2), with every verifier implementation this machine runs: all result codes are the expected ones.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, verify as nodeVerify } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Point } from "@noble/ed25519";
import { preparePublicKey, rawSeed } from "../../src/crypto/ed25519.ts";
import { packr } from "../../src/routes/http.ts";
import { streamWebSocket } from "../../src/routes/stream.ts";
import {
  credentialMessage, encodeCredentialBody, encodePresentationBody, OFF, presentationMessage, toText, type CredentialFields,
} from "../../src/wire/code.ts";
import { json, type BatchAnswer, type ScanResult } from "../support/api.ts";
import { PERSON_ID } from "../support/ids.ts";
import { issue, makeGateway, makeNode, req, startNode, T0, type TestNode } from "../support/node.ts";
import { IMPLS } from "../support/verifiers.ts";

const L = (1n << 252n) + 27742317777372353535851937790883648493n;
const B = Point.BASE;
/** A point of order 8. */
const T8 = Point.fromBytes(Buffer.from("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", "hex"), false);

const le = (b: Uint8Array): bigint => BigInt(`0x${Buffer.from(b).reverse().toString("hex") || "0"}`);
const le32 = (n: bigint): Uint8Array => new Uint8Array(Buffer.from(n.toString(16).padStart(64, "0"), "hex").reverse());
const sha512 = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(createHash("sha512").update(Buffer.concat(parts)).digest());
const scalar = (label: string): bigint => (le(sha512(new TextEncoder().encode(label))) % (L - 1n)) + 1n;

/** RFC 8032 signing by scalar `a` (public key A) except that the nonce point is rB + t: cofactored-only when t ≠ 0. */
function signWith(a: bigint, A: Uint8Array, msg: Uint8Array, label: string, t: Point = Point.ZERO): Uint8Array {
  const r = scalar(label);
  const R = B.multiply(r).add(t).toBytes();
  const k = le(sha512(R, A, msg)) % L;
  const sig = new Uint8Array(64);
  sig.set(R, 0);
  sig.set(le32((r + k * a) % L), 32);
  return sig;
}

/** A signature with S replaced by S + L (RFC 8032 §5.1.7: S ≥ L is invalid). */
function plusL(code: Uint8Array, off: number): Uint8Array {
  const c = code.slice();
  c.set(le32(le(c.subarray(off + 32, off + 64)) + L), off + 32);
  return c;
}

function flip(code: Uint8Array, byte: number): Uint8Array {
  const c = code.slice();
  c[byte]! ^= 0x04;
  return c;
}

const dir = mkdtempSync(join(tmpdir(), "yukuai-paths-"));
const cases: { name: string; code: Uint8Array | string; want: string }[] = [];

beforeAll(async () => {
  // the codes are made once, against the issuer key in `dir`; every node below opens the same key ring
  const t = makeNode({}, {}, dir);
  try {
    const h = await issue(t, { idNumber: PERSON_ID });
    const own = t.node.keyring!.current;
    const seedHash = sha512(rawSeed(own.privateKey));
    const clamped = seedHash.slice(0, 32);
    clamped[0]! &= 248;
    clamped[31]! &= 127;
    clamped[31]! |= 64;
    const issuerA = le(clamped) % L;
    expect(Buffer.from(B.multiply(issuerA).toBytes())).toEqual(Buffer.from(own.publicKey));
    let serial = 0;
    /** A code for device key `devicePub` (counter 1), its credential signed by `issuerSig` (default: honestly). */
    const code = (devicePub: Uint8Array, deviceSig: (msg: Uint8Array) => Uint8Array, issuerTorsion = Point.ZERO): Uint8Array => {
      const f: CredentialFields = {
        kind: 1, issuer: 500000, kid: own.kid, serial: new Uint8Array(8).fill(0xa0 + serial++), subject: new Uint8Array(16).fill(7),
        devicePub, notBefore: T0 - 10, notAfter: T0 + 86400, flags: 0,
      };
      const body = encodeCredentialBody(f);
      const credential = new Uint8Array(138);
      credential.set(body, 0);
      credential.set(signWith(issuerA, own.publicKey, credentialMessage(body), `issuer ${serial}`, issuerTorsion), OFF.issuerSig);
      const c = encodePresentationBody(credential, { time: T0, counter: 1, consent: 0 });
      c.set(deviceSig(presentationMessage(c)), OFF.deviceSig);
      return c;
    };
    const a = scalar("device a");
    const A = B.multiply(a).toBytes();
    const honest = (label: string) => (m: Uint8Array) => signWith(a, A, m, label);
    const identity = new Uint8Array(32);
    identity[0] = 1;
    const yIsP = new Uint8Array(32).fill(0xff);
    yIsP[0] = 0xed;
    yIsP[31] = 0x7f;
    const identitySig = new Uint8Array(64);
    identitySig[0] = 1; // R = identity, S = 0: "verifies" anything under a small-order key
    const mixed = B.multiply(scalar("mixed a")).add(T8);
    const mixedA = mixed.toBytes();
    const aMixed = scalar("mixed a");

    const add = (name: string, c: Uint8Array | string, want: string) => cases.push({ name, code: c, want });
    add("good, issued by the node", h.present(T0), "OK");
    add("good, the same credential again (verified: device signature only)", h.present(T0), "OK");
    add("bad issuer signature", flip(h.present(T0), OFF.issuerSig + 9), "BAD_ISSUER_SIGNATURE");
    add("bad device signature", flip(h.present(T0), OFF.deviceSig + 40), "BAD_DEVICE_SIGNATURE");
    add("issuer S + L", plusL(h.present(T0), OFF.issuerSig), "BAD_ISSUER_SIGNATURE");
    add("device S + L", plusL(h.present(T0), OFF.deviceSig), "BAD_DEVICE_SIGNATURE");
    add("crafted, honest", code(A, honest("plain")), "OK");
    const deviceTorsion = code(A, (m) => signWith(a, A, m, "torsion R", T8));
    const issuerTorsion = code(A, honest("issuer torsion"), T8);
    // the cofactorless equation (node:crypto alone) refuses both: only the §2 rule accepts them
    expect(nodeVerify(null, presentationMessage(deviceTorsion), preparePublicKey(A), deviceTorsion.subarray(OFF.deviceSig, OFF.deviceSig + 64))).toBe(false);
    expect(nodeVerify(null, credentialMessage(issuerTorsion), preparePublicKey(own.publicKey), issuerTorsion.subarray(OFF.issuerSig, OFF.issuerSig + 64))).toBe(false);
    add("device R = rB + T (cofactored equation only)", deviceTorsion, "OK");
    add("issuer R = rB + T (cofactored equation only)", issuerTorsion, "OK");
    const torsionAdded = code(A, honest("then torsion"));
    torsionAdded.set(Point.fromBytes(torsionAdded.subarray(OFF.deviceSig, OFF.deviceSig + 32), false).add(T8).toBytes(), OFF.deviceSig);
    add("device R + T added after signing", torsionAdded, "BAD_DEVICE_SIGNATURE");
    const malleable = code(A, (m) => signWith(a, A, m, "torsion R, S + L", T8));
    add("device R = rB + T with S + L", plusL(malleable, OFF.deviceSig), "BAD_DEVICE_SIGNATURE");
    add("mixed-order device key aB + T, honest signature", code(mixedA, (m) => signWith(aMixed, mixedA, m, "mixed")), "OK");
    add("small-order device key (identity), R = identity, S = 0", code(identity, () => identitySig), "BAD_DEVICE_SIGNATURE");
    add("small-order device key (order 8)", code(T8.toBytes(), () => identitySig), "BAD_DEVICE_SIGNATURE");
    add("non-canonical device key (y = p)", code(yIsP, () => identitySig), "BAD_DEVICE_SIGNATURE");
    add("not a code", "YK1:junk", "MALFORMED");
  } finally {
    t.close();
  }
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const text = (c: Uint8Array | string) => (typeof c === "string" ? c : toText(c));
const results = (r: ScanResult[]) => r.map((x) => x.result);

/** Each path's results for every case, on a fresh node (fresh replay state) of the shared key ring. */
const PATHS: Record<string, (t: TestNode, key: string) => Promise<string[]>> = {
  async "single POST /v1/verify, concurrently"(t, key) {
    const answers = await Promise.all(cases.map(async (c) => json<ScanResult>(await t.app.request("/v1/verify", req("POST", { code: text(c.code) }, key)))));
    return results(answers);
  },
  async "POST /v1/verify/batch, JSON"(t, key) {
    const res = await t.app.request("/v1/verify/batch", req("POST", { scans: cases.map((c) => text(c.code)) }, key));
    return results((await json<BatchAnswer>(res)).results);
  },
  async "POST /v1/verify/batch, msgpack raw codes"(t, key) {
    const res = await t.app.request("/v1/verify/batch", {
      method: "POST", headers: { "content-type": "application/msgpack", authorization: `Bearer ${key}` },
      body: packr.pack({ scans: cases.map((c) => c.code) }),
    });
    return results((packr.unpack(new Uint8Array(await res.arrayBuffer())) as BatchAnswer).results);
  },
  async "WebSocket stream, one msgpack frame per scan, pipelined"(t, key) {
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (r, srv) => t.app.fetch(r, { server: srv }), websocket: streamWebSocket(t.node.config.maxBodyBytes) });
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/v1/verify/stream`, { headers: { authorization: `Bearer ${key}` } } as never);
    ws.binaryType = "arraybuffer";
    try {
      await new Promise<void>((resolve, reject) => { ws.onopen = () => resolve(); ws.onerror = () => reject(new Error("websocket did not open")); });
      const got: string[] = new Array(cases.length);
      let answered = 0;
      const all = new Promise<void>((resolve) => {
        ws.onmessage = (e: MessageEvent<ArrayBuffer>) => {
          const m = packr.unpack(new Uint8Array(e.data)) as BatchAnswer & { id: number };
          got[m.id] = m.results[0]!.result;
          if (++answered === cases.length) resolve();
        };
      });
      cases.forEach((c, id) => ws.send(packr.pack({ id, scans: [c.code] })));
      await all;
      return got;
    } finally {
      ws.close();
      server.stop(true);
    }
  },
};

describe.each(IMPLS)("every path on %s", (impl) => {
  for (const workers of ["0", "2"]) {
    test(`workers ${workers}: single, batch (JSON, msgpack) and stream give every code its expected result`, async () => {
      const want = cases.map((c) => c.want);
      for (const [path, run] of Object.entries(PATHS)) {
        const t = await startNode({ YUKUAI_VERIFIER: impl, YUKUAI_WORKERS: workers }, {}, dir);
        try {
          expect(t.node.verifierImpl).toBe(impl);
          const key = await makeGateway(t, "metro", `${path} gate`);
          const got = await run(t, key);
          expect(cases.map((c, i) => `${c.name}: ${got[i]}`)).toEqual(cases.map((c) => `${c.name}: ${c.want}`));
          expect(got).toEqual(want);
        } finally {
          t.close();
        }
      }
    }, 30_000);
  }
});
