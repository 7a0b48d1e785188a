/**
 * @module The anti-replay window in Redis/Valkey (spec §6: shared by every node behind a load
 * balancer; the same answers as the in-memory window).
 *
 * One string key per (issuer, serial), `yk:r:{<issuer>:<serial hex>}` (hash-tagged, §6, so a decision
 * stays on one shard): bits 0..63 are a ring (counter c ⇔ bit c mod 64) and bits 64..95 hold H as u32
 * (BITFIELD). A whole batch is decided by one Lua script, atomically and in order, so the replay decision
 * for a key is made in one place whichever node received the scan.
 * Each acceptance sets the key's TTL to the retention + 2 s (380 s by default, + 1 s because receive
 * seconds are whole and + 1 s for the sub-second offset of Redis' clock): a scan at receive second r + 380
 * still finds the state of r. Redis never drops it earlier provided `maxmemory-policy` is `noeviction`
 * (checked at start): when Redis is out of memory the write fails, and the batch is refused (`FULL`),
 * never forgotten.
 * `yk:boot` records the second this Redis was found empty; presentations made before boot + 2 × skew are
 * REPLAY_BEFORE_MEMORY and the store is "warming" until then (§3: a Redis that lost its data cannot know
 * what it saw before). A Redis that kept its data keeps its old `yk:boot`, so nodes start ready.
 * Any other failure or a reply slower than `timeoutMs` is `UNAVAILABLE`: the node refuses rather than guess.
 */
import { RedisClient } from "bun";
import { IDEMPOTENCY_SECONDS, PENDING_SECONDS, type Claim, type IdempotencyStore, type IdempotentAnswer } from "./idempotency.ts";
import type { ReplayItem, ReplayOutcome, ReplayReadiness, ReplayStore } from "./replay-window.ts";

/**
 * Idempotency records (spec §4 retries) live beside the replay state: `yk:i:{<gateway>:<key>}` holds
 * `P|<fingerprint>` while the first request is answered, then `D|<fingerprint>|<status>|<content type>|<body,
 * base64>`. CLAIM returns the value or, when there was none, sets the pending one and returns nil.
 */
export const CLAIM = `
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], 'P|' .. ARGV[1], 'EX', ARGV[2])
return false
`;
/** Replaces our pending value (KEYS[1] = key, ARGV[1] = fingerprint) with ARGV[2] for ARGV[3] s, or deletes it when ARGV[2] is empty. */
export const SETTLE = `
if redis.call('GET', KEYS[1]) ~= 'P|' .. ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) end
return 1
`;

/**
 * Retry records on Redis (spec §4), the base of the single and the cluster stores alike: `evalRecord(script,
 * key, args)` runs CLAIM or SETTLE on the record's key `yk:i:{key}` with the store's client, timeout and routing.
 */
export abstract class RedisRetryRecords implements IdempotencyStore {
  protected abstract evalRecord(script: string, key: string, args: (string | number)[]): Promise<unknown>;

  async claim(key: string, fingerprint: string, _now: number): Promise<Claim> {
    let v: unknown;
    try {
      v = await this.evalRecord(CLAIM, key, [fingerprint, PENDING_SECONDS]);
    } catch (e) {
      return String((e as Error)?.message ?? e).includes("OOM") ? { state: "full" } : { state: "unavailable" };
    }
    if (v === null || v === undefined) return { state: "new" };
    const parts = String(v).split("|");
    if (parts[1] !== fingerprint) return { state: "mismatch" };
    if (parts[0] === "P") return { state: "in-flight" };
    return { state: "done", answer: { status: Number(parts[2]), contentType: parts[3]!, body: new Uint8Array(Buffer.from(parts[4] ?? "", "base64")) } };
  }

  async complete(key: string, fingerprint: string, answer: IdempotentAnswer, _now: number): Promise<void> {
    const value = `D|${fingerprint}|${answer.status}|${answer.contentType}|${Buffer.from(answer.body).toString("base64")}`;
    // a lost record costs the guarantee for that key, not correctness: a resend is then verified again (REPLAY at worst)
    await this.evalRecord(SETTLE, key, [fingerprint, value, IDEMPOTENCY_SECONDS]).catch(() => undefined);
  }

