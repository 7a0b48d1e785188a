/**
 * @module The composition root: one Config (and test or bench overrides) → every store and service of a
 * node, wired once. `src/main.ts`, the bench servers and the tests all build nodes here; nothing else
 * constructs stores. What each piece does lives in its own module; this file only connects them.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Clock } from "./clock.ts";
import { seconds, systemClock } from "./clock.ts";
import type { Config } from "./config.ts";
import type { BatchVerifier, VerifierImpl } from "./crypto/batch.ts";
import { IssuerKeyring } from "./crypto/keys.ts";
import { chooseVerifier } from "./crypto/native.ts";
import { Issuance } from "./issuance.ts";
import { Licences } from "./licences.ts";
import { Metrics } from "./metrics.ts";
import { IssuerNodeClient } from "./net/issuer-node.ts";
import { Upstreams } from "./net/upstream.ts";
import { Registry } from "./registry.ts";
import { loadCatalogue, type SceneCatalogue } from "./scenes.ts";
import { Db } from "./state/db.ts";
import { Follower } from "./state/follow.ts";
import { Gateways } from "./state/gateways.ts";
import { Revocations } from "./state/revocations.ts";
import { AuthThrottle, Tokens } from "./tokens.ts";
import { parseAnchors } from "./trust/list.ts";
import { TrustListSource } from "./trust/source.ts";
import { TrustStore } from "./trust/store.ts";
import { CoalescingChecker } from "./verify/coalesce.ts";
import { CredentialCache } from "./verify/credential-cache.ts";
import { LagMonitor } from "./verify/lag.ts";
import { Pipeline } from "./verify/pipeline.ts";
import { PoolChecker } from "./verify/pool.ts";
import { memoryBeginsAfter, MemoryReplayWindow, replayRetention, type ReplayStore } from "./verify/replay-window.ts";
import type { SignatureChecker } from "./verify/signatures.ts";
import { MemoryIdempotency, type IdempotencyStore } from "./verify/idempotency.ts";
import { Verifier } from "./verify/verifier.ts";
import { packr } from "./wire/msgpack.ts";

/** What tests and benches may substitute. */
export interface Overrides {
  clock?: Clock;
  /** The replay store (main.ts passes the Redis one when `YUKUAI_REDIS_URL` is set). */
  replay?: ReplayStore;
  /** Where retry records live (spec §4): with the replay state, so the Redis store serves both. */
  idempotency?: IdempotencyStore;
  /** The signature verifier the node's checker runs (instead of `chooseVerifier(config.verifier)`). */
  batchVerifier?: BatchVerifier;
  checker?: SignatureChecker;
  /** Outbound HTTP (upstreams, the followed node, the trust list URL). */
  fetchFn?: typeof fetch;
  /** Where start-up messages go (the admin token is printed once here). */
  log?: (line: string) => void;
}

/** A composed node: its services (what routes call) and the stores behind them (what operators and tests read). */
export interface Node {
  readonly config: Config;
  readonly clock: Clock;
  readonly startSecond: number;
  readonly metrics: Metrics;
  readonly tokens: Tokens;
  readonly authThrottle: AuthThrottle;
  readonly issuance: Issuance;
  readonly registry: Registry;
  readonly licences: Licences;
  readonly verifier: Verifier;
  readonly trust: TrustStore;
  readonly trustList: TrustListSource | null;
  readonly keyring: IssuerKeyring | null;
  readonly follower: Follower | null;
  readonly db: Db;
  readonly revocations: Revocations;
  readonly scenes: SceneCatalogue;
  readonly cache: CredentialCache;
  readonly replay: ReplayStore;
  readonly idempotency: IdempotencyStore;
  readonly checker: SignatureChecker;
  /** The implementation the node's own checker runs (a test's `checker` may run another), and why it is not the native core (null when it is). */
  readonly verifierImpl: VerifierImpl;
  readonly verifierFallback: string | null;
  readonly pipeline: Pipeline;
  readonly lag: LagMonitor;
  /** Start-up: the checker ready (its workers run the node's verifier), the trust list (§7), the first sync and the poll loop of a follower. */
  start(): Promise<void>;
  /** Prometheus gauges read at scrape time. */
  refreshGauges(): void;
  close(): void;
}

