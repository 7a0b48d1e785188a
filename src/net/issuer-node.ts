/**
 * @module The follower's client of its issuer node (spec §4 `YUKUAI_FOLLOW`): the public trust, the
 * feed reads with the feed token, and whole licence-scene batches forwarded with the gateway's own key.
 */
import type { Packr } from "msgpackr";
import type { ScanResult } from "../verify/results.ts";
import { decodeStrict } from "../wire/msgpack.ts";

export class IssuerNodeClient {
  constructor(
    readonly url: string,
    private readonly timeoutMs: number,
    private readonly packr: Packr,
    private readonly fetchFn: typeof fetch = fetch,
  ) {}

  /** GET a JSON document; throws with the path and status when it is not 200. */
  async getJson(path: string, token: string | null): Promise<unknown> {
    const res = await this.fetchFn(`${this.url}${path}`, {
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), accept: "application/json" },
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
    return res.json();
  }

  /** A batch answered by the issuer node itself; null when it did not answer in time or answered wrongly. */
  async verifyBatch(scans: readonly unknown[], gatewayKey: string): Promise<ScanResult[] | null> {
    try {
      const res = await this.fetchFn(`${this.url}/v1/verify/batch`, {
        method: "POST",
        headers: { "content-type": "application/msgpack", accept: "application/msgpack", authorization: `Bearer ${gatewayKey}` },
        body: this.packr.pack({ scans }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (res.status !== 200) return null;
      const body = decodeStrict(new Uint8Array(await res.arrayBuffer())) as { results?: ScanResult[] };
      return Array.isArray(body.results) && body.results.length === scans.length ? body.results : null;
    } catch {
      return null;
    }
  }
}
