/**
 * @module The anti-replay window on a Redis Cluster (spec §6 "beyond one Redis"): the same answers as the
 * single Redis store (verify/redis-replay.ts) and the in-memory window, with the key space split over
 * shards. `YUKUAI_REDIS_URL=redis-cluster://host:port,host:port…` (any reachable subset of the masters;
 * `user:password@` may precede the first host).
 *
 * Client: ioredis `Cluster` — Bun's built-in RedisClient has no cluster support (bun-types/redis.d.ts and
 * its docs: "Unsupported: Redis Cluster"). ioredis keeps the slot table (`cluster.slots`, refreshed every
 * 5 s and on MOVED) and one connection per master; bench/replay-store.ts measures what that costs.
 *
 * Keys are those of the single store: `yk:r:{<issuer>:<serial hex>}`, hash-tagged by (issuer, serial), so
 * one decision is on one slot. A Lua script may only touch keys of one slot, so a batch is cut by slot:
 * per master ONE pipeline (one write, one round trip) holding one EVALSHA per slot the batch touches on it,
 * that slot's items in batch order (a serial twice in a batch is decided in order, as it is on one shard);
 * the masters' pipelines are sent in parallel and the answers merged back into item order.
 *
 * The start-up rule (§3) per slot. A shard that lost its data (restarted without persistence) must answer
 * presentations made before its memory began + 2 × skew as REPLAY_BEFORE_MEMORY, like `yk:boot` on one
 * Redis. A single `yk:boot` cannot work here: the script deciding a slot may read only keys of that slot.
 * So each slot has its own marker, `yk:boot:{<tag>}`, where `<tag>` is a short string found (once, by
 * search) to hash to that slot; every per-slot script gets KEYS = [its slot's marker, its items' keys…] and
 * sets the marker `NX` to the receive second when missing, exactly as the single script does. A marker lives
 * and dies with the slot's replay keys: it is lost with them, and it moves with them when the slot is
 * resharded to another master (MIGRATE moves the whole slot), so it is never wrong for its keys.
 * A script that finds its slot's marker missing (the shard was found empty) says so, and the store then
 * sets, `NX`, the marker of every slot of that master to the same second (one pipeline): otherwise a slot
 * first touched minutes later would begin its memory then, and answer fresh codes STALE long after the
 * loss. Setting a marker later than the loss only ever answers more STALE, never a guess.
 *
 * Readiness: every master must answer; each runs the boot script on its lowest slot's marker (its
 * representative: all its markers are set together, above) → "warming" until the newest of them + 2 × skew.
 * A node with one shard down is not ready ("unavailable"), although batches that touch only the other
 * shards are still answered: the load balancer should not prefer it, every node sees the same shard down.
 *
 * Failure: a batch touching a master whose connection is not up is refused whole ("UNAVAILABLE", 503
 * REPLAY_STORE_UNAVAILABLE) before anything is sent, so a killed master costs exactly the batches that touch
 * its slots; batches on the other masters are decided as usual. A master that fails mid-batch (no answer
 * within `timeoutMs`) also refuses the whole batch; the other shards' acceptances of that batch stay recorded
 * (as on one Redis whose answer was lost), so a resend may answer those scans REPLAY — never OK twice.
 * Nothing is resent on reconnection, no command is retried after a lost connection (a script might have
 * run); only MOVED/ASK/TRYAGAIN/NOSCRIPT answers (the script did not run) are sent again, one by one.
 * `maxmemory-policy` must be `noeviction` on every master (checked at start; every master must answer
 * then); out of memory on any shard → the batch is "FULL". Replication to replicas is asynchronous: a
 * replica promoted after a failover may lack the last acceptances (as with one Redis and a replica).
 */
import { Cluster, type Redis } from "ioredis";

/** Monotonic milliseconds on this host as an absolute reading (performance: a duration source, not the Clock). */
const localMs = (): number => performance.timeOrigin + performance.now();
import { LUA_DECIDE, RedisRetryRecords } from "./redis-replay.ts";
import type { ReplayItem, ReplayOutcome, ReplayReadiness, ReplayStore } from "./replay-window.ts";

