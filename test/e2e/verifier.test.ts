/**
 * Which signature verifier a real node (`bun src/main.ts`) runs, and that it says so (issue 12): the
 * start-up line names the implementation and, when it is not the native core, why; `/metrics` has
 * `yukuai_verifier_info{impl} 1`; `YUKUAI_VERIFIER=node:crypto` is honoured with workers too; unset, the
 * native core runs when it is built (else node:crypto with the reason); `native` is the core or no start;
 * a bad value stops start-up.
 */
import { afterEach, expect, test } from "bun:test";
import { spawnNode, stopNode, waitFor, type NodeProcess } from "../support/node-process.ts";
import { pollUntil } from "../support/poll.ts";
import { nativeUnavailable } from "../support/verifiers.ts";

const nodes: NodeProcess[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) await stopNode(n);
});

/** A node started with `env`: its start-up line and its `yukuai_verifier_info` samples. */
async function started(env: Record<string, string>): Promise<{ line: string; info: string[] }> {
  const n = await spawnNode(env);
  nodes.push(n);
  await waitFor(n, "/healthz");
  const line = await pollUntil("the start-up line", () => n.out().split("\n").find((l) => l.includes(" listening on ")));
  const metrics = await (await fetch(`${n.base}/metrics`)).text();
  return { line, info: metrics.split("\n").filter((l) => l.startsWith("yukuai_verifier_info")) };
}

test("YUKUAI_VERIFIER=node:crypto: the start-up line says node:crypto and why; /metrics has impl=\"node:crypto\"", async () => {
  for (const workers of ["0", "2"]) {
    const { line, info } = await started({ YUKUAI_VERIFIER: "node:crypto", YUKUAI_WORKERS: workers });
    expect(line).toEndWith("; verifier node:crypto (YUKUAI_VERIFIER=node:crypto))");
    expect(info).toEqual(['yukuai_verifier_info{impl="node:crypto"} 1']);
  }
}, 20_000);

test("unset: the native core when it is built, on the main thread and in the workers; else node:crypto, saying why", async () => {
  for (const workers of ["0", "2"]) {
    const { line, info } = await started({ YUKUAI_WORKERS: workers });
    if (nativeUnavailable !== null) {
      console.log(`verifier.test: the native core is not built here (${nativeUnavailable}): checking the fallback instead of impl="native"`);
      expect(line).toEndWith(`; verifier node:crypto (native core unavailable: ${nativeUnavailable}))`);
      expect(info).toEqual(['yukuai_verifier_info{impl="node:crypto"} 1']);
      continue;
    }
    expect(line).toEndWith("; verifier native)");
    expect(info).toEqual(['yukuai_verifier_info{impl="native"} 1']);
  }
}, 20_000);

test("YUKUAI_VERIFIER=native: the native core, or no start at all (never node:crypto)", async () => {
  if (nativeUnavailable === null) {
    const { line, info } = await started({ YUKUAI_VERIFIER: "native", YUKUAI_WORKERS: "2" });
    expect(line).toEndWith("; verifier native)");
    expect(info).toEqual(['yukuai_verifier_info{impl="native"} 1']);
    return;
  }
  console.log(`verifier.test: the native core is not built here (${nativeUnavailable}): checking the refusal instead`);
  const n = await spawnNode({ YUKUAI_VERIFIER: "native" });
  nodes.push(n);
  expect(await n.proc.exited).toBe(1);
  expect(n.out()).toContain(`yukuai: cannot start: YUKUAI_VERIFIER=native but the native core is unavailable: ${nativeUnavailable}`);
}, 20_000);

test("YUKUAI_VERIFIER=bogus refuses to start, naming the variable and the values it takes", async () => {
  const n = await spawnNode({ YUKUAI_VERIFIER: "bogus" });
  nodes.push(n);
  expect(await n.proc.exited).toBe(1);
  expect(n.out()).toContain('yukuai: cannot start: YUKUAI_VERIFIER must be "native" or "node:crypto" (unset: native when it loads), got "bogus"');
});
