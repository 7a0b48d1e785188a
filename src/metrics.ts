/**
 * @module Prometheus metrics (prom-client). Counted per batch, not per scan; no personal data in labels.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { RESULT_CODES, type ScanResult } from "./verify/results.ts";

export class Metrics {
  readonly registry = new Registry();
  readonly scans = new Counter({ name: "yukuai_scans_total", help: "Scans verified, by result", labelNames: ["result"], registers: [this.registry] });
  readonly batches = new Counter({ name: "yukuai_batches_total", help: "Verification batches answered, by transport", labelNames: ["transport"], registers: [this.registry] });
  readonly refusals = new Counter({ name: "yukuai_batch_refusals_total", help: "Batches refused whole (503), by error code", labelNames: ["code"], registers: [this.registry] });
  readonly releases = new Counter({ name: "yukuai_licence_releases_total", help: "Licences released with consent, by type", labelNames: ["type"], registers: [this.registry] });
  readonly batchSeconds = new Histogram({
    name: "yukuai_batch_seconds", help: "Time to answer a verification batch", labelNames: ["transport"],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2], registers: [this.registry],
  });
  readonly replayHeld = new Gauge({ name: "yukuai_replay_serials", help: "Serials held in the replay window", registers: [this.registry] });
  readonly replayCapacity = new Gauge({ name: "yukuai_replay_capacity", help: "Serials the replay window may hold", registers: [this.registry] });
  readonly replayFull = new Gauge({ name: "yukuai_replay_full", help: "1 while the replay window refuses new serials", registers: [this.registry] });
  readonly cacheSize = new Gauge({ name: "yukuai_credential_cache_entries", help: "Verified credentials cached", registers: [this.registry] });
  readonly revocationSeq = new Gauge({ name: "yukuai_revocation_seq", help: "Last revocation entry applied", registers: [this.registry] });
  readonly revocationSyncedAt = new Gauge({ name: "yukuai_revocation_synced_at_seconds", help: "Unix time of the last revocation sync", registers: [this.registry] });
  readonly lagPeak = new Gauge({ name: "yukuai_event_loop_lag_peak_seconds", help: "Largest event-loop lateness (50 ms timer) since the previous scrape", registers: [this.registry] });
  readonly verifierInfo = new Gauge({ name: "yukuai_verifier_info", help: "The signature verifier this node runs (1 on its impl): native, or node:crypto", labelNames: ["impl"], registers: [this.registry] });
  readonly inflight = new Gauge({ name: "yukuai_inflight_scans", help: "Scans being verified", registers: [this.registry] });
  readonly trustRefusals = new Counter({ name: "yukuai_trust_list_refusals_total", help: "Trust lists not taken (spec §7), by reason", labelNames: ["reason"], registers: [this.registry] });
  readonly trustVersion = new Gauge({ name: "yukuai_trust_list_version", help: "Version of the trust list in force", registers: [this.registry] });
  readonly trustNextUpdate = new Gauge({ name: "yukuai_trust_list_next_update_seconds", help: "nextUpdate of the trust list in force (unix time): past it, its issuers stop verifying", registers: [this.registry] });
  readonly clientAborts = new Counter({ name: "yukuai_client_aborts_total", help: "Requests the client abandoned before they were read or answered (not a fault of the node)", registers: [this.registry] });
  readonly authFailures = new Counter({ name: "yukuai_auth_failures_total", help: "Requests refused for their token: refused (401) or throttled (429)", labelNames: ["outcome"], registers: [this.registry] });

  readonly #tally = new Int32Array(RESULT_CODES.length);
  readonly #index = new Map<string, number>(RESULT_CODES.map((c, i) => [c, i]));

  countResults(results: readonly ScanResult[]): void {
    const t = this.#tally;
    for (const r of results) t[this.#index.get(r.result)!]!++;
    for (let i = 0; i < t.length; i++) {
      if (t[i] !== 0) {
        this.scans.inc({ result: RESULT_CODES[i]! }, t[i]!);
        t[i] = 0;
      }
    }
    for (const r of results) if (r.licences) for (const type of Object.keys(r.licences)) this.releases.inc({ type });
  }
}
