/**
 * The signed trust list of DESIGN.md §7: JWS compact serialization (RFC 7515), `alg` EdDSA (RFC 8037),
 * `kid` an RFC 7638 thumbprint used only as a hint; every refusal reason, the check order, the §2 key test
 * on issuer keys, `parseAnchors`, a seeded fuzz loop, and `bun src/cli.ts trust` end to end.
 * Authority and issuer keys are generated here; no private key is committed.
 */
import { describe, expect, test } from "bun:test";
import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Point } from "@noble/ed25519";
import { privateKeyFromSeed, sign } from "../../src/crypto/ed25519.ts";
import {
  anchorThumbprint, authorityPublicKey, parseAnchors, signTrustList, verifyTrustList, type TrustList, type TrustListRefusal,
} from "../../src/trust/list.ts";
import { rng } from "../support/rng.ts";

const b64u = (b: Uint8Array | string) => Buffer.from(b).toString("base64url");
const fromHex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));
const TYP = "yukuai-trust-list+json";
const NOW = 1_750_000_000;
const SKEW = 10;
const opts = (o: Partial<{ now: number; skewSeconds: number; currentVersion: number | null }> = {}) => ({ now: NOW, skewSeconds: SKEW, currentVersion: null, ...o });

const authority = new Uint8Array(randomBytes(32));
const anchor = authorityPublicKey(authority);
const other = new Uint8Array(randomBytes(32));
const otherAnchor = authorityPublicKey(other);
const issuerKey = () => b64u(authorityPublicKey(new Uint8Array(randomBytes(32))));

function goodList(): TrustList {
  return {
    version: 3,
    issuedAt: NOW - 3600,
    nextUpdate: NOW + 7 * 86400,
    issuers: [
      { issuer: 510000, name: "四川省 Sichuan", keys: [
        { kid: 1, publicKey: issuerKey(), notBefore: NOW - 86400 * 365, notAfter: NOW - 86400, status: "revoked" },
        { kid: 2, publicKey: issuerKey(), notBefore: NOW - 86400, notAfter: 0xffffffff, status: "active" },
      ] },
      { issuer: 520000, name: "贵州省 Guizhou", keys: [{ kid: 0, publicKey: issuerKey(), notBefore: 0, notAfter: 0xffffffff, status: "active" }] },
    ],
  };
}

/** A compact JWS with any header and payload, Ed25519-signed over the RFC 7515 §5.1 signing input. */
function rawJws(header: unknown, payload: unknown, seed = authority): string {
  const h = b64u(typeof header === "string" ? header : JSON.stringify(header));
  const p = b64u(typeof payload === "string" ? payload : JSON.stringify(payload));
  return `${h}.${p}.${b64u(sign(privateKeyFromSeed(seed), new TextEncoder().encode(`${h}.${p}`)))}`;
}
const goodHeader = async (seed = authority) => ({ alg: "EdDSA", typ: TYP, kid: await anchorThumbprint(authorityPublicKey(seed)) });

async function refusal(jws: string, o = opts(), anchors: readonly Uint8Array[] = [anchor]): Promise<TrustListRefusal | "taken"> {
  const r = await verifyTrustList(jws, anchors, o);
  if (!r.ok) {
    expect(r.message).not.toContain("\n");
    expect(r.message.length).toBeGreaterThan(0);
  }
  return r.ok ? "taken" : r.reason;
}

/** Sign a payload that differs from `goodList()` by `edit`, with a valid signature under the anchor. */
async function edited(edit: (l: Record<string, any>) => void): Promise<string> {
  const l: Record<string, any> = structuredClone(goodList());
  edit(l);
  return rawJws(await goodHeader(), l);
}