  async release(key: string, fingerprint: string): Promise<void> {
    await this.evalRecord(SETTLE, key, [fingerprint, "", 0]).catch(() => undefined);
  }
}

/** The second this Redis' memory began: set when it is found empty (`SET NX`), kept while its data is. */
const BOOT = `
redis.call('SET', 'yk:boot', ARGV[1], 'NX')
return tonumber(redis.call('GET', 'yk:boot'))
`;

/**
 * The spec §3 decision for one item, in Lua, shared by this store's script and the cluster store's
 * (redis-cluster.ts): `decide(key, counter, time, begins, ttl)` → 0 (REPLAY), 1 (accepted, recorded) or 2
 * (made before the store's memory begins); and `late(deadline)`, true once Redis' clock (ms) is past it.
 */
export const LUA_DECIDE = `
local function decide(key, c, t, begins, ttl)
  if t < begins then return 2 end
  if redis.call('EXISTS', key) == 0 then
    redis.call('BITFIELD', key, 'SET', 'u32', 64, c)
    redis.call('SETBIT', key, c % 64, 1)
    redis.call('EXPIRE', key, ttl)
    return 1
  end
  local h = redis.call('BITFIELD', key, 'GET', 'u32', 64)[1]
  if c > h then
    local n = c - h
    if n > 64 then n = 64 end
    for k = 1, n - 1 do redis.call('SETBIT', key, (c - k) % 64, 0) end
    redis.call('SETBIT', key, c % 64, 1)
    redis.call('BITFIELD', key, 'SET', 'u32', 64, c)
    redis.call('EXPIRE', key, ttl)
    return 1
  end
  if h - c >= 64 or redis.call('GETBIT', key, c % 64) == 1 then return 0 end
  redis.call('SETBIT', key, c % 64, 1)
  redis.call('EXPIRE', key, ttl)
  return 1
end
local function late(deadline)
  local clock = redis.call('TIME')
  return tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) > deadline
end
`;

/** KEYS = the items' keys; ARGV = [ttl, now, warm, deadline, counter₁, time₁, …] → a code per item, or -1 when late. */
export const SCRIPT = LUA_DECIDE + `
local ttl = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local warm = tonumber(ARGV[3])
if late(tonumber(ARGV[4])) then return -1 end
redis.call('SET', 'yk:boot', now, 'NX')
local begins = tonumber(redis.call('GET', 'yk:boot')) + warm
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = decide(key, tonumber(ARGV[2 * i + 3]), tonumber(ARGV[2 * i + 4]), begins, ttl)
end
return out
`;

const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, "0");

/** The Redis key of an item's (issuer, serial); `{…}` is the Redis Cluster hash tag. */
export const replayKey = (it: ReplayItem): string => `yk:r:{${it.issuer}:${hex8(it.serialHi)}${hex8(it.serialLo)}}`;

export class RedisReplayStore extends RedisRetryRecords implements ReplayStore {
  readonly #client: RedisClient;
  readonly #ttl: number;
  readonly #warm: number;
  readonly #timeoutMs: number;
  #sha = "";
  #clockOffsetMs = 0;
  #lastOk = false;
  #full = false;

  /** `warmSeconds` is 2 × skew (§3 start-up rule). */
  constructor(url: string, retentionSeconds: number, warmSeconds: number, timeoutMs = 1000) {
    super();
    this.#client = new RedisClient(url, { enableOfflineQueue: false, autoReconnect: true, connectionTimeout: timeoutMs });
    this.#ttl = retentionSeconds + 2;
    this.#warm = warmSeconds;
    this.#timeoutMs = timeoutMs;
  }

