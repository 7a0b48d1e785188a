/**
 * Scale-out with real processes on loopback: an issuer node and a follower sharing one redis-server.
 * A code accepted at one node is REPLAY at the other; a gateway made and a revocation recorded at the
 * issuer apply at the follower by its next poll, and it polls every ≤ 500 ms (§4: "within 1 s").
 *
 * The follower reaches the issuer through a tap that forwards its requests and tells the test when its
 * polls happen, so the test awaits "the follower has polled since" instead of sleeping or timing it.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Server } from "bun";
import { json, type BatchAnswer, type GatewayMade, type RevocationFeed, type RevocationMade } from "../support/api.ts";
import { PERSON_ID } from "../support/ids.ts";
import { issueAt, post, spawnNode, stopNode, waitFor, type NodeProcess } from "../support/node-process.ts";
import { startRedis, type TestRedis } from "../support/redis.ts";

const ADMIN = "scale-out-admin-token";
const FEED = "scale-out-feed-token";
/** The follower's poll interval: §4 asks for changes applied within 1 s, so a poll every ≤ 500 ms. */
const FOLLOW_INTERVAL_MS = 200;
const COMMON = { YUKUAI_ADMIN_TOKEN: ADMIN, YUKUAI_FEED_TOKEN: FEED, YUKUAI_WORKERS: "0" };

/**
 * Between the follower and the issuer node: forwards each request unchanged and records it. The follower
 * polls in one loop (trust, gateways, the revocation feed, then the interval, then the next poll), so a
 * request it makes after a read was answered means that read's poll is complete and applied.
 */
class FollowTap {
  readonly server: Server<undefined>;
  /** Path and query of each request, in arrival order; `answered[i]` once request i got its answer. */
  readonly requests: string[] = [];
  readonly answered: boolean[] = [];
  /** Bodies of the feed reads (`GET /v1/revocations`), by request index. */
  readonly feeds = new Map<number, RevocationFeed>();
  #listeners: (() => void)[] = [];

  constructor(target: string) {
    this.server = Bun.serve({
      port: 0, hostname: "127.0.0.1",
      fetch: async (req) => {
        const u = new URL(req.url);
        const i = this.requests.push(u.pathname + u.search) - 1;
        this.answered.push(false);
        this.#changed();
        const headers = new Headers(req.headers);
        headers.delete("host");
        let res: Response;
        let body: Uint8Array;
        try {
          res = await fetch(target + u.pathname + u.search, { method: req.method, headers, body: req.body });
          body = new Uint8Array(await res.arrayBuffer());
        } catch {
          res = new Response(null, { status: 502 }); // the issuer node is gone (shutting down)
          body = new Uint8Array(0);
        }
        if (u.pathname === "/v1/revocations" && res.status === 200) this.feeds.set(i, JSON.parse(new TextDecoder().decode(body)) as RevocationFeed);
        // recorded before the answer leaves: the follower cannot make its next request before this
        this.answered[i] = true;
        this.#changed();
        return new Response(body, { status: res.status, headers: res.headers });
      },
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.server.port}`;
  }

  #changed(): void {
    for (const l of this.#listeners.splice(0)) l();
  }

  async #until(holds: () => boolean): Promise<void> {
    while (!holds()) await new Promise<void>((resolve) => this.#listeners.push(resolve));
  }

  /**
   * Resolves once the follower has applied everything the issuer held when this was called: a read of
   * `path` that arrived after the call was answered, and the follower has made a request after it (the next
   * poll). Returns the index of that read.
   */
  async appliedSince(path: "/v1/gateways" | "/v1/revocations"): Promise<number> {
    const mark = this.requests.length;
    const read = () => this.requests.findIndex((p, i) => i >= mark && p.startsWith(path));
    await this.#until(() => read() >= 0 && this.answered[read()] === true && this.requests.length > read() + 1);
    return read();
  }
}

let redis: TestRedis;
let issuer: NodeProcess;
let follower: NodeProcess;
let tap: FollowTap;

beforeAll(async () => {
  redis = await startRedis();
  // a shared store that kept its data (§3): nodes on it start ready, no warm-up
  await redis.cli("SET", "yk:boot", String(Math.floor(Date.now() / 1000) - 3600));
  issuer = await spawnNode({ ...COMMON, YUKUAI_REDIS_URL: redis.url });
  await waitFor(issuer, "/healthz");
  tap = new FollowTap(issuer.base);
  follower = await spawnNode({ ...COMMON, YUKUAI_REDIS_URL: redis.url, YUKUAI_FOLLOW: tap.url, YUKUAI_FOLLOW_INTERVAL_MS: String(FOLLOW_INTERVAL_MS) });
  await Promise.all([waitFor(issuer, "/readyz"), waitFor(follower, "/readyz")]);
}, 25_000);

afterAll(async () => {
  if (follower) await stopNode(follower);
  tap?.server.stop(true);
  if (issuer) await stopNode(issuer);
  await redis?.close();
});

test("issuer + follower sharing Redis: one replay domain; a new gateway and a revocation apply at the follower's next poll", async () => {
  expect(FOLLOW_INTERVAL_MS).toBeLessThanOrEqual(500);
  const gw = await json<GatewayMade>(await post(issuer.base, "/v1/gateways", { name: "Line 3 Lianglukou", scene: "metro" }, ADMIN));
  const { holder, serial } = await issueAt(issuer.base, ADMIN, PERSON_ID);
  // the follower picks up the new gateway at its next poll
  await tap.appliedSince("/v1/gateways");
  expect((await fetch(`${follower.base}/readyz`)).status).toBe(200);
  expect((await post(follower.base, "/v1/verify/batch", { scans: [] }, gw.key)).status).toBe(200);

  const now = Math.floor(Date.now() / 1000);
  const code = holder.presentText(now);
  const a = await json<BatchAnswer>(await post(issuer.base, "/v1/verify/batch", { scans: [code] }, gw.key));
  expect(a.results[0]!.result).toBe("OK");
  const b = await json<BatchAnswer>(await post(follower.base, "/v1/verify/batch", { scans: [code, holder.presentText(now)] }, gw.key));
  expect(b.results.map((r) => r.result)).toEqual(["REPLAY", "OK"]);

  // revoke at the issuer; the first feed read after it carries the entry, and that poll applies it
  const rev = await json<RevocationMade>(await post(issuer.base, "/v1/revocations", { type: "credential", value: serial }, ADMIN));
  const read = await tap.appliedSince("/v1/revocations");
  expect(tap.feeds.get(read)!.entries.map((e) => [e.seq, e.type, e.value])).toContainEqual([rev.seq, "credential", serial]);
  const r = await json<BatchAnswer>(await post(follower.base, "/v1/verify/batch", { scans: [holder.presentText(Math.floor(Date.now() / 1000))] }, gw.key));
  expect(r.results[0]!.result).toBe("REVOKED");
  expect(r.revocations.seq).toBe(rev.seq);
});