describe("a good list", () => {
  test("is taken, with exactly the signed content", async () => {
    const list = goodList();
    const jws = await signTrustList(list, authority);
    const r = await verifyTrustList(jws, [anchor], opts());
    expect(r).toEqual({ ok: true, list });
  });

  test("has the protected header of DESIGN.md §7, kid = RFC 7638 thumbprint of the authority key", async () => {
    const jws = await signTrustList(goodList(), authority);
    const header = JSON.parse(Buffer.from(jws.split(".")[0]!, "base64url").toString());
    expect(header).toEqual({ alg: "EdDSA", typ: TYP, kid: await anchorThumbprint(anchor) });
  });

  test("anchorThumbprint matches RFC 8037 Appendix A.3", async () => {
    const x = new Uint8Array(Buffer.from("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "base64url"));
    expect(await anchorThumbprint(x)).toBe("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
  });

  test("verifies under the second of two anchors", async () => {
    const jws = await signTrustList(goodList(), other);
    expect(await refusal(jws, opts(), [anchor, otherAnchor])).toBe("taken");
    expect(await refusal(jws, opts(), [anchor])).toBe("bad-signature");
  });

  test("kid is a hint only: a kid naming no anchor, or the wrong one, or none, still verifies", async () => {
    const list = goodList();
    expect(await refusal(rawJws({ alg: "EdDSA", typ: TYP, kid: "no-such-anchor" }, list))).toBe("taken");
    expect(await refusal(rawJws({ alg: "EdDSA", typ: TYP, kid: await anchorThumbprint(anchor) }, list, other), opts(), [anchor, otherAnchor])).toBe("taken");
    expect(await refusal(rawJws({ alg: "EdDSA", typ: TYP }, list))).toBe("taken");
  });

  test("an empty issuer list and an issuer with no keys are lists", async () => {
    expect(await refusal(await edited((l) => { l.issuers = []; }))).toBe("taken");
    expect(await refusal(await edited((l) => { l.issuers[0].keys = []; }))).toBe("taken");
  });

  test("surrounding whitespace (a trailing newline in a file) is tolerated", async () => {
    expect(await refusal(`${await signTrustList(goodList(), authority)}\n`)).toBe("taken");
  });

  test("signTrustList refuses to sign a list nodes would refuse", async () => {
    const bad = goodList();
    bad.issuers[0]!.keys[0]!.publicKey = b64u(fromHex("01" + "00".repeat(31)));
    await expect(signTrustList(bad, authority)).rejects.toThrow(/issuer 510000 kid 1/);
    const dup = goodList();
    dup.issuers.push(dup.issuers[0]!);
    await expect(signTrustList(dup, authority)).rejects.toThrow(/twice/);
  });
});

describe("malformed JWS or header", () => {
  test("not three parts", async () => {
    const jws = await signTrustList(goodList(), authority);
    const [h, p, s] = jws.split(".");
    for (const bad of ["", "abc", `${h}.${p}`, `${jws}.${s}`, `${h}..${p}.${s}`]) expect(await refusal(bad)).toBe("malformed");
  });

  test("bad base64url in header, payload or signature", async () => {
    const jws = await signTrustList(goodList(), authority);
    const [h, p, s] = jws.split(".") as [string, string, string];
    const std = (x: string) => Buffer.from(x, "base64url").toString("base64"); // standard alphabet and padding
    for (const bad of [`${h}!.${p}.${s}`, `${h}.${p}*.${s}`, `${h}.${p}.${s}=`, `${h}=.${p}.${s}`, `${h}.${p}.${std(s)}`, `${h}.${p}.${s}A`]) {
      expect(await refusal(bad)).toBe("malformed");
    }
    // a non-canonical final character (unused bits set) is not base64url (RFC 4648 §3.5)
    const last = s.at(-1)!;
    const alt = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".split("").find((c) => c !== last && Buffer.from(s.slice(0, -1) + c, "base64url").equals(Buffer.from(s, "base64url")));
    expect(alt).toBeDefined();
    expect(await refusal(`${h}.${p}.${s.slice(0, -1)}${alt}`)).toBe("malformed");
  });

  test("header not a JSON object", async () => {
    for (const h of ["not json", "[1,2]", "null", "\"EdDSA\"", "{\"alg\":\"EdDSA\""]) expect(await refusal(rawJws(h, goodList()))).toBe("malformed");
    const p = b64u(JSON.stringify(goodList()));
    expect(await refusal(`${b64u(new Uint8Array([0xff, 0xfe, 0x7b]))}.${p}.${b64u(new Uint8Array(64))}`)).toBe("malformed");
  });

  test("alg none, alg HS256 (the anchor as an HMAC secret), alg Ed25519, alg missing", async () => {
    const list = goodList();
    const p = b64u(JSON.stringify(list));
    const none = b64u(JSON.stringify({ alg: "none", typ: TYP }));
    expect(await refusal(`${none}.${p}.`)).toBe("malformed");
    expect(await refusal(rawJws({ alg: "none", typ: TYP }, list))).toBe("malformed");
    const hs = b64u(JSON.stringify({ alg: "HS256", typ: TYP }));
    const mac = createHmac("sha256", anchor).update(`${hs}.${p}`).digest();
    expect(await refusal(`${hs}.${p}.${b64u(mac)}`)).toBe("malformed");
    expect(await refusal(rawJws({ alg: "Ed25519", typ: TYP }, list))).toBe("malformed");
    expect(await refusal(rawJws({ typ: TYP }, list))).toBe("malformed");
  });

  test("typ wrong or missing", async () => {
    for (const typ of [undefined, "JWT", "yukuai-trust-list+JSON", "application/yukuai-trust-list+json", 1]) {
      expect(await refusal(rawJws({ alg: "EdDSA", typ }, goodList()))).toBe("malformed");
    }
  });

  test("crit present (any value), b64 present, kid not a string", async () => {
    for (const crit of [["exp"], [], ["b64"], "x"]) expect(await refusal(rawJws({ alg: "EdDSA", typ: TYP, crit, exp: 1 }, goodList()))).toBe("malformed");
    expect(await refusal(rawJws({ alg: "EdDSA", typ: TYP, b64: true }, goodList()))).toBe("malformed");
    expect(await refusal(rawJws({ alg: "EdDSA", typ: TYP, kid: 7 }, goodList()))).toBe("malformed");
  });

  test("signature not 64 bytes", async () => {
    const [h, p] = (await signTrustList(goodList(), authority)).split(".");
    expect(await refusal(`${h}.${p}.${b64u(new Uint8Array(63))}`)).toBe("malformed");
    expect(await refusal(`${h}.${p}.`)).toBe("malformed");
  });

  test("a malformed header is refused before any signature check", async () => {
    expect(await refusal(rawJws({ alg: "EdDSA", typ: "JWT" }, goodList(), other))).toBe("malformed");
  });
});

describe("payload shape (signed by the anchor, so only the shape can fail)", () => {
  test("payload not a JSON object", async () => {
    for (const p of ["not json", "[]", "null", "3", "{\"version\":1"]) expect(await refusal(rawJws(await goodHeader(), p))).toBe("malformed");
  });

  const cases: [string, (l: Record<string, any>) => void][] = [
    ["version 0", (l) => { l.version = 0; }],
    ["version 1.5", (l) => { l.version = 1.5; }],
    ["version string", (l) => { l.version = "3"; }],
    ["version missing", (l) => { delete l.version; }],
    ["version beyond 2^53", (l) => { l.version = 2 ** 60; }],
    ["issuedAt negative", (l) => { l.issuedAt = -1; }],
    ["issuedAt 2^32", (l) => { l.issuedAt = 2 ** 32; }],
    ["issuedAt fractional", (l) => { l.issuedAt = NOW + 0.5; }],
    ["issuedAt in ms", (l) => { l.issuedAt = NOW * 1000; }],
    ["nextUpdate missing", (l) => { delete l.nextUpdate; }],
    ["nextUpdate 2^32", (l) => { l.nextUpdate = 2 ** 32; }],
    ["nextUpdate < issuedAt", (l) => { l.nextUpdate = l.issuedAt - 1; }],
    ["issuers not an array", (l) => { l.issuers = {}; }],
    ["issuers missing", (l) => { delete l.issuers; }],
    ["issuer entry not an object", (l) => { l.issuers.push(null); }],
    ["issuer 5 digits", (l) => { l.issuers[0].issuer = 99999; }],
    ["issuer 7 digits", (l) => { l.issuers[0].issuer = 1000000; }],
    ["issuer a string", (l) => { l.issuers[0].issuer = "510000"; }],
    ["issuer fractional", (l) => { l.issuers[0].issuer = 510000.5; }],
    ["duplicate issuer", (l) => { l.issuers[1].issuer = 510000; }],
    ["name empty", (l) => { l.issuers[0].name = ""; }],
    ["name 201 characters", (l) => { l.issuers[0].name = "川".repeat(201); }],
    ["name not a string", (l) => { l.issuers[0].name = 5; }],
    ["name missing", (l) => { delete l.issuers[0].name; }],
    ["name with a control character", (l) => { l.issuers[0].name = "Sichuan\nERROR forged log line"; }],
    ["keys not an array", (l) => { l.issuers[0].keys = "k"; }],
    ["key not an object", (l) => { l.issuers[0].keys.push([1]); }],
    ["kid negative", (l) => { l.issuers[0].keys[0].kid = -1; }],
    ["kid 65536", (l) => { l.issuers[0].keys[0].kid = 65536; }],
    ["kid fractional", (l) => { l.issuers[0].keys[0].kid = 1.5; }],
    ["kid a string", (l) => { l.issuers[0].keys[0].kid = "1"; }],
    ["duplicate kid within an issuer", (l) => { l.issuers[0].keys[1].kid = 1; }],
    ["publicKey not a string", (l) => { l.issuers[0].keys[0].publicKey = 1; }],
    ["publicKey missing", (l) => { delete l.issuers[0].keys[0].publicKey; }],
    ["publicKey standard base64 with padding", (l) => { l.issuers[0].keys[0].publicKey = Buffer.from(l.issuers[0].keys[0].publicKey, "base64url").toString("base64"); }],
    ["publicKey hex", (l) => { l.issuers[0].keys[0].publicKey = Buffer.from(l.issuers[0].keys[0].publicKey, "base64url").toString("hex") + "!"; }],
    ["notBefore negative", (l) => { l.issuers[0].keys[0].notBefore = -5; }],
    ["notBefore missing", (l) => { delete l.issuers[0].keys[0].notBefore; }],
    ["notAfter 2^32", (l) => { l.issuers[0].keys[0].notAfter = 2 ** 32; }],
    ["notAfter a string", (l) => { l.issuers[0].keys[0].notAfter = "4294967295"; }],
    ["notBefore > notAfter", (l) => { l.issuers[0].keys[0].notBefore = l.issuers[0].keys[0].notAfter + 1; }],
    ["status unknown", (l) => { l.issuers[0].keys[0].status = "Active"; }],
    ["status missing", (l) => { delete l.issuers[0].keys[0].status; }],
  ];
  for (const [name, edit] of cases) {
    test(name, async () => {
      expect(await refusal(await edited(edit))).toBe("malformed");
    });
  }

  test("boundaries that are allowed", async () => {
    expect(await refusal(await edited((l) => { l.issuers[0].name = "川".repeat(200); }))).toBe("taken");
    expect(await refusal(await edited((l) => { l.issuers[0].issuer = 100000; l.issuers[1].issuer = 999999; }))).toBe("taken");
    expect(await refusal(await edited((l) => { l.issuers[0].keys[0].kid = 65535; }))).toBe("taken");
    expect(await refusal(await edited((l) => { l.version = 1; l.issuedAt = NOW; l.nextUpdate = NOW; }))).toBe("taken");
    expect(await refusal(await edited((l) => { l.issuers[0].keys[0].notBefore = 7; l.issuers[0].keys[0].notAfter = 7; }))).toBe("taken");
    expect(await refusal(await edited((l) => { l.extension = "ignored"; l.issuers[0].extra = 1; }))).toBe("taken");
  });

  test("a bad payload under a non-anchor key is a bad signature (signature is checked first)", async () => {
    expect(await refusal(rawJws(await goodHeader(other), "not json", other))).toBe("bad-signature");
  });
});

describe("bad-signature", () => {
  test("signed by a key that is not an anchor", async () => {
    expect(await refusal(await signTrustList(goodList(), other))).toBe("bad-signature");
  });

  test("one payload byte changed", async () => {
    const [h, p, s] = (await signTrustList(goodList(), authority)).split(".") as [string, string, string];
    const bytes = Buffer.from(p, "base64url");
    bytes[bytes.indexOf("510000")] = "6".charCodeAt(0); // 510000 → 610000, still a well-formed list
    expect(await refusal(`${h}.${bytes.toString("base64url")}.${s}`)).toBe("bad-signature");
    const flipped = Buffer.from(p, "base64url");
    flipped[flipped.length - 2]! ^= 1;
    expect(await refusal(`${h}.${flipped.toString("base64url")}.${s}`)).toBe("bad-signature");
  });

  test("one signature bit changed, or the header re-encoded", async () => {
    const [h, p, s] = (await signTrustList(goodList(), authority)).split(".") as [string, string, string];
    const sig = Buffer.from(s, "base64url");
    sig[0]! ^= 0x80;
    expect(await refusal(`${h}.${p}.${sig.toString("base64url")}`)).toBe("bad-signature");
    const h2 = b64u(JSON.stringify(JSON.parse(Buffer.from(h, "base64url").toString()), null, 1));
    expect(await refusal(`${h2}.${p}.${s}`)).toBe("bad-signature");
  });

  test("no anchors, or only unusable anchors, verify nothing", async () => {
    const jws = await signTrustList(goodList(), authority);
    expect(await refusal(jws, opts(), [])).toBe("bad-signature");
    expect(await refusal(jws, opts(), [new Uint8Array(31), fromHex("01" + "00".repeat(31))])).toBe("bad-signature");
    expect(await refusal(jws, opts(), [new Uint8Array(31), anchor])).toBe("taken");
  });
});

describe("rollback, not-yet-issued, expired", () => {
  test("version below the current list's is a rollback; equal and higher are taken", async () => {
    const jws = await signTrustList(goodList(), authority); // version 3
    expect(await refusal(jws, opts({ currentVersion: 4 }))).toBe("rollback");
    expect(await refusal(jws, opts({ currentVersion: 3 }))).toBe("taken");
    expect(await refusal(jws, opts({ currentVersion: 2 }))).toBe("taken");
    expect(await refusal(jws, opts({ currentVersion: null }))).toBe("taken");
  });

  test("issuedAt > now + skew is not yet issued; = now + skew is taken", async () => {
    const at = (issuedAt: number) => signTrustList({ ...goodList(), issuedAt, nextUpdate: issuedAt + 86400 }, authority);
    expect(await refusal(await at(NOW + SKEW + 1))).toBe("not-yet-issued");
    expect(await refusal(await at(NOW + SKEW))).toBe("taken");
    expect(await refusal(await at(NOW + SKEW), opts({ skewSeconds: 0 }))).toBe("not-yet-issued");
  });

  test("now > nextUpdate is expired; now = nextUpdate is taken", async () => {
    const jws = await signTrustList({ ...goodList(), issuedAt: NOW - 100, nextUpdate: NOW }, authority);
    expect(await refusal(jws)).toBe("taken");
    expect(await refusal(jws, opts({ now: NOW + 1 }))).toBe("expired");
  });

  test("check order: payload shape before key test, key test before rollback, rollback before issuedAt and nextUpdate", async () => {
    const both = await edited((l) => { l.version = 0; l.issuers[0].keys[0].publicKey = b64u(fromHex("01" + "00".repeat(31))); });
    expect(await refusal(both)).toBe("malformed");
    const smallOrder = await edited((l) => { l.issuers[0].keys[0].publicKey = b64u(fromHex("01" + "00".repeat(31))); });
    expect(await refusal(smallOrder, opts({ currentVersion: 99, now: 0 }))).toBe("bad-key");
    const future = await signTrustList({ ...goodList(), issuedAt: NOW + 1000, nextUpdate: NOW + 2000 }, authority);
    expect(await refusal(future, opts({ currentVersion: 99 }))).toBe("rollback");
    const old = await signTrustList({ ...goodList(), issuedAt: 0, nextUpdate: 1 }, authority);
    expect(await refusal(old, opts({ currentVersion: 99 }))).toBe("rollback");
  });
});

describe("bad-key: every issuer key passes the §2 key test or the whole list is refused", () => {
  /** A y ≥ p encoding of a point of large order (RFC 8032 §5.1.3 requires y < p). */
  function nonCanonicalKey(): Uint8Array {
    const p = 2n ** 255n - 19n;
    for (let k = 2n; k < 19n; k++) {
      const canonical = new Uint8Array(32);
      const alias = new Uint8Array(32);
      for (let i = 0; i < 32; i++) {
        canonical[i] = Number((k >> BigInt(8 * i)) & 0xffn);
        alias[i] = Number(((p + k) >> BigInt(8 * i)) & 0xffn);
      }
      try {
        if (!Point.fromBytes(canonical, false).isSmallOrder()) {
          expect(Point.fromBytes(alias, true).equals(Point.fromBytes(canonical, false))).toBe(true);
          return alias;
        }
      } catch { /* y = k is not on the curve */ }
    }
    throw new Error("no large-order point with y < 19");
  }

  const badKeys: [string, () => Uint8Array][] = [
    ["the identity (small order)", () => fromHex("0100000000000000000000000000000000000000000000000000000000000000")],
    ["a point of order 8", () => fromHex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")],
    ["a non-canonical encoding (y >= p) of a large-order point", nonCanonicalKey],
    ["31 bytes", () => new Uint8Array(randomBytes(31))],
    ["33 bytes", () => new Uint8Array(randomBytes(33))],
    ["not a curve point", () => fromHex("0200000000000000000000000000000000000000000000000000000000000000")],
  ];
  for (const [name, key] of badKeys) {
    test(name, async () => {
      const jws = await edited((l) => { l.issuers[1].keys[0].publicKey = b64u(key()); });
      const r = await verifyTrustList(jws, [anchor], opts());
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.reason).toBe("bad-key");
      expect(r.message).toContain("issuer 520000 kid 0");
    });
  }

  test("the check uses the key test of src/crypto/ed25519.ts: x = 0 with the sign bit set is refused", async () => {
    const negZero = fromHex("0100000000000000000000000000000000000000000000000000000000000080");
    expect(await refusal(await edited((l) => { l.issuers[0].keys[1].publicKey = b64u(negZero); }))).toBe("bad-key");
  });
});

describe("parseAnchors", () => {
  test("empty is no anchors; keys are split on commas and trimmed", () => {
    expect(parseAnchors("")).toEqual([]);
    expect(parseAnchors("  ")).toEqual([]);
    expect(parseAnchors(b64u(anchor))).toEqual([anchor]);
    expect(parseAnchors(` ${b64u(anchor)} , ${b64u(otherAnchor)}`)).toEqual([anchor, otherAnchor]);
    expect(parseAnchors(`${b64u(anchor)},${b64u(anchor)}`)).toEqual([anchor]);
  });

  const bad: [string, string][] = [
    ["not base64url", "not*base64url"],
    ["standard base64 with padding", Buffer.from(anchor).toString("base64")],
    ["31 bytes", b64u(new Uint8Array(31).fill(9))],
    ["33 bytes", b64u(new Uint8Array(33).fill(9))],
    ["small order", b64u(fromHex("0100000000000000000000000000000000000000000000000000000000000000"))],
    ["order 8", b64u(fromHex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"))],
    ["an empty entry", `${b64u(anchor)},,${b64u(otherAnchor)}`],
    ["a trailing comma", `${b64u(anchor)},`],
    ["a good key and a bad one", `${b64u(anchor)},${b64u(new Uint8Array(16))}`],
  ];
  for (const [name, raw] of bad) {
    test(`throws, naming YUKUAI_TRUST_ANCHORS: ${name}`, () => {
      expect(() => parseAnchors(raw)).toThrow(/YUKUAI_TRUST_ANCHORS/);
    });
  }
});

describe("fuzz: verifyTrustList never throws", () => {
  test("a few thousand random and mutated strings", async () => {
    const rand = rng(0x7e57);
    const pick = (n: number) => Math.floor(rand() * n);
    const list = goodList();
    const good = await signTrustList(list, authority);
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ {}\"\n\u0000é川";
    const seeds = [
      good,
      rawJws(await goodHeader(), "not json"),
      rawJws({ alg: "EdDSA", typ: TYP, crit: ["b64"], b64: false }, list),
      rawJws(await goodHeader(), { ...list, issuers: [{ issuer: 510000, name: "x", keys: [{ kid: 1, publicKey: "AA", notBefore: 0, notAfter: 1, status: "active" }] }] }),
    ];
    let taken = 0;
    for (let i = 0; i < 3000; i++) {
      let s: string;
      if (i % 3 === 0) {
        s = Array.from({ length: pick(200) }, () => alphabet[pick(alphabet.length)]).join("");
      } else {
        s = seeds[pick(seeds.length)]!;
        for (let m = 1 + pick(4); m > 0; m--) {
          const at = pick(s.length + 1);
          const op = pick(5);
          const c = alphabet[pick(alphabet.length)]!;
          if (op === 0) s = s.slice(0, at) + c + s.slice(at + 1);
          else if (op === 1) s = s.slice(0, at) + c + s.slice(at);
          else if (op === 2) s = s.slice(0, at) + s.slice(at + 1);
          else if (op === 3) s = s.split(".").reverse().join(".");
          else s = s.slice(0, at);
        }
      }
      const r = await verifyTrustList(s, [anchor, otherAnchor], opts({ currentVersion: pick(2) ? null : pick(5) }));
      if (r.ok) {
        taken++;
        expect(r.list).toEqual(list);
      } else {
        expect(r.message).not.toContain("\n");
      }
    }
    expect(taken).toBeLessThan(3000);
  });
});

describe("bun src/cli.ts trust", () => {
  const root = resolve(import.meta.dir, "../..");
  async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    const p = Bun.spawn([process.execPath, "src/cli.ts", "trust", ...args], { cwd: root, stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { code, out, err };
  }

  test("keygen → sign two exported issuer files → show --anchors says taken", async () => {
    const dir = mkdtempSync(join(tmpdir(), "yukuai-trust-"));
    try {
      const auth = join(dir, "authority.json");
      const kg = await cli("keygen", "--out", auth);
      expect(kg.code).toBe(0);
      const line = kg.out.trim().split("\n").find((l) => l.startsWith("YUKUAI_TRUST_ANCHORS="));
      expect(line).toBeDefined();
      const pub = line!.slice("YUKUAI_TRUST_ANCHORS=".length);
      expect(parseAnchors(pub)).toHaveLength(1);
      expect(statSync(auth).mode & 0o777).toBe(0o600);
      const saved = JSON.parse(readFileSync(auth, "utf8"));
      expect(saved.seed).toMatch(/^[0-9a-f]{64}$/);
      expect(saved.publicKey).toBe(pub);
      expect(b64u(authorityPublicKey(fromHex(saved.seed)))).toBe(pub);

      const again = await cli("keygen", "--out", auth);
      expect(again.code).toBe(2);
      expect(again.err).toContain("exists");
      expect(JSON.parse(readFileSync(auth, "utf8"))).toEqual(saved);

      // the shape `keys export` prints: no status
      const sichuan = { issuer: 510000, name: "四川省 Sichuan", keys: [{ kid: 1, publicKey: issuerKey(), notBefore: 1_700_000_000, notAfter: 0xffffffff }] };
      const guizhou = { issuer: 520000, name: "贵州省 Guizhou", keys: [{ kid: 3, publicKey: issuerKey(), notBefore: 1_700_000_000, notAfter: 0xffffffff, status: "revoked" }] };
      writeFileSync(join(dir, "sc.json"), JSON.stringify(sichuan, null, 2));
      writeFileSync(join(dir, "gz.json"), JSON.stringify(guizhou, null, 2));
      const out = join(dir, "list.jws");
      const sg = await cli("sign", "--authority", auth, "--version", "4", "--valid-days", "2", "--out", out, join(dir, "sc.json"), join(dir, "gz.json"));
      expect(sg.err).toContain("version 4");
      expect(sg.code).toBe(0);

      const jws = readFileSync(out, "utf8");
      const now = Math.floor(Date.now() / 1000);
      const r = await verifyTrustList(jws, parseAnchors(pub), opts({ now }));
      expect(r.ok).toBe(true);
      if (r.ok) {
        expect(r.list.version).toBe(4);
        expect(r.list.nextUpdate - r.list.issuedAt).toBe(2 * 86400);
        expect(Math.abs(r.list.issuedAt - now)).toBeLessThan(60);
        expect(r.list.issuers).toEqual([
          { ...sichuan, keys: [{ ...sichuan.keys[0]!, status: "active" }] },
          guizhou as (typeof r.list.issuers)[number],
        ]);
      }

      const show = await cli("show", out, "--anchors", `${b64u(otherAnchor)},${pub}`);
      expect(show.code).toBe(0);
      expect(show.out).toContain("\"typ\": \"yukuai-trust-list+json\"");
      expect(show.out).toContain("510000");
      expect(show.out).toContain("taken: version 4, 2 issuer(s)");

      const wrong = await cli("show", out, "--anchors", b64u(otherAnchor));
      expect(wrong.code).toBe(1);
      expect(wrong.out).toContain("refused: bad-signature");

      const plain = await cli("show", out);
      expect(plain.code).toBe(0);
      expect(plain.out).not.toContain("taken");

      const stdout = await cli("sign", "--authority", auth, "--version", "5", "--issued-at", "1700000000", join(dir, "sc.json"));
      expect(stdout.code).toBe(0);
      const r5 = await verifyTrustList(stdout.out.trim(), parseAnchors(pub), opts({ now: 1_700_000_000 }));
      expect(r5.ok && r5.list.issuedAt === 1_700_000_000 && r5.list.nextUpdate === 1_700_000_000 + 7 * 86400).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  test("sign fails with exit 2 and a clear message on bad input", async () => {
    const dir = mkdtempSync(join(tmpdir(), "yukuai-trust-"));
    try {
      const auth = join(dir, "authority.json");
      expect((await cli("keygen", "--out", auth)).code).toBe(0);
      const file = (name: string, v: unknown) => {
        writeFileSync(join(dir, name), typeof v === "string" ? v : JSON.stringify(v));
        return join(dir, name);
      };
      const ok = file("ok.json", { issuer: 510000, name: "四川省 Sichuan", keys: [{ kid: 1, publicKey: issuerKey(), notBefore: 0, notAfter: 10 }] });
      const small = file("small.json", { issuer: 530000, name: "云南省 Yunnan", keys: [{ kid: 9, publicKey: b64u(fromHex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")), notBefore: 0, notAfter: 10 }] });
      const notJson = file("bad.json", "{");
      const cases: [string[], RegExp][] = [
        [["sign", "--authority", auth, "--version", "1", small], /small\.json: issuer 530000 kid 9/],
        [["sign", "--authority", auth, "--version", "1", notJson], /bad\.json: not JSON/],
        [["sign", "--authority", auth, "--version", "1", ok, ok], /issuer 510000 appears twice/],
        [["sign", "--authority", auth, "--version", "0", ok], /--version/],
        [["sign", "--authority", auth, "--version", "1", "--valid-days", "x", ok], /--valid-days/],
        [["sign", "--version", "1", ok], /--authority/],
        [["sign", "--authority", auth, "--version", "1"], /ISSUER\.json/],
        [["sign", "--authority", join(dir, "missing.json"), "--version", "1", ok], /no such file/],
        [["sign", "--authority", ok, "--version", "1", ok], /seed/],
        [["show", ok, "--anchors", "zz"], /--anchors/],
        [["sign", "--bogus"], /bogus/],
      ];
      for (const [args, msg] of cases) {
        const r = await cli(...args);
        expect({ args, code: r.code }).toEqual({ args, code: 2 });
        expect(r.err).toMatch(msg);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
