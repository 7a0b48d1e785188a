// Builds the verification core at `npm install` (package.json "install"). Never fails the install: when
// the core cannot build (no compiler, no headers, another architecture), the node runs on node:crypto and
// says so at start-up (src/crypto/native.ts). YUKUAI_NATIVE_BUILD=0 skips the build.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
if (process.env.YUKUAI_NATIVE_BUILD === "0") {
  console.log("yukuai native core: build skipped (YUKUAI_NATIVE_BUILD=0)");
  process.exit(0);
}
// npm puts its own node-gyp on PATH for lifecycle scripts; outside npm, use the copy bundled with npm
const bundled = join(dirname(process.execPath), "../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js");
const args = ["rebuild"];
// build against the headers of the Node.js that runs this (no download): N-API is the same ABI in Bun
const prefix = join(dirname(process.execPath), "..");
if (existsSync(join(prefix, "include/node/node_api.h"))) args.push(`--nodedir=${prefix}`);
const viaPath = spawnSync("node-gyp", args, { cwd: here, stdio: "inherit" });
const r = viaPath.error !== undefined && existsSync(bundled)
  ? spawnSync(process.execPath, [bundled, ...args], { cwd: here, stdio: "inherit" })
  : viaPath;
if (r.status === 0) console.log("yukuai native core: built native/build/Release/yukuai_ed25519.node");
else console.warn(`yukuai native core: build failed (${r.error?.message ?? `exit ${r.status}`}); the node will verify with node:crypto`);
process.exit(0);
