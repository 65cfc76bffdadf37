/**
 * The guard's part of the abuse suite: introspection answers delayed in flight across a
 * revocation. A real proxy holds the server's "active" answer until the guard has applied the
 * revocation event, then lets it through: the guard must neither use nor cache it (issue 9,
 * defect 3: it was cached and the revoked token accepted for up to 60 s).
 */
import type { FeedEvent } from '@tessera/guard';
import { describe, expect, it } from 'vitest';
import { useServer } from './flows.js';
import { accepts, caughtUp, useGuards } from './guard-kit.js';
import { FeedProxy } from './guard-proxy.js';

describe('guard: introspection answers in flight across a revocation', () => {
  const h = useServer();
  const guards = useGuards(h);

  /** A guard whose introspection goes through a proxy, recording the feed events it applies. */
  async function guardBehind(proxy: FeedProxy) {
    const events: FeedEvent['type'][] = [];
    const g = await guards.ready({ endpoints: { introspection: proxy.at('/introspect') }, onFeedEvent: (e) => events.push(e.type) });
    return { g, events };
  }

  it.each(['grant', 'family'] as const)('a guard never accepts a token after applying a %s revocation that covers it, though the server\'s "active" answer was in flight', async (kind) => {
    const proxy = await FeedProxy.start(h.server.url);
    try {
      const { g, events } = await guardBehind(proxy);
      const app = await h.codeClient();
      const first = await h.userTokens(app, { user: await h.user() });
      const hold = proxy.hold('/introspect');
      const verdict = g.verifyToken(first.access_token);
      // The server has answered "active"; the answer waits in the proxy.
      await hold.until(1);
      if (kind === 'grant') {
        expect((await h.revoke(app, first.refresh_token!, 'refresh_token')).status).toBe(200);
      } else {
        expect((await h.refresh(app, first.refresh_token!)).status).toBe(200);
        // RFC 9700 §4.14.2: the rotated-out refresh token presented again revokes the family.
        expect((await h.refresh(app, first.refresh_token!)).status).toBe(400);
      }
      await caughtUp(h, [g]);
      expect(events).toContain(kind);
      hold.release();
      expect(await verdict).toMatchObject({ ok: false, status: 401, error: 'invalid_token' });
      // Nor was the stale answer cached for the next request.
      expect(await accepts(g, first.access_token)).toBe(false);
      expect(await h.active(first.access_token)).toBe(false);
    } finally {
      await proxy.close();
    }
  });

  it('many answers in flight across one grant revocation: none of the grant\'s tokens is accepted, another grant\'s token still is', async () => {
    const proxy = await FeedProxy.start(h.server.url);
    try {
      const { g } = await guardBehind(proxy);
      const app = await h.codeClient();
      const user = await h.user();
      // One grant, several live access tokens (each rotation leaves the earlier access token live).
      let tokens = await h.userTokens(app, { user });
      const covered = [tokens.access_token];
      for (let i = 0; i < 7; i++) {
        const rotated = await h.refresh(app, tokens.refresh_token!);
        expect(rotated.status).toBe(200);
        tokens = rotated.body;
        covered.push(tokens.access_token);
      }
      const other = await h.userTokens(app, { user: await h.user() });
      const hold = proxy.hold('/introspect');
      const verdicts = [...covered, other.access_token].map((t) => g.verifyToken(t));
      await hold.until(covered.length + 1);
      const started = performance.now();
      await h.revoke(app, tokens.refresh_token!, 'refresh_token');
      await caughtUp(h, [g]);
      hold.release();
      const results = await Promise.all(verdicts);
      console.log(`guard race: ${results.length} answers in flight settled ${Math.round(performance.now() - started)} ms after the revocation`);
      expect(results.map((r) => r.ok)).toEqual([...covered.map(() => false), true]);
      for (const t of covered) expect(await accepts(g, t)).toBe(false);
      expect(await accepts(g, other.access_token)).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('an answer in flight across another grant\'s revocation is used and cached (answers name their grant: tessera_grant)', async () => {
    const proxy = await FeedProxy.start(h.server.url);
    try {
      const { g, events } = await guardBehind(proxy);
      const app = await h.codeClient();
      const kept = await h.userTokens(app, { user: await h.user() });
      const revoked = await h.userTokens(app, { user: await h.user() });
      const hold = proxy.hold('/introspect');
      const verdict = g.verifyToken(kept.access_token);
      await hold.until(1);
      await h.revoke(app, revoked.refresh_token!, 'refresh_token');
      await caughtUp(h, [g]);
      expect(events).toContain('grant');
      hold.release();
      expect((await verdict).ok).toBe(true);
      expect(proxy.requests.get('/introspect')).toBe(1);
      // Cached, and not evicted by the other grant's event.
      expect(await accepts(g, kept.access_token)).toBe(true);
      expect(proxy.requests.get('/introspect')).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  it('a flood of unrelated revocations while an answer is in flight does not turn it into a retry or a 503 (the revoked set decides)', async () => {
    const proxy = await FeedProxy.start(h.server.url);
    try {
      const { g, events } = await guardBehind(proxy);
      const app = await h.client();
      const issue = async () => (await h.token(app, { grant_type: 'client_credentials' })).body.access_token as string;
      const kept = await issue();
      const flood = await Promise.all(Array.from({ length: 80 }, issue));
      const hold = proxy.hold('/introspect');
      const verdict = g.verifyToken(kept);
      await hold.until(1);
      for (const t of flood) expect((await h.revoke(app, t)).status).toBe(200);
      await caughtUp(h, [g]);
      expect(events.length).toBeGreaterThanOrEqual(80);
      hold.release();
      expect((await verdict).ok).toBe(true);
      expect(proxy.requests.get('/introspect')).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  it('an answer in flight across an unrelated token revocation is used and cached (precise events cost no extra request)', async () => {
    const proxy = await FeedProxy.start(h.server.url);
    try {
      const { g } = await guardBehind(proxy);
      const app = await h.client();
      const issue = async () => (await h.token(app, { grant_type: 'client_credentials' })).body.access_token as string;
      const [kept, revoked] = [await issue(), await issue()];
      const hold = proxy.hold('/introspect');
      const verdict = g.verifyToken(kept);
      await hold.until(1);
      await h.revoke(app, revoked);
      await caughtUp(h, [g]);
      hold.release();
      expect((await verdict).ok).toBe(true);
      const asked = proxy.requests.get('/introspect');
      expect(asked).toBe(1);
      expect(await accepts(g, kept)).toBe(true);
      expect(proxy.requests.get('/introspect')).toBe(asked);
      expect(await accepts(g, revoked)).toBe(false);
    } finally {
      await proxy.close();
    }
  });
});
