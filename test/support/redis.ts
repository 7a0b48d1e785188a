/**
 * A throwaway redis-server on loopback for tests (`.ci/run` installs Debian's redis-server).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./net.ts";
import { pollUntil } from "./poll.ts";

export interface TestRedis {
  url: string;
  port: number;
  /** Kills the server (its port and dir stay, for start()). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Kills the server and removes its dir. */
  close(): Promise<void>;
  cli(...args: string[]): Promise<string>;
}

export async function startRedis(extra: string[] = []): Promise<TestRedis> {
  const bin = Bun.which("redis-server");
  if (!bin) throw new Error("redis-server is not installed (apt-get install -y redis-server; .ci/run does this)");
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "yukuai-redis-"));
  let proc: ReturnType<typeof Bun.spawn> | null = null;
  const r: TestRedis = {
    close: async () => {},
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      proc = Bun.spawn([bin, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir,
        "--maxmemory-policy", "noeviction", ...extra], { stdout: "ignore", stderr: "ignore" });
      await pollUntil("redis-server answering PING", async () => {
        try {
          return (await r.cli("PING")).trim() === "PONG";
        } catch {
          return false; // not up yet
        }
      });
    },
    async stop() {
      if (!proc) return;
      proc.kill();
      await proc.exited;
      proc = null;
    },
    async cli(...args: string[]) {
      const p = Bun.spawn(["redis-cli", "-p", String(port), ...args], { stdout: "pipe", stderr: "pipe" });
      const out = await new Response(p.stdout).text();
      if ((await p.exited) !== 0) throw new Error(out);
      return out;
    },
  };
  r.close = async () => {
    await r.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  await r.start();
  return r;
}
