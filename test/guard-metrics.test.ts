/** The guard's Prometheus metrics (prom-client): staleness and its bound, revocations held, verifications. */
import { registerGuardMetrics } from '@tessera/guard/prometheus';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { useServer } from './flows.js';
import { accessToken, caughtUp, useGuards } from './guard-kit.js';

/** One sample's value from the text exposition format. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no ${series} in:\n${text}`);
  return Number(line.slice(series.length + 1));
}

describe('guard metrics for Prometheus', () => {
  const h = useServer();
  const guards = useGuards(h);

  it('exposes the feed staleness with its bound, the revocations held, and verifications by outcome', async () => {
    const g = await guards.ready({ maxStaleness: 7000 });
    const registry = new Registry();
    registerGuardMetrics(g, registry);
    const app = await h.client({ tokenFormat: 'jwt' });
    const kept = await accessToken(h, app);
    const revoked = await accessToken(h, app);
    expect((await h.revoke(app, revoked)).status).toBe(200);
    await caughtUp(h, [g]);
    expect((await g.verifyToken(kept)).ok).toBe(true);
    expect((await g.verifyToken(revoked)).ok).toBe(false);
    expect((await g.verify('Bearer a b')).ok).toBe(false);

    const text = await registry.metrics();
    expect(sample(text, 'tessera_guard_feed_max_staleness_seconds')).toBe(7);
    const staleness = sample(text, 'tessera_guard_feed_staleness_seconds');
    expect(staleness).toBeGreaterThanOrEqual(0);
    expect(staleness).toBeLessThan(7);
    expect(sample(text, 'tessera_guard_feed_stale')).toBe(0);
    expect(sample(text, 'tessera_guard_feed_cursor')).toBe(g.status().feed?.cursor);
    expect(sample(text, 'tessera_guard_revoked_entries{kind="tokens"}')).toBe(1);
    expect(sample(text, 'tessera_guard_verifications_total{outcome="accepted"}')).toBe(1);
    expect(sample(text, 'tessera_guard_verifications_total{outcome="refused"}')).toBe(2);

    // A counter only moves forward: a second scrape adds what happened since the first.
    await g.verifyToken(kept);
    expect(sample(await registry.metrics(), 'tessera_guard_verifications_total{outcome="accepted"}')).toBe(2);
  });
});
