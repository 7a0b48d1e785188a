/**
 * A throwaway nginx load balancer on loopback for e2e tests (`.ci/run` installs Debian's nginx): the
 * master runs in the foreground as the test's child (`daemon off`), with its config, pid file, logs and
 * temp paths all in a new temp dir, listening on a free 127.0.0.1 port, proxying to `upstreams`.
 *
 * Every answer carries `X-Upstream: $upstream_addr` (the node or nodes nginx tried, comma-separated when
 * it moved on to another), so a test sees which node served each request.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./net.ts";
import { pollUntil } from "./poll.ts";

export interface TestNginx {
  /** `http://127.0.0.1:<port>` */
  base: string;
  port: number;
  dir: string;
  proc: ReturnType<typeof Bun.spawn>;
  /** nginx's stderr so far, and its error log (where it says why it moved on from a node). */
  log(): string;
  /** The access log: one line per request, `status upstream_addr upstream_status request_time`. */
  accessLog(): string;
  /** Ends nginx (SIGTERM; SIGKILL for master and workers after 3 s, a hang guard) and removes its dir. */
  close(): Promise<void>;
}

export interface NginxOptions {
  /** `host:port` of each upstream node, round robin in this order. */
  upstreams: string[];
}

/** The load-balancer settings the scale-out runbook pairs with the nodes (README "Scaling out"). */
function config(dir: string, port: number, o: NginxOptions): string {
  const asRoot = process.getuid?.() === 0;
  return `# written by test/support/nginx.ts
${asRoot ? "user root root; # workers keep the master's user: the temp dir is the test's (0700)\n" : ""}worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 1024; }
http {
  log_format lb '$status $upstream_addr $upstream_status $request_time';
  access_log ${dir}/access.log lb;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;

  upstream yukuai {
${o.upstreams.map((u) => `    server ${u} max_fails=1 fail_timeout=2s;`).join("\n")}
    keepalive 16;
  }

  server {
    listen 127.0.0.1:${port};
    client_max_body_size 2m;

    # nginx itself, not a node: for start-up
    location = /__nginx { return 200 "nginx\\n"; }

    location / {
      proxy_pass http://yukuai;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $remote_addr;
      # connect failures and timeouts move on to the next node; POSTs already sent are never resent
      # (no non_idempotent): a batch may have been decided there
      proxy_next_upstream error timeout;
      proxy_next_upstream_tries 2;
      proxy_connect_timeout 1s;
      proxy_read_timeout 5s;
      add_header X-Upstream $upstream_addr always;
    }
  }
}
`;
}

export async function startNginx(o: NginxOptions): Promise<TestNginx> {
  const bin = Bun.which("nginx") ?? Bun.which("nginx", { PATH: "/usr/sbin:/usr/local/sbin:/sbin" });
  if (!bin) throw new Error("nginx is not installed (apt-get install -y nginx; .ci/run does this)");
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "yukuai-nginx-"));
  const conf = join(dir, "nginx.conf");
  writeFileSync(conf, config(dir, port, o));
  // -e: the error log nginx uses before it has read the config (else the compiled-in /var/log/nginx/error.log)
  const proc = Bun.spawn([bin, "-p", dir, "-e", join(dir, "error.log"), "-c", conf, "-g", "daemon off;"], { stdout: "pipe", stderr: "pipe" });
  let out = "";
  void (async () => {
    const dec = new TextDecoder();
    try {
      for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) out += dec.decode(chunk, { stream: true });
    } catch { /* gone */ }
  })();
  void new Response(proc.stdout as ReadableStream<Uint8Array>).text().catch(() => "");
  const read = (f: string) => {
    try {
      return readFileSync(join(dir, f), "utf8");
    } catch {
      return "";
    }
  };
  const n: TestNginx = {
    base: `http://127.0.0.1:${port}`,
    port,
    dir,
    proc,
    log: () => out + read("error.log"),
    accessLog: () => read("access.log"),
    async close() {
      if (proc.exitCode === null && proc.signalCode === null) {
        // the workers, by pid, in case the master must be SIGKILLed (they would outlive it)
        let workers: number[] = [];
        try {
          workers = readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
        } catch { /* no /proc */ }
        proc.kill("SIGTERM");
        await Promise.race([proc.exited, Bun.sleep(3000)]);
        if (proc.exitCode === null && proc.signalCode === null) {
          proc.kill("SIGKILL");
          for (const w of workers) {
            try { process.kill(w, "SIGKILL"); } catch { /* gone */ }
          }
        }
      }
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await pollUntil(`nginx on ${n.base}`, async () => {
      if (proc.exitCode !== null) throw new Error(`nginx exited with ${proc.exitCode}: ${n.log()}`);
      try {
        return (await fetch(`${n.base}/__nginx`)).status === 200;
      } catch {
        return false; // not listening yet
      }
    });
  } catch (e) {
    await n.close();
    throw e;
  }
  return n;
}
