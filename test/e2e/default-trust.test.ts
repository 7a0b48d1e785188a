/**
 * Default trust is the node's own keys (DESIGN.md §6, §7). Regression for a public test key that used to
 * be trusted by default: a node started the README's way trusts its own 500000 key and nothing else, and
 * no private key found anywhere in the repository makes a credential it accepts.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { privateKeyFromSeed, rawPublicKey } from "../../src/crypto/ed25519.ts";
import { json, type BatchAnswer, type GatewayMade, type TrustAnswer } from "../support/api.ts";
import { foreignHolder } from "../support/trust.ts";
import { post, ROOT, spawnNode, stopNode, waitFor, type NodeProcess } from "../support/node-process.ts";
import { pollUntil } from "../support/poll.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const nowSec = () => Math.floor(Date.now() / 1000);

let node: NodeProcess;
let admin = "";

beforeAll(async () => {
  // `npm start` is the README's way; run its command with the bun running this test
  const start: string = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts.start;
  expect(start).toBe("bun src/main.ts");
  const [cmd, ...args] = start.split(" ");
  expect(cmd).toBe("bun");
  // no YUKUAI_* but where to listen and keep data; skew 1 s only shortens the §3 warm-up (2 × skew) to 2 s
  node = await spawnNode({ YUKUAI_SKEW_SECONDS: "1" }, [process.execPath, ...args]);
  await waitFor(node, "/readyz");
  admin = readFileSync(join(node.dir, "admin-token"), "utf8").trim();
  expect(admin.length).toBeGreaterThan(0);
}, 20_000);

afterAll(async () => {
  if (node) await stopNode(node);
});

// ─── candidate private keys in the repository ────────────────────────────────

function repoFiles(): string[] {
  const git = Bun.spawnSync(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], { cwd: ROOT, stdout: "pipe", stderr: "ignore" });
  if (git.success) {
    return git.stdout.toString().split("\0").filter((f) => f !== "" && existsSync(join(ROOT, f)) && statSync(join(ROOT, f)).isFile());
  }
  const out: string[] = [];
  const skip = new Set(["node_modules", ".git", "data", join("bench", "out")]);
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      const rel = relative(ROOT, p);
      if (skip.has(rel) || e.name === "node_modules" || e.name === ".git") continue;
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(rel);
    }
  };
  walk(ROOT);
  return out;
}

/** Every 32-byte seed the repository holds or describes, hex, deduplicated. */
function candidateSeeds(): { seeds: string[]; files: number; fromHex: number; fromJwk: number; fromProse: number } {
  const seeds = new Set<string>();
  let files = 0, fromHex = 0, fromJwk = 0, fromProse = 0;
  for (const f of repoFiles()) {
    const buf = readFileSync(join(ROOT, f));
    if (buf.includes(0)) continue; // not text
    files++;
    const text = buf.toString("utf8");
    // a standalone run of exactly 64 hex digits: seeds, RFC 8032 SECRET KEYs, Wycheproof/zip215 values
    for (const m of text.matchAll(/(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])/g)) {
      seeds.add(m[0].toLowerCase());
      fromHex++;
    }
    // JWK private keys (RFC 8037 "d", 32 bytes base64url)
    for (const m of text.matchAll(/"d"\s*:\s*"([A-Za-z0-9_-]{43})"/g)) {
      seeds.add(Buffer.from(m[1]!, "base64url").toString("hex"));
      fromJwk++;
    }
  }
  // the golden vectors' keys are described, not typed: `seq(0x01)` and "0x01..0x20"
  const golden = readFileSync(join(ROOT, "test/vectors/make-golden.ts"), "utf8");
  const seq = (from: number) => hex(Uint8Array.from({ length: 32 }, (_, i) => (from + i) & 0xff));
  for (const m of golden.matchAll(/seq\(0x([0-9a-f]{2})\)/gi)) {
    seeds.add(seq(parseInt(m[1]!, 16)));
    fromProse++;
  }
  for (const m of golden.matchAll(/0x([0-9a-f]{2})\.\.0x([0-9a-f]{2})/gi)) {
    const a = parseInt(m[1]!, 16), b = parseInt(m[2]!, 16);
    if (b - a + 1 === 32) {
      seeds.add(seq(a));
      fromProse++;
    }
  }
  // simple fills tests use (`new Uint8Array(32).fill(n)`)
  for (let n = 0; n < 256; n++) seeds.add(hex(new Uint8Array(32).fill(n)));
  return { seeds: [...seeds], files, fromHex, fromJwk, fromProse };
}

// ─── tests ────────────────────────────────────────────────────────────────────

test("GET /v1/trust lists only the node's own issuer 500000, with one key; the start-up log says so", async () => {
  const res = await fetch(`${node.base}/v1/trust`);
  expect(res.status).toBe(200);
  const body = await json<TrustAnswer>(res);
  expect(Object.keys(body)).toEqual(["issuers"]);
  expect(body.issuers).toHaveLength(1);
  const cq = body.issuers[0]!;
  expect(cq.issuer).toBe(500000);
  expect(cq.trustedUntil).toBeUndefined(); // own key, not from a trust list
  expect(cq.keys).toHaveLength(1);
  expect(cq.keys[0]).toMatchObject({ kid: 1, status: "active" });
  expect(Buffer.from(cq.keys[0]!.publicKey, "base64url")).toHaveLength(32);

  // the log line is printed right after listening; the pipe may lag the first answer a little
  const line = await pollUntil("the start-up log line", () => node.out().split("\n").find((l) => /listening/.test(l)), { attempts: 40 });
  expect(line).toBeDefined();
  const trusts = /trusts ([^;)]*)/.exec(line!)?.[1];
  expect(trusts).toBe("500000");
  expect(line).not.toContain("trust list");
});

