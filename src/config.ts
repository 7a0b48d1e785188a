/**
 * @module Configuration: the environment (spec §4) read once into one frozen, typed Config.
 * Every option is checked here; a bad value stops start-up with a message naming the variable.
 */
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import type { VerifierImpl } from "./crypto/batch.ts";

export interface Upstream {
  url: string;
  key: string;
}

export interface Config {
  port: number;
  hostname: string;
  dataDir: string;
  /** Admin token from the environment; when null one is generated (or read) in the data dir. */
  adminToken: string | null;
  /** On an issuer node: the read-only feed token; on a follower: the token it presents (§4). */
  feedToken: string | null;
  /** Load balancers whose X-Forwarded-For is believed (§4). */
  trustedProxies: ReadonlySet<string>;
  issuer: number;
  redisUrl: string | null;
  follow: string | null;
  upstreams: ReadonlyMap<number, Upstream>;
  upstreamTimeoutMs: number;
  /** §7: the signed trust list (file or http(s) URL), its anchors, and how often it is re-read. */
  trustList: string | null;
  trustAnchors: string;
  trustRefreshSeconds: number;
  /** Optional JSON file overriding scenes' accepted issuers. */
  scenesFile: string | null;
  maxBodyBytes: number;
  maxBatch: number;
  /** §3 freshness window and clock skew, seconds. */
  windowSeconds: number;
  skewSeconds: number;
  /** How far back a scan's `at` may move "now" (§3), seconds. */
  atMaxAgeSeconds: number;
  /** Serials the replay window may hold before failing closed. */
  replayCapacity: number;
  /** Verified credentials kept (§3 LRU). */
  credentialCacheSize: number;
  /** Signature workers; 0 verifies on the main thread. */
  workers: number;
  /** The signature verifier (crypto/native.ts); null: the native core when it loads, else node:crypto. */
  verifier: VerifierImpl | null;
  /** Scans in flight (all requests) before new work is answered 503. */
  maxInflightScans: number;
  /** Days a credential is valid when the request does not say. */
  defaultValidDays: number;
  /** Revocation feed poll interval for followers, ms. */
  followIntervalMs: number;
  /** A follower is not ready when its last full sync is older than this, seconds. */
  followMaxLagSeconds: number;
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

function verifierOf(raw: string | undefined): VerifierImpl | null {
  if (raw === undefined || raw === "") return null;
  if (raw === "native" || raw === "node:crypto") return raw;
  throw new Error(`YUKUAI_VERIFIER must be "native" or "node:crypto" (unset: native when it loads), got ${JSON.stringify(raw)}`);
}

function parseUpstreams(raw: string | undefined): Map<number, Upstream> {
  const out = new Map<number, Upstream>();
  if (!raw) return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error("YUKUAI_UPSTREAMS must be JSON: {\"510000\": {\"url\": \"http://…\", \"key\": \"…\"}}");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error("YUKUAI_UPSTREAMS must be a JSON object keyed by issuer division code");
  }
  for (const [k, v] of Object.entries(parsed)) {
    const issuer = Number(k);
    const u = v as Partial<Upstream>;
    if (!/^[0-9]{6}$/.test(k) || typeof u?.url !== "string" || typeof u.key !== "string") {
      throw new Error(`YUKUAI_UPSTREAMS entry ${JSON.stringify(k)} must be a 6-digit issuer with {url, key}`);
    }
    out.set(issuer, { url: u.url.replace(/\/+$/, ""), key: u.key });
  }
  return out;
}

export function loadConfig(env: Env = process.env): Config {
  const issuerRaw = env.YUKUAI_ISSUER ?? "500000";
  if (!/^[0-9]{6}$/.test(issuerRaw)) throw new Error("YUKUAI_ISSUER must be a 6-digit GB/T 2260 division code");
  if (env.YUKUAI_FOLLOW) {
    // §4: without a shared replay store a follower would accept what the issuer node already accepted
    if (!env.YUKUAI_REDIS_URL) throw new Error("YUKUAI_FOLLOW needs YUKUAI_REDIS_URL: a follower must share the issuer node's replay store");
    if (!env.YUKUAI_FEED_TOKEN) throw new Error("YUKUAI_FOLLOW needs YUKUAI_FEED_TOKEN: the issuer node's feed token (never its admin token)");
    if (env.YUKUAI_TRUST_LIST) throw new Error("YUKUAI_TRUST_LIST is set on the issuer node; a follower takes that node's trust");
  }
  if (env.YUKUAI_TRUST_LIST && !env.YUKUAI_TRUST_ANCHORS) throw new Error("YUKUAI_TRUST_LIST needs YUKUAI_TRUST_ANCHORS: the authority's public keys");
  const cores = availableParallelism();
  return Object.freeze({
    port: int(env, "PORT", 8080, 0, 65535),
    hostname: env.YUKUAI_HOST || "0.0.0.0",
    dataDir: resolve(env.YUKUAI_DATA_DIR || "./data"),
    adminToken: env.YUKUAI_ADMIN_TOKEN || null,
    feedToken: env.YUKUAI_FEED_TOKEN || null,
    trustedProxies: new Set((env.YUKUAI_TRUSTED_PROXIES ?? "").split(",").map((s) => s.trim()).filter(Boolean)),
    issuer: Number(issuerRaw),
    redisUrl: env.YUKUAI_REDIS_URL || null,
    follow: env.YUKUAI_FOLLOW ? env.YUKUAI_FOLLOW.replace(/\/+$/, "") : null,
    upstreams: parseUpstreams(env.YUKUAI_UPSTREAMS),
    upstreamTimeoutMs: int(env, "YUKUAI_UPSTREAM_TIMEOUT_MS", 2000, 1, 60_000),
    trustList: env.YUKUAI_TRUST_LIST || null,
    trustAnchors: env.YUKUAI_TRUST_ANCHORS ?? "",
    trustRefreshSeconds: int(env, "YUKUAI_TRUST_REFRESH_S", 300, 1, 86_400),
    scenesFile: env.YUKUAI_SCENES_FILE || null,
    maxBodyBytes: int(env, "YUKUAI_MAX_BODY_BYTES", 1 << 20, 1024, 1 << 30),
    maxBatch: int(env, "YUKUAI_MAX_BATCH", 1000, 1, 100_000),
    windowSeconds: int(env, "YUKUAI_WINDOW_SECONDS", 60, 1, 3600),
    skewSeconds: int(env, "YUKUAI_SKEW_SECONDS", 10, 0, 600),
    atMaxAgeSeconds: 300,
    replayCapacity: int(env, "YUKUAI_REPLAY_CAPACITY", 1 << 20, 16, 1 << 27),
    credentialCacheSize: int(env, "YUKUAI_CREDENTIAL_CACHE", 1 << 20, 1, 1 << 26),
    workers: int(env, "YUKUAI_WORKERS", cores > 1 ? cores : 0, 0, 256),
    verifier: verifierOf(env.YUKUAI_VERIFIER),
    maxInflightScans: int(env, "YUKUAI_MAX_INFLIGHT_SCANS", 20_000, 1, 10_000_000),
    defaultValidDays: int(env, "YUKUAI_VALID_DAYS", 365, 1, 3650),
    followIntervalMs: int(env, "YUKUAI_FOLLOW_INTERVAL_MS", 500, 50, 60_000),
    followMaxLagSeconds: int(env, "YUKUAI_FOLLOW_MAX_LAG_SECONDS", 10, 1, 3600),
  });
}
