/**
 * Scale-out with real processes on loopback: an issuer node and a follower sharing one redis-server.
 * A code accepted at one node is REPLAY at the other; a revocation made at the issuer stops the code at
 * the follower within about a second.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { newDeviceKey, Holder } from "../../src/holder/holder.ts";
import { freePort } from "../support/net.ts";
import { startRedis, type TestRedis } from "../support/redis.ts";
import { PERSON_ID } from "../helpers.ts";

const ROOT = resolve(import.meta.dir, "../..");
const ADMIN = "scale-out-admin-token";
const FEED = "scale-out-feed-token";
let redis: TestRedis;
const procs: ReturnType<typeof Bun.spawn>[] = [];
const dirs: string[] = [];

async function node(env: Record<string, string>): Promise<string> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "yukuai-scale-"));
  dirs.push(dir);
  const p = Bun.spawn([process.execPath, "src/main.ts"], {
    cwd: ROOT, stdout: "ignore", stderr: "ignore",
    env: { ...process.env, PORT: String(port), YUKUAI_HOST: "127.0.0.1", YUKUAI_DATA_DIR: dir, YUKUAI_ADMIN_TOKEN: ADMIN, YUKUAI_REDIS_URL: redis.url, YUKUAI_FEED_TOKEN: FEED, YUKUAI_WORKERS: "0", ...env },
  });
  procs.push(p);
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return base;
    } catch { /* starting */ }
    await Bun.sleep(100);
  }
  throw new Error("node did not start");
}

const post = (base: string, path: string, body: unknown, token: string) =>
  fetch(base + path, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify(body) });

beforeAll(async () => {
  redis = await startRedis();
  // a shared store that kept its data (§3): nodes on it start ready, no warm-up
  await redis.cli("SET", "yk:boot", String(Math.floor(Date.now() / 1000) - 3600));
});

afterAll(async () => {
  for (const p of procs) p.kill();
  await Promise.all(procs.map((p) => p.exited));
  await redis?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("issuer + follower sharing Redis: one replay domain, revocations follow within a second", async () => {
  const issuer = await node({});
  const follower = await node({ YUKUAI_FOLLOW: issuer, YUKUAI_FOLLOW_INTERVAL_MS: "200" });
  const gw = await (await post(issuer, "/v1/gateways", { name: "Line 3 Lianglukou", scene: "metro" }, ADMIN)).json();
  const device = newDeviceKey();
  const issued = await (await post(issuer, "/v1/credentials", { kind: "person", idNumber: PERSON_ID, devicePublicKey: Buffer.from(device.publicKey).toString("base64url") }, ADMIN)).json();
  const holder = new Holder(device.privateKey, new Uint8Array(Buffer.from(issued.credential, "base64url")));
  // the follower picks up the new gateway
  let ready = false;
  for (let i = 0; i < 30 && !ready; i++) {
    await Bun.sleep(100);
    ready = (await fetch(`${follower}/readyz`)).ok && (await post(follower, "/v1/verify/batch", { scans: [] }, gw.key)).status === 200;
  }
  expect(ready).toBe(true);
  const now = Math.floor(Date.now() / 1000);
  const code = holder.presentText(now);
  const a = await (await post(issuer, "/v1/verify/batch", { scans: [code] }, gw.key)).json();
  expect(a.results[0].result).toBe("OK");
  const b = await (await post(follower, "/v1/verify/batch", { scans: [code, holder.presentText(now)] }, gw.key)).json();
  expect(b.results.map((r: any) => r.result)).toEqual(["REPLAY", "OK"]);
  // revoke at the issuer; the follower applies it within about a second
  const rev = await (await post(issuer, "/v1/revocations", { type: "credential", value: issued.serial }, ADMIN)).json();
  const started = Date.now();
  let result = "";
  let seq = 0;
  while (Date.now() - started < 3000) {
    const r = await (await post(follower, "/v1/verify/batch", { scans: [holder.presentText(Math.floor(Date.now() / 1000))] }, gw.key)).json();
    result = r.results[0].result;
    seq = r.revocations.seq;
    if (result === "REVOKED") break;
    await Bun.sleep(50);
  }
  expect(result).toBe("REVOKED");
  expect(seq).toBe(rev.seq);
  expect(Date.now() - started).toBeLessThan(1500);
});
