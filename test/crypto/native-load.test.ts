/**
 * When the native core cannot be used (issue 12: "if it cannot build or load"), the node verifies with
 * node:crypto and says why; asked for native explicitly, it refuses. A missing build and a file that is not
 * a loadable module are both a reason, never a crash.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config.ts";
import { chooseVerifier, loadNative } from "../../src/crypto/native.ts";

const dir = mkdtempSync(join(tmpdir(), "yukuai-native-load-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const missing = join(dir, "absent.node");
const broken = join(dir, "broken.node");
writeFileSync(broken, "not a shared object\n");

describe("loading the native core", () => {
  test("a missing build is a reason", () => {
    const l = loadNative(missing);
    expect(l.verifier).toBeNull();
    expect(l.reason).toContain("not built");
  });

  test("a file that does not load is a reason", () => {
    const l = loadNative(broken);
    expect(l.verifier).toBeNull();
    expect(l.reason).toContain("did not load");
  });

  test.each([[missing], [broken]])("unset YUKUAI_VERIFIER falls back to node:crypto with the reason (%s)", (path) => {
    const c = chooseVerifier(null, path);
    expect(c.verifier.impl).toBe("node:crypto");
    expect(c.fallbackReason).toBe(loadNative(path).reason);
    // and it verifies: RFC 8032 §7.1 TEST 2
    const pk = Buffer.from("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "hex");
    const sig = Buffer.from("92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00", "hex");
    expect(c.verifier.verifyOne(new Uint8Array(pk), new Uint8Array([0x72]), new Uint8Array(sig))).toBe(true);
  });

  test("YUKUAI_VERIFIER=native without a loadable core refuses", () => {
    expect(() => chooseVerifier("native", broken)).toThrow("the native core is unavailable");
  });

  test("YUKUAI_VERIFIER=node:crypto never loads the core; anything else is refused", () => {
    expect(chooseVerifier("node:crypto", missing).verifier.impl).toBe("node:crypto");
    expect(() => loadConfig({ YUKUAI_VERIFIER: "bogus" })).toThrow("YUKUAI_VERIFIER"); // config.ts is the one check
  });
});
