/**
 * The layout a newcomer is promised (README "Architecture", STYLE.md): every SQL statement in
 * src/state/db.ts, every outbound HTTP call in src/net/, Hono only in src/app.ts and src/routes/, the time of
 * day only through the injected Clock, and the spec §3 result order in src/verify/pipeline.ts.
 */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";

const SRC = resolve(import.meta.dir, "../../src");
const files: { path: string; text: string }[] = [];
(function walk(d: string) {
  for (const f of readdirSync(d)) {
    const p = join(d, f);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith(".ts")) files.push({ path: relative(SRC, p), text: readFileSync(p, "utf8") });
  }
})(SRC);

/** Files whose code (comments left out) matches `re`. */
function where(re: RegExp): string[] {
  return files.filter((f) => re.test(f.text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, ""))).map((f) => f.path).sort();
}

test("every SQL statement is in state/db.ts", () => {
  expect(where(/\b(SELECT|INSERT|UPDATE|DELETE FROM|CREATE TABLE)\b/)).toEqual(["state/db.ts"]);
  expect(where(/bun:sqlite/)).toEqual(["state/db.ts"]);
});

test("every outbound HTTP call is in net/", () => {
  expect(where(/(?<!app\.)\bfetch\(|fetchFn\(/).filter((p) => !p.startsWith("net/"))).toEqual([]);
});

test("nothing about HTTP below routes/: Hono is imported only by app.ts and routes/", () => {
  expect(where(/from "hono/).filter((p) => p !== "app.ts" && !p.startsWith("routes/"))).toEqual([]);
});

test("the time of day comes only from the injected Clock", () => {
  expect(where(/Date\.now\(\)|new Date\(\)/)).toEqual(["clock.ts"]);
});

test("the spec §3 order of results is decided in one file", () => {
  const deciders = where(/results\[[^\]]+\] = BARE\.|result: "(NOT_YET_VALID|EXPIRED|REVOKED|STALE|REPLAY)"|code = "(NOT_YET_VALID|EXPIRED|REVOKED|STALE)"/);
  expect(deciders).toEqual(["verify/pipeline.ts"]);
});