export function compose(config: Config, o: Overrides = {}): Node {
  const clock = o.clock ?? systemClock;
  const log = o.log ?? ((l: string) => console.log(l));
  const startSecond = seconds(clock);
  const metrics = new Metrics();
  // first: YUKUAI_VERIFIER=native without the core stops start-up before anything is opened
  const chosen = o.batchVerifier === undefined ? chooseVerifier(config.verifier) : { verifier: o.batchVerifier, fallbackReason: null };
  const sigVerifier = chosen.verifier;
  metrics.verifierInfo.set({ impl: sigVerifier.impl }, 1);
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const db = new Db(join(config.dataDir, "yukuai.db"));
  const trust = new TrustStore(config.issuer);
  // a follower's trust, gateways and revocations come from the issuer node; it issues nothing
  const keyring = config.follow ? null : IssuerKeyring.open(config.dataDir, config.issuer, startSecond);
  if (keyring?.created) log(`issuer ${config.issuer}: made a new issuer key (kid ${keyring.current.kid}) and subject secret in ${config.dataDir}`);
  const tokens = new Tokens(config, log);
  const revocations = new Revocations(db);
  if (!config.follow) revocations.syncedAt = startSecond;
  const gateways = new Gateways(db);
  const scenes = loadCatalogue(config.issuer, config.scenesFile);
  const cache = new CredentialCache(config.credentialCacheSize);
  const replay: ReplayStore = o.replay ?? new MemoryReplayWindow(config.replayCapacity, replayRetention(config), memoryBeginsAfter(startSecond, config.skewSeconds));
  const checker: SignatureChecker = o.checker
    ?? (config.workers > 0 ? new PoolChecker({ workers: config.workers, verifier: sigVerifier }) : new CoalescingChecker(sigVerifier));
  const lag = new LagMonitor().start();
  const issuerNode = config.follow ? new IssuerNodeClient(config.follow, config.upstreamTimeoutMs, packr, o.fetchFn) : null;
  const follower = issuerNode === null ? null : new Follower({
    node: issuerNode, feedToken: config.feedToken!, issuer: config.issuer, intervalMs: config.followIntervalMs,
    maxLagSeconds: config.followMaxLagSeconds, trust, gateways, revocations, clock, log,
  });
  const trustList = config.trustList === null ? null : new TrustListSource({
    location: config.trustList, anchors: parseAnchors(config.trustAnchors), dataDir: config.dataDir,
    skewSeconds: config.skewSeconds, timeoutMs: config.upstreamTimeoutMs, clock, trust,
    onRefusal: (reason) => metrics.trustRefusals.inc({ reason }),
    onTaken: (list) => {
      metrics.trustVersion.set(list.version);
      metrics.trustNextUpdate.set(list.nextUpdate);
    },
    fetchFn: o.fetchFn, log,
  });
  const pipeline = new Pipeline({
    config, trust, revocations, cache, replay, checker,
    upstreams: config.upstreams.size > 0 ? new Upstreams(config.upstreams, config.upstreamTimeoutMs, o.fetchFn) : null,
    licencesOf: (s) => db.licencesOf(s),
    audit: (entries) => db.appendAudit(entries),
    onResults: (r) => metrics.countResults(r),
    saturated: () => lag.saturated,
  });
  const verifier = new Verifier({
    clock, pipeline, replay, revocations, metrics, trustList,
    follower: follower === null ? null : { sync: follower, issuerNode: issuerNode! },
  });

  return {
    config, clock, startSecond, metrics, tokens, trust, trustList, keyring, follower, db, revocations, scenes, cache,
    replay, checker, pipeline, lag, verifier,
    verifierImpl: sigVerifier.impl, verifierFallback: chosen.fallbackReason,
    idempotency: o.idempotency ?? new MemoryIdempotency(),
    authThrottle: new AuthThrottle(clock),
    issuance: new Issuance({ config, clock, keyring, db, revocations, trust }),
    registry: new Registry({ clock, db, revocations, gateways, scenes, writable: keyring !== null }),
    licences: new Licences({ clock, db, keyring }),
    async start() {
      await checker.ready?.();
      if (trustList !== null) {
        await trustList.start();
        trustList.every(config.trustRefreshSeconds);
      }
      if (follower !== null) {
        await follower.syncOnce();
        follower.start();
      }
    },
    refreshGauges() {
      const s = replay.stats();
      if (s.held >= 0) metrics.replayHeld.set(s.held);
      if (s.capacity >= 0) metrics.replayCapacity.set(s.capacity);
      metrics.cacheSize.set(cache.size);
      metrics.revocationSeq.set(revocations.seq);
      metrics.revocationSyncedAt.set(revocations.syncedAt);
      metrics.inflight.set(pipeline.inflight);
      metrics.lagPeak.set(lag.takePeakMs() / 1000);
    },
    close() {
      follower?.stop();
      trustList?.stop();
      checker.close?.();
      lag.stop();
      void replay.close?.();
      db.close();
    },
  };
}
