/**
 * A node in-process for tests: on a manual clock, in a temp data dir, driven through `app.request()`; and
 * the admin and gateway calls most tests start with.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../../src/app.ts";
import { ManualClock } from "../../src/clock.ts";
import { compose, type Node, type Overrides } from "../../src/compose.ts";
import { loadConfig } from "../../src/config.ts";
import { Holder, newDeviceKey } from "../../src/holder/holder.ts";
import { json, type BatchAnswer, type GatewayMade, type IssuedCredential } from "./api.ts";
import { sichuanTrust } from "./trust.ts";

export const ADMIN = "test-admin-token";
/** 2026-11-24T00:00:00Z */
export const T0 = 1795478400;

export interface TestNode {
  node: Node;
  app: ReturnType<typeof createApp>;
  clock: ManualClock;
  dir: string;
  logs: string[];
  close(): void;
}

/**
 * A node on a manual clock at T0. Unless a clock is given, the node started 2 × skew before T0, so the §3
 * start-up rule (presentations before start + 2 × skew are STALE) has passed by T0.
 */
export function makeNode(env: Record<string, string> = {}, opts: Overrides = {}, dir?: string): TestNode {
  const d = dir ?? mkdtempSync(join(tmpdir(), "yukuai-test-"));
  const config = loadConfig({ YUKUAI_DATA_DIR: d, YUKUAI_ADMIN_TOKEN: ADMIN, YUKUAI_WORKERS: "0", ...env });
  const clock = (opts.clock as ManualClock | undefined) ?? new ManualClock((T0 - 2 * config.skewSeconds) * 1000);
  const logs: string[] = [];
  const node = compose(config, { log: (l) => logs.push(l), ...opts, clock });
  if (opts.clock === undefined) clock.set(T0);
  const app = createApp(node, (l) => logs.push(l));
  return {
    node, app, clock, dir: d, logs,
    close() {
      node.close();
      if (!dir) rmSync(d, { recursive: true, force: true });
    },
  };
}

/** `makeNode`, then its start-up I/O (trust list, follower sync). */
export async function startNode(env: Record<string, string> = {}, opts: Overrides = {}, dir?: string): Promise<TestNode> {
  const t = makeNode(env, opts, dir);
  await t.node.start();
  return t;
}

/** A started node that also trusts the test Sichuan issuer (510000) by a signed trust list. */
export async function sichuanNode(env: Record<string, string> = {}, opts: Overrides = {}): Promise<TestNode> {
  return startNode({ ...(await sichuanTrust(T0)), ...env }, opts);
}

/** A RequestInit: `body` as JSON, `token` as the Bearer. */
export function req(method: string, body?: unknown, token?: string, headers: Record<string, string> = {}): RequestInit {
  return {
    method,
    headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  };
}

/** A gateway of `scene` (`POST /v1/gateways`); its key. */
export async function makeGateway(t: TestNode, scene: string, name = `${scene} gateway`): Promise<string> {
  const res = await t.app.request("/v1/gateways", req("POST", { name, scene }, ADMIN));
  if (res.status !== 201) throw new Error(`gateway: ${res.status} ${await res.text()}`);
  return (await json<GatewayMade>(res)).key;
}

/** A credential issued by the node (`POST /v1/credentials`) to a fresh device key, as its holder. */
export async function issue(t: TestNode, body: { kind?: "person" | "enterprise"; idNumber: string; flags?: number; validDays?: number }): Promise<Holder> {
  const device = newDeviceKey();
  const res = await t.app.request("/v1/credentials", req("POST", {
    kind: body.kind ?? "person", idNumber: body.idNumber, flags: body.flags, validDays: body.validDays,
    devicePublicKey: Buffer.from(device.publicKey).toString("base64url"),
  }, ADMIN));
  if (res.status !== 201) throw new Error(`issue: ${res.status} ${await res.text()}`);
  const j = await json<IssuedCredential>(res);
  return new Holder(device.privateKey, new Uint8Array(Buffer.from(j.credential, "base64url")));
}

/** `POST /v1/verify/batch` with the gateway `key`. */
export async function verifyBatch(t: TestNode, key: string, scans: unknown[]): Promise<{ status: number; body: BatchAnswer }> {
  const res = await t.app.request("/v1/verify/batch", req("POST", { scans }, key));
  return { status: res.status, body: await json<BatchAnswer>(res) };
}
