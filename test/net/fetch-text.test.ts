/**
 * net/fetch-text.ts: the trust list's bounded read — a status other than 200, a declared length over the
 * bound, and a chunked body (no length) counted in bytes while read and cut once past the bound.
 */
import { expect, test } from "bun:test";
import { fetchText } from "../../src/net/fetch-text.ts";

const answering = (res: () => Response) => (async () => res()) as unknown as typeof fetch;
const o = (fetchFn: typeof fetch, maxBytes = 16) => ({ timeoutMs: 1000, maxBytes, accept: "application/jose", fetchFn });

test("a 200 body within the bound is read whole, as UTF-8", async () => {
  expect(await fetchText("https://x.invalid/l", o(answering(() => new Response("列表.jws"))))).toBe("列表.jws");
});

test("another status, and a declared Content-Length over the bound, are refused", async () => {
  await expect(fetchText("https://x.invalid/l", o(answering(() => new Response("no", { status: 404 }))))).rejects.toThrow("HTTP 404");
  await expect(fetchText("https://x.invalid/l", o(answering(() => new Response("x".repeat(17), { headers: { "content-length": "17" } }))))).rejects.toThrow("larger than 16 bytes");
});

test("a chunked body with no length is counted in bytes (not characters) while read, and cut past the bound", async () => {
  let pulled = 0;
  const endless = () => new Response(new ReadableStream<Uint8Array>({
    pull(c) {
      pulled++;
      c.enqueue(new TextEncoder().encode("渝快码")); // 9 bytes, 3 characters
    },
  }));
  await expect(fetchText("https://x.invalid/l", o(answering(endless)))).rejects.toThrow("larger than 16 bytes");
  expect(pulled).toBeLessThanOrEqual(4); // cancelled, not read to the end (there is none)
});
