/** Reconnection pacing for the feed: jittered exponential backoff, and a sleep that an abort ends. */

/** The delay before attempt `n` (0-based): exponential from `min`, capped at `max`, with equal jitter. */
export function backoff(n: number, min: number, max: number): number {
  const ceiling = Math.min(max, min * 2 ** n);
  // Equal jitter: guards cut off together do not all come back in the same millisecond.
  return ceiling * (0.5 + Math.random() / 2);
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}
