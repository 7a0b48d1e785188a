/**
 * @module A Yukuai node: the stores, the trust list and the pipeline wired together, and the domain
 * operations the routes call (issuance, revocation, gateways, licences, audit). No HTTP here.
 */
import { randomBytes, timingSafeEqual, createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "./config.ts";
import { seconds, type Clock } from "./clock.ts";
import { checkPublicKey, sign } from "./crypto/ed25519.ts";
import { ISSUER_NAMES, IssuerKeyring } from "./crypto/keys.ts";
import { TrustStore } from "./trust/store.ts";
import { TrustListSource } from "./trust/source.ts";
import { parseAnchors } from "./trust/list.ts";
import { AuthThrottle } from "./routes/auth.ts";
import { checkIdNumber, subjectPseudonym } from "./identity.ts";
import { checkLicence } from "./licences.ts";
import { Metrics } from "./metrics.ts";
import { isLicenceType, loadCatalogue, type Scene, type SceneCatalogue } from "./scenes.ts";
import { Db, type RevocationEntry, type RevocationType } from "./state/db.ts";
import { Gateways, type Gateway } from "./state/gateways.ts";
import { normaliseRevocationValue, Revocations, REVOCATION_TYPES } from "./state/revocations.ts";
import { CredentialCache } from "./verify/credential-cache.ts";
import { Pipeline, type BatchOutcome } from "./verify/pipeline.ts";
import { memoryBeginsAfter, MemoryReplayWindow, replayRetention, type ReplayReadiness, type ReplayStore } from "./verify/replay-window.ts";
import { Router } from "./verify/router.ts";
import { Follower, type FollowReadiness } from "./state/follow.ts";
import { packr } from "./wire/msgpack.ts";
import { PoolChecker } from "./verify/pool.ts";
import { LagMonitor } from "./verify/lag.ts";
import { InlineChecker, type SignatureChecker } from "./verify/signatures.ts";
import { credentialMessage, encodeCredentialBody, FLAG_MASK, KIND_PERSON, KIND_ENTERPRISE, type KindName } from "./wire/code.ts";

/** A refused request: the routes turn it into `{"error": {code, message}}` with `status`. */
export interface Refusal {
  ok: false;
  status: 400 | 403 | 404 | 409;
  code: string;
  message: string;
}
export type Outcome<T> = ({ ok: true } & T) | Refusal;

const refuse = (status: Refusal["status"], code: string, message: string): Refusal => ({ ok: false, status, code, message });
const FOLLOWER = refuse(403, "FOLLOWER", "this node follows an issuer node (YUKUAI_FOLLOW): issuance, revocations, gateways and licences are managed there");

export { replayRetention };

/** `/readyz` checks: each true, or why not (§3 `"replay": "warming"`, §7 `trust: false`). */
export interface Readiness {
  replay: ReplayReadiness;
  trust?: boolean;
  follow?: FollowReadiness;
}

/** A gateway as authenticated by its bearer key. */
export interface AuthenticatedGateway {
  gateway: Gateway;
  scene: Scene;
  key: string;
}

export interface NodeOptions {
  config: Config;
  clock: Clock;
  /** Overrides for tests and benches. */
  replay?: ReplayStore;
  checker?: SignatureChecker;
  fetchFn?: typeof fetch;
  /** Where start-up messages go (the admin token is printed once here). */
  log?: (line: string) => void;
}

export class YukuaiNode {
  readonly config: Config;
  readonly clock: Clock;
  readonly db: Db;
  readonly trust: TrustStore;
  /** §7: the signed trust list, when `YUKUAI_TRUST_LIST` is set. */
  readonly trustList: TrustListSource | null;
  readonly authThrottle: AuthThrottle;
  readonly revocations: Revocations;
  readonly gateways: Gateways;
  readonly scenes: SceneCatalogue;
  readonly cache: CredentialCache;
  readonly replay: ReplayStore;
  readonly checker: SignatureChecker;
  readonly pipeline: Pipeline;
  readonly metrics = new Metrics();
  /** Backpressure without a worker pool: event-loop lag (verify/lag.ts). */
  readonly lag = new LagMonitor().start();
  /** The issuer keys and subject secret; null on a follower, which issues nothing. */
  readonly secrets: IssuerKeyring | null;
  readonly follower: Follower | null;
  readonly startSecond: number;
  readonly #adminTokenHash: Buffer;
  readonly #feedTokenHash: Buffer | null;

  constructor(opts: NodeOptions) {
    const { config, clock } = opts;
    const log = opts.log ?? ((l: string) => console.log(l));
    this.config = config;
    this.clock = clock;
    this.startSecond = seconds(clock);
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    this.db = new Db(join(config.dataDir, "yukuai.db"));
    this.trust = new TrustStore(config.issuer);
    this.authThrottle = new AuthThrottle(clock);
    if (config.follow) {
      // a follower's trust, gateways and revocations all come from the issuer node
      this.secrets = null;
    } else {
      this.secrets = IssuerKeyring.open(config.dataDir, config.issuer, this.startSecond);
      if (this.secrets.created) log(`issuer ${config.issuer}: made a new issuer key (kid ${this.secrets.current.kid}) and subject secret in ${config.dataDir}`);
      this.#trustOwnKeys();
    }
    this.#adminTokenHash = createHash("sha256").update(this.#adminToken(log)).digest();
    this.#feedTokenHash = config.feedToken && !config.follow ? createHash("sha256").update(config.feedToken).digest() : null;
    this.revocations = new Revocations(this.db);
    this.gateways = new Gateways(this.db);
    if (config.follow) {
      this.follower = new Follower({
        url: config.follow, feedToken: config.feedToken!, issuer: config.issuer, intervalMs: config.followIntervalMs,
        maxLagSeconds: config.followMaxLagSeconds, timeoutMs: config.upstreamTimeoutMs, trust: this.trust,
        gateways: this.gateways, revocations: this.revocations, clock, packr, fetchFn: opts.fetchFn, log,
      });
    } else {
      this.follower = null;
      this.revocations.syncedAt = this.startSecond;
    }
    this.trustList = config.trustList === null ? null : new TrustListSource({
      location: config.trustList, anchors: parseAnchors(config.trustAnchors), dataDir: config.dataDir,
      skewSeconds: config.skewSeconds, timeoutMs: config.upstreamTimeoutMs, clock, trust: this.trust,
      onRefusal: (reason) => this.metrics.trustRefusals.inc({ reason }),
      onTaken: (list) => { this.metrics.trustVersion.set(list.version); this.metrics.trustNextUpdate.set(list.nextUpdate); },
      fetchFn: opts.fetchFn, log,
    });
    this.scenes = loadCatalogue(config.issuer, config.scenesFile);
    this.cache = new CredentialCache(config.credentialCacheSize);
    const retention = replayRetention(config);
    this.replay = opts.replay ?? new MemoryReplayWindow(config.replayCapacity, retention, memoryBeginsAfter(this.startSecond, config.skewSeconds));
    this.checker = opts.checker ?? (config.workers > 0 ? new PoolChecker({ workers: config.workers }) : new InlineChecker());
    const router = config.upstreams.size > 0 ? new Router(config.upstreams, config.upstreamTimeoutMs, opts.fetchFn) : null;
    this.pipeline = new Pipeline({
      config, trust: this.trust, revocations: this.revocations, cache: this.cache, replay: this.replay,
      checker: this.checker, router,
      licencesOf: (s) => this.db.licencesOf(s),
      audit: (entries) => this.db.appendAudit(entries),
      onResults: (r) => this.metrics.countResults(r),
      saturated: () => this.lag.saturated,
    });
  }

  /** `YUKUAI_ADMIN_TOKEN`, else the one stored in the data dir, else a new one printed once. */
  #adminToken(log: (l: string) => void): string {
    if (this.config.adminToken) return this.config.adminToken;
    const path = join(this.config.dataDir, "admin-token");
    if (existsSync(path)) return readFileSync(path, "utf8").trim();
    const token = "yka_" + randomBytes(32).toString("base64url");
    writeFileSync(path, token + "\n", { mode: 0o600, flag: "wx" });
    log(`admin token (printed once; also stored in ${path}): ${token}`);
    return token;
  }

  /** The node's own keys, as the trust store holds them (at start and after a rotation). */
  #trustOwnKeys(): void {
    const ring = this.secrets!;
    this.trust.set("own", [{
      issuer: ring.issuer, name: ISSUER_NAMES[ring.issuer] ?? String(ring.issuer), until: Infinity,
      keys: ring.keys.map((k) => ({ kid: k.kid, raw: k.publicKey, notBefore: k.notBefore, notAfter: k.notAfter, revoked: false })),
    }]);
  }

  /** Tokens are compared as SHA-256 digests in constant time; only the digests are kept. */
  isAdmin(token: string): boolean {
    return timingSafeEqual(createHash("sha256").update(token).digest(), this.#adminTokenHash);
  }

  /** The feed token (`YUKUAI_FEED_TOKEN`) of an issuer node. */
  isFeedReader(token: string): boolean {
    return this.#feedTokenHash !== null && timingSafeEqual(createHash("sha256").update(token).digest(), this.#feedTokenHash);
  }

  /** Start-up work that needs I/O: the trust list (§7) and the first sync of a follower. */
  async start(): Promise<void> {
    if (this.trustList !== null) {
      await this.trustList.start();
      this.trustList.every(this.config.trustRefreshSeconds);
    }
    if (this.follower !== null) {
      await this.follower.syncOnce();
      this.follower.start();
    }
  }

  now(): number {
    return seconds(this.clock);
  }

  close(): void {
    this.follower?.stop();
    this.trustList?.stop();
    this.checker.close?.();
    this.lag.stop();
    void this.replay.close?.();
    this.db.close();
  }

  // ── verification ──────────────────────────────────────────────────────────

  gatewayByKey(key: string): AuthenticatedGateway | undefined {
    const gateway = this.gateways.byKey(key);
    if (!gateway) return undefined;
    const scene = this.scenes.get(gateway.scene);
    return scene ? { gateway, scene, key } : undefined;
  }

  async verifyBatch(scans: readonly unknown[], gw: AuthenticatedGateway): Promise<BatchOutcome> {
    if (this.follower !== null && gw.scene.needMask !== 0) {
      // licences and their audit log live on the issuer node: it answers this batch whole
      const results = await this.follower.forwardBatch(scans, gw.key);
      if (results === null) return { ok: false, refusal: "ISSUER_UNAVAILABLE", message: "this scene's batches are answered by the issuer node, which did not answer; retry" };
      this.metrics.countResults(results);
      return { ok: true, results };
    }
    return this.pipeline.verifyBatch(scans, { id: gw.gateway.id, scene: gw.scene }, this.now());
  }

  /** §4 `revocations` of a batch answer: an issuer node is its own source, so it is in sync now. */
  revocationStatus(): { seq: number; syncedAt: number } {
    return { seq: this.revocations.seq, syncedAt: this.follower === null ? this.now() : this.revocations.syncedAt };
  }

  async ready(): Promise<{ ok: boolean; checks: Readiness }> {
    const now = this.now();
    const replay = await this.replay.ready(now);
    this.metrics.replayFull.set(replay === "full" ? 1 : 0);
    const checks: Readiness = { replay };
    if (this.trustList !== null) checks.trust = this.trustList.fresh(now);
    if (this.follower !== null) checks.follow = this.follower.ready();
    return { ok: replay === true && checks.trust !== false && (checks.follow ?? true) === true, checks };
  }

  refreshGauges(): void {
    const s = this.replay.stats();
    if (s.held >= 0) this.metrics.replayHeld.set(s.held);
    if (s.capacity >= 0) this.metrics.replayCapacity.set(s.capacity);
    this.metrics.cacheSize.set(this.cache.size);
    this.metrics.revocationSeq.set(this.revocations.seq);
    this.metrics.revocationSyncedAt.set(this.revocations.syncedAt);
    this.metrics.inflight.set(this.pipeline.inflight);
  }

  // ── issuance (申码 / 制码) ──────────────────────────────────────────────────

  issueCredential(body: Record<string, unknown>): Outcome<{ serial: string; credential: string; notBefore: number; notAfter: number }> {
    if (this.secrets === null) return FOLLOWER;
    const ring = this.secrets;
    const key = ring.current;
    if (this.revocations.keyRevoked(this.config.issuer, key.kid)) {
      return refuse(409, "ISSUER_KEY_REVOKED", `issuer key ${this.config.issuer}:${key.kid} is revoked: make a new one (POST /v1/issuer-keys) before issuing`);
    }
    const { kind, idNumber, devicePublicKey, validDays, flags } = body;
    if (kind !== "person" && kind !== "enterprise") return refuse(400, "BAD_KIND", "kind must be \"person\" or \"enterprise\"");
    if (typeof idNumber !== "string") return refuse(400, "BAD_ID_NUMBER", "idNumber must be a string");
    const id = checkIdNumber(kind, idNumber);
    if (!id.ok) return refuse(400, "BAD_ID_NUMBER", id.reason);
    if (typeof devicePublicKey !== "string" || !/^[A-Za-z0-9_-]{43}=?$/.test(devicePublicKey)) {
      return refuse(400, "BAD_DEVICE_KEY", "devicePublicKey must be the 32-byte Ed25519 public key in base64url");
    }
    const device = new Uint8Array(Buffer.from(devicePublicKey, "base64url"));
    const why = checkPublicKey(device);
    if (why) return refuse(400, "BAD_DEVICE_KEY", `device ${why}`);
    const days = validDays ?? this.config.defaultValidDays;
    if (typeof days !== "number" || !Number.isInteger(days) || days < 1 || days > 3650) {
      return refuse(400, "BAD_VALID_DAYS", "validDays must be an integer from 1 to 3650");
    }
    const f = flags ?? 0;
    if (typeof f !== "number" || !Number.isInteger(f) || f < 0 || (f & ~FLAG_MASK) !== 0) {
      return refuse(400, "BAD_FLAGS", `flags must be an integer bitmask of §2 bits 0-4 (0 to ${FLAG_MASK})`);
    }
    const now = this.now();
    const subject = subjectPseudonym(ring.subjectSecret, kind, id.normalised);
    const notAfter = now + days * 86400;
    for (let attempt = 0; ; attempt++) {
      const serial = new Uint8Array(randomBytes(8));
      const body74 = encodeCredentialBody({
        kind: kind === "person" ? KIND_PERSON : KIND_ENTERPRISE, issuer: this.config.issuer, kid: key.kid,
        serial, subject, devicePub: device, notBefore: now, notAfter, flags: f,
      });
      const credential = new Uint8Array(138);
      credential.set(body74, 0);
      credential.set(sign(key.privateKey, credentialMessage(body74)), 74);
      const serialHex = Buffer.from(serial).toString("hex");
      try {
        this.db.insertCredential({
          serial: serialHex, kind: credential[1]!, subject: Buffer.from(subject).toString("hex"),
          devicePub: Buffer.from(device).toString("hex"), issuer: this.config.issuer, kid: key.kid,
          notBefore: now, notAfter, flags: f, issuedAt: now, credential,
        });
      } catch (e) {
        if (attempt < 3 && String(e).includes("UNIQUE")) continue; // 2^-64 serial collision: draw again
        throw e;
      }
      return { ok: true, serial: serialHex, credential: Buffer.from(credential).toString("base64url"), notBefore: now, notAfter };
    }
  }

  // ── revocation ────────────────────────────────────────────────────────────

  revoke(body: Record<string, unknown>): Outcome<{ seq: number }> {
    if (this.secrets === null) return FOLLOWER;
    const { type, value, reason } = body;
    if (typeof type !== "string" || !(REVOCATION_TYPES as readonly string[]).includes(type)) {
      return refuse(400, "BAD_REVOCATION_TYPE", "type must be one of credential, subject, device, key");
    }
    const v = normaliseRevocationValue(type as RevocationType, value);
    if (!v.ok) return refuse(400, "BAD_REVOCATION_VALUE", v.reason);
    if (reason !== undefined && reason !== null && (typeof reason !== "string" || reason.length > 500)) {
      return refuse(400, "BAD_REASON", "reason must be a string of at most 500 characters");
    }
    const seq = this.revocations.add(type as RevocationType, v.value, this.now(), (reason as string | undefined) ?? null);
    return { ok: true, seq };
  }

  revocationsSince(sinceRaw: string | undefined): Outcome<{ entries: RevocationEntry[]; next: number; last: number }> {
    const since = sinceRaw === undefined || sinceRaw === "" ? 0 : Number(sinceRaw);
    if (!Number.isInteger(since) || since < 0) return refuse(400, "BAD_SINCE", "since must be a non-negative integer");
    const entries = this.db.revocationsSince(since, 10_000);
    return { ok: true, entries, next: entries.length ? entries[entries.length - 1]!.seq : since, last: this.db.lastRevocationSeq() };
  }

  // ── issuer keys (§7: a new kid without downtime) ──────────────────────────

  rotateIssuerKey(): Outcome<{ issuer: number; kid: number; publicKey: string; notBefore: number; notAfter: number }> {
    if (this.secrets === null) return FOLLOWER;
    const k = this.secrets.rotate(this.now());
    this.#trustOwnKeys();
    return { ok: true, issuer: this.config.issuer, kid: k.kid, publicKey: Buffer.from(k.publicKey).toString("base64url"), notBefore: k.notBefore, notAfter: k.notAfter };
  }

  // ── gateways ──────────────────────────────────────────────────────────────

  createGateway(body: Record<string, unknown>): Outcome<{ id: string; key: string }> {
    if (this.secrets === null) return FOLLOWER;
    const { name, scene } = body;
    if (typeof name !== "string" || name.trim() === "" || name.length > 200) {
      return refuse(400, "BAD_NAME", "name must be a non-empty string of at most 200 characters");
    }
    if (typeof scene !== "string" || !this.scenes.has(scene)) {
      return refuse(400, "BAD_SCENE", `scene must be one of: ${[...this.scenes.keys()].join(", ")}`);
    }
    const { gateway, key } = this.gateways.create(name.trim(), scene, this.now());
    return { ok: true, id: gateway.id, key };
  }

  deleteGateway(id: string): Outcome<{}> {
    if (this.secrets === null) return FOLLOWER;
    return this.gateways.delete(id) ? { ok: true } : refuse(404, "NOT_FOUND", "no gateway with that id");
  }

  // ── licences and the access log (§5) ──────────────────────────────────────

  #subjectOf(kindRaw: string, idNumber: string): Outcome<{ kind: KindName; normalised: string; subject: string }> {
    if (this.secrets === null) return FOLLOWER;
    if (kindRaw !== "person" && kindRaw !== "enterprise") return refuse(400, "BAD_KIND", "kind must be person or enterprise");
    const id = checkIdNumber(kindRaw, idNumber);
    if (!id.ok) return refuse(400, "BAD_ID_NUMBER", id.reason);
    const subject = Buffer.from(subjectPseudonym(this.secrets.subjectSecret, kindRaw, id.normalised)).toString("hex");
    return { ok: true, kind: kindRaw, normalised: id.normalised, subject };
  }

  putLicence(kind: string, idNumber: string, type: string, fields: unknown): Outcome<{ subject: string; type: string; fields: Record<string, string> }> {
    const s = this.#subjectOf(kind, idNumber);
    if (!s.ok) return s;
    if (!isLicenceType(type)) return refuse(400, "BAD_LICENCE_TYPE", "unknown licence type (see DESIGN.md §5)");
    const c = checkLicence(type, s.kind, s.normalised, fields);
    if (!c.ok) return refuse(400, "BAD_LICENCE_FIELD", c.reason);
    this.db.putLicence(s.subject, type, c.fields, this.now());
    return { ok: true, subject: s.subject, type, fields: c.fields };
  }

  getLicence(kind: string, idNumber: string, type: string): Outcome<{ type: string; fields: Record<string, string>; updatedAt: number }> {
    const s = this.#subjectOf(kind, idNumber);
    if (!s.ok) return s;
    if (!isLicenceType(type)) return refuse(400, "BAD_LICENCE_TYPE", "unknown licence type (see DESIGN.md §5)");
    const l = this.db.getLicence(s.subject, type);
    if (!l) return refuse(404, "NOT_FOUND", "no licence of that type is linked to this subject");
    return { ok: true, type, ...l };
  }

  deleteLicence(kind: string, idNumber: string, type: string): Outcome<{}> {
    const s = this.#subjectOf(kind, idNumber);
    if (!s.ok) return s;
    if (!isLicenceType(type)) return refuse(400, "BAD_LICENCE_TYPE", "unknown licence type (see DESIGN.md §5)");
    if (!this.db.deleteLicence(s.subject, type)) return refuse(404, "NOT_FOUND", "no licence of that type is linked to this subject");
    return { ok: true };
  }

  accessLog(kind: string, idNumber: string, limitRaw?: string, offsetRaw?: string): Outcome<{ entries: { at: number; gateway: string; scene: string; licences: string[] }[] }> {
    const s = this.#subjectOf(kind, idNumber);
    if (!s.ok) return s;
    const limit = limitRaw ? Number(limitRaw) : 1000;
    const offset = offsetRaw ? Number(offsetRaw) : 0;
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000 || !Number.isInteger(offset) || offset < 0) {
      return refuse(400, "BAD_PAGE", "limit must be 1-10000 and offset a non-negative integer");
    }
    return { ok: true, entries: this.db.auditOf(s.subject, limit, offset) };
  }
}
