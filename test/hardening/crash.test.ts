/**
 * Crash durability (issue "Hardening"): a real node process (`bun src/main.ts`) takes a stream of admin
 * writes — issuances, revocations, gateway creations and deletions, licence links — several in flight at
 * once, and is killed with SIGKILL after a seeded number of acknowledged writes, mid-stream. Restarted on
 * the same data dir, every write it answered 2xx is there, the revocation feed is contiguous (1..N, never
 * a gap), and no credential whose revocation is in the feed verifies. Five kill/restart cycles on one dir.
 *
 * kill -9 tests a *process* crash: SQLite's committed WAL frames are in the OS page cache when the
 * process dies, so they survive it even without fsync. The database runs WAL with synchronous = FULL
 * (src/state/db.ts), which is what makes an acknowledged write survive a power loss or kernel crash too;
 * that is NOT exercised here (it would take a VM or a fault-injecting file system that drops unsynced pages).
 *
 * Writes not answered when the process died may or may not be there; each one found is then taken as
 * made (and must stay so in later cycles), each one not found as never made.
 * The seed is HARDENING_SEED (default below), printed so that a failure reproduces.
 */
import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Holder, newDeviceKey } from "../../src/holder/holder.ts";
import { json, type BatchAnswer, type GatewayList, type GatewayMade, type IssuedCredential, type LicenceAnswer, type RevocationFeed, type RevocationMade } from "../support/api.ts";
import { residentId } from "../support/ids.ts";
import { spawnNode, stopNode, waitFor, type NodeProcess } from "../support/node-process.ts";
import { rng } from "../support/rng.ts";

const ADMIN = "crash-admin-token";
const SEED = Number(process.env.HARDENING_SEED ?? 20261124);
const CYCLES = 5;
/** Writes in flight at once. */
const CONCURRENCY = 8;
const now = () => Math.floor(Date.now() / 1000);

interface Cred {
  serial: string;
  holder: Holder;
  /** The acknowledged (or, for one in flight at a kill, found) seq of its revocation. */
  seq: number | null;
  /** A revocation was sent and not answered before the kill: resolved from the feed after the restart. */
  revoking: boolean;
}
interface Gw {
  id: string;
  key: string;
  state: "alive" | "deleting" | "deleted";
}
interface Subject {
  idNumber: string;
  /** Fields of the last link answered 200 (or found after a restart); null: none linked. */
  linked: Record<string, string> | null;
  /** Fields of a link sent and not answered before the kill. */
  unknown: Record<string, string> | null;
  busy: boolean;
}

/** The model: what the node acknowledged, and what is undecided since the last kill. */
class Model {
  readonly creds: Cred[] = [];
  readonly gateways: Gw[] = [];
  readonly subjects: Subject[];
  /** Issuances and gateway creations sent but not answered (their serial or id is unknown). */
  unknownIssues = 0;
  unknownCreates = 0;
  /** Gateways and credential rows found after a restart that came from unanswered requests. */
  readonly foundGateways = new Set<string>();
  readonly foundSerials = new Set<string>();
  /** Unanswered writes that turned out to have been made, by kind (for the log). */
  readonly found = { issue: 0, revoke: 0, create: 0, delete: 0, link: 0 };
  /** Every fail that is not a kill: a non-2xx answer, or a transport error before the kill. */
  readonly faults: string[] = [];

  constructor(r: () => number) {
    this.subjects = Array.from({ length: 12 }, () => {
      // area 500103, birth date, sequence: 17 digits and the GB 11643 check digit
      const pad = (v: number, w: number) => String(v).padStart(w, "0");
      const body = "500103" + pad(1960 + Math.floor(r() * 40), 4) + pad(1 + Math.floor(r() * 12), 2) + pad(1 + Math.floor(r() * 28), 2) + pad(Math.floor(r() * 1000), 3);
      return { idNumber: residentId(body), linked: null, unknown: null, busy: false };
    });
  }
}

const auth = { authorization: `Bearer ${ADMIN}` };
const jsonHeaders = { ...auth, "content-type": "application/json" };

/** A node on `dir` (spawnNode's own temp dir is unused; crash() and stopNode remove it). */
async function start(dir: string): Promise<NodeProcess> {
  const n = await spawnNode({ YUKUAI_ADMIN_TOKEN: ADMIN, YUKUAI_SKEW_SECONDS: "1", YUKUAI_WORKERS: "0", YUKUAI_DATA_DIR: dir });
  await waitFor(n, "/healthz");
  return n;
}

