/**
 * Shared test setup: a node on a manual clock in a temp data dir, driven through `app.request()`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../src/app.ts";
import { ManualClock } from "../src/clock.ts";
import { loadConfig } from "../src/config.ts";
import { Holder, newDeviceKey } from "../src/holder/holder.ts";
import { compose, type Node, type Overrides } from "../src/compose.ts";

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

/** GB 11643: 17 digits + check digit. */
export function residentId(body17: string): string {
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  let s = 0;
  for (let i = 0; i < 17; i++) s += Number(body17[i]) * w[i]!;
  return body17 + "10X98765432"[s % 11];
}

/** GB 32100: 17 characters + check character. */
export function uscc(body17: string): string {
  const cs = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  const w = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
  let s = 0;
  for (let i = 0; i < 17; i++) s += cs.indexOf(body17[i]!) * w[i]!;
  return body17 + cs[(31 - (s % 31)) % 31];
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

export async function json(res: Response): Promise<any> {
  return res.json();
}

export function req(method: string, body?: unknown, token?: string, headers: Record<string, string> = {}): RequestInit {
  return {
    method,
    headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  };
}

export async function makeGateway(t: TestNode, scene: string, name = `${scene} gateway`): Promise<string> {
  const res = await t.app.request("/v1/gateways", req("POST", { name, scene }, ADMIN));
  if (res.status !== 201) throw new Error(`gateway: ${res.status} ${await res.text()}`);
  return (await res.json()).key;
}

export async function issue(t: TestNode, body: { kind?: "person" | "enterprise"; idNumber: string; flags?: number; validDays?: number }): Promise<Holder> {
  const device = newDeviceKey();
  const res = await t.app.request("/v1/credentials", req("POST", {
    kind: body.kind ?? "person", idNumber: body.idNumber, flags: body.flags, validDays: body.validDays,
    devicePublicKey: Buffer.from(device.publicKey).toString("base64url"),
  }, ADMIN));
  if (res.status !== 201) throw new Error(`issue: ${res.status} ${await res.text()}`);
  const j = await res.json();
  return new Holder(device.privateKey, new Uint8Array(Buffer.from(j.credential, "base64url")));
}

export async function verifyBatch(t: TestNode, key: string, scans: unknown[]): Promise<{ status: number; body: any }> {
  const res = await t.app.request("/v1/verify/batch", req("POST", { scans }, key));
  return { status: res.status, body: await res.json() };
}

export const PERSON_ID = residentId("11010519491231002");
export const PERSON_ID_2 = residentId("50010319900101123");
export const COMPANY_ID = uscc("91500000MA5U00000");

import { createHash } from "node:crypto";
import { privateKeyFromSeed } from "../src/crypto/ed25519.ts";
import { signCredential } from "../src/wire/code.ts";
import { sichuanTrust, SICHUAN_SEED } from "./support/trust.ts";

export { SICHUAN_SEED };

/** A holder with a credential made and signed here, by any issuer seed (e.g. Sichuan, or an unknown issuer). */
export function foreignHolder(opts: { seed: Uint8Array; issuer: number; kid?: number; kind?: number; notBefore: number; notAfter: number; flags?: number; serial?: Uint8Array; subject?: Uint8Array }): Holder {
  const device = newDeviceKey();
  const cred = signCredential({
    kind: opts.kind ?? 1, issuer: opts.issuer, kid: opts.kid ?? 1,
    serial: opts.serial ?? new Uint8Array(createHash("sha256").update(String(Math.random())).digest().subarray(0, 8)),
    subject: opts.subject ?? new Uint8Array(16).fill(7), devicePub: device.publicKey,
    notBefore: opts.notBefore, notAfter: opts.notAfter, flags: opts.flags ?? 0,
  }, privateKeyFromSeed(opts.seed));
  return new Holder(device.privateKey, cred);
}
