/**
 * @module Start-up: config → node → app → Bun.serve; SIGTERM/SIGINT drain in-flight requests, then stop.
 */
import { createApp } from "./app.ts";
import { systemClock } from "./clock.ts";
import { loadConfig, type Config } from "./config.ts";
import { YukuaiNode } from "./node.ts";

export async function start(config: Config) {
  if (config.redisUrl) throw new Error("YUKUAI_REDIS_URL: the shared Redis replay store is not in this build yet; unset it to run with in-memory replay state");
  if (config.follow) throw new Error("YUKUAI_FOLLOW: follower mode is not in this build yet; unset it to run as an issuer node");
  const node = new YukuaiNode({ config, clock: systemClock });
  const app = createApp(node);
  const server = Bun.serve({
    port: config.port,
    hostname: config.hostname,
    // a little over the limit so the app, not the server, answers 413 with the §4 error body
    maxRequestBodySize: config.maxBodyBytes + 65536,
    fetch: (req, srv) => app.fetch(req, { server: srv }),
  });
  console.log(`yukuai: issuer ${config.issuer} listening on http://${server.hostname}:${server.port} (data ${config.dataDir})`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`yukuai: ${signal}: draining`);
    await server.stop(false);
    node.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  return { server, node };
}

if (import.meta.main) {
  try {
    await start(loadConfig());
  } catch (e) {
    console.error(`yukuai: cannot start: ${(e as Error).message}`);
    process.exit(1);
  }
}
