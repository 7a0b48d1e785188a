/**
 * @module The node's bearer tokens (spec §4): the admin token (`YUKUAI_ADMIN_TOKEN`, else the one kept in
 * the data dir, else a new one printed once) and the issuer node's feed token (`YUKUAI_FEED_TOKEN`); and the
 * brute-force guard: failed authentications counted per source and clock minute, 20 allowed.
 * Invariant: only SHA-256 digests of tokens are held, and they are compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { seconds, type Clock } from "./clock.ts";
import type { Config } from "./config.ts";

const digest = (token: string): Buffer => createHash("sha256").update(token).digest();

export class Tokens {
  readonly #admin: Buffer;
  readonly #feed: Buffer | null;

  /** A follower holds no feed token of its own: it presents the issuer node's. */
  constructor(config: Pick<Config, "adminToken" | "dataDir" | "feedToken" | "follow">, log: (line: string) => void) {
    this.#admin = digest(config.adminToken ?? Tokens.#stored(config.dataDir, log));
    this.#feed = config.feedToken && !config.follow ? digest(config.feedToken) : null;
  }

  static #stored(dataDir: string, log: (line: string) => void): string {
    const path = join(dataDir, "admin-token");
    if (existsSync(path)) return readFileSync(path, "utf8").trim();
    const token = "yka_" + randomBytes(32).toString("base64url");
    writeFileSync(path, token + "\n", { mode: 0o600, flag: "wx" });
    log(`admin token (printed once; also stored in ${path}): ${token}`);
    return token;
  }

  isAdmin(token: string): boolean {
    return timingSafeEqual(digest(token), this.#admin);
  }

  /** The feed token reads `GET /v1/revocations` and `GET /v1/gateways`, nothing else. */
  isFeedReader(token: string): boolean {
    return this.#feed !== null && timingSafeEqual(digest(token), this.#feed);
  }
}

/** §4: failures a source may make in one clock minute. */
export const AUTH_FAILURES_PER_MINUTE = 20;
/** Sources counted per minute; past this, new sources are not counted (tokens are 256-bit random: counting bounds guessing, it does not make it possible). */
const MAX_SOURCES = 1 << 16;

/** Failed authentications per source in the current clock minute. */
export class AuthThrottle {
  #minute = -1;
  readonly #failures = new Map<string, number>();

  constructor(private readonly clock: Clock, private readonly limit = AUTH_FAILURES_PER_MINUTE) {}

  #roll(): number {
    const now = seconds(this.clock);
    const minute = Math.floor(now / 60);
    if (minute !== this.#minute) {
      this.#minute = minute;
      this.#failures.clear();
    }
    return now;
  }

  /** Seconds until the source may try again, or 0 when it may now. */
  retryAfter(source: string): number {
    const now = this.#roll();
    return (this.#failures.get(source) ?? 0) >= this.limit ? 60 - (now % 60) : 0;
  }

  fail(source: string): void {
    this.#roll();
    const n = this.#failures.get(source);
    if (n !== undefined) this.#failures.set(source, n + 1);
    else if (this.#failures.size < MAX_SOURCES) this.#failures.set(source, 1);
  }
}
