/**
 * Signing keys at the guard: after a rotation at the server, tokens signed with the old and the
 * new key both verify (an unknown `kid` refetches the JWKS) until the old key retires; refetches
 * for unknown kids are rate-limited.
 */
import { decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import { useServer } from './flows.js';
import { accessToken, accepts, useGuards } from './guard-kit.js';

describe('guard: signing key rotation', () => {
  const h = useServer();
  const guards = useGuards(h);

  it('tokens signed with the old and the new key both verify until the old key retires; then a fresh guard refuses old-key tokens', async () => {
    const g = await guards.ready({ jwksCooldown: 50 });
    const app = await h.client({ tokenFormat: 'jwt' });
    const old = await accessToken(h, app);
    expect(await accepts(g, old)).toBe(true);
    expect(g.status().jwks.keys).toBe(1);

    const rotated = await h.engine.keys.rotate(Date.now() + 1500, { event: 'key.rotated', actor: 'test' });
    const fresh = await accessToken(h, app);
    expect(decodeProtectedHeader(fresh).kid).toBe(rotated.kid);
    expect(decodeProtectedHeader(old).kid).not.toBe(rotated.kid);
    expect(await accepts(g, fresh)).toBe(true);
    expect(await accepts(g, old)).toBe(true);
    expect(g.status().jwks.keys).toBe(2);

    // Retired, the old key leaves the JWKS: a guard fetching it anew no longer knows that key.
    await vi.waitFor(async () => expect((await h.request('/jwks.json')).body.keys).toHaveLength(1), { timeout: 5000, interval: 100 });
    const later = await guards.ready({ jwksCooldown: 50 });
    expect(await later.verifyToken(old)).toMatchObject({ ok: false, status: 401, error: 'invalid_token', description: expect.stringMatching(/unknown key/) });
    expect(await accepts(later, fresh)).toBe(true);
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
      new SignJWT({ iss: h.server.url, aud: h.engine.config.audience, sub: 's', client_id: 'c', jti: `j${i}`, iat: now, exp: now + 60 })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: `unknown-${i}` })
        .sign(privateKey)));
    const results = await Promise.all(junk.map((t) => g.verifyToken(t)));
    for (const r of results) expect(r).toMatchObject({ ok: false, error: 'invalid_token' });
    expect(jwksFetches).toBe(2);
  });
});