async function crashed(n: NodeProcess): Promise<void> {
  await n.proc.exited;
  expect(n.proc.signalCode).toBe("SIGKILL");
  rmSync(n.dir, { recursive: true, force: true });
}

/**
 * Sends writes from CONCURRENCY workers until `killAfter` have been acknowledged, then SIGKILLs the node a
 * seeded 0-8 ms later while the workers go on writing (so requests are in flight, some read, some committed
 * and not yet answered); resolves when every worker has stopped.
 */
async function writeUntilKilled(n: NodeProcess, m: Model, r: () => number, killAfter: number): Promise<{ acked: number; inFlightAtKill: number }> {
  let acked = 0;
  let inFlight = 0;
  let inFlightAtKill = -1;
  let killed = false;
  let armed = false;
  const ack = () => {
    acked++;
    if (acked === killAfter && !armed) {
      armed = true;
      // a seeded 0-8 ms more of writing: the kill lands at any point of a request, not only between answers
      setTimeout(() => {
        killed = true;
        inFlightAtKill = inFlight;
        n.proc.kill("SIGKILL");
      }, Math.floor(r() * 9));
    }
  };
  const send = async (what: string, path: string, init: RequestInit, onAnswer: (res: Response) => Promise<boolean>, onLost: () => void) => {
    inFlight++;
    try {
      const res = await fetch(n.base + path, init);
      if (res.status < 200 || res.status > 299) {
        m.faults.push(`${what}: ${res.status} ${await res.text()}`);
        return;
      }
      // false: the answer's body was cut by the kill, so the write is undecided
      if (await onAnswer(res).catch(() => false)) ack();
      else onLost();
    } catch (e) {
      if (!killed) m.faults.push(`${what}: ${(e as Error).message}`);
      onLost();
    } finally {
      inFlight--;
    }
  };
  const one = async (): Promise<void> => {
    const x = r();
    const revocable = m.creds.filter((c) => c.seq === null && !c.revoking);
    const deletable = m.gateways.filter((g) => g.state === "alive" && g.id !== m.gateways[0]!.id);
    const free = m.subjects.filter((s) => !s.busy);
    // every branch sends a request (a worker that only spun would starve the event loop)
    const kind = x < 0.35 ? "issue" : x < 0.55 ? "revoke" : x < 0.7 ? "create" : x < 0.8 ? "delete" : "link";
    const op = kind === "revoke" && revocable.length === 0 ? "issue"
      : kind === "delete" && deletable.length === 0 ? "create"
      : kind === "link" && free.length === 0 ? "issue" : kind;
    if (op === "issue") {
      const device = newDeviceKey();
      const s = m.subjects[Math.floor(r() * m.subjects.length)]!;
      await send("issue", "/v1/credentials", {
        method: "POST", headers: jsonHeaders,
        body: JSON.stringify({ kind: "person", idNumber: s.idNumber, devicePublicKey: Buffer.from(device.publicKey).toString("base64url") }),
      }, async (res) => {
        const j = await json<IssuedCredential>(res);
        m.creds.push({ serial: j.serial, holder: new Holder(device.privateKey, new Uint8Array(Buffer.from(j.credential, "base64url"))), seq: null, revoking: false });
        return true;
      }, () => m.unknownIssues++);
    } else if (op === "revoke") {
      const c = revocable[Math.floor(r() * revocable.length)]!;
      c.revoking = true;
      await send("revoke", "/v1/revocations", {
        method: "POST", headers: jsonHeaders, body: JSON.stringify({ type: "credential", value: c.serial, reason: "crash test" }),
      }, async (res) => {
        c.seq = (await json<RevocationMade>(res)).seq;
        c.revoking = false;
        return true;
      }, () => {});
    } else if (op === "create") {
      await send("create gateway", "/v1/gateways", {
        method: "POST", headers: jsonHeaders, body: JSON.stringify({ name: `crash gate ${m.gateways.length}`, scene: "metro" }),
      }, async (res) => {
        const j = await json<GatewayMade>(res);
        m.gateways.push({ id: j.id, key: j.key, state: "alive" });
        return true;
      }, () => m.unknownCreates++);
    } else if (op === "delete") {
      const g = deletable[Math.floor(r() * deletable.length)]!;
      g.state = "deleting";
      await send("delete gateway", `/v1/gateways/${g.id}`, { method: "DELETE", headers: auth }, async () => {
        g.state = "deleted";
        return true;
      }, () => {});
    } else {
      const s = free[Math.floor(r() * free.length)]!;
      const fields = { name: `持证人 ${Math.floor(r() * 1e6)}`, idNumber: s.idNumber };
      s.busy = true;
      // a 200 is the acknowledgement: the fields are known without reading the body
      await send("link licence", `/v1/subjects/person/${s.idNumber}/licences/identity-card`, {
        method: "PUT", headers: jsonHeaders, body: JSON.stringify(fields),
      }, async () => {
        s.linked = fields;
        s.busy = false;
        return true;
      }, () => {
        s.unknown = fields;
      });
    }
  };
  const worker = async () => {
    while (!killed) await one();
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { acked, inFlightAtKill };
}

const get = async <T>(n: NodeProcess, path: string): Promise<{ status: number; body: T }> => {
  const res = await fetch(n.base + path, { headers: auth });
  return { status: res.status, body: (await res.json()) as T };
};

/** Everything acknowledged is there; undecided writes are resolved from what the node holds. */
async function check(n: NodeProcess, m: Model, dir: string, cycle: number): Promise<void> {
  const where = `cycle ${cycle} (seed ${SEED})`;

  // revocations: seq 1..N contiguous; each acknowledged one with its seq; nothing that was never sent
  const feed = await get<RevocationFeed>(n, "/v1/revocations?since=0");
  expect(feed.status).toBe(200);
  const entries = feed.body.entries;
  expect(entries.map((e) => e.seq), `${where}: the feed is 1..N with no gap`).toEqual(entries.map((_, i) => i + 1));
  expect(feed.body.last).toBe(entries.length);
  expect(feed.body.next).toBe(entries.length);
  const bySerial = new Map(entries.map((e) => [e.value, e.seq]));
  expect(bySerial.size, `${where}: each serial revoked once`).toBe(entries.length);
  for (const c of m.creds) {
    if (c.seq !== null) {
      expect(bySerial.get(c.serial), `${where}: acknowledged revocation of ${c.serial} (seq ${c.seq})`).toBe(c.seq);
    } else if (c.revoking) {
      c.seq = bySerial.get(c.serial) ?? null;
      c.revoking = false;
      if (c.seq !== null) m.found.revoke++;
    }
  }
  const sent = new Set(m.creds.filter((c) => c.seq !== null).map((c) => c.serial));
  expect(entries.filter((e) => !sent.has(e.value) || e.type !== "credential").map((e) => e.value), `${where}: no revocation that was never sent`).toEqual([]);
  for (const since of [0, Math.floor(entries.length / 2), Math.max(0, entries.length - 1), entries.length]) {
    const page = await get<RevocationFeed>(n, `/v1/revocations?since=${since}`);
    expect(page.body.entries.map((e) => e.seq), `${where}: since=${since} skips nothing`).toEqual(entries.slice(since).map((e) => e.seq));
  }

  // gateways: every acknowledged creation not acknowledged deleted is listed; no acknowledged deletion is
  const listed = new Set((await get<GatewayList>(n, "/v1/gateways")).body.gateways.map((g) => g.id));
  for (const g of m.gateways) {
    if (g.state === "alive") expect(listed.has(g.id), `${where}: acknowledged gateway ${g.id}`).toBe(true);
    if (g.state === "deleted") expect(listed.has(g.id), `${where}: acknowledged deletion of ${g.id}`).toBe(false);
    if (g.state === "deleting") {
      g.state = listed.has(g.id) ? "alive" : "deleted";
      if (g.state === "deleted") m.found.delete++;
    }
  }
  const known = new Set(m.gateways.map((g) => g.id));
  const extra = [...listed].filter((id) => !known.has(id) && !m.foundGateways.has(id));
  expect(extra.length, `${where}: gateways listed that no request made`).toBeLessThanOrEqual(m.unknownCreates);
  m.unknownCreates = 0;
  for (const id of extra) m.foundGateways.add(id);
  m.found.create += extra.length;
  for (const id of m.foundGateways) expect(listed.has(id), `${where}: gateway ${id} found after an earlier crash stays`).toBe(true);
  // and their keys: an alive gateway's key works, a deleted one's is refused (at most 5: 20 failures a minute throttle)
  for (const g of m.gateways.filter((g) => g.state === "alive")) {
    const res = await fetch(n.base + "/v1/verify/batch", { method: "POST", headers: { authorization: `Bearer ${g.key}`, "content-type": "application/json" }, body: "{\"scans\":[]}" });
    expect(res.status, `${where}: key of gateway ${g.id}`).toBe(200);
  }
  for (const g of m.gateways.filter((g) => g.state === "deleted").slice(-5)) {
    const res = await fetch(n.base + "/v1/verify/batch", { method: "POST", headers: { authorization: `Bearer ${g.key}`, "content-type": "application/json" }, body: "{\"scans\":[]}" });
    expect(res.status, `${where}: key of deleted gateway ${g.id}`).toBe(401);
  }

  // licences: the last acknowledged link, or the one in flight at the kill
  for (const s of m.subjects) {
    const l = await get<LicenceAnswer>(n, `/v1/subjects/person/${s.idNumber}/licences/identity-card`);
    const held = l.status === 200 ? l.body.fields : null;
    expect(l.status === 200 || l.status === 404, `${where}: licence read ${l.status}`).toBe(true);
    const allowed = [s.linked, ...(s.unknown ? [s.unknown] : [])];
    expect(allowed, `${where}: licence of ${s.idNumber}`).toContainEqual(held);
    if (s.unknown !== null && JSON.stringify(held) === JSON.stringify(s.unknown) && JSON.stringify(held) !== JSON.stringify(s.linked)) m.found.link++;
    s.linked = held;
    s.unknown = null;
    s.busy = false;
  }

  // credentials: every acknowledged serial is recorded (no HTTP route reads them back: the database, read-only)
  const db = new Database(join(dir, "yukuai.db"), { readonly: true });
  let rows: Set<string>;
  try {
    rows = new Set((db.query("SELECT serial FROM credentials").all() as { serial: string }[]).map((r) => r.serial));
  } finally {
    db.close();
  }
  for (const c of m.creds) expect(rows.has(c.serial), `${where}: acknowledged credential ${c.serial} recorded`).toBe(true);
  for (const s of m.foundSerials) expect(rows.has(s), `${where}: credential ${s} found after an earlier crash stays`).toBe(true);
  const mine = new Set(m.creds.map((c) => c.serial));
  const unexplained = [...rows].filter((s) => !mine.has(s) && !m.foundSerials.has(s));
  expect(unexplained.length, `${where}: credential rows no request made`).toBeLessThanOrEqual(m.unknownIssues);
  m.unknownIssues = 0;
  for (const s of unexplained) m.foundSerials.add(s);
  m.found.issue += unexplained.length;

  // no revoked credential verifies; every other one does (the node's memory agrees with its database)
  const metro = m.gateways[0]!;
  const t = now();
  const answer = await fetch(n.base + "/v1/verify/batch", {
    method: "POST", headers: { authorization: `Bearer ${metro.key}`, "content-type": "application/json" },
    body: JSON.stringify({ scans: m.creds.map((c) => c.holder.presentText(t)) }),
  });
  expect(answer.status).toBe(200);
  const results = (await json<BatchAnswer>(answer)).results.map((x) => x.result);
  expect(results, `${where}: REVOKED exactly for the revoked`).toEqual(m.creds.map((c) => (c.seq !== null ? "REVOKED" : "OK")));
}

test(`${CYCLES} SIGKILLs mid-stream: every acknowledged write survives; the feed stays 1..N; no revoked credential verifies`, async () => {
  const r = rng(SEED);
  const m = new Model(r);
  const dir = mkdtempSync(join(tmpdir(), "yukuai-crash-"));
  let n: NodeProcess | null = null;
  try {
    n = await start(dir);
    // the gateway the checks verify at: acknowledged before the first kill, never deleted
    const res = await fetch(n.base + "/v1/gateways", { method: "POST", headers: jsonHeaders, body: JSON.stringify({ name: "crash checker", scene: "metro" }) });
    expect(res.status).toBe(201);
    const gw = await json<GatewayMade>(res);
    m.gateways.push({ id: gw.id, key: gw.key, state: "alive" });
    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      const killAfter = 20 + Math.floor(r() * 60);
      const { acked, inFlightAtKill } = await writeUntilKilled(n, m, r, killAfter);
      await crashed(n);
      n = null;
      expect(m.faults).toEqual([]);
      expect(acked).toBeGreaterThanOrEqual(killAfter);
      n = await start(dir);
      await waitFor(n, "/readyz");
      await check(n, m, dir, cycle);
      const revoked = m.creds.filter((c) => c.seq !== null).length;
      console.log(`crash cycle ${cycle} (seed ${SEED}): killed after ${acked} acknowledged writes with ${inFlightAtKill} in flight; `
        + `now ${m.creds.length} credentials (${revoked} revoked), ${m.gateways.filter((g) => g.state === "alive").length} gateways alive, `
        + `${m.subjects.filter((s) => s.linked).length} licences linked; unanswered writes found made so far: ${JSON.stringify(m.found)}`);
    }
  } finally {
    if (n) await stopNode(n);
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
