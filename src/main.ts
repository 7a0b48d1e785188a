/**
 * @module Start-up: config → compose → app → Bun.serve; SIGTERM/SIGINT drain in-flight requests, then stop.
 */
import type { Server } from "bun";
import { createApp } from "./app.ts";
import { seconds } from "./clock.ts";
import { compose, type Node, type Overrides } from "./compose.ts";
import { loadConfig, type Config } from "./config.ts";
import { closeStreams, streamWebSocket } from "./routes/stream.ts";
import { RedisReplayStore } from "./verify/redis-replay.ts";
import { replayRetention } from "./verify/replay-window.ts";

/**
 * The shared stores when `YUKUAI_REDIS_URL` is set — replay state and retry records in one Redis, or in a
 * Redis Cluster for a `redis-cluster://host:port,host:port…` URL (connected, and refusing an evicting Redis
 * or master); none (in memory) otherwise.
 */
export async function sharedStoresOf(config: Config): Promise<Pick<Overrides, "replay" | "idempotency">> {
  if (!config.redisUrl) return {};
  const args = [replayRetention(config), 2 * config.skewSeconds] as const;
  // ioredis (Bun's client has no cluster support) is loaded only for a cluster
  const store = config.redisUrl.startsWith("redis-cluster://")
    ? new (await import("./verify/redis-cluster.ts")).RedisClusterReplayStore(config.redisUrl, ...args)
    : new RedisReplayStore(config.redisUrl, ...args);
  await store.start().catch((e: Error) => {
    store.close();
    throw new Error(`YUKUAI_REDIS_URL: ${e.message}`);
  });
  return { replay: store, idempotency: store };
}

/** The §4 error body for the few requests answered before the app sees them. */
const edgeError = (status: number, code: string, message: string) =>
  new Response(JSON.stringify({ error: { code, message } }), { status, headers: { "content-type": "application/json" } });

/**
 * Bun.serve's options for a composed node's app (the bench servers wrap `fetch`). Bun's own body cap is set
 * far above the node's limit, so the app (Hono's bodyLimit: declared lengths at once, chunked bodies counted
 * while read) answers every 413 with the §4 body; a request whose URL cannot be parsed (no or a bad Host) is
 * 400 here; and a fault that escapes the app is the §4 500 body, never the runtime's error page.
 */
export function serveOptions(node: Node, handle: (req: Request, srv: Server<unknown>) => Response | Promise<Response>) {
  const { config } = node;
  return {
    port: config.port,
    hostname: config.hostname,
    maxRequestBodySize: Math.max(config.maxBodyBytes * 64, 1 << 30),
    fetch: (req: Request, srv: Server<unknown>) => (URL.canParse(req.url) ? handle(req, srv) : edgeError(400, "BAD_BODY", "the request has no valid Host")),
    error: () => edgeError(500, "INTERNAL", "internal error"),
    websocket: streamWebSocket(config.maxBodyBytes),
  };
}

/** Which signature verifier runs and, when it is not the native core, why: "native", "node:crypto (…)". */
function verifierLine(node: Node): string {
  const why = node.verifierFallback;
  if (why === null) return node.verifierImpl;
  return `${node.verifierImpl} (${node.config.verifier === "node:crypto" ? why : `native core unavailable: ${why}`})`;
}

export async function start(config: Config) {
  const node = compose(config, await sharedStoresOf(config));
  const app = createApp(node);
  await node.start();
  const server = Bun.serve(serveOptions(node, (req, srv) => app.fetch(req, { server: srv })));
  const trusted = node.trust.toJson(seconds(node.clock), () => false).issuers.map((i) => i.issuer).join(", ");
  console.log(`yukuai: issuer ${config.issuer} listening on http://${server.hostname}:${server.port} (data ${config.dataDir}; trusts ${trusted || "nothing yet"}${config.trustList ? `; trust list ${config.trustList}` : ""}; verifier ${verifierLine(node)})`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`yukuai: ${signal}: draining`);
    closeStreams(node.verifier);
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
