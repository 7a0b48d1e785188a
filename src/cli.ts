/**
 * @module Command line: `serve` (the node), `holder` (亮码: a phone or card chip showing codes), `keys`.
 *
 *   bun src/cli.ts serve
 *   bun src/cli.ts holder init --node http://127.0.0.1:8080 --token <admin> --kind person --id <ID> [--flags N] [--card] [--file F]
 *   bun src/cli.ts holder show [--file F] [--consent identity-card,medical-insurance] [--every 5] [--once]
 *   bun src/cli.ts holder tap  [--file F] [--count N]      (card chip: one presentation per tap / Enter)
 *   bun src/cli.ts keys export [--data ./data] [--issuer 500000]   (this node's public keys, for the trust-list authority: trust sign)
 *   bun src/cli.ts keys rotate [--node http://127.0.0.1:8080] --token <admin>   (a new issuer kid, live; older kids keep verifying)
 *   bun src/cli.ts trust keygen [--out authority.json]   (a trust-list authority key, §7; prints the YUKUAI_TRUST_ANCHORS entry)
 *   bun src/cli.ts trust sign --authority authority.json --version N [--valid-days 7] [--issued-at S] [--out list.jws] ISSUER.json...
 *   bun src/cli.ts trust show LIST.jws [--anchors A,B]   (header and payload; with --anchors: taken or refused, and why)
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import QRCode from "qrcode";
import { systemClock, seconds } from "./clock.ts";
import { loadConfig } from "./config.ts";
import { ISSUER_NAMES, IssuerKeyring } from "./crypto/keys.ts";
import { Db } from "./state/db.ts";
import { join } from "node:path";
import { Holder, type HolderState } from "./holder/holder.ts";
import { obtainCredential, rotateIssuerKey } from "./net/admin-client.ts";
import { FLAG_CARD, flagNames } from "./wire/code.ts";
import { isLicenceType, licenceBit } from "./scenes.ts";
import { anchorThumbprint, authorityPublicKey, parseAnchors, signTrustList, validateTrustList, verifyTrustList, type TrustListIssuer } from "./trust/list.ts";

const USAGE = readFileSync(new URL(import.meta.url), "utf8").split("*/")[0]!.split("\n").filter((l) => l.startsWith(" *   ")).map((l) => l.slice(3)).join("\n");

function fail(msg: string): never {
  console.error(`yukuai: ${msg}`);
  process.exit(2);
}

/** Consent bits (§5) from licence type names, e.g. "identity-card,medical-insurance", or a number. */
export function consentBits(spec: string | undefined): number {
  if (!spec) return 0;
  if (/^[0-9]+$/.test(spec)) return Number(spec) & 0xff;
  let bits = 0;
  for (const name of spec.split(",").map((s) => s.trim()).filter(Boolean)) {
    if (!isLicenceType(name)) fail(`unknown licence type ${JSON.stringify(name)}`);
    bits |= licenceBit(name);
  }
  return bits;
}

function load(file: string): Holder {
  if (!existsSync(file)) fail(`no holder at ${file}; run 'holder init' first`);
  return Holder.fromState(JSON.parse(readFileSync(file, "utf8")) as HolderState);
}

/** The counter must survive restarts (it only ever increases, §2), so the state is saved after each use. */
function save(file: string, h: Holder): void {
  writeFileSync(file, JSON.stringify(h.state(), null, 2) + "\n", { mode: 0o600 });
}

