/**
 * docs/spec.md is the project's copy of the contract, kept in step with the shared DESIGN.md: every line of
 * the shared contract stands in it, and every "spec §N" a source file cites names a section that exists.
 */
import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");
const spec = readFileSync(join(ROOT, "docs/spec.md"), "utf8");
const shared = resolve(ROOT, "../shared/DESIGN.md");

test.skipIf(!existsSync(shared))("every line of ../shared/DESIGN.md stands in docs/spec.md, in order", () => {
  const lines = readFileSync(shared, "utf8").split("\n");
  let at = 0;
  const missing: string[] = [];
  for (const line of lines) {
    const i = spec.indexOf(line, at);
    if (i < 0) missing.push(line);
    else at = i + line.length;
  }
  expect(missing).toEqual([]);
});

test("every section a source file cites exists in docs/spec.md", () => {
  const sections = new Set([...spec.matchAll(/^## (\d+)\./gm)].map((m) => m[1]!));
  expect(sections.size).toBeGreaterThanOrEqual(8);
  const files: string[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith(".ts")) files.push(p);
    }
  };
  walk(join(ROOT, "src"));
  const cited: string[] = [];
  for (const f of files) {
    const text = readFileSync(f, "utf8");
    expect([f, text.includes("DESIGN.md")]).toEqual([f, false]); // cite the spec in the repository
    for (const m of text.matchAll(/spec §(\d+)/g)) cited.push(`${f.slice(ROOT.length + 1)} §${m[1]}`);
    for (const m of text.matchAll(/§(\d+)/g)) if (!sections.has(m[1]!)) cited.push(`${f.slice(ROOT.length + 1)}: §${m[1]} does not exist`);
  }
  expect(cited.filter((c) => c.includes("does not exist"))).toEqual([]);
  expect(cited.length).toBeGreaterThan(20);
});
