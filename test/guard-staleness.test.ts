/**
 * Bounded staleness: when the guard has not heard from the feed for longer than maxStaleness, it
 * stops trusting its revoked set — failing closed (503), or introspecting every token when so
 * configured — and recovers, caught up, when the feed returns. The feed is cut or silenced by a
 * real proxy, or by stopping the server; waits look at status(), never at the clock.
 */
import { describe, expect, it, vi } from 'vitest';
import { useServer } from './flows.js';
import { accessToken, accepts, caughtUp, GUARD_SCOPE, useGuards } from './guard-kit.js';
import { FeedProxy } from './guard-proxy.js';
import { startTestServer } from './helpers.js';
import { createGuard, type Guard } from '@tessera/guard';

const BOUND = 400;
const waitStale = (g: Guard, stale: boolean) => vi.waitFor(() => expect(g.status().feed?.stale).toBe(stale), { timeout: 5000, interval: 20 });

describe('guard: bounded staleness', () => {
  const h = useServer({ feedHeartbeat: 100 });
  const guards = useGuards(h);

  it('fail-closed: a feed silent longer than the bound gets every token a 503; back, the guard catches up and decides again', async () => {
    const proxy = await FeedProxy.start(h.server.url);
    try {
      const g = await guards.ready({ endpoints: proxy.endpoints(), maxStaleness: BOUND });
      const app = await h.client({ tokenFormat: 'jwt' });
      const [live, revoked] = [await accessToken(h, app), await accessToken(h, app)];
      expect(await accepts(g, live)).toBe(true);
      proxy.silence();
      await h.revoke(app, revoked);
      await waitStale(g, true);
      const result = await g.verifyToken(live);
      expect(result).toMatchObject({ ok: false, status: 503, error: 'temporarily_unavailable' });
      expect(g.status().feed).toMatchObject({ stale: true, maxStaleness: BOUND, onStale: 'fail-closed' });
      expect(g.status().feed!.staleness).toBeGreaterThan(BOUND);
      proxy.restore();
      await waitStale(g, false);
      await caughtUp(h, [g]);
      expect(await accepts(g, live)).toBe(true);
      expect(await accepts(g, revoked)).toBe(false);
    } finally {
      await proxy.close();
    }
  });

  it('onStale "introspect": while the feed is cut every token is introspected, so one revoked meanwhile is refused and a live one accepted', async () => {
    const proxy = await FeedProxy.start(h.server.url);
    try {
      const g = await guards.ready({ endpoints: proxy.endpoints(), maxStaleness: BOUND, onStale: 'introspect' });
      const app = await h.client({ tokenFormat: 'jwt' });
      const [live, revoked] = [await accessToken(h, app), await accessToken(h, app)];
      proxy.cut();
      await h.revoke(app, revoked);
      await waitStale(g, true);
      expect(await g.verifyToken(revoked)).toMatchObject({ ok: false, status: 401, description: 'the token is not active' });
      expect(await accepts(g, live)).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('a guard that has never caught up is stale: it fails closed rather than trust an empty set', async () => {
    const proxy = await FeedProxy.start(h.server.url);
    try {
      proxy.silence();
      const g = await guards.guard({ endpoints: proxy.endpoints(), maxStaleness: BOUND });
      const token = await accessToken(h, await h.client({ tokenFormat: 'jwt' }));
      expect(g.status().feed).toMatchObject({ synced: false, stale: true });
      expect(await g.verifyToken(token)).toMatchObject({ ok: false, status: 503 });
      const ready = g.ready();
      await g.close();
      await expect(ready).rejects.toThrow(/closed before the revocation feed caught up/);
    } finally {
      await proxy.close();
    }
  });
});

describe('guard: the authorization server stops', () => {
  it('the guard fails closed after the bound, and says why in status()', async () => {
    const server = await startTestServer({ feedHeartbeat: 100 });
    let g: Guard | undefined;
    try {
      const rs = await server.createClient({ scope: GUARD_SCOPE });
      const app = await server.createClient({ tokenFormat: 'jwt' });
      const token = (await server.post('/token', { grant_type: 'client_credentials' }, { authorization: app.basic })).body.access_token;
      g = createGuard({ issuer: server.url, audience: server.tessera.config.audience, client: { id: rs.id, secret: rs.secret! }, maxStaleness: BOUND, reconnectMin: 20, reconnectMax: 100 });
      await g.ready();
      expect(await accepts(g, token)).toBe(true);
      await server.close();
      await waitStale(g, true);
      expect(await g.verifyToken(token)).toMatchObject({ ok: false, status: 503 });
      expect(g.status().feed!.lastError).toMatch(/ECONNREFUSED|ended|fetch failed/);
    } finally {
      await g?.close();
      await server.close();
    }
  });
});