async function holderCmd(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: {
      node: { type: "string", default: "http://127.0.0.1:8080" }, token: { type: "string" }, kind: { type: "string", default: "person" },
      id: { type: "string" }, flags: { type: "string", default: "0" }, card: { type: "boolean", default: false },
      file: { type: "string", default: "holder.json" }, consent: { type: "string" }, every: { type: "string", default: "5" },
      once: { type: "boolean", default: false }, count: { type: "string" },
    },
  });
  const sub = positionals[0];
  const file = values.file!;
  if (sub === "init") {
    const token = values.token ?? process.env.YUKUAI_ADMIN_TOKEN;
    if (!token) fail("--token <admin token> (or YUKUAI_ADMIN_TOKEN) is needed for 申码");
    if (!values.id) fail("--id <resident ID or USCC> is needed");
    if (values.kind !== "person" && values.kind !== "enterprise") fail("--kind is person or enterprise");
    const flags = Number(values.flags) | (values.card ? FLAG_CARD : 0);
    const h = await obtainCredential(values.node!, token, { kind: values.kind, idNumber: values.id, flags }).catch((e: Error) => fail(e.message));
    save(file, h);
    console.log(`credential ${Buffer.from(h.fields.serial).toString("hex")} (${values.kind}, flags [${flagNames(h.fields.flags).join(", ")}]) saved to ${file}`);
    return;
  }
  if (sub === "show") {
    const h = load(file);
    const consent = consentBits(values.consent);
    const every = Math.max(1, Number(values.every));
    for (;;) {
      const text = h.presentText(seconds(systemClock), consent);
      save(file, h);
      const qr = await QRCode.toString(text, { type: "utf8", errorCorrectionLevel: "L" });
      if (!values.once) process.stdout.write("\x1b[2J\x1b[H");
      process.stdout.write(`${qr}\n${text}\ncounter ${h.counter}${consent ? `, consent ${consent}` : ""}; refreshed every ${every} s (Ctrl-C stops)\n`);
      if (values.once) return;
      await Bun.sleep(every * 1000);
    }
  }
  if (sub === "tap") {
    const h = load(file);
    if (!h.isCard) console.error("note: this credential has no card flag; tapping it like a card anyway");
    const consent = consentBits(values.consent);
    const tap = () => {
      const code = h.present(seconds(systemClock), consent);
      save(file, h);
      console.log(Buffer.from(code).toString("hex"));
    };
    if (values.count !== undefined) {
      for (let i = 0; i < Number(values.count); i++) tap();
      return;
    }
    console.error("card chip: press Enter to tap (prints the 212 raw bytes as hex), Ctrl-D stops");
    for await (const _line of console) tap();
    return;
  }
  fail(`holder: init, show or tap\n${USAGE}`);
}

async function keysCmd(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: { data: { type: "string" }, issuer: { type: "string" }, node: { type: "string", default: "http://127.0.0.1:8080" }, token: { type: "string" } },
  });
  if (positionals[0] === "rotate") {
    // the running node makes the key, so it signs with it at once and GET /v1/trust shows it (no restart)
    const token = values.token ?? process.env.YUKUAI_ADMIN_TOKEN;
    if (!token) fail("keys rotate: --token <admin token> (or YUKUAI_ADMIN_TOKEN) is needed");
    const made = await rotateIssuerKey(values.node!, token).catch((e: Error) => fail(`keys rotate: ${e.message}`));
    console.log(JSON.stringify(made, null, 2));
    return;
  }
  if (positionals[0] !== "export") fail(`keys: export or rotate\n${USAGE}`);
  const config = loadConfig({ ...process.env, ...(values.data ? { YUKUAI_DATA_DIR: values.data } : {}), ...(values.issuer ? { YUKUAI_ISSUER: values.issuer } : {}) });
  const ring = IssuerKeyring.open(config.dataDir, config.issuer, seconds(systemClock));
  const db = new Db(join(config.dataDir, "yukuai.db"));
  const revoked = new Set(db.allRevocations().filter((e) => e.type === "key").map((e) => e.value));
  db.close();
  console.log(JSON.stringify({
    issuer: config.issuer, name: ISSUER_NAMES[config.issuer] ?? String(config.issuer),
    keys: ring.keys.map((k) => ({
      kid: k.kid, publicKey: Buffer.from(k.publicKey).toString("base64url"), notBefore: k.notBefore, notAfter: k.notAfter,
      status: revoked.has(`${config.issuer}:${k.kid}`) ? "revoked" : "active",
    })),
  }, null, 2));
}

