/**
 * @module Cross-region routing (路由转发, spec §6), the outbound side: scans of issuers this node holds no key for go to
 * the configured upstream node, one sub-batch per upstream, answers merged in order. An upstream that has
 * not answered in time costs its scans UPSTREAM_UNAVAILABLE, never the batch.
 */
import type { Upstream } from "../config.ts";
import { BARE, RESULT_CODES, type ScanResult } from "../verify/results.ts";

export interface RoutedScan {
  issuer: number;
  /** The scan's serial (hex): an upstream's answer must be about this credential. */
  serial: string;
  scan: string | { code: string; at: number };
}

/**
 * An upstream's answer for `s`: a known result code about the scan's own credential — an `OK` must name the
 * routed issuer and the scan's serial (§4 result shape); any other result may omit them, never contradict them.
 */
function isResultFor(r: unknown, s: RoutedScan): r is ScanResult {
  if (typeof r !== "object" || r === null) return false;
  const x = r as ScanResult;
  if (!(RESULT_CODES as readonly string[]).includes(x.result)) return false;
  if (x.result === "OK") return x.issuer === s.issuer && x.serial === s.serial;
  return (x.issuer === undefined || x.issuer === s.issuer) && (x.serial === undefined || x.serial === s.serial);
}

export class Upstreams {
  constructor(
    private readonly upstreams: ReadonlyMap<number, Upstream>,
    private readonly timeoutMs: number,
    private readonly fetchFn: typeof fetch = fetch,
  ) {}

  routes(issuer: number): boolean {
    return this.upstreams.has(issuer);
  }

  /** One sub-batch per upstream, concurrently; results in the order of `scans`. */
  async forward(scans: readonly RoutedScan[]): Promise<ScanResult[]> {
    const out: ScanResult[] = new Array(scans.length).fill(BARE.UPSTREAM_UNAVAILABLE);
    const groups = new Map<number, number[]>();
    scans.forEach((s, i) => {
      const g = groups.get(s.issuer);
      if (g) g.push(i);
      else groups.set(s.issuer, [i]);
    });
    await Promise.all([...groups].map(async ([issuer, idx]) => {
      const up = this.upstreams.get(issuer)!;
      try {
        const res = await this.fetchFn(`${up.url}/v1/verify/batch`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${up.key}` },
          body: JSON.stringify({ scans: idx.map((i) => scans[i]!.scan) }),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        if (res.status !== 200) return;
        const body = (await res.json()) as { results?: unknown[] };
        if (!Array.isArray(body.results) || body.results.length !== idx.length) return;
        idx.forEach((i, k) => {
          const r = body.results![k];
          if (isResultFor(r, scans[i]!)) out[i] = r;
        });
      } catch {
        // timeout, refused connection or a broken answer: UPSTREAM_UNAVAILABLE for this sub-batch
      }
    }));
    return out;
  }
}
