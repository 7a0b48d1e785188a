/**
 * The deployment files (deploy/: compose, nginx, Kubernetes) and the Dockerfile, read as data and checked
 * against what the node really reads and serves: every `YUKUAI_*` name is one src/config.ts reads; the
 * issuer node gets its admin token, feed token, replay store and a data dir on a volume, and is one; the
 * followers get YUKUAI_FOLLOW, the feed token and the replay store; ports are PORT 8080 everywhere; probes are
 * /readyz (readiness) and /healthz (liveness); Redis runs with noeviction; nginx passes the WebSocket,
 * lets the node answer 413, sets X-Forwarded-For to the peer, never resends a POST, and sends admin routes
 * to the issuer only; tokens come from Secrets / the environment and only CHANGE-ME placeholders are
 * written down; the image copies only what runs. When nginx is installed, `nginx -t` checks nginx.conf.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");
const DEPLOY = join(ROOT, "deploy");
const PORT = 8080;
/** The node reads up to 1 MiB (YUKUAI_MAX_BODY_BYTES) and its server 64 KiB more (src/main.ts). */
const MIN_BODY_BYTES = (1 << 20) + 65536;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const obj = (v: unknown, what: string): Obj => {
  if (!isObj(v)) throw new Error(`${what}: expected a mapping, got ${JSON.stringify(v)}`);
  return v;
};
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (v === undefined || v === null ? "" : String(v));

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}
const read = (p: string) => readFileSync(p, "utf8");
const rel = (p: string) => relative(ROOT, p);

/** Every YAML document of a file (a file with `---` separators parses to an array of documents). */
function yamlDocs(path: string): Obj[] {
  const text = read(path);
  const parsed: unknown = Bun.YAML.parse(text);
  const docs = Array.isArray(parsed) && /^---\s*$/m.test(text) ? parsed : [parsed];
  return docs.filter((d) => d !== null && d !== undefined).map((d, i) => obj(d, `${rel(path)} document ${i}`));
}

// ---------------------------------------------------------------- what the node reads