export const SLOTS = 16384;

/** CRC16/XMODEM (Redis Cluster's key hash), by table. */
const CRC_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

/** The slot of a hash tag (an ASCII string: the text between a key's first `{` and the next `}`). */
export function slotOfTag(tag: string): number {
  let crc = 0;
  for (let i = 0; i < tag.length; i++) crc = ((crc << 8) & 0xffff) ^ CRC_TABLE[((crc >>> 8) ^ tag.charCodeAt(i)) & 0xff]!;
  return crc & (SLOTS - 1);
}

const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, "0");

/** The hash tag of an item's key `yk:r:{<issuer>:<serial hex>}` (redis-replay.ts `replayKey`). */
const tagOf = (it: ReplayItem): string => `${it.issuer}:${hex8(it.serialHi)}${hex8(it.serialLo)}`;

/** The slot of an item's replay key. */
export const slotOfItem = (it: ReplayItem): number => slotOfTag(tagOf(it));

let bootTags: string[] | null = null;

/** The boot marker of `slot`: `yk:boot:{<tag>}` with the first base-36 number `<tag>` that hashes to it. */
export function bootKey(slot: number): string {
  if (bootTags === null) {
    const tags: string[] = new Array(SLOTS);
    let left = SLOTS;
    for (let i = 0; left > 0; i++) {
      const tag = i.toString(36);
      const s = slotOfTag(tag);
      if (tags[s] === undefined) {
        tags[s] = tag;
        left--;
      }
    }
    bootTags = tags;
  }
  return `yk:boot:{${bootTags[slot]!}}`;
}

/**
 * One slot's part of a batch: KEYS = [the slot's boot marker, the items' keys…]; ARGV = [ttl, now, warm,
 * deadline, counter₁, time₁, …]. Past its deadline (Redis' clock, ms) it records nothing and answers -1, as
 * the single store's script does. The marker is set when missing (as `SET NX`: the script is atomic) and each
 * item is decided by the single store's `decide` (redis-replay.ts LUA_DECIDE); the answer is one code per
 * item and, last, 1 if the marker was missing (the shard was found empty).
 */
const SCRIPT = LUA_DECIDE + `
local ttl = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local warm = tonumber(ARGV[3])
if late(tonumber(ARGV[4])) then return -1 end
local boot = redis.call('GET', KEYS[1])
local found = 0
if not boot then
  redis.call('SET', KEYS[1], now)
  boot = now
  found = 1
end
local begins = tonumber(boot) + warm
local out = {}
for i = 2, #KEYS do
  out[i - 1] = decide(KEYS[i], tonumber(ARGV[2 * i + 1]), tonumber(ARGV[2 * i + 2]), begins, ttl)
end
out[#KEYS] = found
return out
`;

/** A slot's marker (KEYS[1]) set NX to ARGV[1]; → [its second, 1 if it was missing]. */
const BOOT = `
local found = redis.call('SET', KEYS[1], ARGV[1], 'NX') and 1 or 0
return {tonumber(redis.call('GET', KEYS[1])), found}
`;

