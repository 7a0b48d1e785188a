/**
 * A throwaway Redis Cluster of three masters on loopback, for tests and benches (`.ci/run` installs
 * Debian's redis-server, whose package carries redis-cli): three `redis-server --cluster-enabled yes`
 * joined by `redis-cli --cluster create … --cluster-replicas 0`, each without persistence, with
 * `cluster-require-full-coverage no` (the other masters keep serving their slots while one is down) and a
 * 1 s `cluster-node-timeout`.
 *
 * A master restarted by `start()` keeps its cluster identity (its nodes.conf: node id and slots) but none of
 * its data — a shard that lost its data.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootKey, SLOTS } from "../../src/verify/redis-cluster.ts";
import { freePort } from "./net.ts";
import { pollUntil } from "./poll.ts";

export interface TestClusterNode {
  port: number;
  /** `host:port` as the cluster names it. */
  key: string;
  /** The slot ranges it serves, [from, to] inclusive (read at start). */
  ranges: [number, number][];
  /** SIGKILL: the process dies without a word to its clients. */
  kill(): Promise<void>;
  /** Starts it again on the same port and nodes.conf, with no data; resolves once it serves its slots. */
  start(): Promise<void>;
  cli(...args: string[]): Promise<string>;
  /** Many commands at once, one a line (arguments without spaces), through redis-cli's standard input. */
  feed(commands: string[]): Promise<string>;
  owns(slot: number): boolean;
}

export interface TestCluster {
  /** `redis-cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3` (YUKUAI_REDIS_URL). */
  url: string;
  nodes: TestClusterNode[];
  /** The master serving `slot`. */
  nodeOf(slot: number): TestClusterNode;
  /** Moves `slot` and its keys to `to` (CLUSTER SETSLOT IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE), as resharding does. */
  moveSlot(slot: number, to: TestClusterNode): Promise<void>;
  close(): Promise<void>;
}

async function run(cmd: string[], input?: string): Promise<string> {
  const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe", stdin: input === undefined ? "ignore" : new TextEncoder().encode(input) });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  if ((await p.exited) !== 0) throw new Error(`${cmd.join(" ")}: ${out}${err}`);
  return out;
}

