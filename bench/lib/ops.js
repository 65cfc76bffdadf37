/** In-process throughput of one operation, shared by the guard benchmarks. */

/** ops/s of the async `fn`, with `inFlight` calls outstanding, for `seconds`. */
export async function opsPerSecond(fn, seconds, inFlight) {
  let ops = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  const lane = async () => {
    while (performance.now() < end) {
      await fn();
      ops++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return Math.round(ops / ((performance.now() - start) / 1000));
}

/** ops/s of the synchronous `fn`, called back to back for `seconds` (one core). */
export function syncOpsPerSecond(fn, seconds) {
  let ops = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    fn();
    ops++;
  }
  return Math.round(ops / ((performance.now() - start) / 1000));
}
