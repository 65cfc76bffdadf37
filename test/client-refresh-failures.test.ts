/**
 * What a session does when a refresh fails (issue 12), against Tessera behind a proxy that fails
 * on purpose (client/faulty-proxy.ts), and the refresh margin and clock rules:
 *   - a request that certainly was not processed (refused connection, 503 temporarily_unavailable)
 *     is retried with the same refresh token;
 *   - one that may have been processed (connection broken after sending, 500) is never resent:
 *     RefreshOutcomeUnknownError, the refresh token dropped from the store, the access token kept;
 *     but a token another holder stored meanwhile is used;
 *   - invalid_grant is ReauthenticationRequiredError and the token leaves the store;
 *   - the margin is min(refreshLeeway, a quarter of the lifetime), on the server's clock.
 */
import { clientSecretBasic, discover, MemoryTokenStore, OAuth2Session, type TokenSet, type TokenUpdate } from '@tessera/client';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultyProxy, startFaultyProxy } from './client/faulty-proxy.js';
import { rotations, sessionFor, signIn } from './client/tessera.js';
import { freePort } from './helpers.js';
import { useServer } from './flows.js';
import type { TestClient } from './helpers.js';

const h = useServer();
let proxy: FaultyProxy;
beforeAll(async () => {
  proxy = await startFaultyProxy(h.server.url);
});
afterAll(() => proxy?.close());

const now = () => Math.floor(Date.now() / 1000);

/** A signed-in session whose token requests go through the proxy; what onTokenUpdated heard. */
async function throughProxy(options: Parameters<typeof sessionFor>[2] = {}, c?: TestClient) {
  const client = c ?? (await h.codeClient());
  const as = await discover(h.server.url);
  const store = new MemoryTokenStore();
  const heard: Array<{ token: TokenSet | undefined; reason: TokenUpdate['reason'] }> = [];
  const session = sessionFor(h, client, {
    server: { ...as, token_endpoint: `${proxy.url}/token` },
    store,
    retry: { minDelay: 10 },
    onTokenUpdated: (token, { reason }) => {
      heard.push({ token, reason });
    },
    ...options,
  });
  const token = await signIn(h, session);
  proxy.seen.length = 0;
  proxy.faults.length = 0;
  proxy.beforeFault = undefined;
  heard.length = 0;
  return { c: client, session, store, token, heard };
}

const refreshTokensSent = () => proxy.seen.filter((f) => f.get('grant_type') === 'refresh_token').map((f) => f.get('refresh_token'));

async function reuses(c: TestClient): Promise<number> {
  return (await h.store.readAudit(0, 1_000_000)).filter((r) => r.event === 'token.reuse_detected' && r.clientId === c.id).length;
}

describe('not processed: retried with the same refresh token', () => {
  it('a refused connection (nothing sent) is retried, and the refresh succeeds once', async () => {
    const closed = await freePort();
    let refuseNext = false;
    // The next token request goes to a port nobody listens on: the connection is refused.
    const refusingOnce: typeof fetch = (input, init) => {
      const url = new URL(input instanceof Request ? input.url : input);
      if (refuseNext && url.pathname === '/token') {
        refuseNext = false;
        url.port = String(closed);
        return fetch(url, init);
      }
      return fetch(input, init);
    };
    const { c, session, token } = await throughProxy({ fetch: refusingOnce });
    refuseNext = true;
    const refreshed = await session.refresh();
    expect(refuseNext).toBe(false);
    expect(refreshTokensSent()).toEqual([token.refresh_token]);
    expect(refreshed.refresh_token).not.toBe(token.refresh_token);
    expect(await rotations(h, c)).toBe(1);
  });

  it('503 temporarily_unavailable with Retry-After: the same refresh token is sent again after the wait, and succeeds', async () => {
    const { c, session, token } = await throughProxy();
    proxy.faults.push('503');
    await session.refresh();
    expect(refreshTokensSent()).toEqual([token.refresh_token, token.refresh_token]);
    expect(await rotations(h, c)).toBe(1);
    expect(await reuses(c)).toBe(0);
  });

  it('503 beyond the retries is thrown as it is, and the refresh token stays usable', async () => {
    const { c, session, store, token } = await throughProxy({ retry: { retries: 1, minDelay: 10 } });
    proxy.faults.push('503', '503');
    await expect(session.refresh()).rejects.toMatchObject({ code: 'ERR_OAUTH_RESPONSE', error: 'temporarily_unavailable', status: 503, retryAfter: 1 });
    expect((await store.get(c.id))?.refresh_token).toBe(token.refresh_token);
    await session.refresh();
    expect(await rotations(h, c)).toBe(1);
  });
});

