/**
 * @module The server under test with the pool's thresholds set from the command line, for measuring
 * them (bench/http.ts "pool threshold"): `bun bench/pool-server.ts <inlineBelow> <minChunk>`, with the
 * usual environment (PORT, YUKUAI_*). Otherwise it is `src/main.ts`'s start-up.
 */
import { createApp } from "../src/app.ts";
import { systemClock } from "../src/clock.ts";
import { loadConfig } from "../src/config.ts";
import { YukuaiNode } from "../src/node.ts";
import { streamWebSocket } from "../src/routes/stream.ts";
import { PoolChecker } from "../src/verify/pool.ts";
import { InlineChecker } from "../src/verify/signatures.ts";

const config = loadConfig();
const [inlineBelow, minChunk] = process.argv.slice(2).map(Number);
const checker = config.workers > 0 ? new PoolChecker({ workers: config.workers, inlineBelow, minChunk }) : new InlineChecker();
const node = new YukuaiNode({ config, clock: systemClock, checker });
const app = createApp(node);
Bun.serve({
  port: config.port, hostname: config.hostname, maxRequestBodySize: config.maxBodyBytes + 65536,
  fetch: (req, srv) => app.fetch(req, { server: srv }), websocket: streamWebSocket(config.maxBodyBytes),
});
process.on("SIGTERM", () => { node.close(); process.exit(0); });