/** `redis-cluster://[user[:password]@]host:port,host:port…` → start-up nodes and credentials. */
export function parseClusterUrl(url: string): { nodes: { host: string; port: number }[]; username?: string; password?: string } {
  const m = /^redis-cluster:\/\/(?:([^@/]*)@)?([^/?#]+)\/?$/.exec(url);
  if (!m) throw new Error(`not a redis-cluster:// URL: ${JSON.stringify(url)}`);
  const nodes = m[2]!.split(",").map((hp) => {
    const n = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hp.trim());
    if (!n) throw new Error(`redis-cluster URL: bad host:port ${JSON.stringify(hp)}`);
    const port = n[2] === undefined ? 6379 : Number(n[2]);
    if (!(port > 0 && port < 65536)) throw new Error(`redis-cluster URL: bad port in ${JSON.stringify(hp)}`);
    return { host: n[1]!.replace(/^\[|\]$/g, ""), port };
  });
  const out: { nodes: { host: string; port: number }[]; username?: string; password?: string } = { nodes };
  if (m[1] !== undefined && m[1] !== "") {
    const [user, ...pass] = m[1].split(":");
    if (pass.length > 0) {
      out.password = decodeURIComponent(pass.join(":"));
      if (user) out.username = decodeURIComponent(user);
    } else {
      out.password = decodeURIComponent(user!);
    }
  }
  return out;
}

/** Items of one slot, in batch order (indexes into the batch). */
interface SlotGroup {
  slot: number;
  items: number[];
}

const errorText = (e: unknown): string => String((e as Error)?.message ?? e);
/** Answers after which the script did not run, so it may be sent again (with redirection). */
const notRun = (msg: string): boolean => /^(MOVED|ASK|TRYAGAIN|NOSCRIPT)\b/.test(msg);

export class RedisClusterReplayStore extends RedisRetryRecords implements ReplayStore {
  readonly #cluster: Cluster;
  readonly #ttl: number;
  readonly #warm: number;
  readonly #timeoutMs: number;
  #sha = "";
  #started = false;
  /** Redis' clock minus this host's (ms), measured on a master at start and at each readiness probe. */
  #clockOffsetMs = 0;
  #full = false;
  /** Master connections by `host:port`, rebuilt when ioredis adds or drops a node. */
  #byKey: Map<string, Redis> | null = null;
  /** Marker sweeps in flight, per master (a shard found empty). */
  readonly #sweeps = new Map<string, Promise<void>>();

  /** `warmSeconds` is 2 × skew (§3 start-up rule); the same arguments as RedisReplayStore. */
  constructor(url: string, retentionSeconds: number, warmSeconds: number, timeoutMs = 1000) {
    super();
    const { nodes, username, password } = parseClusterUrl(url);
    this.#cluster = new Cluster(nodes, {
      lazyConnect: true,
      // a command for a shard that is not connected fails at once (→ UNAVAILABLE), it never waits
      enableOfflineQueue: false,
      // never resend after a lost connection or CLUSTERDOWN: the script may have run
      retryDelayOnFailover: 0,
      retryDelayOnClusterDown: 0,
      slotsRefreshTimeout: timeoutMs,
      // a master that went away is reconnected (≤ 1 s apart), so it serves again as soon as it is back
      clusterNodeRetryStrategy: (times) => Math.min(100 * times, 1000),
      redisOptions: {
        connectTimeout: timeoutMs,
        autoResendUnfulfilledCommands: false,
        // commands awaiting an answer when a connection drops are failed then, not kept for later
        maxRetriesPerRequest: 0,
        ...(username !== undefined ? { username } : {}),
        ...(password !== undefined ? { password } : {}),
      },
    });
    // errors surface as answers (UNAVAILABLE); an unlistened "error" event would only be noise
    this.#cluster.on("error", () => {});
    this.#cluster.on("node error", () => {});
    this.#cluster.on("+node", () => { this.#byKey = null; });
    this.#cluster.on("-node", () => { this.#byKey = null; });
    this.#ttl = retentionSeconds + 2;
    this.#warm = warmSeconds;
    this.#timeoutMs = timeoutMs;
  }

  /** Connects, refuses a cluster any of whose masters may evict keys, and loads the script on each. */
  async start(): Promise<void> {
    await this.#within(this.#cluster.connect(), Math.max(5 * this.#timeoutMs, 5000), "connecting to the cluster");
    const masters = this.#cluster.nodes("master");
    if (masters.length === 0) throw new Error("the cluster has no master");
    const shas = await Promise.all(masters.map(async (m) => {
      const where = `${m.options.host}:${m.options.port}`;
      const policy = (await this.#within(m.config("GET", "maxmemory-policy"), this.#timeoutMs, `${where}: CONFIG GET`)) as unknown as string[];
      const value = Array.isArray(policy) ? String(policy[1]) : "";
      if (value !== "noeviction") {
        throw new Error(`Redis ${where} maxmemory-policy is ${JSON.stringify(value)}; replay state must never be evicted: set it to noeviction on every master`);
      }
      return String(await this.#within(m.script("LOAD", SCRIPT), this.#timeoutMs, `${where}: SCRIPT LOAD`));
    }));
    this.#sha = shas[0]!;
    bootKey(0); // the marker table, once
    await this.#measureClock(masters[0]!);
    this.#started = true;
  }

  async #measureClock(m: Redis): Promise<void> {
    const before = localMs();
    const t = await this.#within(m.time(), this.#timeoutMs, "TIME").catch(() => null);
    if (t === null) return; // keep the last offset; the next probe measures again
    this.#clockOffsetMs = Number(t[0]) * 1000 + Math.floor(Number(t[1]) / 1000) - (before + localMs()) / 2;
  }

  async #within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); });
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The connection of the master that serves `slot` per the slot table, if it is up. */
  #masterOf(slot: number): { key: string; redis: Redis | undefined } | null {
    const key = this.#cluster.slots[slot]?.[0];
    if (key === undefined) return null;
    if (this.#byKey === null) {
      this.#byKey = new Map();
      for (const r of this.#cluster.nodes("all")) this.#byKey.set(`${r.options.host}:${r.options.port}`, r);
    }
    const redis = this.#byKey.get(key);
    return { key, redis: redis !== undefined && (redis.status === "ready" || redis.status === "wait") ? redis : undefined };
  }

  /** numkeys, KEYS, ARGV of a slot's script. */
  #args(items: readonly ReplayItem[], group: SlotGroup, now: number, deadline: number): [number, ...(string | number)[]] {
    const args: [number, ...(string | number)[]] = [group.items.length + 1, bootKey(group.slot)];
    for (const i of group.items) args.push(`yk:r:{${tagOf(items[i]!)}}`);
    args.push(this.#ttl, now, this.#warm, deadline);
    for (const i of group.items) args.push(items[i]!.counter, items[i]!.time);
    return args;
  }

  async apply(items: readonly ReplayItem[], now: number): Promise<ReplayOutcome> {
    if (!this.#started) return "UNAVAILABLE";
    if (items.length === 0) return new Uint8Array(0);
    // cut by master, then by slot, in batch order
    const byMaster = new Map<string, { redis: Redis; slots: Map<number, SlotGroup> }>();
    for (let i = 0; i < items.length; i++) {
      const slot = slotOfItem(items[i]!);
      const m = this.#masterOf(slot);
      // a shard not connected (or a slot no master serves): refuse the batch before writing anything
      if (m === null || m.redis === undefined) return "UNAVAILABLE";
      let per = byMaster.get(m.key);
      if (per === undefined) byMaster.set(m.key, (per = { redis: m.redis, slots: new Map() }));
      let g = per.slots.get(slot);
      if (g === undefined) per.slots.set(slot, (g = { slot, items: [] }));
      g.items.push(i);
    }
    // past this (Redis' clock) a script records nothing: a batch already answered 503 stays unrecorded (see
    // redis-replay.ts); half the timeout leaves room for the error of the measured clock offset
    const deadline = Math.ceil(localMs() + this.#clockOffsetMs + this.#timeoutMs / 2);
    const out = new Uint8Array(items.length);
    let full = false;
    let failed = false;
    const emptied: string[] = [];
    const take = (key: string, g: SlotGroup, reply: unknown): boolean => {
      if (!Array.isArray(reply) || reply.length !== g.items.length + 1) return false;
      for (let k = 0; k < g.items.length; k++) out[g.items[k]!] = reply[k] as number;
      if (reply[g.items.length] === 1) emptied.push(key);
      return true;
    };
    const fail = (msg: string) => {
      if (msg.includes("OOM")) full = true;
      else failed = true;
    };
    const run = async (key: string, redis: Redis, groups: SlotGroup[]): Promise<void> => {
      const p = redis.pipeline();
      for (const g of groups) p.evalsha(this.#sha, ...this.#args(items, g, now, deadline));
      const replies = (await p.exec()) ?? [];
      const again: Promise<void>[] = [];
      groups.forEach((g, k) => {
        const [err, reply] = replies[k] ?? [new Error("no answer"), null];
        if (err === null) {
          if (!take(key, g, reply)) failed = true;
          return;
        }
        const msg = errorText(err);
        if (!notRun(msg)) return fail(msg);
        // a master restarted or flushed its scripts: load it again for the next batches
        if (msg.startsWith("NOSCRIPT")) void redis.script("LOAD", SCRIPT).catch(() => undefined);
        // the slot moved, or the master lost its scripts: the script did not run; send it by itself, redirected
        again.push(this.#cluster.call("EVAL", SCRIPT, ...this.#args(items, g, now, deadline)).then(
          (r) => { if (!take(key, g, r)) failed = true; },
          (e) => fail(errorText(e)),
        ));
      });
      await Promise.all(again);
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((r) => { timer = setTimeout(() => r("timeout"), this.#timeoutMs); });
    try {
      const done = await Promise.race([
        Promise.all([...byMaster].map(([key, m]) => run(key, m.redis, [...m.slots.values()]).catch((e) => fail(errorText(e))))),
        timeout,
      ]);
      for (const key of emptied) void this.#sweep(key, now);
      if (done === "timeout") return "UNAVAILABLE";
      if (full) {
        this.#full = true;
        return "FULL";
      }
      if (failed) return "UNAVAILABLE";
      this.#full = false;
      return out;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sets `NX` every boot marker of the master `key` serves (a shard found empty at `now`): see the module doc. */
  #sweep(key: string, now: number): Promise<void> {
    const running = this.#sweeps.get(key);
    if (running !== undefined) return running;
    const p = (async () => {
      const slots: number[] = [];
      for (let s = 0; s < SLOTS; s++) if (this.#cluster.slots[s]?.[0] === key) slots.push(s);
      const m = slots.length > 0 ? this.#masterOf(slots[0]!) : null;
      if (m?.redis === undefined) return;
      const p = m.redis.pipeline();
      for (const s of slots) p.set(bootKey(s), now, "NX");
      // answers are not needed: a marker set by then stays; a slot moved meanwhile keeps its own marker
      await this.#within(p.exec(), 10 * this.#timeoutMs, "boot markers").catch(() => undefined);
    })().finally(() => this.#sweeps.delete(key));
    this.#sweeps.set(key, p);
    return p;
  }

  async ready(now: number): Promise<ReplayReadiness> {
    if (!this.#started) return "unavailable";
    // each master's lowest slot; every slot must be served
    const reps = new Map<string, number>();
    for (let s = 0; s < SLOTS; s++) {
      const key = this.#cluster.slots[s]?.[0];
      if (key === undefined) return "unavailable";
      if (!reps.has(key)) reps.set(key, s);
    }
    let unavailable = false;
    let begins = -Infinity;
    await Promise.all([...reps].map(async ([key, slot]) => {
      const m = this.#masterOf(slot);
      if (m?.redis === undefined) {
        unavailable = true;
        return;
      }
      try {
        const r = (await this.#within(m.redis.eval(BOOT, 1, bootKey(slot), now), this.#timeoutMs, "boot")) as unknown;
        if (!Array.isArray(r) || typeof r[0] !== "number") {
          unavailable = true;
          return;
        }
        if (r[1] === 1) await this.#sweep(key, now);
        if (slot === Math.min(...reps.values())) await this.#measureClock(m.redis);
        begins = Math.max(begins, r[0] + this.#warm);
      } catch (e) {
        // OOM while found empty: it cannot even record when its memory began
        if (errorText(e).includes("OOM")) this.#full = true;
        else unavailable = true;
      }
    }));
    await Promise.all(this.#sweeps.values());
    if (this.#full) return "full";
    if (unavailable) return "unavailable";
    return now < begins ? "warming" : true;
  }

  stats(): { held: number; capacity: number; bytes: number } {
    return { held: -1, capacity: -1, bytes: -1 };
  }

  /** Idempotency records (spec §4 retries) as on one Redis: single-key scripts, routed by their key's slot. */
  protected async evalRecord(script: string, key: string, args: (string | number)[]): Promise<unknown> {
    if (!this.#started) throw new Error("not started");
    return await this.#within(this.#cluster.call("EVAL", script, 1, `yk:i:{${key}}`, ...args), this.#timeoutMs, "idempotency");
  }

  close(): void {
    this.#started = false;
    this.#cluster.disconnect();
  }
}
