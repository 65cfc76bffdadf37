/**
 * Background expiry sweep: deletes expired rows in bounded batches, yielding to the event loop
 * between batches so requests are never blocked behind it. Expired tokens are already inactive
 * (every lookup checks expiry); sweeping only reclaims space.
 */
import type { Store } from '../store/types.js';

export interface Sweeper {
  /** Runs one full sweep now; resolves with the number of rows deleted. */
  sweepNow(): Promise<number>;
  stop(): void;
}

export function startSweeper(
  store: Store,
  options: {
    batch: number; interval: number; retention: number; onError?: (err: unknown) => void;
    /** After each batch: the rows it deleted, and whether it finished the sweep (the metrics). */
    onBatch?: (rows: number, finished: boolean) => void;
  },
  now: () => number = Date.now,
): Sweeper {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<number> | undefined;

  const yieldToRequests = () => new Promise<void>((resolve) => setImmediate(resolve));

  async function sweepNow(): Promise<number> {
    running ??= (async () => {
      let total = 0;
      for (;;) {
        const n = await store.sweepExpired(now() - options.retention * 1000, options.batch);
        total += n;
        const finished = n < options.batch || stopped;
        options.onBatch?.(n, finished);
        if (finished) return total;
        await yieldToRequests();
      }
    })().finally(() => { running = undefined; });
    return running;
  }

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      sweepNow().catch((err: unknown) => options.onError?.(err)).finally(schedule);
    }, options.interval);
    timer.unref();
  };
  schedule();

  return {
    sweepNow,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