export async function startRedisCluster(masters = 3, extra: string[] = []): Promise<TestCluster> {
  const bin = Bun.which("redis-server");
  const cliBin = Bun.which("redis-cli");
  if (!bin || !cliBin) throw new Error("redis-server and redis-cli are not installed (apt-get install -y redis-server; .ci/run does this)");
  const dir = mkdtempSync(join(tmpdir(), "yukuai-redis-cluster-"));
  const nodes: (TestClusterNode & { stop(): Promise<void> })[] = [];
  for (let i = 0; i < masters; i++) {
    // the cluster bus port is given (cluster-port), so a client port near 65535 needs no port + 10000
    const port = await freePort();
    const busPort = await freePort();
    let proc: ReturnType<typeof Bun.spawn> | null = null;
    const node = {
      port,
      key: `127.0.0.1:${port}`,
      ranges: [] as [number, number][],
      cli: (...args: string[]) => run([cliBin, "-p", String(port), ...args]),
      feed: (commands: string[]) => run([cliBin, "-p", String(port)], commands.join("\n") + "\n"),
      owns(slot: number) {
        return node.ranges.some(([a, b]) => slot >= a && slot <= b);
      },
      async start() {
        proc = Bun.spawn([bin, "--port", String(port), "--cluster-port", String(busPort), "--bind", "127.0.0.1",
          "--cluster-enabled", "yes", "--cluster-config-file", join(dir, `nodes-${port}.conf`), "--cluster-node-timeout", "1000",
          "--cluster-require-full-coverage", "no", "--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction",
          "--dir", dir, ...extra], { stdout: "ignore", stderr: "ignore" });
        await pollUntil(`redis-server :${port} answering PING`, async () => {
          try {
            return (await node.cli("PING")).trim() === "PONG";
          } catch {
            return false; // not up yet
          }
        });
        if (node.ranges.length > 0) {
          // restarted: back in the cluster once it serves its slots again
          await pollUntil(`redis-server :${port} back in the cluster`, async () => (await node.cli("CLUSTER", "INFO")).includes("cluster_state:ok"), { attempts: 200 });
        }
      },
      async kill() {
        if (!proc) return;
        proc.kill("SIGKILL");
        await proc.exited;
        proc = null;
      },
      async stop() {
        if (!proc) return;
        proc.kill();
        await proc.exited;
        proc = null;
      },
    };
    nodes.push(node);
  }
  const close = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(nodes.map((n) => n.start()));
    await run([cliBin, "--cluster", "create", ...nodes.map((n) => n.key), "--cluster-replicas", "0", "--cluster-yes"]);
    for (const n of nodes) {
      await pollUntil(`${n.key} cluster_state:ok`, async () => (await n.cli("CLUSTER", "INFO")).includes("cluster_state:ok"), { attempts: 200 });
    }
    // every node sees every master's slots (so any of them answers MOVED rightly)
    await pollUntil("the slot table agreed by every node", async () => {
      const seen = await Promise.all(nodes.map((n) => n.cli("CLUSTER", "SLOTS")));
      return seen.every((s) => s === seen[0]);
    }, { attempts: 200 });
    for (const n of nodes) {
      // CLUSTER NODES: "<id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link> <slot ranges…>"
      const mine = (await n.cli("CLUSTER", "NODES")).split("\n").find((l) => l.includes("myself"))!;
      n.ranges = mine.trim().split(/\s+/).slice(8).map((r) => {
        const [a, b] = r.split("-").map(Number);
        return [a!, b ?? a!] as [number, number];
      });
    }
  } catch (e) {
    await close();
    throw e;
  }
  const cluster: TestCluster = {
    url: `redis-cluster://${nodes.map((n) => n.key).join(",")}`,
    nodes,
    nodeOf(slot: number) {
      const n = nodes.find((x) => x.owns(slot));
      if (!n) throw new Error(`slot ${slot} is not served`);
      return n;
    },
    async moveSlot(slot: number, to: TestClusterNode) {
      const from = cluster.nodeOf(slot);
      if (from === to) return;
      const [fromId, toId] = await Promise.all([from.cli("CLUSTER", "MYID"), to.cli("CLUSTER", "MYID")]).then((ids) => ids.map((x) => x.trim()));
      await to.cli("CLUSTER", "SETSLOT", String(slot), "IMPORTING", fromId!);
      await from.cli("CLUSTER", "SETSLOT", String(slot), "MIGRATING", toId!);
      for (;;) {
        const keys = (await from.cli("CLUSTER", "GETKEYSINSLOT", String(slot), "1000")).split("\n").filter((k) => k !== "");
        if (keys.length === 0) break;
        await from.cli("MIGRATE", "127.0.0.1", String(to.port), "", "0", "5000", "KEYS", ...keys);
      }
      for (const n of [to, from, ...nodes.filter((x) => x !== to && x !== from)]) await n.cli("CLUSTER", "SETSLOT", String(slot), "NODE", toId!);
      const cut = (n: TestClusterNode) => n.ranges.flatMap(([a, b]): [number, number][] =>
        slot < a || slot > b ? [[a, b]] : ([[a, slot - 1], [slot + 1, b]] as [number, number][]).filter(([x, y]) => x <= y));
      from.ranges = cut(from);
      to.ranges = [...to.ranges, [slot, slot]];
    },
    close,
  };
  return cluster;
}

/**
 * Every master emptied, then every slot's boot marker (src/verify/redis-cluster.ts) set to `second`: a cluster
 * that has kept its data since then, so the §3 start-up rule is long past (single Redis: `yk:boot`).
 */
export async function clusterKeptSince(c: TestCluster, second: number): Promise<void> {
  await Promise.all(c.nodes.map(async (n) => {
    await n.cli("FLUSHALL");
    const sets: string[] = [];
    for (let s = 0; s < SLOTS; s++) if (n.owns(s)) sets.push(`SET ${bootKey(s)} ${second}`);
    await n.feed(sets);
  }));
}
