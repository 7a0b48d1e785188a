/** The little of autocannon and base45 (untyped packages) the bench uses. */
declare module "autocannon" {
  namespace autocannon {
    interface Histogram { average: number; p50: number; p90: number; p99: number; max: number }
    interface Result {
      requests: Histogram & { total: number };
      latency: Histogram;
      non2xx: number;
      errors: number;
      timeouts: number;
    }
    interface Instance { on(event: "response", f: (...args: unknown[]) => void): void }
  }
  function autocannon(opts: Record<string, unknown>, cb: (err: Error | null, result: autocannon.Result) => void): autocannon.Instance;
  export default autocannon;
}

declare module "base45" {
  export function decode(text: string): Uint8Array;
  export function encode(bytes: Uint8Array): string;
}
