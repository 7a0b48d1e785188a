/**
 * @module The fleet on one machine (README "Scaling out"): OK scans per second of one node against three
 * nodes behind nginx, all on this machine (`bun bench/fleet.ts [--quick]`; progress on stdout, the results
 * JSON as the last line).
 *
 * One redis-server (loopback, `noeviction`, no persistence; `yk:boot` set an hour back, as a Redis that kept
 * its data, so nodes start ready), an issuer node (the bench issuer's key in its data dir, as
 * bench/lib.ts startServer does, so bench holders' credentials verify) and two followers (`YUKUAI_FOLLOW`,
 * polling every 200 ms), every node `bun src/main.ts` with `YUKUAI_WORKERS=0` (one thread verifying) on
 * the one Redis, and one nginx (non-daemon child, every path in a temp dir, loopback only) with two
 * listeners: one proxying to the three nodes (least_conn, keep-alive), one to the issuer node alone.
 *
 * Load: autocannon (bench/load.ts) POSTs /v1/verify/batch, JSON batches of 64 fresh returning-rider scans
 * (4,096 bench holders, each shown once to every node first, so each scan pays one signature check) over
 * 16 connections, closed loop, about 15 s of codes per run, to (a) the issuer node directly ("1 node"),
 * (b) nginx → 3 nodes, (c) nginx → the issuer node alone (what nginx itself costs); the three in turn, 3
 * rounds (`--quick`: 1 round of ~4 s). OK scans are the nodes' own counters (/metrics, summed over the
 * three nodes) over the time from the first request to the last answer. CPU time of every process over
 * the same time (/proc/<pid>/stat utime + stime; nginx = master + workers; the load generator = this
 * process) and of the whole machine (/proc/stat): nodes, nginx, Redis and the load generator share the
 * machine's cores, nothing is pinned.
 */
import { freePort } from "../test/support/net.ts";
import { spawn, type Subprocess } from "bun";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { benchIssuer, closeSigners, holderSet, presentations, roundRobinPlan, type HolderSet } from "./codes.ts";
import { BUN, diffCounts, median, resultCounts, ROOT, sleep, summary, type Summary } from "./lib.ts";
import { autocannonRun, batchBodies } from "./load.ts";

export const FLEET_BATCH = 64;
export const FLEET_CONNECTIONS = 16;
export const FLEET_HOLDERS = 4096;
const ADMIN = "fleet-admin-token";
const FEED = "fleet-feed-token";
const FOLLOW_INTERVAL_MS = 200;

export type FleetSetup = "1 node" | "nginx → 3 nodes" | "nginx → 1 node";
export const FLEET_SETUPS: readonly FleetSetup[] = ["1 node", "nginx → 3 nodes", "nginx → 1 node"];
/** The processes whose CPU time is read; "other" is the machine's busy time less theirs. */
export const FLEET_PROCS = ["issuer", "follower 1", "follower 2", "nginx", "redis", "load generator", "other"] as const;
export type FleetProc = (typeof FLEET_PROCS)[number];

export interface FleetRun {
  setup: FleetSetup;
  round: number;
  /** OK scans (summed over the nodes) over the time from the first request to the last answer. */
  okPerSec: number;
  ok: number;
  /** Scan results other than OK, and batch refusals, summed over the nodes. */
  notOk: Record<string, number>;
  /** OK scans each node counted. */
  okByNode: Record<"issuer" | "follower 1" | "follower 2", number>;
  seconds: number;
  requests: number;
  non2xx: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  /** Cores used by each process over the run (CPU seconds ÷ wall seconds). */
  cores: Record<FleetProc, number>;
  /** Cores busy on the whole machine (/proc/stat). */
  machineCores: number;
}

export interface FleetSetupResults {
  setup: FleetSetup;
  okPerSec: Summary;
  p99Ms: Summary;
  /** Per process, the median over the runs of its cores used. */
  cores: Record<FleetProc, number>;
  machineCores: number;
  /** Median over the runs of OK scans/s ÷ the cores the three nodes used together. */
  okPerNodeCore: number;
  /** Median over the runs of nginx's CPU per OK scan, µs. */
  nginxUsPerScan: number;
  notOk: number;
}

