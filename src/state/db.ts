/**
 * @module All SQL (spec §6: issuance, revocations, gateways, licences and the audit log in SQLite,
 * WAL). Statements are prepared once, in the constructor. The database and its WAL are mode 0600: they hold
 * personal data (§6); SQLite gives the WAL and shared-memory files the database file's mode.
 */
import { Database, type Statement } from "bun:sqlite";
import { chmodSync, existsSync, writeFileSync } from "node:fs";

export interface CredentialRow {
  serial: string;
  kind: number;
  subject: string;
  devicePub: string;
  issuer: number;
  kid: number;
  notBefore: number;
  notAfter: number;
  flags: number;
  issuedAt: number;
  credential: Uint8Array;
}

export type RevocationType = "credential" | "subject" | "device" | "key";

export interface RevocationEntry {
  seq: number;
  type: RevocationType;
  value: string;
  at: number;
  reason: string | null;
}

export interface GatewayRow {
  id: string;
  name: string;
  scene: string;
  keyHash: string;
}

export interface LicenceRow {
  subject: string;
  type: string;
  fields: Record<string, string>;
  updatedAt: number;
}

export interface AuditEntry {
  at: number;
  gateway: string;
  scene: string;
  subject: string;
  licences: string[];
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS credentials (
  serial TEXT PRIMARY KEY, kind INTEGER NOT NULL, subject TEXT NOT NULL, device_pub TEXT NOT NULL,
  issuer INTEGER NOT NULL, kid INTEGER NOT NULL, not_before INTEGER NOT NULL, not_after INTEGER NOT NULL,
  flags INTEGER NOT NULL, issued_at INTEGER NOT NULL, credential BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS credentials_subject ON credentials(subject);
CREATE TABLE IF NOT EXISTS revocations (
  seq INTEGER PRIMARY KEY, type TEXT NOT NULL, value TEXT NOT NULL, at INTEGER NOT NULL, reason TEXT
);
CREATE TABLE IF NOT EXISTS gateways (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, scene TEXT NOT NULL, key_hash TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS licences (
  subject TEXT NOT NULL, type TEXT NOT NULL, fields TEXT NOT NULL, updated_at INTEGER NOT NULL,
  PRIMARY KEY (subject, type)
);
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY, at INTEGER NOT NULL, gateway TEXT NOT NULL, scene TEXT NOT NULL,
  subject TEXT NOT NULL, licences TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_subject ON audit(subject, id);
`;

export class Db {
  readonly #db: Database;
  readonly #insertCredential: Statement;
  readonly #insertRevocation: Statement;
  readonly #insertRevocationAt: Statement;
  readonly #revocationsSince: Statement;
  readonly #allRevocations: Statement;
  readonly #insertGateway: Statement;
  readonly #upsertGateway: Statement;
  readonly #allGateways: Statement;
  readonly #deleteGateway: Statement;
  readonly #lastRevocation: Statement;
  readonly #putLicence: Statement;
  readonly #getLicence: Statement;
  readonly #deleteLicence: Statement;
  readonly #licencesOf: Statement;
  readonly #insertAudit: Statement;
  readonly #auditOf: Statement;
  readonly #credentialsOfSubject: Statement;

  /** `path` ":memory:" for tests. */
  constructor(path: string) {
    if (path !== ":memory:") {
      if (!existsSync(path)) writeFileSync(path, "", { mode: 0o600, flag: "wx" });
      for (const f of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
    }
    this.#db = new Database(path, { create: true, strict: true });
    // synchronous = FULL: every commit is on disk before it is acknowledged (a 2xx revocation survives power
    // loss; NORMAL in WAL mode may lose the last commits then). About 200 µs a commit here against 10 µs.
    this.#db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;");
    this.#db.exec(SCHEMA);
    const q = (sql: string) => this.#db.prepare(sql);
    this.#insertCredential = q(`INSERT INTO credentials (serial, kind, subject, device_pub, issuer, kid, not_before,
      not_after, flags, issued_at, credential) VALUES ($serial, $kind, $subject, $devicePub, $issuer, $kid,
      $notBefore, $notAfter, $flags, $issuedAt, $credential)`);
    this.#credentialsOfSubject = q(`SELECT serial FROM credentials WHERE subject = ? ORDER BY issued_at`);
    this.#insertRevocation = q(`INSERT INTO revocations (type, value, at, reason) VALUES (?, ?, ?, ?) RETURNING seq`);
    this.#insertRevocationAt = q(`INSERT OR IGNORE INTO revocations (seq, type, value, at, reason) VALUES (?, ?, ?, ?, ?)`);
    this.#revocationsSince = q(`SELECT seq, type, value, at, reason FROM revocations WHERE seq > ? ORDER BY seq LIMIT ?`);
    this.#allRevocations = q(`SELECT seq, type, value, at, reason FROM revocations ORDER BY seq`);
    this.#insertGateway = q(`INSERT INTO gateways (id, name, scene, key_hash, created_at) VALUES (?, ?, ?, ?, ?)`);
    this.#upsertGateway = q(`INSERT INTO gateways (id, name, scene, key_hash, created_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT(id) DO UPDATE SET name = excluded.name, scene = excluded.scene, key_hash = excluded.key_hash`);
    this.#allGateways = q(`SELECT id, name, scene, key_hash AS keyHash FROM gateways ORDER BY created_at, id`);
    this.#deleteGateway = q(`DELETE FROM gateways WHERE id = ?`);
    this.#lastRevocation = q(`SELECT COALESCE(MAX(seq), 0) AS last FROM revocations`);
    this.#putLicence = q(`INSERT INTO licences (subject, type, fields, updated_at) VALUES (?, ?, ?, ?)
      ON CONFLICT(subject, type) DO UPDATE SET fields = excluded.fields, updated_at = excluded.updated_at`);
    this.#getLicence = q(`SELECT fields, updated_at AS updatedAt FROM licences WHERE subject = ? AND type = ?`);
    this.#deleteLicence = q(`DELETE FROM licences WHERE subject = ? AND type = ?`);
    this.#licencesOf = q(`SELECT type, fields FROM licences WHERE subject = ?`);
    this.#insertAudit = q(`INSERT INTO audit (at, gateway, scene, subject, licences) VALUES (?, ?, ?, ?, ?)`);
    this.#auditOf = q(`SELECT at, gateway, scene, licences FROM audit WHERE subject = ? ORDER BY id LIMIT ? OFFSET ?`);
  }

  close(): void {
    this.#db.close();
  }

  insertCredential(r: CredentialRow): void {
    this.#insertCredential.run(r as unknown as Record<string, string | number | Uint8Array>);
  }

  serialsOfSubject(subject: string): string[] {
    return (this.#credentialsOfSubject.all(subject) as { serial: string }[]).map((r) => r.serial);
  }

  /** Appends a revocation; seq is 1, 2, 3… in the order entries were made. */
  addRevocation(type: RevocationType, value: string, at: number, reason: string | null): number {
    return (this.#insertRevocation.get(type, value, at, reason) as { seq: number }).seq;
  }

  /** A follower's copy of an issuer's entry, keeping the issuer's seq. */
  copyRevocation(e: RevocationEntry): void {
    this.#insertRevocationAt.run(e.seq, e.type, e.value, e.at, e.reason);
  }

  revocationsSince(since: number, limit: number): RevocationEntry[] {
    return this.#revocationsSince.all(since, limit) as RevocationEntry[];
  }

  /** The highest seq held (0 when none): a follower compares it with what it applied (§4 `last`). */
  lastRevocationSeq(): number {
    return (this.#lastRevocation.get() as { last: number }).last;
  }

  allRevocations(): RevocationEntry[] {
    return this.#allRevocations.all() as RevocationEntry[];
  }

  insertGateway(g: GatewayRow, createdAt: number): void {
    this.#insertGateway.run(g.id, g.name, g.scene, g.keyHash, createdAt);
  }

  deleteGateway(id: string): boolean {
    return this.#deleteGateway.run(id).changes > 0;
  }

  /** A follower taking the issuer node's whole list, in one transaction. */
  readonly replaceGateways = (list: readonly GatewayRow[], createdAt: number): void => {
    this.#db.transaction((gs: readonly GatewayRow[]) => {
      const keep = new Set(gs.map((g) => g.id));
      for (const g of this.allGateways()) if (!keep.has(g.id)) this.#deleteGateway.run(g.id);
      for (const g of gs) this.#upsertGateway.run(g.id, g.name, g.scene, g.keyHash, createdAt);
    })(list);
  };

  allGateways(): GatewayRow[] {
    return this.#allGateways.all() as GatewayRow[];
  }

  putLicence(subject: string, type: string, fields: Record<string, string>, at: number): void {
    this.#putLicence.run(subject, type, JSON.stringify(fields), at);
  }

  getLicence(subject: string, type: string): { fields: Record<string, string>; updatedAt: number } | null {
    const r = this.#getLicence.get(subject, type) as { fields: string; updatedAt: number } | null;
    return r ? { fields: JSON.parse(r.fields), updatedAt: r.updatedAt } : null;
  }

  deleteLicence(subject: string, type: string): boolean {
    return this.#deleteLicence.run(subject, type).changes > 0;
  }

  licencesOf(subject: string): Map<string, Record<string, string>> {
    const out = new Map<string, Record<string, string>>();
    for (const r of this.#licencesOf.all(subject) as { type: string; fields: string }[]) out.set(r.type, JSON.parse(r.fields));
    return out;
  }

  /** Writes a batch's releases in one transaction. */
  readonly appendAudit = (entries: AuditEntry[]): void => {
    this.#db.transaction((es: AuditEntry[]) => {
      for (const e of es) this.#insertAudit.run(e.at, e.gateway, e.scene, e.subject, JSON.stringify(e.licences));
    })(entries);
  };

  auditOf(subject: string, limit: number, offset: number): { at: number; gateway: string; scene: string; licences: string[] }[] {
    return (this.#auditOf.all(subject, limit, offset) as { at: number; gateway: string; scene: string; licences: string }[])
      .map((r) => ({ at: r.at, gateway: r.gateway, scene: r.scene, licences: JSON.parse(r.licences) }));
  }
}
