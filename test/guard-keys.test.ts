/**
 * Signing keys at the guard: after a rotation at the server, tokens signed with the old and the
 * new key both verify (an unknown `kid` refetches the JWKS) until the old key retires; refetches
 * for unknown kids are rate-limited. The cached set expires after jwksMaxAge, so a key withdrawn
 * from the JWKS stops verifying even on the fast path; while refreshes fail the old set serves
 * for jwksMaxStale at most, then JWTs get 503.
 */
import { decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import { useServer } from './flows.js';
import { accessToken, accepts, recordingLogger, useGuards } from './guard-kit.js';
import { FeedProxy } from './guard-proxy.js';
import { sleep } from './flows.js';

describe('guard: signing key rotation', () => {
  const h = useServer();
  const guards = useGuards(h);

  it('tokens signed with the old and the new key both verify until the old key retires; then a fresh guard refuses old-key tokens', async () => {
    const g = await guards.ready({ jwksCooldown: 50 });
    const app = await h.client({ tokenFormat: 'jwt' });
    const old = await accessToken(h, app);
    expect(await accepts(g, old)).toBe(true);
    // One RS256 key (ID Tokens) and one ES256 key (access tokens).
    expect(g.status().jwks.keys).toBe(2);

    const rotated = await h.server.tessera.keys.rotate('ES256', Date.now() + 1500, { event: 'key.rotated', actor: 'test' });
    const fresh = await accessToken(h, app);
    expect(decodeProtectedHeader(fresh).kid).toBe(rotated.kid);
    expect(decodeProtectedHeader(old).kid).not.toBe(rotated.kid);
    expect(await accepts(g, fresh)).toBe(true);
    expect(await accepts(g, old)).toBe(true);
    expect(g.status().jwks.keys).toBe(3);

    // Retired, the old key leaves the JWKS: a guard fetching it anew no longer knows that key.
    await vi.waitFor(async () => expect((await h.request('/jwks.json')).body.keys).toHaveLength(2), { timeout: 5000, interval: 100 });
    const later = await guards.ready({ jwksCooldown: 50 });
    expect(await later.verifyToken(old)).toMatchObject({ ok: false, status: 401, error: 'invalid_token', description: expect.stringMatching(/unknown key/) });
    expect(await accepts(later, fresh)).toBe(true);
  });

  it('RFC 7517 §4.4: with JWKs that omit alg, a forged header naming another algorithm for a known kid is refused (401) and locks nothing out, in either order', async () => {
    // An issuer whose JWK Set leaves alg out (optional): the guard sees Tessera's keys that way.
    const withoutAlg: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (!String(input).endsWith('/jwks.json')) return res;
      const { keys } = (await res.json()) as { keys: Record<string, unknown>[] };
      return Response.json({ keys: keys.map(({ alg: _alg, ...jwk }) => jwk) });
    };
    const app = await h.client({ tokenFormat: 'jwt' });
    const genuine = await accessToken(h, app);
    const { kid } = decodeProtectedHeader(genuine);
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: h.server.url, aud: h.server.tessera.config.audience, sub: 's', client_id: app.id, jti: 'forged', iat: now, exp: now + 60 };
    const forged = (alg: string) => `${b64({ alg, kid, typ: 'at+jwt' })}.${b64(claims)}.${Buffer.alloc(256, 7).toString('base64url')}`;
    for (const order of ['forged first', 'genuine first'] as const) {
      const g = await guards.ready({ fetch: withoutAlg });
      if (order === 'genuine first') expect(await accepts(g, genuine), order).toBe(true);
      for (const alg of ['RS256', 'PS256', 'ES384', 'EdDSA']) {
        expect(await g.verifyToken(forged(alg)), `${order}, ${alg}`).toMatchObject({ ok: false, status: 401, error: 'invalid_token' });
      }
      expect(await accepts(g, genuine), order).toBe(true);
    }
  });

  it('a burst of tokens naming unknown kids costs one JWKS refetch per cooldown, not one per token', async () => {
    let jwksFetches = 0;
    const counting: typeof fetch = (input, init) => {
      if (String(input).endsWith('/jwks.json')) jwksFetches++;
      return fetch(input, init);
    };
    const g = await guards.ready({ fetch: counting, jwksCooldown: 300 });
    expect(await accepts(g, await accessToken(h, await h.client({ tokenFormat: 'jwt' })))).toBe(true);
    expect(jwksFetches).toBe(1);
    const { privateKey } = await generateKeyPair('ES256');
    const now = Math.floor(Date.now() / 1000);
    const junk = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      new SignJWT({ iss: h.server.url, aud: h.server.tessera.config.audience, sub: 's', client_id: 'c', jti: `j${i}`, iat: now, exp: now + 60 })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: `unknown-${i}` })
        .sign(privateKey)));
    const results = await Promise.all(junk.map((t) => g.verifyToken(t)));
    for (const r of results) expect(r).toMatchObject({ ok: false, error: 'invalid_token' });
    expect(jwksFetches).toBe(2);
  });

  it('a key withdrawn from the JWKS stops verifying once the cached set is older than jwksMaxAge, though the fast path knows its header', async () => {
    const g = await guards.ready({ jwksCooldown: 50, jwksMaxAge: 300 });
    const app = await h.client({ tokenFormat: 'jwt' });
    const old = await accessToken(h, app);
    // Twice: the second verification takes the fast path (a header already accepted).
    expect(await accepts(g, old)).toBe(true);
    expect(await accepts(g, old)).toBe(true);
    await h.server.tessera.keys.rotate('ES256', Date.now() + 300, { event: 'key.rotated', actor: 'test' });
    const fresh = await accessToken(h, app);
    await vi.waitFor(async () => expect((await h.request('/jwks.json')).body.keys).toHaveLength(2), { timeout: 5000, interval: 50 });
    await vi.waitFor(async () => expect(await g.verifyToken(old)).toMatchObject({ ok: false, status: 401, description: expect.stringMatching(/unknown key/) }), { timeout: 5000, interval: 50 });
    expect(await accepts(g, fresh)).toBe(true);
    expect(await accepts(g, old)).toBe(false);
  });

  it('the JWKS is refetched once when it expires, for a whole burst; while refetches fail the old set serves jwksMaxStale past jwksMaxAge, then JWTs get 503 until it is back', async () => {
    const proxy = await FeedProxy.start(h.server.url);
    try {
      const { lines, logger } = recordingLogger();
      const g = await guards.ready({ endpoints: { jwks: proxy.at('/jwks.json') }, jwksCooldown: 100, jwksMaxAge: 300, jwksMaxStale: 500, logger });
      const token = await accessToken(h, await h.client({ tokenFormat: 'jwt' }));
      expect(await accepts(g, token)).toBe(true);
      const fetches = () => proxy.requests.get('/jwks.json') ?? 0;
      expect(fetches()).toBe(1);
      await sleep(350);
      // Past jwksMaxAge: 50 verifications at once share one background refetch.
      const burst = await Promise.all(Array.from({ length: 50 }, () => g.verifyToken(token)));
      expect(burst.every((r) => r.ok)).toBe(true);
      await vi.waitFor(() => expect(g.status().jwks.fetchedAt).toBeGreaterThan(Date.now() - 300), { timeout: 5000, interval: 10 });
      expect(fetches()).toBe(2);

      proxy.takeDown('/jwks.json');
      const outcomes = new Set<string>();
      await vi.waitFor(async () => {
        const r = await g.verifyToken(token);
        outcomes.add(r.ok ? 'accepted' : `${r.status}`);
        expect(r).toMatchObject({ ok: false, status: 503, error: 'temporarily_unavailable' });
      }, { timeout: 5000, interval: 20 });
      // Accepted while the old set was within its bound, then 503: never a 401 for a good token.
      expect([...outcomes].sort()).toEqual(['503', 'accepted']);
      expect(g.status().jwks.lastError).toMatch(/JWKS cannot be reached/);
      console.log(`JWKS down: ${fetches() - 2} fetch attempts (cooldown 100 ms) until the old set expired`);
      expect(lines.some((l) => l.level === 'warn' && l.obj.event === 'jwks.failed')).toBe(true);

      proxy.restore();
      await vi.waitFor(async () => expect(await accepts(g, token)).toBe(true), { timeout: 5000, interval: 50 });
      expect(g.status().jwks.lastError).toBeNull();
    } finally {
      await proxy.close();
    }
  });
});

describe('RS256 JWT access tokens (RFC 9068 §2.1, §4: RS256 among the algorithms of servers and resource servers)', () => {
  const h = useServer({ accessTokenAlg: 'RS256' });
  const guards = useGuards(h);

  it('a server set to accessTokenAlg RS256 signs access tokens with its RS256 key, and a guard with default options accepts them, on the fast path too', async () => {
    const g = await guards.ready();
    const token = await accessToken(h, await h.client({ tokenFormat: 'jwt' }));
    const header = decodeProtectedHeader(token);
    expect(header).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
    const jwks = (await h.request('/jwks.json')).body as { keys: { kid: string; alg: string }[] };
    expect(jwks.keys.find((k) => k.kid === header.kid)?.alg).toBe('RS256');
    expect(await accepts(g, token)).toBe(true);
    expect(await accepts(g, token)).toBe(true);
    // A guard that takes ES256 only refuses it by its algorithm.
    const strict = await guards.ready({ algorithms: ['ES256'] });
    expect(await strict.verifyToken(token)).toMatchObject({ ok: false, status: 401, description: expect.stringMatching(/algorithm/) });
  });
});