  /** Connects, loads the script and refuses a Redis that may evict keys. */
  async start(): Promise<void> {
    await this.#client.connect();
    const policy = (await this.#client.send("CONFIG", ["GET", "maxmemory-policy"])) as unknown;
    const value = Array.isArray(policy) ? String(policy[1]) : typeof policy === "object" && policy ? String(Object.values(policy)[0]) : "";
    if (value !== "noeviction") {
      throw new Error(`Redis maxmemory-policy is ${JSON.stringify(value)}; replay state must never be evicted: set it to noeviction`);
    }
    this.#sha = String(await this.#client.send("SCRIPT", ["LOAD", SCRIPT]));
    await this.#measureClock();
    this.#lastOk = true;
  }

  /** Monotonic milliseconds on this host, as an absolute reading (performance: a duration source, not the Clock). */
  static #localMs(): number {
    return performance.timeOrigin + performance.now();
  }

  /** Redis' clock minus this host's (ms), measured at start and at each readiness probe. */
  async #measureClock(): Promise<void> {
    const before = RedisReplayStore.#localMs();
    const t = await Promise.race([this.#client.send("TIME", []) as Promise<[string, string]>, Bun.sleep(this.#timeoutMs).then(() => null)]);
    if (t === null) return; // keep the last offset; the next probe measures again
    const after = RedisReplayStore.#localMs();
    this.#clockOffsetMs = Number(t[0]) * 1000 + Math.floor(Number(t[1]) / 1000) - (before + after) / 2;
  }

  async #run(items: readonly ReplayItem[], now: number): Promise<unknown> {
    const keys = items.map(replayKey);
    // the script records nothing once its deadline (in Redis' clock) has passed: a batch this node answers 503
    // (a frozen or slow Redis runs it late) must not be recorded behind the gateway's back. The deadline is half
    // the timeout, so the clocks' measured offset may be off by that much; a script refused in time answers -1,
    // which is 503 too: either way nothing is recorded for a 503.
    const deadline = Math.ceil(RedisReplayStore.#localMs() + this.#clockOffsetMs + this.#timeoutMs / 2);
    const args = [String(this.#ttl), String(now), String(this.#warm), String(deadline)];
    for (const it of items) args.push(String(it.counter), String(it.time));
    try {
      return await this.#client.send("EVALSHA", [this.#sha, String(keys.length), ...keys, ...args]);
    } catch (e) {
      if (!String((e as Error).message).includes("NOSCRIPT")) throw e;
      return await this.#client.send("EVAL", [SCRIPT, String(keys.length), ...keys, ...args]);
    }
  }

  async apply(items: readonly ReplayItem[], now: number): Promise<ReplayOutcome> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((r) => { timer = setTimeout(() => r("timeout"), this.#timeoutMs); });
    try {
      const reply = await Promise.race([this.#run(items, now), timeout]);
      if (reply === "timeout" || !Array.isArray(reply) || reply.length !== items.length) {
        this.#lastOk = false;
        return "UNAVAILABLE";
      }
      this.#lastOk = true;
      this.#full = false;
      return Uint8Array.from(reply as number[]);
    } catch (e) {
      const msg = String((e as Error).message ?? e);
      this.#lastOk = false;
      if (msg.includes("OOM")) {
        this.#full = true;
        return "FULL";
      }
      return "UNAVAILABLE";
    } finally {
      clearTimeout(timer);
    }
  }

  async ready(now: number): Promise<ReplayReadiness> {
    let boot: unknown;
    try {
      boot = await Promise.race([this.#client.send("EVAL", [BOOT, "0", String(now)]), Bun.sleep(this.#timeoutMs).then(() => "timeout")]);
      this.#lastOk = typeof boot === "number";
      if (this.#lastOk) await this.#measureClock();
    } catch (e) {
      // OOM while found empty: it cannot even record when its memory began
      if (String((e as Error).message ?? e).includes("OOM")) this.#full = true;
      this.#lastOk = false;
    }
    if (this.#full) return "full";
    if (!this.#lastOk) return "unavailable";
    return now < (boot as number) + this.#warm ? "warming" : true;
  }

  stats(): { held: number; capacity: number; bytes: number } {
    return { held: -1, capacity: -1, bytes: -1 };
  }

  protected async evalRecord(script: string, key: string, args: (string | number)[]): Promise<unknown> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error("timeout")), this.#timeoutMs); });
    try {
      return await Promise.race([this.#client.send("EVAL", [script, "1", `yk:i:{${key}}`, ...args.map(String)]), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.#client.close();
  }
}