test("no private key in the repository makes a credential this node accepts", async () => {
  const { seeds, files, fromHex, fromJwk, fromProse } = candidateSeeds();
  console.log(`default-trust: ${seeds.length} distinct candidate seeds from ${files} text files (${fromHex} hex runs, ${fromJwk} JWK "d", ${fromProse} described in make-golden.ts, 256 fills)`);
  expect(files).toBeGreaterThan(50);
  expect(fromHex).toBeGreaterThan(20);
  expect(fromProse).toBeGreaterThanOrEqual(3); // issuer, device, subject secret
  expect(seeds.length).toBeGreaterThan(256 + 20);

  const trust = (await json<TrustAnswer>(await fetch(`${node.base}/v1/trust`))).issuers[0]!.keys[0]!;
  const nodeKey = hex(Buffer.from(trust.publicKey, "base64url"));
  const gw = await json<GatewayMade>(await post(node.base, "/v1/gateways", { name: "Line 2 Jiaochangkou", scene: "metro" }, admin));
  expect(typeof gw.key).toBe("string");

  const now = nowSec();
  // §3: a key verifies only credentials whose notBefore is within its period; start there so that the
  // 500000 kid 1 claims reach the signature check
  const notBefore = trust.notBefore;
  expect(notBefore).toBeLessThanOrEqual(now);
  const claims = [
    { issuer: 500000, kid: 1, expect: "BAD_ISSUER_SIGNATURE" }, // the node holds kid 1; this is not its key
    { issuer: 500000, kid: 2, expect: "UNKNOWN_ISSUER" },
    { issuer: 510000, kid: 1, expect: "UNKNOWN_ISSUER" },
    { issuer: 510000, kid: 0, expect: "UNKNOWN_ISSUER" },
  ] as const;
  const scans: { code: string; seed: string; issuer: number; kid: number; expect: string }[] = [];
  for (const seed of seeds) {
    const raw = new Uint8Array(Buffer.from(seed, "hex"));
    expect(hex(rawPublicKey(privateKeyFromSeed(raw)))).not.toBe(nodeKey);
    for (const c of claims) {
      // a fresh device key per credential (foreignHolder), so the presentation signature is honest
      const h = foreignHolder({ seed: raw, issuer: c.issuer, kid: c.kid, notBefore, notAfter: now + 3600 });
      scans.push({ code: h.presentText(nowSec()), seed, issuer: c.issuer, kid: c.kid, expect: c.expect });
    }
  }

  const wrong: string[] = [];
  const tally: Record<string, number> = {};
  for (let i = 0; i < scans.length; i += 1000) {
    const chunk = scans.slice(i, i + 1000);
    const res = await post(node.base, "/v1/verify/batch", { scans: chunk.map((s) => s.code) }, gw.key);
    expect(res.status).toBe(200);
    const { results } = await json<BatchAnswer>(res);
    expect(results).toHaveLength(chunk.length);
    chunk.forEach((s, k) => {
      const r = results[k]!.result;
      tally[r] = (tally[r] ?? 0) + 1;
      if (r !== s.expect) wrong.push(`seed ${s.seed} as ${s.issuer} kid ${s.kid}: ${r} (expected ${s.expect})`);
    });
  }
  console.log(`default-trust: ${scans.length} scans → ${JSON.stringify(tally)}`);
  expect(tally.OK ?? 0).toBe(0);
  expect(wrong.slice(0, 20)).toEqual([]);
  expect(tally).toEqual({ BAD_ISSUER_SIGNATURE: seeds.length, UNKNOWN_ISSUER: 3 * seeds.length });
}, 30_000);

test("the image ships no keys/ or test/ folder, and keys/ holds no exported public key", () => {
  const docker = readFileSync(join(ROOT, "Dockerfile"), "utf8").replace(/\\\r?\n/g, " ");
  const copies = docker.split(/\r?\n/).map((l) => l.trim()).filter((l) => /^(COPY|ADD)\s/i.test(l));
  expect(copies.length).toBeGreaterThan(0);
  const sources: string[] = [];
  for (const l of copies) {
    const rest = l.replace(/^(COPY|ADD)\s+/i, "").trim();
    const args: string[] = rest.startsWith("[") ? JSON.parse(rest) : rest.split(/\s+/).filter((a) => !a.startsWith("--"));
    sources.push(...args.slice(0, -1));
  }
  expect(sources).toContain("src");
  for (const s of sources) {
    const n = s.replace(/^\.\/+/, "").replace(/\/+$/, "");
    expect({ source: s, whole: n === "" || n === "." || n.includes("*") }).toEqual({ source: s, whole: false }); // the whole context has keys/ and test/
    expect({ source: s, keysOrTest: /^(keys|test)(\/|$)/.test(n) }).toEqual({ source: s, keysOrTest: false });
  }

  const hasPublicKey = (v: unknown): boolean =>
    typeof v === "object" && v !== null && Object.entries(v).some(([k, x]) => k === "publicKey" || hasPublicKey(x));
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
  const keysDir = join(ROOT, "keys");
  const offending = (existsSync(keysDir) ? walk(keysDir) : []).filter((f) => {
    try {
      return hasPublicKey(JSON.parse(readFileSync(f, "utf8")));
    } catch {
      return false; // not JSON
    }
  });
  expect(offending.map((f) => relative(ROOT, f))).toEqual([]);
});