describe('maybe processed: the refresh token is never sent again', () => {
  it.each(['drop-after', '500-after'] as const)('%s: RefreshOutcomeUnknownError; the store keeps the access token without the refresh token; nothing more is sent', async (fault) => {
    const { c, session, store, token, heard } = await throughProxy();
    proxy.faults.push(fault);
    const err = await session.refresh().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_REFRESH_OUTCOME_UNKNOWN', name: 'RefreshOutcomeUnknownError' });
    expect((err as Error).message).toMatch(/re-authentication may be needed/);
    // The server did rotate; the answer was lost. The old refresh token was sent once, never again.
    expect(await rotations(h, c)).toBe(1);
    const kept = await store.get(c.id);
    expect(kept).toEqual(expect.objectContaining({ access_token: token.access_token }));
    expect(kept?.refresh_token).toBeUndefined();
    expect(heard).toEqual([{ token: kept, reason: 'revoked' }]);
    await expect(session.refresh()).rejects.toMatchObject({ code: 'ERR_MISSING_TOKEN', which: 'refresh_token' });
    expect(refreshTokensSent()).toEqual([token.refresh_token]);
    expect(await reuses(c)).toBe(0);
    // The access token still works until it expires.
    expect(await session.accessToken()).toBe(token.access_token);
  });

  it('a lost answer, but another holder stored a newer token meanwhile: the store is read again and that token is used', async () => {
    const unlocked = { withLock: <T>(_key: string, fn: () => Promise<T>) => fn() };
    const { c, session, store, token } = await throughProxy({ lock: unlocked });
    const other = sessionFor(h, c, { store, lock: unlocked });
    proxy.faults.push('drop-before');
    proxy.beforeFault = async () => {
      await other.refresh();
    };
    const got = await session.refresh();
    const stored = await store.get(c.id);
    expect(got).toEqual(stored);
    expect(got.refresh_token).not.toBe(token.refresh_token);
    expect(await rotations(h, c)).toBe(1);
  });

  it('a client_credentials token spends nothing: a lost answer is simply asked again', async () => {
    const c = await h.client();
    const as = await discover(h.server.url);
    const session = sessionFor(h, c, { server: { ...as, token_endpoint: `${proxy.url}/token` }, retry: { minDelay: 10 } });
    const first = await session.clientCredentials();
    await session.setToken({ ...first, expires_at: now() - 1 });
    proxy.seen.length = 0;
    proxy.faults.push('drop-after');
    const next = await session.accessToken();
    expect(next).not.toBe(first.access_token);
    expect(proxy.seen.map((f) => f.get('grant_type'))).toEqual(['client_credentials', 'client_credentials']);
  });
});

describe('invalid_grant', () => {
  it('is ReauthenticationRequiredError; the token leaves the store (onTokenUpdated: revoked), so another session on it sends nothing', async () => {
    const { c, session, store, token, heard } = await throughProxy();
    await h.revoke(c, token.refresh_token as string, 'refresh_token');
    const other: OAuth2Session = sessionFor(h, c, { store });
    expect(await other.getToken()).toEqual(token);
    await expect(session.refresh()).rejects.toMatchObject({ code: 'ERR_REAUTHENTICATION_REQUIRED', error: 'invalid_grant' });
    expect(await store.get(c.id)).toBeUndefined();
    expect(heard).toEqual([{ token: undefined, reason: 'revoked' }]);
    // The other session still holds its copy; its refresh reads the store first and sends nothing.
    await expect(other.refresh()).rejects.toMatchObject({ code: 'ERR_MISSING_TOKEN' });
    expect(refreshTokensSent()).toEqual([token.refresh_token]);
  });
});

describe('the refresh margin', () => {
  it('scales with the lifetime: a token living 8 s is used with 5 s left (margin min(30, 2) s), and refreshed with 1 s left', async () => {
    const { c, session, token } = await throughProxy();
    await session.setToken({ ...token, expires_in: 8, expires_at: now() + 5 });
    for (let i = 0; i < 5; i++) expect(await session.accessToken()).toBe(token.access_token);
    expect(await rotations(h, c)).toBe(0);
    await session.setToken({ ...token, expires_in: 8, expires_at: now() + 1 });
    expect(await session.accessToken()).not.toBe(token.access_token);
    expect(await rotations(h, c)).toBe(1);
  });

  it('is never more than refreshLeeway: a one-hour token is used with 40 s left, refreshed with 20 s left', async () => {
    const { c, session, token } = await throughProxy();
    await session.setToken({ ...token, expires_in: 3600, expires_at: now() + 40 });
    expect(await session.accessToken()).toBe(token.access_token);
    await session.setToken({ ...token, expires_in: 3600, expires_at: now() + 20 });
    expect(await session.accessToken()).not.toBe(token.access_token);
    expect(await rotations(h, c)).toBe(1);
  });

  it('is on the server’s clock: with the local clock 2 minutes fast (the token responses’ Date says so), a 60 s token is not taken for expired', async () => {
    const c = await h.codeClient({ accessTtl: 60 });
    const behind: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (new URL(input instanceof Request ? input.url : input).pathname !== '/token') return res;
      const headers = new Headers(res.headers);
      headers.set('date', new Date(Date.now() - 120_000).toUTCString());
      return new Response(await res.text(), { status: res.status, headers });
    };
    const { session } = await throughProxy({ fetch: behind }, c);
    const token = (await session.getToken()) as TokenSet;
    // expires_at is the server's time: about 60 s after the server's now, 60 s before the local now.
    expect(Math.abs((token.expires_at as number) - (now() - 60))).toBeLessThanOrEqual(2);
    for (let i = 0; i < 5; i++) expect(await session.accessToken()).toBe(token.access_token);
    expect(await rotations(h, c)).toBe(0);
  });
});