/** The variables src/config.ts reads: `env.NAME`, `env["NAME"]` and `int(env, "NAME", …)`. */
function configVariables(): Set<string> {
  const src = read(join(ROOT, "src/config.ts"));
  const names = new Set<string>();
  for (const m of src.matchAll(/\benv\.([A-Z][A-Z0-9_]*)\b/g)) names.add(m[1]!);
  for (const m of src.matchAll(/\benv\[\s*"([A-Z][A-Z0-9_]*)"\s*\]/g)) names.add(m[1]!);
  for (const m of src.matchAll(/\bint\(\s*env\s*,\s*"([A-Z][A-Z0-9_]*)"/g)) names.add(m[1]!);
  return names;
}
const CONFIG_VARS = configVariables();

// ---------------------------------------------------------------- nginx.conf, parsed

interface Directive {
  name: string;
  args: string[];
  block?: Directive[];
}

/** A small parser of nginx's syntax: directives `name args;` and blocks `name args { … }`, # comments, quotes. */
function parseNginx(text: string): Directive[] {
  const tokens: string[] = [];
  const re = /#[^\n]*|"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([{};])|([^\s{};"'#]+)/g;
  for (const m of text.matchAll(re)) {
    if (m[0].startsWith("#")) continue;
    tokens.push(m[1] ?? m[2] ?? m[3] ?? m[4]!);
  }
  let i = 0;
  const parseBlock = (top: boolean): Directive[] => {
    const out: Directive[] = [];
    let words: string[] = [];
    while (i < tokens.length) {
      const t = tokens[i++]!;
      if (t === ";") {
        if (words.length === 0) throw new Error("nginx.conf: empty directive");
        out.push({ name: words[0]!, args: words.slice(1) });
        words = [];
      } else if (t === "{") {
        if (words.length === 0) throw new Error("nginx.conf: block without a name");
        out.push({ name: words[0]!, args: words.slice(1), block: parseBlock(false) });
        words = [];
      } else if (t === "}") {
        if (top) throw new Error("nginx.conf: unbalanced }");
        if (words.length) throw new Error(`nginx.conf: directive ${words[0]} without ;`);
        return out;
      } else {
        words.push(t);
      }
    }
    if (!top) throw new Error("nginx.conf: unclosed {");
    if (words.length) throw new Error(`nginx.conf: directive ${words[0]} without ;`);
    return out;
  };
  return parseBlock(true);
}

const NGINX_TEXT = read(join(DEPLOY, "nginx.conf"));
const NGINX = parseNginx(NGINX_TEXT);
const HTTP = NGINX.find((d) => d.name === "http")?.block ?? [];
const SERVERS = HTTP.filter((d) => d.name === "server");
const SERVER = SERVERS[0]?.block ?? [];
const LOCATIONS = SERVER.filter((d) => d.name === "location");
const all = (ds: Directive[], name: string) => ds.filter((d) => d.name === name);
const one = (ds: Directive[], name: string) => all(ds, name).at(-1);

/** upstream name → its `server host:port` entries (with their parameters). */
const UPSTREAMS = new Map(
  all(HTTP, "upstream").map((u) => [u.args[0]!, all(u.block ?? [], "server").map((s) => ({ addr: s.args[0]!, params: s.args.slice(1) }))]),
);

/** The location nginx picks for a path: an exact match, else the longest prefix (no regex locations here). */
function locationFor(path: string): Directive | undefined {
  const exact = LOCATIONS.find((l) => l.args[0] === "=" && l.args[1] === path);
  if (exact) return exact;
  return LOCATIONS.filter((l) => l.args.length === 1 || l.args[0] === "^~")
    .map((l) => ({ l, prefix: l.args.at(-1)! }))
    .filter(({ prefix }) => path.startsWith(prefix))
    .sort((a, b) => b.prefix.length - a.prefix.length)[0]?.l;
}
/** The upstream a location proxies to (`proxy_pass http://NAME`). */
function upstreamOf(loc: Directive | undefined): string {
  const pass = one(loc?.block ?? [], "proxy_pass")?.args[0] ?? "";
  return pass.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
}
/** A directive as it applies inside a location: its own, else the server's, else http's (nginx inheritance). */
function effective(loc: Directive, name: string): Directive | undefined {
  return one(loc.block ?? [], name) ?? one(SERVER, name) ?? one(HTTP, name);
}
/** proxy_set_header is inherited only by a level that sets none of its own. */
function effectiveHeaders(loc: Directive): Map<string, string> {
  const level = [loc.block ?? [], SERVER, HTTP].find((ds) => all(ds, "proxy_set_header").length > 0) ?? [];
  return new Map(all(level, "proxy_set_header").map((d) => [d.args[0]!.toLowerCase(), d.args.slice(1).join(" ")]));
}
function sizeBytes(v: string): number {
  const m = /^(\d+)([kKmMgG]?)$/.exec(v);
  if (!m) throw new Error(`not an nginx size: ${v}`);
  const mult = { "": 1, k: 1024, m: 1 << 20, g: 1 << 30 }[m[2]!.toLowerCase() as "" | "k" | "m" | "g"];
  return Number(m[1]) * mult;
}
function seconds(v: string): number {
  const m = /^(\d+)(ms|s|m|h)?$/.exec(v);
  if (!m) throw new Error(`not an nginx time: ${v}`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[(m[2] ?? "s") as "ms" | "s" | "m" | "h"];
}

// ---------------------------------------------------------------- compose.yaml

const COMPOSE = yamlDocs(join(DEPLOY, "compose.yaml"))[0]!;
const SERVICES = obj(COMPOSE.services, "compose services");
const svc = (name: string) => obj(SERVICES[name], `compose service ${name}`);
/** A compose service's environment as a map (both the mapping and the `NAME=value` list forms). */
function composeEnv(s: Obj): Map<string, string> {
  const env = s.environment;
  if (Array.isArray(env)) {
    return new Map(env.map((e) => {
      const [k, ...v] = String(e).split("=");
      return [k!, v.join("=")];
    }));
  }
  return new Map(Object.entries(isObj(env) ? env : {}).map(([k, v]) => [k, str(v)]));
}
const NODE_SERVICES = Object.keys(SERVICES).filter((n) => [...composeEnv(svc(n)).keys()].some((k) => k.startsWith("YUKUAI_")));
const ISSUER_SERVICES = NODE_SERVICES.filter((n) => !composeEnv(svc(n)).has("YUKUAI_FOLLOW"));
const FOLLOWER_SERVICES = NODE_SERVICES.filter((n) => composeEnv(svc(n)).has("YUKUAI_FOLLOW"));
const REDIS_SERVICES = Object.keys(SERVICES).filter((n) => /\b(redis|valkey)\b/.test(str(svc(n).image)));
const NGINX_SERVICES = Object.keys(SERVICES).filter((n) => /^nginx(:|$)/.test(str(svc(n).image)));
const commandOf = (s: Obj): string[] => (Array.isArray(s.command) ? s.command.map(str) : str(s.command).split(/\s+/).filter(Boolean));

// ---------------------------------------------------------------- k8s

const K8S_DIR = join(DEPLOY, "k8s");
const K8S_FILES = readdirSync(K8S_DIR).filter((f) => /\.ya?ml$/.test(f)).map((f) => join(K8S_DIR, f));
const K8S_ALL = K8S_FILES.flatMap((f) => yamlDocs(f).map((doc) => ({ file: rel(f), doc })));
const K8S = K8S_ALL.filter(({ doc }) => doc.kind !== "Kustomization").map(({ doc }) => doc);
const kind = (k: string) => K8S.filter((d) => d.kind === k);
const meta = (d: Obj) => obj(d.metadata, `${str(d.kind)} metadata`);
const nameOf = (d: Obj) => str(meta(d).name);
const spec = (d: Obj) => obj(d.spec, `${str(d.kind)} ${nameOf(d)} spec`);

interface Workload {
  doc: Obj;
  kind: string;
  name: string;
  labels: Obj;
  pod: Obj;
  containers: Obj[];
}
const WORKLOADS: Workload[] = [...kind("Deployment"), ...kind("StatefulSet")].map((doc) => {
  const template = obj(spec(doc).template, `${nameOf(doc)} template`);
  const pod = obj(template.spec, `${nameOf(doc)} pod spec`);
  return {
    doc,
    kind: str(doc.kind),
    name: nameOf(doc),
    labels: obj(obj(template.metadata, `${nameOf(doc)} template metadata`).labels, `${nameOf(doc)} pod labels`),
    pod,
    containers: arr(pod.containers).map((c) => obj(c, `${nameOf(doc)} container`)),
  };
});
const envList = (c: Obj): Obj[] => arr(c.env).map((e) => obj(e, "env entry"));
const envValue = (c: Obj, name: string): string | undefined => {
  const e = envList(c).find((x) => x.name === name);
  return e === undefined || e.value === undefined ? undefined : str(e.value);
};
const hasEnv = (c: Obj, name: string) => envList(c).some((x) => x.name === name);
const nodeContainer = (w: Workload) => w.containers.find((c) => envList(c).some((e) => str(e.name).startsWith("YUKUAI_")));
const K8S_NODES = WORKLOADS.filter((w) => nodeContainer(w) !== undefined);
const K8S_FOLLOWERS = K8S_NODES.filter((w) => hasEnv(nodeContainer(w)!, "YUKUAI_FOLLOW"));
const K8S_ISSUERS = K8S_NODES.filter((w) => !hasEnv(nodeContainer(w)!, "YUKUAI_FOLLOW"));
const K8S_REDIS = WORKLOADS.filter((w) => w.containers.some((c) => /\b(redis|valkey)\b/.test(str(c.image))));
const selects = (selector: unknown, labels: Obj) =>
  isObj(selector) && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
/** Services whose selector picks the pods of `w`. */
const servicesOf = (w: Workload) => kind("Service").filter((s) => selects(spec(s).selector, w.labels));
/** How long a container's preStop hook pauses, seconds (a `sleep` action, `sleep N`, or `Bun.sleep(ms)`). */
function preStopSeconds(c: Obj): number {
  const lifecycle = isObj(c.lifecycle) ? c.lifecycle : {};
  const pre = isObj(lifecycle.preStop) ? lifecycle.preStop : {};
  if (isObj(pre.sleep)) return Number(pre.sleep.seconds);
  const cmd = isObj(pre.exec) ? arr(pre.exec.command).map(str).join(" ") : "";
  const ms = /Bun\.sleep\((\d+)\)/.exec(cmd);
  if (ms) return Number(ms[1]) / 1000;
  const sh = /\bsleep\s+(\d+)/.exec(cmd);
  return sh ? Number(sh[1]) : 0;
}
/** `http://host:port` / `redis://host:port` → [host, port] */
function hostPort(url: string): [string, number] {
  const u = new URL(url);
  return [u.hostname, Number(u.port || (u.protocol === "http:" ? 80 : 0))];
}

// ---------------------------------------------------------------- the tests

describe("deploy/: every file", () => {
  test("the expected files are there and every YAML file parses", () => {
    for (const f of ["compose.yaml", "nginx.conf", "README.md", "k8s/kustomization.yaml"]) {
      expect(statSync(join(DEPLOY, f)).isFile()).toBe(true);
    }
    const yamls = filesUnder(DEPLOY).filter((f) => /\.ya?ml$/.test(f));
    expect(yamls.length).toBeGreaterThanOrEqual(5);
    for (const f of yamls) expect(yamlDocs(f).length).toBeGreaterThan(0);
    expect(SERVERS.length).toBe(1);
  });

  test("the config.ts scan finds the variables the node reads (a guard on the scan itself)", () => {
    for (const v of ["PORT", "YUKUAI_HOST", "YUKUAI_DATA_DIR", "YUKUAI_ADMIN_TOKEN", "YUKUAI_FEED_TOKEN", "YUKUAI_REDIS_URL", "YUKUAI_FOLLOW", "YUKUAI_TRUSTED_PROXIES", "YUKUAI_WORKERS", "YUKUAI_TRUST_LIST", "YUKUAI_TRUST_ANCHORS"]) {
      expect(CONFIG_VARS).toContain(v);
    }
  });

  test("every YUKUAI_* name written anywhere in deploy/ is one src/config.ts reads", () => {
    const unknown: string[] = [];
    for (const f of filesUnder(DEPLOY)) {
      for (const m of read(f).matchAll(/\bYUKUAI_[A-Z0-9_]+\b/g)) {
        if (!CONFIG_VARS.has(m[0])) unknown.push(`${rel(f)}: ${m[0]}`);
      }
    }
    expect(unknown).toEqual([]);
  });

  test("every environment variable set for a node (compose, k8s) is one the node reads", () => {
    const set = [
      ...NODE_SERVICES.flatMap((n) => [...composeEnv(svc(n)).keys()].map((k) => `compose ${n}: ${k}`)),
      ...K8S_NODES.flatMap((w) => envList(nodeContainer(w)!).map((e) => `k8s ${w.name}: ${str(e.name)}`)),
    ];
    expect(set.length).toBeGreaterThan(10);
    expect(set.filter((s) => !CONFIG_VARS.has(s.split(": ")[1]!))).toEqual([]);
  });

  test("no real-looking token is written down: only CHANGE-ME placeholders", () => {
    for (const f of filesUnder(DEPLOY)) {
      const text = read(f);
      // the node's own token formats (yka_ admin, ykg_ gateway, …) followed by real key material
      expect({ file: rel(f), tokens: [...text.matchAll(/\byk[a-z]_[A-Za-z0-9_-]{16,}/g)].map((m) => m[0]) }).toEqual({ file: rel(f), tokens: [] });
      // long high-entropy strings (base64url / hex key material) outside placeholders
      const long = [...text.matchAll(/[A-Za-z0-9+/_=-]{32,}/g)].map((m) => m[0]).filter((s) => !s.includes("CHANGE-ME") && /\d/.test(s) && /[a-z]/.test(s) && /[A-Z]/.test(s));
      expect({ file: rel(f), long }).toEqual({ file: rel(f), long: [] });
    }
    const example = read(join(DEPLOY, ".env.example"));
    const assignments = [...example.matchAll(/^([A-Z][A-Z0-9_]*)=(.*)$/gm)];
    expect(assignments.map((m) => m[1])).toEqual(expect.arrayContaining(["YUKUAI_ADMIN_TOKEN", "YUKUAI_FEED_TOKEN"]));
    for (const m of assignments) if (/TOKEN/.test(m[1]!)) expect(m[2]).toContain("CHANGE-ME");
    // the real .env stays out of git
    expect(read(join(DEPLOY, ".gitignore")).split("\n")).toContain(".env");
  });
});

describe("compose.yaml", () => {
  test("nginx, one issuer node, followers (3 nodes in all) and one Redis/Valkey", () => {
    expect(NGINX_SERVICES.length).toBe(1);
    expect(REDIS_SERVICES.length).toBe(1);
    expect(ISSUER_SERVICES.length).toBe(1);
    expect(FOLLOWER_SERVICES.length).toBeGreaterThanOrEqual(2);
    expect(NODE_SERVICES.length).toBe(3);
  });

  test("Redis runs with maxmemory-policy noeviction and a maxmemory", () => {
    const cmd = commandOf(svc(REDIS_SERVICES[0]!));
    expect(cmd[cmd.indexOf("--maxmemory-policy") + 1]).toBe("noeviction");
    expect(cmd.indexOf("--maxmemory-policy")).toBeGreaterThan(-1);
    expect(cmd[cmd.indexOf("--maxmemory") + 1]).toMatch(/^\d+(mb|gb|kb)?$/i);
  });

  test("every node: PORT 8080, exposed 8080, healthcheck on /healthz:8080, the shared Redis, one YUKUAI_ISSUER", () => {
    const issuers = new Set<string>();
    for (const n of NODE_SERVICES) {
      const s = svc(n);
      const env = composeEnv(s);
      expect({ n, port: env.get("PORT") }).toEqual({ n, port: String(PORT) });
      expect(arr(s.expose).map(str)).toContain(String(PORT));
      expect(arr(s.ports)).toEqual([]); // reached through nginx only
      const check = arr(obj(s.healthcheck, `${n} healthcheck`).test).map(str).join(" ");
      expect(check).toContain(`:${PORT}/healthz`);
      const [host, port] = hostPort(env.get("YUKUAI_REDIS_URL") ?? "");
      expect(REDIS_SERVICES).toContain(host);
      expect(port).toBe(6379);
      expect(env.get("YUKUAI_DATA_DIR")).toBe("/data");
      expect(str(s.stop_signal || "SIGTERM")).toBe("SIGTERM");
      issuers.add(env.get("YUKUAI_ISSUER") ?? "500000");
    }
    expect(issuers.size).toBe(1);
  });

  test("the issuer node: admin and feed tokens from the environment, its data dir on a named volume", () => {
    const s = svc(ISSUER_SERVICES[0]!);
    const env = composeEnv(s);
    expect(env.get("YUKUAI_ADMIN_TOKEN")).toMatch(/^\$\{YUKUAI_ADMIN_TOKEN:\?[^}]+\}$/);
    expect(env.get("YUKUAI_FEED_TOKEN")).toMatch(/^\$\{YUKUAI_FEED_TOKEN:\?[^}]+\}$/);
    expect(env.has("YUKUAI_REDIS_URL")).toBe(true);
    const dataDir = env.get("YUKUAI_DATA_DIR")!;
    const named = Object.keys(isObj(COMPOSE.volumes) ? COMPOSE.volumes : {});
    const mounts = arr(s.volumes).map((v) => (isObj(v) ? `${str(v.source)}:${str(v.target)}` : str(v)));
    expect(mounts.some((m) => named.includes(m.split(":")[0]!) && m.split(":")[1] === dataDir)).toBe(true);
  });

  test("each follower: YUKUAI_FOLLOW = the issuer service on 8080, the same feed token, Redis, no admin token", () => {
    const issuerFeed = composeEnv(svc(ISSUER_SERVICES[0]!)).get("YUKUAI_FEED_TOKEN");
    for (const n of FOLLOWER_SERVICES) {
      const env = composeEnv(svc(n));
      expect(env.get("YUKUAI_FOLLOW")).toBe(`http://${ISSUER_SERVICES[0]}:${PORT}`);
      expect(env.get("YUKUAI_FEED_TOKEN")).toBe(issuerFeed!);
      expect(env.has("YUKUAI_REDIS_URL")).toBe(true);
      expect(env.has("YUKUAI_ADMIN_TOKEN")).toBe(false);
      expect(env.has("YUKUAI_TRUST_LIST")).toBe(false); // a follower takes the issuer's trust (config.ts refuses)
      expect(Object.keys(obj(svc(n).depends_on, `${n} depends_on`))).toContain(ISSUER_SERVICES[0]!);
    }
  });

  test("every node trusts exactly nginx's fixed address for X-Forwarded-For", () => {
    const lb = svc(NGINX_SERVICES[0]!);
    const nets = obj(lb.networks, "nginx networks");
    const addrs = Object.values(nets).map((v) => str(isObj(v) ? v.ipv4_address : "")).filter(Boolean);
    expect(addrs.length).toBe(1);
    for (const n of NODE_SERVICES) expect(composeEnv(svc(n)).get("YUKUAI_TRUSTED_PROXIES")).toBe(addrs[0]!);
    // the fixed address lies in the compose network's subnet (a /24 here)
    const [netName] = Object.keys(nets);
    const ipam = obj(obj(obj(COMPOSE.networks, "networks")[netName!], "network").ipam, "ipam");
    const subnet = str(obj(arr(ipam.config)[0], "ipam config").subnet);
    expect(subnet).toMatch(/\/24$/);
    expect(addrs[0]!.split(".").slice(0, 3).join(".")).toBe(subnet.split("/")[0]!.split(".").slice(0, 3).join("."));
  });

  test("nginx mounts deploy/nginx.conf, publishes its port, and its upstreams are exactly the node services on 8080", () => {
    const lb = svc(NGINX_SERVICES[0]!);
    expect(arr(lb.volumes).map(str)).toContain("./nginx.conf:/etc/nginx/nginx.conf:ro");
    const listen = one(SERVER, "listen")!.args[0]!;
    expect(arr(lb.ports).map(str)).toContain(`${PORT}:${listen.split(":").at(-1)}`);
    const hosts = [...UPSTREAMS.values()].flat().map((s) => s.addr);
    for (const h of hosts) {
      const [host, port] = h.split(":");
      expect({ h, port }).toEqual({ h, port: String(PORT) });
      expect(NODE_SERVICES).toContain(host!);
    }
    expect(new Set(hosts.map((h) => h.split(":")[0]))).toEqual(new Set(NODE_SERVICES));
  });
});

