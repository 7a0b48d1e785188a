/**
 * @module The server under test, instrumented for "where the time goes" (bench/ratio.ts): the same app
 * and start-up as `src/main.ts` (`compose`, `serveOptions`), with the signature checks and the request handler timed
 * (Bun.nanoseconds). `GET /bench-stats` answers the running totals; nothing else differs.
 */
import { createApp } from "../src/app.ts";
import { compose } from "../src/compose.ts";
import { loadConfig } from "../src/config.ts";
import { sharedStoresOf, serveOptions } from "../src/main.ts";
import { InlineChecker, type SigJob, type SignatureChecker } from "../src/verify/signatures.ts";

const stats = { handlerNs: 0, signatureNs: 0, signatures: 0, requests: 0 };

class TimedChecker implements SignatureChecker {
  readonly #inner = new InlineChecker();
  async check(jobs: readonly SigJob[]): Promise<Uint8Array> {
    const t = Bun.nanoseconds();
    const out = await this.#inner.check(jobs);
    stats.signatureNs += Bun.nanoseconds() - t;
    for (const j of jobs) stats.signatures += j.issuerKey === null ? 1 : 2;
    return out;
  }
}

const config = loadConfig();
const node = compose(config, { checker: new TimedChecker(), ...(await sharedStoresOf(config)) });
const app = createApp(node);
await node.start();
Bun.serve(serveOptions(node, async (req, srv) => {
  if (new URL(req.url).pathname === "/bench-stats") return Response.json(stats);
  const t = Bun.nanoseconds();
  const res = await app.fetch(req, { server: srv });
  stats.handlerNs += Bun.nanoseconds() - t;
  stats.requests++;
  return res;
}));
process.on("SIGTERM", () => { node.close(); process.exit(0); });
