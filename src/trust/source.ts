/**
 * @module Where the trust list comes from (spec §7): `YUKUAI_TRUST_LIST`, a file path or an http(s)
 * URL, read at start and every `YUKUAI_TRUST_REFRESH_S`. A list is taken only when `verifyTrustList`
 * accepts it (anchors, no rollback, issued, not expired); a refused or unreachable list never replaces the
 * list in force, and the reason is logged and counted. The last taken list is kept in the data dir
 * (`trust-list.jws`), so a restart needs no network and a rollback is refused across restarts too.
 * Past the list's nextUpdate with no newer list, its issuers stop verifying (TrustStore `until`) and the
 * node is not ready (`trust: false`).
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { seconds, type Clock } from "../clock.ts";
import { fetchText } from "../net/fetch-text.ts";
import { verifyTrustList, type TrustList, type TrustListRefusal } from "./list.ts";
import { issuersFromJson, type TrustStore } from "./store.ts";

/** Largest list body read (a national list of a few hundred issuers is far below it). */
const MAX_LIST_BYTES = 4 << 20;

export interface TrustListSourceDeps {
  /** File path or http(s) URL. */
  location: string;
  anchors: readonly Uint8Array[];
  dataDir: string;
  skewSeconds: number;
  timeoutMs: number;
  clock: Clock;
  trust: TrustStore;
  onRefusal: (reason: TrustListRefusal) => void;
  onTaken?: (list: TrustList) => void;
  fetchFn?: typeof fetch;
  log: (line: string) => void;
}

export class TrustListSource {
  readonly #d: TrustListSourceDeps;
  readonly #saved: string;
  #current: TrustList | null = null;
  #currentJws = "";
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(d: TrustListSourceDeps) {
    this.#d = d;
    this.#saved = join(d.dataDir, "trust-list.jws");
  }

  /** The list in force (possibly past its nextUpdate), or null when none was ever taken. */
  get current(): TrustList | null {
    return this.#current;
  }

  /** True while a list is in force and now ≤ its nextUpdate (readiness, §7). */
  fresh(now: number): boolean {
    return this.#current !== null && now <= this.#current.nextUpdate;
  }

  /** Takes the saved list (if any), then reads the configured one. */
  async start(): Promise<void> {
    if (existsSync(this.#saved)) {
      // the saved list sets the version floor even when it has expired since (its issuers then verify nothing)
      const jws = readFileSync(this.#saved, "utf8").trim();
      const r = await verifyTrustList(jws, this.#d.anchors, { now: seconds(this.#d.clock), skewSeconds: this.#d.skewSeconds, currentVersion: null });
      if (r.ok) this.#take(r.list, jws, false);
      // "expired" comes after the signature, shape and key checks held: keep it as the (stale) list in force
      else if (r.reason === "expired") this.#take(JSON.parse(Buffer.from(jws.split(".")[1]!, "base64url").toString("utf8")) as TrustList, jws, false);
      else this.#refuse(r.reason, `the saved list ${this.#saved}: ${r.message}`);
    }
    await this.refresh();
  }

  /** Re-reads every `seconds` (§7 default 300). */
  every(intervalSeconds: number): void {
    this.#timer = setInterval(() => void this.refresh(), intervalSeconds * 1000);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  /** One read of the configured list; true when it is now the list in force. */
  async refresh(): Promise<boolean> {
    let jws: string;
    try {
      jws = await this.#read();
    } catch (e) {
      this.#refuse("unreachable", `${this.#d.location}: ${(e as Error).message}`);
      return false;
    }
    if (jws === this.#currentJws) return this.fresh(seconds(this.#d.clock)) || this.#expired();
    const r = await verifyTrustList(jws, this.#d.anchors, {
      now: seconds(this.#d.clock), skewSeconds: this.#d.skewSeconds, currentVersion: this.#current?.version ?? null,
    });
    if (!r.ok) {
      this.#refuse(r.reason, `${this.#d.location}: ${r.message}`);
      return false;
    }
    this.#take(r.list, jws, true);
    return true;
  }

  /** Same list again, now past nextUpdate: counted as a refusal so a stale authority is visible. */
  #expired(): boolean {
    this.#refuse("expired", `${this.#d.location}: version ${this.#current!.version} passed its nextUpdate and no newer list is published`);
    return false;
  }

  #take(list: TrustList, jws: string, save: boolean): void {
    const changed = this.#current?.version !== list.version || this.#currentJws !== jws;
    this.#current = list;
    this.#currentJws = jws;
    this.#d.trust.set("list", issuersFromJson(list.issuers, list.nextUpdate));
    if (save) {
      const tmp = `${this.#saved}.tmp-${process.pid}`;
      writeFileSync(tmp, jws + "\n", { mode: 0o600 });
      renameSync(tmp, this.#saved);
    }
    this.#d.onTaken?.(list);
    if (changed) {
      this.#d.log(`trust: took list version ${list.version} (${list.issuers.length} issuers, next update ${new Date(list.nextUpdate * 1000).toISOString()})`);
    }
  }

  #refuse(reason: TrustListRefusal, message: string): void {
    this.#d.onRefusal(reason);
    this.#d.log(`trust: refused a trust list (${reason}): ${message}; the list in force is ${this.#current ? `version ${this.#current.version}` : "none"}`);
  }

  async #read(): Promise<string> {
    const loc = this.#d.location;
    if (!/^https?:\/\//i.test(loc)) {
      const text = readFileSync(loc, "utf8");
      if (text.length > MAX_LIST_BYTES) throw new Error(`larger than ${MAX_LIST_BYTES} bytes`);
      return text.trim();
    }
    const text = await fetchText(loc, { timeoutMs: this.#d.timeoutMs, maxBytes: MAX_LIST_BYTES, accept: "application/jose", fetchFn: this.#d.fetchFn });
    return text.trim();
  }
}
