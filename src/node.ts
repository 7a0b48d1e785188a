/**
 * @module A Yukuai node: the stores, the trust list and the pipeline wired together, and the domain
 * operations the routes call (issuance, revocation, gateways, licences, audit). No HTTP here.
 */
import { randomBytes, timingSafeEqual, createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "./config.ts";
import { seconds, type Clock } from "./clock.ts";
import { checkDevicePublicKey, sign } from "./crypto/ed25519.ts";
import { ISSUER_NAMES, loadOrCreateIssuerSecrets, TrustStore, type IssuerSecrets } from "./crypto/keys.ts";
import { checkIdNumber, subjectPseudonym } from "./identity.ts";
import { checkLicence } from "./licences.ts";
import { Metrics } from "./metrics.ts";
import { isLicenceType, loadCatalogue, type Scene, type SceneCatalogue } from "./scenes.ts";
import { Db, type RevocationEntry, type RevocationType } from "./state/db.ts";
import { Gateways, type Gateway } from "./state/gateways.ts";
import { normaliseRevocationValue, Revocations, REVOCATION_TYPES } from "./state/revocations.ts";
import { CredentialCache } from "./verify/credential-cache.ts";
import { Pipeline, type BatchOutcome } from "./verify/pipeline.ts";
import { MemoryReplayWindow, type ReplayStore } from "./verify/replay-window.ts";
import { Router } from "./verify/router.ts";
import { Follower } from "./state/follow.ts";
import { packr } from "./wire/msgpack.ts";
import { PoolChecker } from "./verify/pool.ts";
import { LagMonitor } from "./verify/lag.ts";
import { InlineChecker, type SignatureChecker } from "./verify/signatures.ts";
import { credentialMessage, encodeCredentialBody, FLAG_MASK, KIND_PERSON, KIND_ENTERPRISE, type KindName } from "./wire/code.ts";

/** A refused request: the routes turn it into `{"error": {code, message}}` with `status`. */
export interface Refusal {
  ok: false;
  status: 400 | 403 | 404 | 409 | 503;
  code: string;
  message: string;
}
export type Outcome<T> = ({ ok: true } & T) | Refusal;

const refuse = (status: Refusal["status"], code: string, message: string): Refusal => ({ ok: false, status, code, message });
const FOLLOWER = refuse(403, "FOLLOWER", "this node follows an issuer node (YUKUAI_FOLLOW): issuance, revocations, gateways and licences are managed there");

/** §3: replay state lives 300 s of `at` + window + 2 × skew (380 s by default) after its last acceptance. */
export function replayRetention(config: Pick<Config, "atMaxAgeSeconds" | "windowSeconds" | "skewSeconds">): number {
  return config.atMaxAgeSeconds + config.windowSeconds + 2 * config.skewSeconds;
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
  readonly trust = new TrustStore();
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
  /** The issuer key and subject secret; null on a follower, which issues nothing. */
  readonly secrets: IssuerSecrets | null;
  readonly follower: Follower | null;
  readonly startSecond: number;
  readonly #adminTokenHash: Buffer;

  constructor(opts: NodeOptions) {
    const { config, clock } = opts;
    const log = opts.log ?? ((l: string) => console.log(l));
    this.config = config;
    this.clock = clock;
    this.startSecond = seconds(clock);
    mkdirSync(config.dataDir, { recursive: true });
    this.db = new Db(join(config.dataDir, "yukuai.db"));
    if (config.follow) {
      // a follower's trust list, gateways and revocations all come from the issuer node
      if (!config.adminToken) throw new Error("YUKUAI_FOLLOW needs YUKUAI_ADMIN_TOKEN: the issuer node's admin token");
      this.secrets = null;
    } else {
      this.secrets = loadOrCreateIssuerSecrets(config.dataDir, config.issuer, this.startSecond);
      if (this.secrets.created) log(`issuer ${config.issuer}: made a new issuer key (kid ${this.secrets.kid}) and subject secret in ${config.dataDir}`);
      this.trust.add(config.issuer, ISSUER_NAMES[config.issuer] ?? String(config.issuer), [
        { kid: this.secrets.kid, raw: this.secrets.publicKey, notBefore: this.secrets.createdAt, notAfter: 0xffffffff },
      ]);
      this.trust.loadDir(config.keysDir);
    }
    this.#adminTokenHash = createHash("sha256").update(this.#adminToken(log)).digest();
    this.revocations = new Revocations(this.db);
    this.gateways = new Gateways(this.db);
    if (config.follow) {
      this.follower = new Follower({
        url: config.follow, adminToken: config.adminToken!, intervalMs: config.followIntervalMs, maxLagSeconds: config.followMaxLagSeconds,
        timeoutMs: config.upstreamTimeoutMs, trust: this.trust, gateways: this.gateways, revocations: this.revocations,
        clock, packr, fetchFn: opts.fetchFn, log,
      });
    } else {
      this.follower = null;
      this.revocations.syncedAt = this.startSecond;
    }
    this.scenes = loadCatalogue(config.issuer, config.scenesFile);
    this.cache = new CredentialCache(config.credentialCacheSize);
    const retention = replayRetention(config);
    this.replay = opts.replay ?? new MemoryReplayWindow(config.replayCapacity, retention, this.startSecond);
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

  isAdmin(token: string): boolean {
    return timingSafeEqual(createHash("sha256").update(token).digest(), this.#adminTokenHash);
  }

  now(): number {
    return seconds(this.clock);
  }

  close(): void {
    this.follower?.stop();
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

  revocationStatus(): { seq: number; syncedAt: number } {
    return { seq: this.revocations.seq, syncedAt: this.revocations.syncedAt };
  }

  async ready(): Promise<{ ok: boolean; checks: Record<string, boolean> }> {
    const replay = await this.replay.ready(this.now());
    this.metrics.replayFull.set(replay ? 0 : 1);
    if (this.follower === null) return { ok: replay, checks: { replay } };
    const follow = this.follower.ready();
    return { ok: replay && follow, checks: { replay, follow } };
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
    const secrets = this.secrets;
    if (secrets === null) return FOLLOWER;
    const { kind, idNumber, devicePublicKey, validDays, flags } = body;
    if (kind !== "person" && kind !== "enterprise") return refuse(400, "BAD_KIND", "kind must be \"person\" or \"enterprise\"");
    if (typeof idNumber !== "string") return refuse(400, "BAD_ID_NUMBER", "idNumber must be a string");
    const id = checkIdNumber(kind, idNumber);
    if (!id.ok) return refuse(400, "BAD_ID_NUMBER", id.reason);
    if (typeof devicePublicKey !== "string" || !/^[A-Za-z0-9_-]{43}=?$/.test(devicePublicKey)) {
      return refuse(400, "BAD_DEVICE_KEY", "devicePublicKey must be the 32-byte Ed25519 public key in base64url");
    }
    const device = new Uint8Array(Buffer.from(devicePublicKey, "base64url"));
    const why = checkDevicePublicKey(device);
    if (why) return refuse(400, "BAD_DEVICE_KEY", why);
    const days = validDays ?? this.config.defaultValidDays;
    if (typeof days !== "number" || !Number.isInteger(days) || days < 1 || days > 3650) {
      return refuse(400, "BAD_VALID_DAYS", "validDays must be an integer from 1 to 3650");
    }
    const f = flags ?? 0;
    if (typeof f !== "number" || !Number.isInteger(f) || f < 0 || (f & ~FLAG_MASK) !== 0) {
      return refuse(400, "BAD_FLAGS", `flags must be an integer bitmask of §2 bits 0-4 (0 to ${FLAG_MASK})`);
    }
    const now = this.now();
    const subject = subjectPseudonym(secrets.subjectSecret, kind, id.normalised);
    const notAfter = now + days * 86400;
    for (let attempt = 0; ; attempt++) {
      const serial = new Uint8Array(randomBytes(8));
      const body74 = encodeCredentialBody({
        kind: kind === "person" ? KIND_PERSON : KIND_ENTERPRISE, issuer: this.config.issuer, kid: secrets.kid,
        serial, subject, devicePub: device, notBefore: now, notAfter, flags: f,
      });
      const credential = new Uint8Array(138);
      credential.set(body74, 0);
      credential.set(sign(secrets.privateKey, credentialMessage(body74)), 74);
      const serialHex = Buffer.from(serial).toString("hex");
      try {
        this.db.insertCredential({
          serial: serialHex, kind: credential[1]!, subject: Buffer.from(subject).toString("hex"),
          devicePub: Buffer.from(device).toString("hex"), issuer: this.config.issuer, kid: secrets.kid,
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

  revocationsSince(sinceRaw: string | undefined): Outcome<{ entries: RevocationEntry[]; next: number }> {
    const since = sinceRaw === undefined || sinceRaw === "" ? 0 : Number(sinceRaw);
    if (!Number.isInteger(since) || since < 0) return refuse(400, "BAD_SINCE", "since must be a non-negative integer");
    const entries = this.db.revocationsSince(since, 10_000);
    return { ok: true, entries, next: entries.length ? entries[entries.length - 1]!.seq : since };
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