/** `trust keygen|sign|show`: stand up the trust-list authority role of spec §7. */
async function trustCmd(args: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args, allowPositionals: true,
      options: {
        out: { type: "string" }, authority: { type: "string" }, version: { type: "string" }, "valid-days": { type: "string", default: "7" },
        "issued-at": { type: "string" }, anchors: { type: "string" },
      },
    });
  } catch (e) {
    fail(`trust: ${(e as Error).message}`);
  }
  const { values, positionals } = parsed;
  const [sub, ...files] = positionals;
  const readJson = (file: string): unknown => {
    try {
      return JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      fail(`${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : `not JSON (${(e as Error).message})`}`);
    }
  };
  const uint = (name: string, v: string | undefined, min: number, max: number): number => {
    const n = v !== undefined && /^[0-9]+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) fail(`--${name} must be an integer ${min}..${max}`);
    return n;
  };

  if (sub === "keygen") {
    const out = values.out ?? "authority.json";
    const seed = randomBytes(32);
    const pub = Buffer.from(authorityPublicKey(seed)).toString("base64url");
    try {
      writeFileSync(out, JSON.stringify({ seed: seed.toString("hex"), publicKey: pub }, null, 2) + "\n", { mode: 0o600, flag: "wx" });
    } catch (e) {
      fail((e as NodeJS.ErrnoException).code === "EEXIST" ? `${out} exists; an authority key is never overwritten` : `cannot write ${out}: ${(e as Error).message}`);
    }
    console.error(`authority key written to ${out} (mode 0600, keep it secret); kid ${await anchorThumbprint(authorityPublicKey(seed))}`);
    console.log(`YUKUAI_TRUST_ANCHORS=${pub}`);
    return;
  }

  if (sub === "sign") {
    if (!values.authority) fail("trust sign: --authority authority.json is needed");
    if (files.length === 0) fail("trust sign: at least one ISSUER.json (the output of 'keys export') is needed");
    const auth = readJson(values.authority);
    const seedHex = (auth as { seed?: unknown } | null)?.seed;
    if (typeof seedHex !== "string" || !/^[0-9a-fA-F]{64}$/.test(seedHex)) fail(`${values.authority}: "seed" must be 64 hex characters`);
    const seed = new Uint8Array(Buffer.from(seedHex, "hex"));
    const pub = Buffer.from(authorityPublicKey(seed)).toString("base64url");
    const claimed = (auth as { publicKey?: unknown }).publicKey;
    if (claimed !== undefined && claimed !== pub) fail(`${values.authority}: "publicKey" does not belong to "seed"`);
    const version = uint("version", values.version, 1, Number.MAX_SAFE_INTEGER);
    const days = uint("valid-days", values["valid-days"], 1, 3650);
    const issuedAt = values["issued-at"] === undefined ? seconds(systemClock) : uint("issued-at", values["issued-at"], 0, 0xffffffff);
    const nextUpdate = issuedAt + days * 86400;
    if (nextUpdate > 0xffffffff) fail("--issued-at plus --valid-days passes 2^32-1 unix seconds");
    const issuers: TrustListIssuer[] = [];
    for (const file of files) {
      const j = readJson(file);
      // `keys export` gives one issuer; `GET /v1/trust` gives {"issuers": [...]}. `status` defaults to active.
      const entries: unknown[] = Array.isArray((j as { issuers?: unknown } | null)?.issuers) ? (j as { issuers: unknown[] }).issuers : [j];
      const withStatus = entries.map((e) => {
        const keys = (e as { keys?: unknown } | null)?.keys;
        if (!Array.isArray(keys)) return e;
        return { ...(e as object), keys: keys.map((k) => (k !== null && typeof k === "object" && !("status" in k) ? { ...k, status: "active" } : k)) };
      });
      const v = validateTrustList({ version, issuedAt, nextUpdate, issuers: withStatus });
      if (!v.ok) fail(`${file}: ${v.message}`);
      issuers.push(...v.list.issuers);
    }
    const whole = validateTrustList({ version, issuedAt, nextUpdate, issuers });
    if (!whole.ok) fail(whole.message);
    const jws = await signTrustList(whole.list, seed);
    if (values.out) {
      writeFileSync(values.out, jws + "\n");
      console.error(`trust list version ${version} (${issuers.length} issuer(s), nextUpdate ${nextUpdate}) written to ${values.out}`);
    } else console.log(jws);
    return;
  }

  if (sub === "show") {
    const file = files[0];
    if (!file) fail("trust show: LIST.jws is needed");
    let jws: string;
    try {
      jws = readFileSync(file, "utf8").trim();
    } catch (e) {
      fail(`cannot read ${file}: ${(e as Error).message}`);
    }
    const part = (s: string | undefined): string => {
      try {
        return JSON.stringify(JSON.parse(Buffer.from(s ?? "", "base64url").toString("utf8")), null, 2);
      } catch {
        return "(not base64url JSON)";
      }
    };
    const parts = jws.split(".");
    console.log(`header: ${part(parts[0])}`);
    console.log(`payload: ${part(parts[1])}`);
    if (values.anchors === undefined) return;
    let anchors: Uint8Array[];
    try {
      anchors = parseAnchors(values.anchors);
    } catch (e) {
      fail((e as Error).message.replace("YUKUAI_TRUST_ANCHORS", "--anchors"));
    }
    const r = await verifyTrustList(jws, anchors, { now: seconds(systemClock), skewSeconds: 10, currentVersion: null });
    if (r.ok) console.log(`taken: version ${r.list.version}, ${r.list.issuers.length} issuer(s), nextUpdate ${r.list.nextUpdate}`);
    else {
      console.log(`refused: ${r.reason}: ${r.message}`);
      process.exit(1);
    }
    return;
  }
  fail(`trust: keygen, sign or show\n${USAGE}`);
}

if (import.meta.main) {
  const [cmd, ...rest] = process.argv.slice(2);
  if (cmd === "serve") {
    const { start } = await import("./main.ts");
    await start(loadConfig()).catch((e: Error) => fail(`cannot start: ${e.message}`));
  } else if (cmd === "holder") await holderCmd(rest);
  else if (cmd === "keys") await keysCmd(rest);
  else if (cmd === "trust") await trustCmd(rest);
  else {
    console.log(USAGE);
    process.exit(cmd ? 2 : 0);
  }
}
