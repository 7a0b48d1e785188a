/**
 * @module A bounded read of a text document over http(s) (the trust list, spec §7): a timeout, and a size
 * bound in bytes checked against Content-Length and counted while the body is read (a chunked answer too),
 * the read cancelled once past it.
 */
export async function fetchText(url: string, o: { timeoutMs: number; maxBytes: number; accept: string; fetchFn?: typeof fetch }): Promise<string> {
  const res = await (o.fetchFn ?? fetch)(url, { signal: AbortSignal.timeout(o.timeoutMs), headers: { accept: o.accept } });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
  const tooLarge = () => new Error(`larger than ${o.maxBytes} bytes`);
  if (Number(res.headers.get("content-length") ?? "0") > o.maxBytes) throw tooLarge();
  if (res.body === null) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > o.maxBytes) {
      void reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
}
