/**
 * @module Command line: `serve` (the node), `holder` (亮码: a phone or card chip showing codes), `keys`.
 *
 *   bun src/cli.ts serve
 *   bun src/cli.ts holder init --node http://127.0.0.1:8080 --token <admin> --kind person --id <ID> [--flags N] [--card] [--file F]
 *   bun src/cli.ts holder show [--file F] [--consent identity-card,medical-insurance] [--every 5] [--once]
 *   bun src/cli.ts holder tap  [--file F] [--count N]      (card chip: one presentation per tap / Enter)
 *   bun src/cli.ts keys export [--data ./data] [--issuer 500000]   (this node's public trust entry, for other nodes' keys/)
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import QRCode from "qrcode";
import { systemClock, seconds } from "./clock.ts";
import { loadConfig } from "./config.ts";
import { ISSUER_NAMES, loadOrCreateIssuerSecrets } from "./crypto/keys.ts";
import { Holder, obtainCredential, type HolderState } from "./holder/holder.ts";
import { FLAG_CARD, flagNames } from "./wire/code.ts";
import { isLicenceType, licenceBit } from "./scenes.ts";

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

function keysCmd(args: string[]): void {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { data: { type: "string" }, issuer: { type: "string" } } });
  if (positionals[0] !== "export") fail(`keys: export\n${USAGE}`);
  const config = loadConfig({ ...process.env, ...(values.data ? { YUKUAI_DATA_DIR: values.data } : {}), ...(values.issuer ? { YUKUAI_ISSUER: values.issuer } : {}) });
  const s = loadOrCreateIssuerSecrets(config.dataDir, config.issuer, seconds(systemClock));
  console.log(JSON.stringify({
    issuer: config.issuer, name: ISSUER_NAMES[config.issuer] ?? String(config.issuer),
    keys: [{ kid: s.kid, publicKey: Buffer.from(s.publicKey).toString("base64url"), notBefore: s.createdAt, notAfter: 0xffffffff }],
  }, null, 2));
}

if (import.meta.main) {
  const [cmd, ...rest] = process.argv.slice(2);
  if (cmd === "serve") {
    const { start } = await import("./main.ts");
    await start(loadConfig()).catch((e: Error) => fail(`cannot start: ${e.message}`));
  } else if (cmd === "holder") await holderCmd(rest);
  else if (cmd === "keys") keysCmd(rest);
  else {
    console.log(USAGE);
    process.exit(cmd ? 2 : 0);
  }
}