describe("nginx.conf", () => {
  const ISSUER_UPSTREAM = [...UPSTREAMS].find(([, s]) => s.length === 1 && s[0]!.addr.startsWith(`${ISSUER_SERVICES[0]}:`))?.[0];
  const POOL_UPSTREAM = [...UPSTREAMS].find(([, s]) => s.length === NODE_SERVICES.length)?.[0];

  test("two upstreams: the issuer alone, and the pool of every node; each server with max_fails and fail_timeout", () => {
    expect(ISSUER_UPSTREAM).toBeDefined();
    expect(POOL_UPSTREAM).toBeDefined();
    for (const [name, servers] of UPSTREAMS) {
      for (const s of servers) {
        expect({ name, s: s.addr, maxFails: s.params.some((p) => /^max_fails=[1-9]\d*$/.test(p)) }).toEqual({ name, s: s.addr, maxFails: true });
        expect({ name, s: s.addr, failTimeout: s.params.some((p) => /^fail_timeout=\d+(s|m)?$/.test(p)) }).toEqual({ name, s: s.addr, failTimeout: true });
      }
    }
  });

  test("admin routes go to the issuer upstream only; verification, trust, health and metrics to the pool", () => {
    const toIssuer = ["/v1/credentials", "/v1/revocations", "/v1/gateways", "/v1/gateways/gw_1", "/v1/issuer-keys",
      "/v1/subjects/person/11010519491231002X/licences/identity-card", "/v1/subjects/person/11010519491231002X/access-log"];
    const toPool = ["/v1/verify", "/v1/verify/batch", "/v1/verify/stream", "/v1/trust", "/healthz", "/readyz", "/metrics", "/openapi.json"];
    for (const p of toIssuer) expect({ p, upstream: upstreamOf(locationFor(p)) }).toEqual({ p, upstream: ISSUER_UPSTREAM! });
    for (const p of toPool) expect({ p, upstream: upstreamOf(locationFor(p)) }).toEqual({ p, upstream: POOL_UPSTREAM! });
    // and every location proxies to one of the two
    for (const l of LOCATIONS) expect([ISSUER_UPSTREAM, POOL_UPSTREAM]).toContain(upstreamOf(l));
  });

  test("the WebSocket stream passes Upgrade/Connection over HTTP/1.1 with a long read timeout", () => {
    const loc = locationFor("/v1/verify/stream")!;
    expect(loc.args).toEqual(["=", "/v1/verify/stream"]);
    const h = effectiveHeaders(loc);
    expect(h.get("upgrade")).toBe("$http_upgrade");
    const connection = h.get("connection")!;
    const map = all(HTTP, "map").find((m) => m.args[0] === "$http_upgrade" && m.args[1] === connection);
    expect(connection === "upgrade" || map !== undefined).toBe(true);
    if (map) expect(map.block!.find((d) => d.name === "default")?.args).toEqual(["upgrade"]);
    expect(effective(loc, "proxy_http_version")?.args).toEqual(["1.1"]);
    expect(seconds(effective(loc, "proxy_read_timeout")!.args[0]!)).toBeGreaterThanOrEqual(300);
  });

  test("client_max_body_size lets ≥ 1 MiB + 64 KiB through everywhere, so the node answers 413 itself", () => {
    for (const loc of LOCATIONS) {
      const size = effective(loc, "client_max_body_size");
      expect(size).toBeDefined();
      expect({ loc: loc.args.join(" "), ok: sizeBytes(size!.args[0]!) >= MIN_BODY_BYTES }).toEqual({ loc: loc.args.join(" "), ok: true });
    }
  });

  test("X-Forwarded-For is the peer address in every location (never appended: the node believes the first hop)", () => {
    for (const loc of LOCATIONS) {
      expect({ loc: loc.args.join(" "), xff: effectiveHeaders(loc).get("x-forwarded-for") }).toEqual({ loc: loc.args.join(" "), xff: "$remote_addr" });
    }
  });

  test("retries on another node only on connect errors/timeouts, at most 2 tries, never non_idempotent", () => {
    const walk = (ds: Directive[]): Directive[] => ds.flatMap((d) => [d, ...walk(d.block ?? [])]);
    const every = walk(NGINX);
    expect(every.flatMap((d) => d.args).filter((a) => a.includes("non_idempotent"))).toEqual([]);
    for (const loc of LOCATIONS) {
      const next = effective(loc, "proxy_next_upstream")?.args ?? [];
      expect(next).toEqual(expect.arrayContaining(["error", "timeout"]));
      expect(next.filter((a) => !["error", "timeout"].includes(a))).toEqual([]);
      expect(effective(loc, "proxy_next_upstream_tries")?.args).toEqual(["2"]);
    }
  });

  test("the access log never writes a path's ID number or a query string", () => {
    const formats = all(HTTP, "log_format");
    const logs = [...all(HTTP, "access_log"), ...all(SERVER, "access_log")];
    expect(logs.length).toBeGreaterThan(0);
    for (const l of logs) {
      if (l.args[0] === "off") continue;
      const fmt = formats.find((f) => f.args[0] === l.args[1]);
      expect({ log: l.args.join(" "), custom: fmt !== undefined }).toEqual({ log: l.args.join(" "), custom: true });
      expect(fmt!.args.slice(1).join("")).not.toMatch(/\$(request|request_uri|args|query_string|uri)\b/);
    }
  });

  test("nginx -t accepts it (upstream hosts replaced by 127.0.0.1)", async () => {
    const nginx = Bun.which("nginx") ?? Bun.which("nginx", { PATH: "/usr/sbin:/usr/local/sbin:/usr/local/nginx/sbin" });
    if (!nginx) {
      console.log("deploy.test: nginx is not installed here: skipping the `nginx -t` syntax check of deploy/nginx.conf");
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), "yukuai-nginx-t-"));
    try {
      const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
      const port = probe.port;
      probe.stop(true);
      const conf = NGINX_TEXT
        .replace(/(\bserver\s+)[A-Za-z0-9.-]+(:\d+)/g, "$1127.0.0.1$2")
        .replace(/\blisten\s+[^;]+;/g, `listen 127.0.0.1:${port};`)
        .replace(/\bpid\s+[^;]+;/, `pid ${dir}/nginx.pid;`)
        .replace(/\berror_log\s+\S+/, `error_log ${dir}/error.log`)
        .replace(/\baccess_log\s+\S+/g, `access_log ${dir}/access.log`);
      expect(conf).not.toMatch(/server\s+(issuer|follower)/);
      const path = join(dir, "nginx.conf");
      writeFileSync(path, conf);
      const p = Bun.spawnSync([nginx, "-t", "-q", "-e", join(dir, "error.log"), "-c", path], { stderr: "pipe", stdout: "pipe" });
      const out = p.stderr.toString() + p.stdout.toString();
      expect({ exitCode: p.exitCode, out }).toEqual({ exitCode: 0, out: expect.any(String) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("k8s/", () => {
  const issuer = () => K8S_ISSUERS[0]!;
  const followers = () => K8S_FOLLOWERS[0]!;
  const redisService = () => kind("Service").find((s) => K8S_REDIS.some((w) => selects(spec(s).selector, w.labels)))!;

  test("the kustomization lists every manifest, and the manifests hold what the fleet needs", () => {
    const kust = K8S_ALL.find(({ doc }) => doc.kind === "Kustomization")!.doc;
    const listed = arr(kust.resources).map(str).sort();
    const files = K8S_FILES.map((f) => f.split("/").at(-1)!).filter((f) => f !== "kustomization.yaml").sort();
    expect(listed).toEqual(files);
    expect(kind("Deployment").length).toBeGreaterThanOrEqual(1);
    expect(kind("HorizontalPodAutoscaler").length).toBe(1);
    expect(kind("PodDisruptionBudget").length).toBeGreaterThanOrEqual(1);
    expect(kind("Secret").length).toBe(1);
    expect(K8S_ISSUERS.length).toBe(1);
    expect(K8S_FOLLOWERS.length).toBe(1);
    expect(K8S_REDIS.length).toBe(1);
    // every object's kind/apiVersion is a stable one
    const api: Record<string, string> = { Namespace: "v1", Secret: "v1", Service: "v1", Deployment: "apps/v1", StatefulSet: "apps/v1",
      HorizontalPodAutoscaler: "autoscaling/v2", PodDisruptionBudget: "policy/v1", NetworkPolicy: "networking.k8s.io/v1" };
    for (const d of K8S) expect({ kind: d.kind, apiVersion: d.apiVersion }).toEqual({ kind: d.kind, apiVersion: api[str(d.kind)] });
  });

  test("node pods: containerPort 8080 = PORT, readiness /readyz and liveness /healthz on it, graceful stop, non-root, resources", () => {
    for (const w of K8S_NODES) {
      const c = nodeContainer(w)!;
      const where = `${w.kind} ${w.name}`;
      expect({ where, ports: arr(c.ports).map((p) => obj(p, "port").containerPort) }).toEqual({ where, ports: [PORT] });
      expect({ where, PORT: envValue(c, "PORT") }).toEqual({ where, PORT: String(PORT) });
      const probe = (p: unknown) => obj(obj(p, `${where} probe`).httpGet, `${where} probe httpGet`);
      expect(probe(c.readinessProbe)).toMatchObject({ path: "/readyz", port: PORT });
      expect(probe(c.livenessProbe)).toMatchObject({ path: "/healthz", port: PORT });
      if (c.startupProbe !== undefined) expect(probe(c.startupProbe)).toMatchObject({ path: "/healthz", port: PORT });
      const grace = Number(w.pod.terminationGracePeriodSeconds);
      expect(grace).toBeGreaterThanOrEqual(10);
      // a preStop pause (if any) leaves most of the grace period to the drain
      expect(preStopSeconds(c)).toBeLessThan(grace / 2);
      const podSec = obj(w.pod.securityContext ?? {}, "pod securityContext");
      const cSec = obj(c.securityContext ?? {}, "container securityContext");
      expect(cSec.runAsNonRoot ?? podSec.runAsNonRoot).toBe(true);
      // runAsNonRoot needs a numeric user: the image's USER is a name ("bun")
      expect(Number(cSec.runAsUser ?? podSec.runAsUser)).toBeGreaterThan(0);
      expect(cSec.allowPrivilegeEscalation).toBe(false);
      const res = obj(c.resources, `${where} resources`);
      expect(obj(res.requests, "requests")).toMatchObject({ cpu: expect.anything(), memory: expect.anything() });
      expect(obj(res.limits, "limits")).toMatchObject({ memory: expect.anything() });
      // the worker pool defaults to the host's cores, not the pod's CPU
      expect(envValue(c, "YUKUAI_WORKERS")).toBeDefined();
    }
  });

  test("Services in front of the nodes target port 8080 and select existing pods", () => {
    for (const s of kind("Service")) {
      const matched = WORKLOADS.filter((w) => selects(spec(s).selector, w.labels));
      expect({ svc: nameOf(s), selects: matched.length > 0 }).toEqual({ svc: nameOf(s), selects: true });
      if (matched.some((w) => K8S_NODES.includes(w))) {
        for (const p of arr(spec(s).ports)) expect({ svc: nameOf(s), targetPort: obj(p, "port").targetPort }).toEqual({ svc: nameOf(s), targetPort: PORT });
      }
    }
    expect(servicesOf(issuer()).length).toBeGreaterThan(0);
    expect(servicesOf(followers()).length).toBeGreaterThan(0);
  });

  test("the issuer: one replica of a StatefulSet, its data dir on a PersistentVolumeClaim, admin + feed tokens, Redis", () => {
    const w = issuer();
    const c = nodeContainer(w)!;
    expect(w.kind).toBe("StatefulSet");
    expect(spec(w.doc).replicas).toBe(1);
    const dataDir = envValue(c, "YUKUAI_DATA_DIR")!;
    const claims = arr(spec(w.doc).volumeClaimTemplates).map((t) => str(meta(obj(t, "claim")).name));
    const mount = arr(c.volumeMounts).map((m) => obj(m, "mount")).find((m) => m.mountPath === dataDir);
    expect(mount).toBeDefined();
    expect(claims).toContain(str(mount!.name));
    for (const v of ["YUKUAI_ADMIN_TOKEN", "YUKUAI_FEED_TOKEN", "YUKUAI_REDIS_URL"]) expect(hasEnv(c, v)).toBe(true);
    expect(hasEnv(c, "YUKUAI_FOLLOW")).toBe(false);
    // followers reach the issuer even while it is not ready (warming): they must keep syncing
    const followUrl = envValue(nodeContainer(followers())!, "YUKUAI_FOLLOW")!;
    const followed = kind("Service").find((s) => nameOf(s) === hostPort(followUrl)[0])!;
    expect(spec(followed).publishNotReadyAddresses).toBe(true);
  });

  test("the followers: a Deployment of ≥ 2 following the issuer's Service on 8080, with the feed token and Redis, no admin token", () => {
    const w = followers();
    const c = nodeContainer(w)!;
    expect(w.kind).toBe("Deployment");
    expect(Number(spec(w.doc).replicas)).toBeGreaterThanOrEqual(2);
    const [host, port] = hostPort(envValue(c, "YUKUAI_FOLLOW")!);
    const target = kind("Service").find((s) => nameOf(s) === host);
    expect(target).toBeDefined();
    expect(selects(spec(target!).selector, issuer().labels)).toBe(true);
    expect(selects(spec(target!).selector, w.labels)).toBe(false);
    const sp = arr(spec(target!).ports).map((p) => obj(p, "port")).find((p) => p.port === port);
    expect(sp?.targetPort).toBe(PORT);
    expect(hasEnv(c, "YUKUAI_FEED_TOKEN")).toBe(true);
    expect(hasEnv(c, "YUKUAI_REDIS_URL")).toBe(true);
    expect(hasEnv(c, "YUKUAI_ADMIN_TOKEN")).toBe(false);
    expect(hasEnv(c, "YUKUAI_TRUST_LIST")).toBe(false);
    expect(envValue(c, "YUKUAI_ISSUER") ?? "500000").toBe(envValue(nodeContainer(issuer())!, "YUKUAI_ISSUER") ?? "500000");
  });

  test("every node's YUKUAI_REDIS_URL is the Redis Service, and Redis runs with noeviction", () => {
    const rs = redisService();
    for (const w of K8S_NODES) {
      const [host, port] = hostPort(envValue(nodeContainer(w)!, "YUKUAI_REDIS_URL")!);
      expect(host).toBe(nameOf(rs));
      expect(arr(spec(rs).ports).map((p) => obj(p, "port").port)).toContain(port);
    }
    const c = K8S_REDIS[0]!.containers[0]!;
    const argv = [...arr(c.command), ...arr(c.args)].map(str);
    expect(argv[argv.indexOf("--maxmemory-policy") + 1]).toBe("noeviction");
    expect(argv.indexOf("--maxmemory-policy")).toBeGreaterThan(-1);
    expect(argv[argv.indexOf("--maxmemory") + 1]).toMatch(/^\d+(mb|gb|kb)?$/i);
  });

  test("the HPA scales the follower Deployment on CPU from ≥ 2; the PodDisruptionBudget keeps ≥ 1 follower", () => {
    const hpa = spec(kind("HorizontalPodAutoscaler")[0]!);
    expect(obj(hpa.scaleTargetRef, "scaleTargetRef")).toMatchObject({ kind: "Deployment", name: followers().name });
    expect(Number(hpa.minReplicas)).toBeGreaterThanOrEqual(2);
    expect(Number(hpa.maxReplicas)).toBeGreaterThan(Number(hpa.minReplicas));
    expect(arr(hpa.metrics).some((m) => str(obj(obj(m, "metric").resource ?? {}, "resource").name) === "cpu")).toBe(true);
    const pdbs = kind("PodDisruptionBudget").filter((p) => selects(obj(spec(p).selector, "selector").matchLabels, followers().labels));
    expect(pdbs.length).toBe(1);
    expect(Number(spec(pdbs[0]!).minAvailable)).toBeGreaterThanOrEqual(1);
  });

  test("tokens come from the Secret by secretKeyRef; the Secret holds only CHANGE-ME placeholders", () => {
    const secret = kind("Secret")[0]!;
    const data = new Map<string, string>([
      ...Object.entries(isObj(secret.stringData) ? secret.stringData : {}).map(([k, v]) => [k, str(v)] as [string, string]),
      ...Object.entries(isObj(secret.data) ? secret.data : {}).map(([k, v]) => [k, Buffer.from(str(v), "base64").toString()] as [string, string]),
    ]);
    expect(data.size).toBeGreaterThanOrEqual(2);
    for (const [k, v] of data) expect({ k, v: v.includes("CHANGE-ME") }).toEqual({ k, v: true });
    for (const w of K8S_NODES) {
      for (const e of envList(nodeContainer(w)!).filter((x) => /TOKEN/.test(str(x.name)))) {
        const where = `${w.name} ${str(e.name)}`;
        expect({ where, value: e.value }).toEqual({ where, value: undefined });
        const ref = obj(obj(e.valueFrom, `${where} valueFrom`).secretKeyRef, `${where} secretKeyRef`);
        expect(ref.name).toBe(nameOf(secret));
        expect(data.has(str(ref.key))).toBe(true);
      }
    }
    // the follower presents the issuer's feed token: the same key
    const feedRef = (w: Workload) => obj(obj(envList(nodeContainer(w)!).find((e) => e.name === "YUKUAI_FEED_TOKEN")!.valueFrom, "v").secretKeyRef, "r").key;
    expect(feedRef(followers())).toBe(feedRef(issuer()));
  });

  test("without YUKUAI_TRUSTED_PROXIES, an external Service keeps the client's address (externalTrafficPolicy Local)", () => {
    const trusting = K8S_NODES.some((w) => envValue(nodeContainer(w)!, "YUKUAI_TRUSTED_PROXIES"));
    for (const s of kind("Service").filter((x) => ["LoadBalancer", "NodePort"].includes(str(spec(x).type)))) {
      if (!trusting) expect({ svc: nameOf(s), policy: spec(s).externalTrafficPolicy }).toEqual({ svc: nameOf(s), policy: "Local" });
    }
  });
});

describe("Dockerfile", () => {
  const lines = read(join(ROOT, "Dockerfile")).replace(/\\\n/g, " ").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  const stages: { from: string; alias: string; lines: string[] }[] = [];
  for (const l of lines) {
    const m = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(l);
    if (m) stages.push({ from: m[1]!, alias: m[2] ?? "", lines: [] });
    else stages.at(-1)?.lines.push(l);
  }
  const final = stages.at(-1)!;
  const deps = stages.find((s) => s.alias !== "" && s.lines.some((l) => /bun install/.test(l)))!;

  test("the dependency stage installs production dependencies only, from the lockfile", () => {
    expect(deps).toBeDefined();
    // the one install whose node_modules the image carries (a "docs" stage may install more at build time, to
    // copy out one file: the reference page's script)
    const installs = deps.lines.filter((l) => /^RUN\b.*\b(bun|npm|yarn|pnpm) (install|i|ci)\b/.test(l));
    expect(installs.length).toBe(1);
    expect(installs[0]).toContain("--production");
    expect(installs[0]).toContain("--frozen-lockfile");
    const copies = deps.lines.filter((l) => /^(COPY|ADD)\b/i.test(l));
    for (const c of copies) {
      const parts = c.split(/\s+/).slice(1).filter((p) => !p.startsWith("--"));
      expect(parts.slice(0, -1).every((p) => ["package.json", "package-lock.json"].includes(p))).toBe(true);
    }
  });

  test("the image copies only package.json, node_modules from the deps stage and src (no tests, bench, keys, docs)", () => {
    expect(lines.some((l) => /^ADD\b/i.test(l))).toBe(false);
    const copies = final.lines.filter((l) => /^COPY\b/i.test(l));
    expect(copies.length).toBeGreaterThan(0);
    for (const c of copies) {
      const words = c.split(/\s+/).slice(1);
      const from = words.find((w) => w.startsWith("--from="))?.slice("--from=".length);
      const paths = words.filter((w) => !w.startsWith("--"));
      const sources = paths.slice(0, -1);
      if (from === "docs") {
        expect([sources, paths.at(-1)]).toEqual([["/scalar-standalone.js"], "./vendor/scalar-standalone.js"]);
      } else if (from === "native") {
        // the built verification core only: no C sources, no build tree
        expect([sources, paths.at(-1)]).toEqual([["/app/native/build/Release/yukuai_ed25519.node"], "./native/build/Release/yukuai_ed25519.node"]);
      } else if (from !== undefined) {
        expect(from).toBe(deps.alias);
        expect(sources).toEqual(["/app/node_modules"]);
      } else {
        expect({ c, ok: sources.every((s) => ["package.json", "src", "src/"].includes(s)) }).toEqual({ c, ok: true });
      }
    }
    expect(copies.filter((c) => !c.includes("--from=docs") && !c.includes("--from=native")).join(" ")).not.toMatch(/\b(test|bench|keys|docs|data|\.git)\b|\s\.\s/);
    const docs = stages.find((st) => st.alias === "docs");
    if (docs) expect(docs.lines.some((l) => l.includes("cp node_modules/@scalar/api-reference/dist/browser/standalone.js /scalar-standalone.js"))).toBe(true);
  });

  test("a build stage compiles the native verification core and fails the image when it does not build", () => {
    const native = stages.find((st) => st.alias === "native");
    expect(native).toBeDefined();
    expect(native!.lines).toContain("COPY native ./native");
    const run = native!.lines.find((l) => /^RUN\b/.test(l));
    expect(run).toContain("node native/install.mjs");
    expect(run).toContain("test -f native/build/Release/yukuai_ed25519.node");
    expect(final.lines.some((l) => l.startsWith("COPY --from=native "))).toBe(true);
  });

  test("the image runs as a non-root user on PORT 8080, and starts the node", () => {
    const env = final.lines.filter((l) => /^ENV\b/i.test(l)).join(" ");
    expect(env).toMatch(new RegExp(`\\bPORT=${PORT}\\b`));
    expect(final.lines).toContain(`EXPOSE ${PORT}`);
    const user = final.lines.filter((l) => /^USER\b/i.test(l)).at(-1);
    expect(user).toBeDefined();
    expect(user!.split(/\s+/)[1]).not.toMatch(/^(root|0)(:|$)/);
    expect(final.lines.find((l) => /^CMD\b/i.test(l))).toContain("src/main.ts");
    // k8s runs the image's user by number (runAsUser 1000 = the oven/bun images' "bun" user)
    expect(user!.split(/\s+/)[1]).toMatch(/^(bun|1000)(:|$)/);
    for (const w of K8S_NODES) expect(Number(obj(w.pod.securityContext, "securityContext").runAsUser)).toBe(1000);
  });
});