describe('an ID Token in a refresh answer (OIDC Core §12.2), after the server rotated the refresh token', () => {
  /** A server (an injected fetch) that rotates RT1 → RT2 → …, with an id_token for `subs()`; its JWK Set answers as `jwks()` says. */
  async function oidcSession(jwks: () => 'ok' | 503 | 'hang', subs: () => string, refreshTimeout?: number) {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const keys = [{ ...(await exportJWK(publicKey)), kid: 'k', alg: 'RS256' }];
    const iss = 'https://as.example';
    const sent: string[] = [];
    let n = 1;
    const idToken = () => new SignJWT({ sub: subs() }).setProtectedHeader({ alg: 'RS256', kid: 'k' }).setIssuer(iss).setAudience('app').setIssuedAt().setExpirationTime('5m').sign(privateKey);
    const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    const fake: typeof fetch = async (input, init) => {
      if (String(input).endsWith('/jwks')) {
        const mode = jwks();
        // An answer that never comes, until the request is aborted.
        if (mode === 'hang') return new Promise<Response>((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal?.reason)));
        return mode === 'ok' ? json(200, { keys }) : json(503, { error: 'temporarily_unavailable' });
      }
      sent.push(new URLSearchParams(String(init?.body)).get('refresh_token') as string);
      n++;
      return json(200, { access_token: `AT${n}`, token_type: 'Bearer', expires_in: 3600, refresh_token: `RT${n}`, id_token: await idToken() });
    };
    const store = new MemoryTokenStore();
    const session = new OAuth2Session({
      server: { issuer: iss, token_endpoint: `${iss}/token`, jwks_uri: `${iss}/jwks` },
      clientId: 'app',
      clientAuth: clientSecretBasic('s'),
      store,
      fetch: fake,
      ...(refreshTimeout === undefined ? {} : { refreshTimeout }),
    });
    const first = { access_token: 'AT1', token_type: 'Bearer', expires_in: 3600, refresh_token: 'RT1', id_token: await idToken() };
    await session.setToken(first);
    return { session, store, sent, first };
  }

  it('the JWK Set cannot be fetched: the error is thrown, the rotated refresh token is stored (with the ID Token validated before), and the spent one is never sent again', async () => {
    let jwks: 'ok' | 503 = 503;
    const { session, store, sent, first } = await oidcSession(() => jwks, () => 'alice');
    await expect(session.refresh()).rejects.toMatchObject({ code: 'ERR_OAUTH_RESPONSE', status: 503 });
    expect(await store.get('app')).toMatchObject({ access_token: 'AT2', refresh_token: 'RT2', id_token: first.id_token });
    jwks = 'ok';
    expect(await session.refresh()).toMatchObject({ access_token: 'AT3', refresh_token: 'RT3' });
    expect(sent).toEqual(['RT1', 'RT2']);
  });

  it('a JWK Set that never answers is given up after refreshTimeout (the lock is held meanwhile), as a NetworkError that says it timed out: the rotated tokens are stored, and the spent refresh token is never sent again', async () => {
    let jwks: 'ok' | 'hang' = 'hang';
    const { session, store, sent, first } = await oidcSession(() => jwks, () => 'alice', 200);
    await expect(session.refresh()).rejects.toMatchObject({ code: 'ERR_NETWORK', url: 'https://as.example/jwks', message: expect.stringMatching(/timed out after 200 ms/), cause: { name: 'TimeoutError' } });
    expect(await store.get('app')).toMatchObject({ access_token: 'AT2', refresh_token: 'RT2', id_token: first.id_token });
    jwks = 'ok';
    expect(await session.refresh()).toMatchObject({ access_token: 'AT3', refresh_token: 'RT3' });
    expect(sent).toEqual(['RT1', 'RT2']);
  });

  it('an ID Token that fails a check (another user): IdTokenError; neither its tokens nor the spent refresh token are kept', async () => {
    let sub = 'alice';
    const { session, store, sent } = await oidcSession(() => 'ok', () => sub);
    sub = 'mallory';
    await expect(session.refresh()).rejects.toMatchObject({ code: 'ERR_ID_TOKEN', claim: 'sub' });
    const kept = await store.get('app');
    expect(kept).toMatchObject({ access_token: 'AT1' });
    expect(kept?.refresh_token).toBeUndefined();
    await expect(session.refresh()).rejects.toMatchObject({ code: 'ERR_MISSING_TOKEN', which: 'refresh_token' });
    expect(sent).toEqual(['RT1']);
  });
});