export interface FleetResults {
  quick: boolean;
  startedAt: string;
  cores: number;
  cpu: string;
  nginx: string;
  redis: string;
  nginxWorkers: number;
  batch: number;
  connections: number;
  holders: number;
  rounds: number;
  secondsPerRun: number;
  /** 1-minute load average before and after. */
  load: [number, number];
  runs: FleetRun[];
  setups: FleetSetupResults[];
  commands: { redis: string; issuer: string; follower: string; nginx: string; upstreams: string; load: string };
}

const log = (l: string) => console.log(l);


/** Polls `f` every `pauseMs` until it is true; throws after `ms`. */
async function until(what: string, f: () => Promise<boolean>, ms = 20_000, pauseMs = 50): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await f().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(pauseMs);
  }
}

/** CPU seconds (user + system, all threads) of a process so far; 0 when it is gone. */
function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return 0;
  }
}

/** Busy CPU seconds of the whole machine so far (/proc/stat: user nice system irq softirq steal). */
function machineSeconds(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n").find((l) => l.startsWith("cpu "))!;
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number);
  return (user! + nice! + system! + irq! + softirq! + (steal ?? 0)) / 100;
}

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** process.env without any YUKUAI_* variable. */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("YUKUAI_") && v !== undefined) env[k] = v;
  return env;
}

/** Drains a child's output into a bounded tail (for error messages). */
function tail(proc: Subprocess): () => string {
  let out = "";
  const dec = new TextDecoder();
  for (const s of [proc.stdout, proc.stderr]) {
    if (!s || typeof s === "number") continue;
    void (async () => {
      try {
        for await (const chunk of s as ReadableStream<Uint8Array>) out = (out + dec.decode(chunk, { stream: true })).slice(-8000);
      } catch { /* gone */ }
    })();
  }
  return () => out;
}

async function stop(proc: Subprocess, also: number[] = []): Promise<void> {
  if (proc.exitCode === null && proc.signalCode === null) {
    proc.kill("SIGTERM");
    await Promise.race([proc.exited, sleep(5000)]);
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGKILL");
      for (const pid of also) {
        try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
      }
    }
  }
  await proc.exited;
}

interface Node { name: "issuer" | "follower 1" | "follower 2"; url: string; host: string; proc: Subprocess; dir: string; out: () => string }

async function startNode(name: Node["name"], env: Record<string, string>, dir: string): Promise<Node> {
  const port = await freePort();
  const proc = spawn([BUN, "src/main.ts"], {
    cwd: ROOT, stdout: "pipe", stderr: "pipe",
    env: { ...cleanEnv(), PORT: String(port), YUKUAI_HOST: "127.0.0.1", YUKUAI_DATA_DIR: dir, ...env },
  });
  return { name, url: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, proc, dir, out: tail(proc) };
}

function nginxConfig(dir: string, ports: { fleet: number; one: number }, all: string[], one: string, asRoot: boolean): string {
  return `# written by bench/fleet.ts
${asRoot ? "user root root; # workers keep the master's user: the temp dir is the bench's (0700)\n" : ""}worker_processes auto;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_timeout 75s;
  keepalive_requests 100000;

  # as deploy/nginx.conf: least_conn over the issuer node and the followers, keep-alive to them
  upstream fleet {
    least_conn;
${all.map((u) => `    server ${u} max_fails=3 fail_timeout=10s;`).join("\n")}
    keepalive 64;
    keepalive_requests 100000;
  }
  upstream one {
    server ${one} max_fails=3 fail_timeout=10s;
    keepalive 64;
    keepalive_requests 100000;
  }

  proxy_http_version 1.1;
  proxy_buffering on;
  proxy_set_header Connection "";
  proxy_set_header X-Forwarded-For $remote_addr;
  proxy_next_upstream error timeout;
  proxy_next_upstream_tries 2;
  proxy_connect_timeout 2s;
  proxy_read_timeout 30s;
  # the node, not nginx, answers 413 (deploy/nginx.conf); the whole body is kept in memory
  client_max_body_size 1088k;
  client_body_buffer_size 1088k;

  server {
    listen 127.0.0.1:${ports.fleet};
    location = /__nginx { return 200 "nginx\\n"; }
    location / { proxy_pass http://fleet; }
  }
  server {
    listen 127.0.0.1:${ports.one};
    location = /__nginx { return 200 "nginx\\n"; }
    location / { proxy_pass http://one; }
  }
}
`;
}

