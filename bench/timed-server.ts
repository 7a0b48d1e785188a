/**
 * @module The server under test, instrumented for "where the time goes" (bench/ratio.ts): the same app
 * and start-up as `src/main.ts` (`compose`, `serveOptions`), with the signature verifier's calls and the
 * request handler timed (Bun.nanoseconds). `GET /bench-stats` answers the running totals; nothing else differs.
 */
import { createApp } from "../src/app.ts";
import { compose } from "../src/compose.ts";
import { loadConfig } from "../src/config.ts";
import type { DeviceKeys } from "../src/crypto/batch.ts";
import { chooseVerifier } from "../src/crypto/native.ts";
import { sharedStoresOf, serveOptions } from "../src/main.ts";
import { ForwardingVerifier } from "../test/support/verifiers.ts";

const stats = { handlerNs: 0, signatureNs: 0, signatures: 0, requests: 0 };

/** The node's verifier, its coalesced calls timed: the checks of concurrent requests are timed once. */
class TimedVerifier extends ForwardingVerifier {
  override verifyScans(codes: Uint8Array, keys: Uint8Array, slot: Int32Array, out: Uint8Array, device?: DeviceKeys): void {
    const t = Bun.nanoseconds();
    super.verifyScans(codes, keys, slot, out, device);
    stats.signatureNs += Bun.nanoseconds() - t;
    for (const s of slot) stats.signatures += s < 0 ? 1 : 2;
  }
}

const config = loadConfig();
const node = compose(config, { batchVerifier: new TimedVerifier(chooseVerifier(config.verifier).verifier), ...(await sharedStoresOf(config)) });
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
