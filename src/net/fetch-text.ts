/**
 * @module A bounded read of a text document over http(s) (the trust list, spec §7): a timeout, a size
 * bound counted while reading, and an error naming the status.
 */
export async function fetchText(url: string, o: { timeoutMs: number; maxBytes: number; accept: string; fetchFn?: typeof fetch }): Promise<string> {
  const res = await (o.fetchFn ?? fetch)(url, { signal: AbortSignal.timeout(o.timeoutMs), headers: { accept: o.accept } });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
  const declared = Number(res.headers.get("content-length") ?? "0");
  if (declared > o.maxBytes) throw new Error(`larger than ${o.maxBytes} bytes`);
  const text = await res.text();
  if (text.length > o.maxBytes) throw new Error(`larger than ${o.maxBytes} bytes`);
  return text;
}