/** Unique fresh codes for the fleet: holders round robin, counters only ever rising (one Redis for all nodes). */
class Codes {
  #counter = 0;
  constructor(readonly holders: HolderSet, readonly count: number) {}
  async next(n: number): Promise<Uint8Array> {
    const block = await presentations(this.holders, roundRobinPlan(n, this.count, this.#counter, Math.floor(Date.now() / 1000)));
    this.#counter += Math.ceil(n / this.count);
    closeSigners(); // the sign workers take no CPU or memory during a measurement
    return block;
  }
}

type Snapshot = { t: number; proc: Record<Exclude<FleetProc, "other">, number>; machine: number };

async function main(): Promise<void> {
  const quick = process.argv.includes("--quick");
  const rounds = quick ? 1 : 3;
  const secondsPerRun = quick ? 4 : 15;
  const load0 = loadavg()[0]!;
  const startedAt = new Date().toISOString();
  const cleanup: (() => Promise<void>)[] = [];
  const tmp = mkdtempSync(join(tmpdir(), "yukuai-fleet-"));
  cleanup.push(async () => rmSync(tmp, { recursive: true, force: true }));
  try {
    const holders = await holderSet(FLEET_HOLDERS, log);

    // ── redis ──
    const redisBin = Bun.which("redis-server");
    const nginxBin = Bun.which("nginx") ?? Bun.which("nginx", { PATH: "/usr/sbin:/usr/local/sbin:/sbin" });
    if (!redisBin) throw new Error("redis-server is not installed (apt-get install -y redis-server)");
    if (!nginxBin) throw new Error("nginx is not installed (apt-get install -y nginx)");
    const redisPort = await freePort();
    const redisDir = join(tmp, "redis");
    mkdirSync(redisDir);
    const redisArgs = ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction", "--dir", redisDir];
    const redis = spawn([redisBin, ...redisArgs], { stdout: "ignore", stderr: "ignore" });
    cleanup.unshift(() => stop(redis));
    const cli = async (...a: string[]) => {
      const p = spawn(["redis-cli", "-p", String(redisPort), ...a], { stdout: "pipe", stderr: "pipe" });
      const out = await new Response(p.stdout).text();
      if ((await p.exited) !== 0) throw new Error(out);
      return out.trim();
    };
    await until("redis-server answering PING", async () => (await cli("PING")) === "PONG");
    // a shared store that kept its data (§3): nodes on it start ready
    await cli("SET", "yk:boot", String(Math.floor(Date.now() / 1000) - 3600));
    const redisVersion = (await cli("INFO", "server")).match(/redis_version:(\S+)/)?.[1] ?? "?";
    const redisUrl = `redis://127.0.0.1:${redisPort}`;

    // ── nodes ──
    const common = { YUKUAI_REDIS_URL: redisUrl, YUKUAI_FEED_TOKEN: FEED, YUKUAI_WORKERS: "0", YUKUAI_TRUSTED_PROXIES: "127.0.0.1" };
    const issuerDir = join(tmp, "issuer");
    mkdirSync(issuerDir, { mode: 0o700 });
    const iss = benchIssuer();
    writeFileSync(join(issuerDir, "issuer-500000.key"), JSON.stringify({ issuer: 500000, kid: 1, createdAt: 1_700_000_000, seed: Buffer.from(iss.seed).toString("hex") }) + "\n", { mode: 0o600 });
    writeFileSync(join(issuerDir, "subject-500000.secret"), Buffer.from(iss.subjectSecret).toString("hex") + "\n", { mode: 0o600 });
    const nodes: Node[] = [];
    const issuerEnv = { ...common, YUKUAI_ADMIN_TOKEN: ADMIN };
    const issuer = await startNode("issuer", issuerEnv, issuerDir);
    nodes.push(issuer);
    cleanup.unshift(() => stop(issuer.proc));
    await until(`${issuer.url}/healthz`, async () => {
      if (issuer.proc.exitCode !== null) throw new Error(`issuer node exited ${issuer.proc.exitCode}: ${issuer.out()}`);
      return (await fetch(`${issuer.url}/healthz`)).status === 200;
    });
    const followEnv = { ...common, YUKUAI_FOLLOW: issuer.url, YUKUAI_FOLLOW_INTERVAL_MS: String(FOLLOW_INTERVAL_MS) };
    for (const name of ["follower 1", "follower 2"] as const) {
      const dir = join(tmp, name.replace(" ", "-"));
      mkdirSync(dir, { mode: 0o700 });
      const f = await startNode(name, followEnv, dir);
      nodes.push(f);
      cleanup.unshift(() => stop(f.proc));
    }
    for (const n of nodes) {
      await until(`${n.url}/readyz answering 200`, async () => {
        if (n.proc.exitCode !== null) throw new Error(`${n.name} exited ${n.proc.exitCode}: ${n.out()}`);
        return (await fetch(`${n.url}/readyz`)).status === 200;
      }, 30_000).catch((e) => { throw new Error(`${(e as Error).message}\n${n.out()}`); });
    }
    const gw = await fetch(`${issuer.url}/v1/gateways`, {
      method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ name: "bench metro gateway", scene: "metro" }),
    });
    if (gw.status !== 201) throw new Error(`POST /v1/gateways: ${gw.status} ${await gw.text()}`);
    const key = ((await gw.json()) as { key: string }).key;
    // followers take new gateways at their next poll (every 200 ms); each 401 here counts toward the
    // source's 20 a minute, so 100 ms apart
    for (const f of nodes.slice(1)) {
      await until(`${f.name} accepting the metro gateway key`, async () => (await fetch(`${f.url}/v1/verify/batch`, {
        method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body: '{"scans":[]}',
      })).status === 200, 10_000, 100);
    }

    // ── nginx ──
    const nginxDir = join(tmp, "nginx");
    mkdirSync(nginxDir, { mode: 0o700 });
    const ports = { fleet: await freePort(), one: await freePort() };
    const conf = join(nginxDir, "nginx.conf");
    writeFileSync(conf, nginxConfig(nginxDir, ports, nodes.map((n) => n.host), issuer.host, process.getuid?.() === 0));
    const nginxArgs = ["-p", nginxDir, "-e", join(nginxDir, "error.log"), "-c", conf, "-g", "daemon off;"];
    const nginx = spawn([nginxBin, ...nginxArgs], { stdout: "pipe", stderr: "pipe" });
    const nginxOut = tail(nginx);
    const nginxVersion = (await new Response(spawn([nginxBin, "-v"], { stdout: "pipe", stderr: "pipe" }).stderr as ReadableStream).text()).trim().replace(/^nginx version: (nginx\/)?/, "");
    let nginxWorkers: number[] = [];
    cleanup.unshift(() => stop(nginx, nginxWorkers));
    const lb = { fleet: `http://127.0.0.1:${ports.fleet}`, one: `http://127.0.0.1:${ports.one}` };
    await until("nginx answering", async () => {
      if (nginx.exitCode !== null) throw new Error(`nginx exited ${nginx.exitCode}: ${nginxOut()}${(() => { try { return readFileSync(join(nginxDir, "error.log"), "utf8"); } catch { return ""; } })()}`);
      return (await fetch(`${lb.fleet}/__nginx`)).status === 200 && (await fetch(`${lb.one}/__nginx`)).status === 200;
    });
    await until("nginx workers", async () => (nginxWorkers = childPids(nginx.pid)).length > 0, 5000);

    const snapshot = (): Snapshot => ({
      t: performance.now(),
      proc: {
        issuer: cpuSeconds(issuer.proc.pid), "follower 1": cpuSeconds(nodes[1]!.proc.pid), "follower 2": cpuSeconds(nodes[2]!.proc.pid),
        nginx: cpuSeconds(nginx.pid) + nginxWorkers.reduce((a, pid) => a + cpuSeconds(pid), 0),
        redis: cpuSeconds(redis.pid), "load generator": cpuSeconds(process.pid),
      },
      machine: machineSeconds(),
    });
    const counts = () => Promise.all(nodes.map((n) => resultCounts(n.url)));

    // ── every credential seen once on every node (directly): each later scan pays one signature ──
    const codes = new Codes(holders, FLEET_HOLDERS);
    for (const n of nodes) {
      const before = await resultCounts(n.url);
      const block = await codes.next(FLEET_HOLDERS);
      const r = await autocannonRun({ url: n.url, path: "/v1/verify/batch", key, format: "msgpack", bodies: batchBodies(block, 256, "msgpack"), connections: 4, maxSeconds: 30 });
      const d = diffCounts(before, await resultCounts(n.url));
      if (r.non2xx || r.errors || (d.OK ?? 0) !== FLEET_HOLDERS) throw new Error(`warming ${n.name}: ${r.non2xx} non-2xx, ${r.errors} errors, counts ${JSON.stringify(d)}`);
    }
    log(`fleet: redis ${redisVersion}, nginx ${nginxVersion} (${nginxWorkers.length} workers), issuer + 2 followers, ${FLEET_HOLDERS} holders warm on each node, ${cpus().length} cores, load ${load0.toFixed(2)}`);

    const target: Record<FleetSetup, string> = { "1 node": issuer.url, "nginx → 3 nodes": lb.fleet, "nginx → 1 node": lb.one };
    const runs: FleetRun[] = [];
    const measure = async (setup: FleetSetup, n: number, round: number): Promise<FleetRun> => {
      const block = await codes.next(Math.ceil(n / FLEET_BATCH) * FLEET_BATCH);
      const bodies = batchBodies(block, FLEET_BATCH, "json");
      Bun.gc(true);
      const before = await counts();
      // CPU sampled every 100 ms: the run's CPU is interpolated at the first request and the last answer
      const samples: Snapshot[] = [snapshot()];
      const timer = setInterval(() => samples.push(snapshot()), 100);
      const t0 = performance.now();
      const r = await autocannonRun({ url: target[setup], path: "/v1/verify/batch", key, format: "json", bodies, connections: FLEET_CONNECTIONS, maxSeconds: 90 });
      clearInterval(timer);
      samples.push(snapshot());
      const after = await counts();
      const at = (t: number): Snapshot => {
        const k = samples.findIndex((s) => s.t >= t);
        if (k <= 0) return samples[k === 0 ? 0 : samples.length - 1]!;
        const a = samples[k - 1]!, b = samples[k]!, w = (t - a.t) / (b.t - a.t);
        const mix = (x: number, y: number) => x + (y - x) * w;
        return { t, proc: Object.fromEntries(Object.keys(a.proc).map((p) => [p, mix(a.proc[p as keyof Snapshot["proc"]], b.proc[p as keyof Snapshot["proc"]])])) as Snapshot["proc"], machine: mix(a.machine, b.machine) };
      };
      const s0 = at(t0), s1 = at(t0 + r.seconds * 1000);
      const wall = r.seconds;
      const cores = {} as Record<FleetProc, number>;
      let tracked = 0;
      for (const p of Object.keys(s0.proc) as (keyof Snapshot["proc"])[]) {
        cores[p] = (s1.proc[p] - s0.proc[p]) / wall;
        tracked += cores[p];
      }
      const machineCores = (s1.machine - s0.machine) / wall;
      cores.other = Math.max(0, machineCores - tracked);
      const diffs = nodes.map((x, i) => diffCounts(before[i]!, after[i]!));
      const total: Record<string, number> = {};
      for (const d of diffs) for (const [k, v] of Object.entries(d)) total[k] = (total[k] ?? 0) + v;
      const ok = total.OK ?? 0;
      delete total.OK;
      const run: FleetRun = {
        setup, round, okPerSec: ok / wall, ok, notOk: total,
        okByNode: { issuer: diffs[0]!.OK ?? 0, "follower 1": diffs[1]!.OK ?? 0, "follower 2": diffs[2]!.OK ?? 0 },
        seconds: wall, requests: r.requests, non2xx: r.non2xx, errors: r.errors, p50Ms: r.latency.p50, p99Ms: r.latency.p99,
        cores, machineCores,
      };
      const bad = Object.values(total).reduce((a, b) => a + b, 0);
      log(`  ${setup.padEnd(16)} round ${round}: ${Math.round(run.okPerSec).toLocaleString("en-US")} OK scans/s over ${wall.toFixed(1)} s` +
        ` (per node ${Object.values(run.okByNode).map((v) => Math.round(v / wall)).join(" / ")}), p99 ${r.latency.p99} ms${bad || r.non2xx || r.errors ? `, NOT OK ${JSON.stringify(total)}, ${r.non2xx} non-2xx, ${r.errors} errors` : ""};` +
        ` cores: ${FLEET_PROCS.map((p) => `${p} ${cores[p].toFixed(2)}`).join(", ")}; machine ${machineCores.toFixed(2)}`);
      return run;
    };

    // warm-up of each route (JIT, keep-alive connections through nginx), also the first rate estimate
    const expected = {} as Record<FleetSetup, number>;
    for (const setup of FLEET_SETUPS) {
      const w = await measure(setup, quick ? 10_000 : 40_000, 0);
      expected[setup] = w.okPerSec;
    }
    for (let round = 1; round <= rounds; round++) {
      for (const setup of FLEET_SETUPS) {
        const r = await measure(setup, expected[setup] * secondsPerRun, round);
        runs.push(r);
        expected[setup] = r.okPerSec;
      }
    }

    const setups: FleetSetupResults[] = FLEET_SETUPS.map((setup) => {
      const rs = runs.filter((r) => r.setup === setup);
      const cores = Object.fromEntries(FLEET_PROCS.map((p) => [p, median(rs.map((r) => r.cores[p]))])) as Record<FleetProc, number>;
      return {
        setup, okPerSec: summary(rs.map((r) => r.okPerSec)), p99Ms: summary(rs.map((r) => r.p99Ms)), cores,
        machineCores: median(rs.map((r) => r.machineCores)),
        okPerNodeCore: median(rs.map((r) => r.okPerSec / (r.cores.issuer + r.cores["follower 1"] + r.cores["follower 2"]))),
        nginxUsPerScan: median(rs.map((r) => (r.cores.nginx * 1e6) / r.okPerSec)),
        notOk: rs.reduce((a, r) => a + Object.values(r.notOk).reduce((x, y) => x + y, 0) + r.non2xx * FLEET_BATCH + r.errors * FLEET_BATCH, 0),
      };
    });
    const shown = (env: Record<string, string>) => Object.entries(env).map(([k, v]) => `${k}=${k.endsWith("TOKEN") ? "…" : v.replace(/127\.0\.0\.1:\d+/, "127.0.0.1:…")}`).join(" ");
    const results: FleetResults = {
      quick, startedAt, cores: cpus().length, cpu: cpus()[0]?.model ?? "?", nginx: nginxVersion, redis: redisVersion, nginxWorkers: nginxWorkers.length,
      batch: FLEET_BATCH, connections: FLEET_CONNECTIONS, holders: FLEET_HOLDERS, rounds, secondsPerRun,
      load: [load0, loadavg()[0]!], runs, setups,
      commands: {
        redis: `redis-server ${redisArgs.map((a) => (a === "" ? '""' : a)).join(" ").replace(String(redisPort), "…").replace(redisDir, "<tmp>")}`,
        issuer: `PORT=… YUKUAI_HOST=127.0.0.1 YUKUAI_DATA_DIR=<tmp> ${shown(issuerEnv)} bun src/main.ts`,
        follower: `PORT=… YUKUAI_HOST=127.0.0.1 YUKUAI_DATA_DIR=<tmp> ${shown(followEnv)} bun src/main.ts`,
        nginx: `nginx -p <tmp> -e <tmp>/error.log -c <tmp>/nginx.conf -g 'daemon off;'`,
        upstreams: `worker_processes auto (${nginxWorkers.length} workers), access_log off; upstream of the 3 nodes: least_conn, keepalive 64; upstream of the issuer node alone: keepalive 64`,
        load: `autocannon in the bench process (unpinned), ${FLEET_CONNECTIONS} connections, POST /v1/verify/batch, JSON, ${FLEET_BATCH} scans per request`,
      },
    };
    console.log(JSON.stringify(results));
  } finally {
    for (const c of cleanup) await c().catch(() => {});
  }
}

if (import.meta.main) {
  await main();
  process.exit(0);
}
