/**
 * Revocation reaches every guard through the feed: a revoked JWT is refused without any
 * introspection, by exactly the target revoked (token, grant, family, user, client, issued
 * before T), and a guard that starts late or reconnects catches up from its cursor.
 */
import type { Guard } from '@tessera/guard';
import { describe, expect, it } from 'vitest';
import { useServer } from './flows.js';
import { accessToken, accepts, caughtUp, claims, useGuards } from './guard-kit.js';
import { FeedProxy } from './guard-proxy.js';

/** Asserts which tokens each guard accepts, once the guards have applied every committed event. */
async function expectAccepted(h: ReturnType<typeof useServer>, guards: Guard[], expected: Record<string, [string, boolean]>) {
  await caughtUp(h, guards);
  for (const g of guards) {
    const seen: Record<string, boolean> = {};
    for (const [name, [token]] of Object.entries(expected)) seen[name] = await accepts(g, token);
    expect(seen).toEqual(Object.fromEntries(Object.entries(expected).map(([name, [, ok]]) => [name, ok])));
  }
}

describe('guard: revocations reach every guard', () => {
  const h = useServer();
  const guards = useGuards(h);
  const three = async () => Promise.all([guards.ready(), guards.ready(), guards.ready()]);

  it('RFC 7009: a token revoked at the server is refused by every guard, locally (no introspection)', async () => {
    const gs = await three();
    const app = await h.client({ tokenFormat: 'jwt' });
    const [revoked, other] = [await accessToken(h, app), await accessToken(h, app)];
    for (const g of gs) expect(await accepts(g, revoked)).toBe(true);
    expect((await h.revoke(app, revoked)).status).toBe(200);
    await expectAccepted(h, gs, { revoked: [revoked, false], other: [other, true] });
    for (const g of gs) expect(g.status().introspectionCache).toBe(0);
  });

  it('RFC 7009 §2.1: revoking a refresh token revokes its grant: that grant\'s access tokens are refused, other grants\' are not', async () => {
    const gs = await three();
    const app = await h.codeClient({ tokenFormat: 'jwt' });
    const [alice, bob] = [await h.user(), await h.user()];
    const first = await h.userTokens(app, { user: alice });
    const second = await h.refresh(app, first.refresh_token!);
    const bobs = await h.userTokens(app, { user: bob });
    await h.revoke(app, second.body.refresh_token, 'refresh_token');
    await expectAccepted(h, gs, { first: [first.access_token, false], rotated: [second.body.access_token, false], bob: [bobs.access_token, true] });
  });

  it('RFC 9700 §4.14.2: a reused refresh token revokes its family: the family\'s access tokens are refused', async () => {
    const gs = await three();
    const app = await h.codeClient({ tokenFormat: 'jwt' });
    const first = await h.userTokens(app, { user: await h.user() });
    const rotated = await h.refresh(app, first.refresh_token!);
    const other = await h.userTokens(app, { user: await h.user() });
    expect((await h.refresh(app, first.refresh_token!)).status).toBe(400);
    await expectAccepted(h, gs, { first: [first.access_token, false], rotated: [rotated.body.access_token, false], other: [other.access_token, true] });
  });

  it("revoking a user refuses the user's earlier tokens at every client, not other users', nor the user's new ones", async () => {
    const gs = await three();
    const [web, mobile] = [await h.codeClient({ tokenFormat: 'jwt' }), await h.codeClient({ tokenFormat: 'jwt' })];
    const [alice, bob] = [await h.user(), await h.user()];
    const aliceWeb = await h.userTokens(web, { user: alice });
    const aliceMobile = await h.userTokens(mobile, { user: alice });
    const bobWeb = await h.userTokens(web, { user: bob });
    // As `tessera token revoke --user` (a password change emits the same event, see feed.test.ts).
    await h.engine.revoke({ user: alice.id }, { actor: 'test' });
    // Issued in the same second as the revocation, perhaps: the guard then introspects (iat has 1 s precision).
    const aliceAgain = await h.userTokens(web, { user: alice });
    expect(claims(aliceAgain.access_token).sub).toBe(alice.id);
    await expectAccepted(h, gs, {
      aliceWeb: [aliceWeb.access_token, false], aliceMobile: [aliceMobile.access_token, false], bob: [bobWeb.access_token, true], aliceAgain: [aliceAgain.access_token, true],
    });
  });

  it("revoking a client refuses every token issued to it before, not other clients' tokens, nor its tokens issued after", async () => {
    const gs = await three();
    const [app, other] = [await h.client({ tokenFormat: 'jwt' }), await h.client({ tokenFormat: 'jwt' })];
    const before = await accessToken(h, app);
    const others = await accessToken(h, other);
    await h.engine.revoke({ client: app.id }, { actor: 'test' });
    const after = await accessToken(h, app);
    await expectAccepted(h, gs, { before: [before, false], others: [others, true], after: [after, true] });
  });

  it('opaque tokens: a cached introspection answer is evicted when the feed reports the revocation', async () => {
    const [g] = await three();
    const app = await h.client();
    const token = await accessToken(h, app);
    expect(await accepts(g!, token)).toBe(true);
    expect(g!.status().introspectionCache).toBe(1);
    await h.revoke(app, token);
    await caughtUp(h, [g!]);
    expect(g!.status().introspectionCache).toBe(0);
    expect(await accepts(g!, token)).toBe(false);
  });
});

