/**
 * Abuse: many open revocation streams (issue 9, defect 6). Measures revocations per second with
 * no stream open and with STREAMS streams open (read by a worker thread, so reading them does not
 * share the server's event loop), and prints the ratio; asserts only correctness: every stream
 * receives every event, in order, once. Small enough for CI by default; `npm run abuse:streams`
 * runs a heavier variant.
 */
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { type Harness, useServer } from './flows.js';
import { accessToken, feedHead, GUARD_SCOPE } from './guard-kit.js';
import type { TestClient } from './helpers.js';

const STREAMS = Number(process.env.STREAMS_ABUSE_STREAMS ?? 1000);
const REVOCATIONS = Number(process.env.STREAMS_ABUSE_REVOCATIONS ?? 100);
/** Revocation requests in flight at once, as a few busy clients would send them. */
const CONCURRENCY = 8;
/** Streams per reading client (within the default maxStreamsPerClient). */
const PER_CLIENT = 10;

async function inParallel<T>(items: T[], n: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await fn(items[next++] as T);
  }));
}

/** Revokes the tokens over HTTP (RFC 7009), CONCURRENCY at a time; revocations per second and event-loop use. */
async function revokeAll(h: Harness, app: TestClient, tokens: string[]): Promise<{ rate: number; elu: number }> {
  const elu = performance.eventLoopUtilization();
  const started = performance.now();
  await inParallel(tokens, CONCURRENCY, async (t) => expect((await h.revoke(app, t)).status).toBe(200));
  const seconds = (performance.now() - started) / 1000;
  return { rate: tokens.length / seconds, elu: performance.eventLoopUtilization(elu).utilization };
}

const message = (worker: Worker) => once(worker, 'message').then(([m]) => m);

describe('abuse: many open revocation streams', () => {
  // Room for every stream and the revoking connections beyond the default connection cap (900).
  const h = useServer({ maxConnections: STREAMS + 100 });

  it(`${STREAMS} open streams all receive every one of ${REVOCATIONS} revocations (revocations/s measured against no streams)`, async () => {
    const app = await h.client();
    const tokens: string[] = [];
    await inParallel(Array.from({ length: 3 * REVOCATIONS }), CONCURRENCY, async () => tokens.push(await accessToken(h, app)));
    const batch = (i: number) => tokens.slice(i * REVOCATIONS, (i + 1) * REVOCATIONS);

    // The machine's load drifts: the idle rate is measured before and after, and averaged.
    const before = await revokeAll(h, app, batch(0));

    const readers = await Promise.all(Array.from({ length: Math.ceil(STREAMS / PER_CLIENT) }, () => h.client({ scope: GUARD_SCOPE })));
    const auths = Array.from({ length: STREAMS }, (_, i) => (readers[Math.floor(i / PER_CLIENT)] as TestClient).basic);
    const start = await feedHead(h);
    const worker = new Worker(new URL('./stream-readers.mjs', import.meta.url), { workerData: { url: h.server.url, auths, start } });
    try {
      expect(await message(worker)).toEqual({ connected: STREAMS, refused: 0 });
      const loaded = await revokeAll(h, app, batch(1));
      const expected = (await h.store.readFeed(start, REVOCATIONS + 10)).map((e) => e.seq);
      expect(expected).toHaveLength(REVOCATIONS);
      worker.postMessage({ expect: expected });
      const delivered = await message(worker);
      expect(delivered.mismatched).toBe(0);
      await worker.terminate();
      const after = await revokeAll(h, app, batch(2));
      const idle = { rate: (before.rate + after.rate) / 2, elu: (before.elu + after.elu) / 2 };
      console.log(
        `streams abuse: ${REVOCATIONS} revocations, ${CONCURRENCY} in flight: ${idle.rate.toFixed(0)}/s with no stream open (${before.rate.toFixed(0)} before, ${after.rate.toFixed(0)} after; event loop ${(100 * idle.elu).toFixed(0)} %), ` +
          `${loaded.rate.toFixed(0)}/s with ${STREAMS} open (event loop ${(100 * loaded.elu).toFixed(0)} %): ratio ${(loaded.rate / idle.rate).toFixed(2)}; ` +
          `every stream had every event ${delivered.elapsed} ms after the last revocation was answered`,
      );
    } finally {
      await worker.terminate();
    }
  }, 120_000);
});
