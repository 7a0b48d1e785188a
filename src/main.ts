/**
 * @module Start-up: config → node → app → Bun.serve; SIGTERM/SIGINT drain in-flight requests, then stop.
 */
import { createApp } from "./app.ts";
import { systemClock } from "./clock.ts";
import { loadConfig, type Config } from "./config.ts";
import { YukuaiNode } from "./node.ts";
import { RedisReplayStore } from "./verify/redis-replay.ts";
import { replayRetention } from "./verify/replay-window.ts";
import { closeStreams, streamWebSocket } from "./routes/stream.ts";

export async function start(config: Config) {
  let replay: RedisReplayStore | undefined;
  if (config.redisUrl) {
    replay = new RedisReplayStore(config.redisUrl, replayRetention(config), 2 * config.skewSeconds);
    await replay.start().catch((e: Error) => {
      replay!.close();
      throw new Error(`YUKUAI_REDIS_URL: ${e.message}`);
    });
  }
  const node = new YukuaiNode({ config, clock: systemClock, replay });
  const app = createApp(node);
  await node.start();
  const server = Bun.serve({
    port: config.port,
    hostname: config.hostname,
    // a little over the limit so the app, not the server, answers 413 with the §4 error body
    maxRequestBodySize: config.maxBodyBytes + 65536,
    fetch: (req, srv) => app.fetch(req, { server: srv }),
    websocket: streamWebSocket(config.maxBodyBytes),
  });
  const trust = node.trust.toJson(node.now(), () => false).issuers.map((i) => i.issuer).join(", ");
  console.log(`yukuai: issuer ${config.issuer} listening on http://${server.hostname}:${server.port} (data ${config.dataDir}; trusts ${trust || "nothing yet"}${config.trustList ? `; trust list ${config.trustList}` : ""})`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`yukuai: ${signal}: draining`);
    closeStreams(node);
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
