/**
 * Waiting on another process (a spawned node, a redis-server) that offers no event to await: its state is
 * polled, a bounded number of attempts with a short pause between them, until a condition holds. Code in
 * this process is awaited (`Follower.nextPoll()`, `GatedChecker.reached()`, WebSocket events), never polled.
 */

/** `probe()` until it gives a value other than undefined or false; throws naming `what` after `attempts` tries. */
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  { attempts = 100, pauseMs = 50 }: { attempts?: number; pauseMs?: number } = {},
): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (i + 1 < attempts) await Bun.sleep(pauseMs);
  }
  throw new Error(`${what}: not so after ${attempts} attempts ${pauseMs} ms apart`);
}