describe('guard: "issued before T"', () => {
  const h = useServer();
  const guards = useGuards(h);

  it('revoking everything issued before T refuses earlier tokens of every client and user, and accepts later ones', async () => {
    const gs = await Promise.all([guards.ready(), guards.ready()]);
    const [a, b] = [await h.client({ tokenFormat: 'jwt' }), await h.client({ tokenFormat: 'jwt' })];
    const user = await h.userTokens(await h.codeClient({ tokenFormat: 'jwt' }));
    const [early, earlyB] = [await accessToken(h, a), await accessToken(h, b)];
    // "Before T" is strict: a token issued in T's own millisecond is not before it. T comes after the clock has moved on.
    await new Promise((resolve) => setTimeout(resolve, 2));
    await h.engine.revoke({ issuedBefore: Date.now() }, { actor: 'test' });
    const late = await accessToken(h, a);
    await expectAccepted(h, gs, { early: [early, false], earlyB: [earlyB, false], user: [user.access_token, false], late: [late, true] });
  });
});

describe('guard: restarts and reconnects catch up from the cursor', () => {
  const h = useServer({ feedHeartbeat: 100 });
  const guards = useGuards(h);

  it('a guard started after revocations learns every one still live from the feed (catch-up from cursor 0)', async () => {
    const app = await h.client({ tokenFormat: 'jwt' });
    const [revoked, live] = [await accessToken(h, app), await accessToken(h, app)];
    await h.revoke(app, revoked);
    const restarted = await guards.ready();
    expect(restarted.status().feed).toMatchObject({ synced: true, stale: false });
    expect(await accepts(restarted, revoked)).toBe(false);
    expect(await accepts(restarted, live)).toBe(true);
  });

  it('a guard whose stream was cut resumes from its cursor and receives what was revoked meanwhile', async () => {
    const proxy = await FeedProxy.start(h.server.url);
    try {
      const g = await guards.ready({ endpoints: proxy.endpoints() });
      const app = await h.client({ tokenFormat: 'jwt' });
      const [first, second] = [await accessToken(h, app), await accessToken(h, app)];
      await h.revoke(app, first);
      await caughtUp(h, [g]);
      const cursor = g.status().feed!.cursor;
      proxy.cut();
      await h.revoke(app, second);
      proxy.restore();
      await caughtUp(h, [g]);
      expect(await accepts(g, second)).toBe(false);
      // The reconnection asked for what came after the cursor it had, not for everything again.
      const resumed = proxy.feedRequests.filter((r) => r.cursor === String(cursor));
      expect(resumed.length).toBeGreaterThan(0);
      expect(g.status().feed!.reconnects).toBeGreaterThan(0);
    } finally {
      await proxy.close();
    }
  });
});
