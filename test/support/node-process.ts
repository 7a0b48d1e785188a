/**
 * Real node processes on loopback for e2e tests: `src/main.ts` spawned with a clean environment (no
 * YUKUAI_* variable leaks in from the shell running the tests), its output kept, readiness awaited.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Holder, newDeviceKey } from "../../src/holder/holder.ts";
import { json, type GatewayMade, type IssuedCredential } from "./api.ts";
import { freePort } from "./net.ts";
import { pollUntil } from "./poll.ts";

export const ROOT = resolve(import.meta.dir, "../..");

export interface NodeProcess {
  proc: ReturnType<typeof Bun.spawn>;
  pid: number;
  base: string;
  dir: string;
  /** stdout and stderr so far. */
  out(): string;
  /** Set while the process is SIGSTOPped, so cleanup sends SIGCONT first. */
  stopped: boolean;
}

/** process.env without any YUKUAI_* variable. */
export function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("YUKUAI_") && v !== undefined) env[k] = v;
  return env;
}

async function drain(stream: ReadableStream<Uint8Array>, sink: (s: string) => void): Promise<void> {
  const dec = new TextDecoder();
  try {
    for await (const chunk of stream) sink(dec.decode(chunk, { stream: true }));
  } catch { /* process gone */ }
}

/**
 * Spawns `argv` (default: this bun on src/main.ts) in the repo root with `cleanEnv()` + PORT, YUKUAI_HOST,
 * YUKUAI_DATA_DIR (a new temp dir) + `env`.
 */
export async function spawnNode(env: Record<string, string>, argv: string[] = [process.execPath, "src/main.ts"]): Promise<NodeProcess> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "yukuai-e2e-"));
  const proc = Bun.spawn(argv, {
    cwd: ROOT, stdout: "pipe", stderr: "pipe",
    env: { ...cleanEnv(), PORT: String(port), YUKUAI_HOST: "127.0.0.1", YUKUAI_DATA_DIR: dir, ...env },
  });
  let out = "";
  void drain(proc.stdout as ReadableStream<Uint8Array>, (s) => (out += s));
  void drain(proc.stderr as ReadableStream<Uint8Array>, (s) => (out += s));
  return { proc, pid: proc.pid, base: `http://127.0.0.1:${port}`, dir, out: () => out, stopped: false };
}

/** Polls `path` until it answers 200 (process start-up; §3 warm-up for /readyz), `attempts` × 50 ms at most. */
export async function waitFor(n: NodeProcess, path: "/healthz" | "/readyz", attempts = 300): Promise<void> {
  try {
    await pollUntil(`${n.base}${path} answering 200`, async () => {
      if (n.proc.exitCode !== null) throw new Error(`exited with ${n.proc.exitCode}`);
      try {
        return (await fetch(n.base + path)).status === 200;
      } catch {
        return false; // not listening yet
      }
    }, { attempts });
  } catch (e) {
    throw new Error(`${n.base}${path} never answered 200 (${(e as Error).message})\n${n.out()}`);
  }
}

/** Ends the process (SIGCONT first if stopped; SIGTERM, then SIGKILL after 3 s, a hang guard) and removes its data dir. */
export async function stopNode(n: NodeProcess): Promise<void> {
  if (n.proc.exitCode === null && n.proc.signalCode === null) {
    if (n.stopped) {
      try { process.kill(n.pid, "SIGCONT"); } catch { /* gone */ }
      n.stopped = false;
    }
    n.proc.kill("SIGTERM");
    await Promise.race([n.proc.exited, Bun.sleep(3000)]);
    if (n.proc.exitCode === null && n.proc.signalCode === null) n.proc.kill("SIGKILL");
  }
  await n.proc.exited;
  rmSync(n.dir, { recursive: true, force: true });
}

export const post = (base: string, path: string, body: unknown, token: string) =>
  fetch(base + path, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify(body) });

/** A gateway of `scene` made on the node at `base`; its key. */
export async function gatewayAt(base: string, admin: string, scene: string, name = `${scene} gate`): Promise<string> {
  const res = await post(base, "/v1/gateways", { name, scene }, admin);
  if (res.status !== 201) throw new Error(`gateway at ${base}: ${res.status} ${await res.text()}`);
  return (await json<GatewayMade>(res)).key;
}

/** A person credential issued by the node at `base` to a fresh device key: its holder and serial. */
export async function issueAt(base: string, admin: string, idNumber: string): Promise<{ holder: Holder; serial: string }> {
  const device = newDeviceKey();
  const res = await post(base, "/v1/credentials", { kind: "person", idNumber, devicePublicKey: Buffer.from(device.publicKey).toString("base64url") }, admin);
  if (res.status !== 201) throw new Error(`issue at ${base}: ${res.status} ${await res.text()}`);
  const j = await json<IssuedCredential>(res);
  return { holder: new Holder(device.privateKey, new Uint8Array(Buffer.from(j.credential, "base64url"))), serial: j.serial };
}
