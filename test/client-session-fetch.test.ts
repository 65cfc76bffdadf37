/**
 * session.fetch against a resource server that asks Tessera about every token (RFC 6750):
 * the Bearer header, refresh ahead of expiry, one refresh and one retry on invalid_token,
 * single-flight refresh under concurrency (counted in Tessera's audit log), and tokens saved
 * before they are used.
 */
import { MemoryTokenStore, OAuth2Session, type TokenSet, type TokenStore } from '@tessera/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, useServer } from './flows.js';
import { startResourceServer, type ResourceServer } from './client/resource-server.js';
import { rotations, sessionFor, signIn } from './client/tessera.js';

const h = useServer();
let rs: ResourceServer;
beforeAll(async () => {
  rs = await startResourceServer(h);
});
afterAll(() => rs?.close());

const now = () => Math.floor(Date.now() / 1000);

/** A signed-in session whose access token the session believes expires in `seconds` (negative: already expired). */
async function sessionExpiringIn(seconds: number, options: Parameters<typeof sessionFor>[2] = {}) {
  const c = await h.codeClient();
  const session = sessionFor(h, c, options);
  const token = await signIn(h, session);
  await session.setToken({ ...token, expires_at: now() + seconds });
  return { c, session, token };
}

function fresh(): void {
  rs.seen.length = 0;
  rs.onRequest = undefined;
  rs.rejectAll = undefined;
}

async function get(session: OAuth2Session, path = '/data', init?: RequestInit) {
  const res = await session.fetch(rs.url + path, init);
  return { status: res.status, body: await res.json() };
}

describe('session.fetch (RFC 6750)', () => {
  it('RFC 6750 §2.1: the access token goes in the Authorization header as a Bearer token', async () => {
    fresh();
    const { session, token } = await sessionExpiringIn(3600);
    expect(await get(session)).toMatchObject({ status: 200 });
    expect(rs.seen.map((s) => s.token)).toEqual([token.access_token]);
  });

  it('refreshes ahead of expiry: a token expiring within the leeway is refreshed before the request', async () => {
    fresh();
    const { c, session, token } = await sessionExpiringIn(20, { refreshLeeway: 30 });
    expect(await get(session)).toMatchObject({ status: 200 });
    expect(await rotations(h, c)).toBe(1);
    expect(rs.seen[0]!.token).not.toBe(token.access_token);
    expect(rs.seen[0]!.token).toBe((await session.getToken())!.access_token);
  });

  it('a token expiring after the leeway is used as is, without a refresh', async () => {
    fresh();
    const { c, session, token } = await sessionExpiringIn(20, { refreshLeeway: 10 });
    expect(await get(session)).toMatchObject({ status: 200 });
    expect(await rotations(h, c)).toBe(0);
    expect(rs.seen[0]!.token).toBe(token.access_token);
  });

  it('RFC 6750 §3.1: a 401 invalid_token (here: the token was revoked) means one refresh and one retry, body included', async () => {
    fresh();
    const { c, session, token } = await sessionExpiringIn(3600);
    await session.revoke(token.access_token, 'access_token');
    const res = await get(session, '/data', { method: 'POST', body: 'payload', headers: { 'content-type': 'text/plain' } });
    expect(res).toEqual({ status: 200, body: { ok: true, body: 'payload' } });
    expect(await rotations(h, c)).toBe(1);
    expect(rs.seen.map((s) => [s.token === token.access_token, s.body])).toEqual([[true, 'payload'], [false, 'payload']]);
  });

  it('RFC 6750 §3.1: a second 401 invalid_token is returned to the caller, not retried again', async () => {
    fresh();
    const { c, session } = await sessionExpiringIn(3600);
    rs.rejectAll = 'Bearer error="invalid_token"';
    expect((await get(session)).status).toBe(401);
    expect(rs.seen).toHaveLength(2);
    expect(await rotations(h, c)).toBe(1);
  });

  it('a 401 whose challenge is not invalid_token is returned without a refresh', async () => {
    fresh();
    const { c, session } = await sessionExpiringIn(3600);
    rs.rejectAll = 'Bearer realm="api"';
    expect((await get(session)).status).toBe(401);
    expect(rs.seen).toHaveLength(1);
    expect(await rotations(h, c)).toBe(0);
  });

  it('RFC 6750 §5.3: a plain-http URL off the loopback gets no token (and no request)', async () => {
    const hosts: string[] = [];
    const counting: typeof fetch = (input, init) => {
      hosts.push(new URL(input instanceof Request ? input.url : input).host);
      return fetch(input, init);
    };
    const { session } = await sessionExpiringIn(3600, { fetch: counting });
    await expect(session.fetch('http://api.example/data')).rejects.toMatchObject({ code: 'ERR_CONFIGURATION' });
    expect(hosts).not.toContain('api.example');
  });

  it('with no token at all, session.fetch throws MissingTokenError', async () => {
    const c = await h.codeClient();
    await expect(sessionFor(h, c).fetch(`${rs.url}/data`)).rejects.toMatchObject({ code: 'ERR_MISSING_TOKEN', which: 'access_token' });
  });

  it('a client_credentials token has no refresh token: when it expires, the session gets a new one the same way', async () => {
    fresh();
    const c = await h.client();
    const session = sessionFor(h, c);
    const first = await session.clientCredentials();
    expect(first.refresh_token).toBeUndefined();
    await session.setToken({ ...first, expires_at: now() - 1 });
    expect((await get(session)).status).toBe(200);
    expect(rs.seen[0]!.token).not.toBe(first.access_token);
  });
});

describe('single-flight refresh', () => {
  it('100 concurrent session.fetch calls with an expired token cause exactly one refresh at the server, and all use the new token', async () => {
    fresh();
    const { c, session, token } = await sessionExpiringIn(-60);
    const results = await Promise.all(Array.from({ length: 100 }, () => get(session)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(await rotations(h, c)).toBe(1);
    const current = (await session.getToken())!;
    expect(current.refresh_token).not.toBe(token.refresh_token);
    expect(new Set(rs.seen.map((s) => s.token))).toEqual(new Set([current.access_token]));
  });

  it('concurrent 401 invalid_token answers cause one refresh, not one each', async () => {
    fresh();
    const { c, session, token } = await sessionExpiringIn(3600);
    await session.revoke(token.access_token, 'access_token');
    const results = await Promise.all(Array.from({ length: 20 }, () => get(session)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(await rotations(h, c)).toBe(1);
  });

  it('concurrent explicit refresh() calls share one request', async () => {
    const c = await h.codeClient();
    const session = sessionFor(h, c);
    await signIn(h, session);
    const tokens = await Promise.all([session.refresh(), session.refresh(), session.refresh()]);
    expect(new Set(tokens.map((t) => t.refresh_token)).size).toBe(1);
    expect(await rotations(h, c)).toBe(1);
  });
});

/** A store that takes its time to save, recording each saved token (as a durable store would). */
class SlowStore implements TokenStore {
  readonly inner = new MemoryTokenStore();
  readonly saved: string[] = [];
  /** Called once, as the next save begins. */
  onSaving: (() => void) | undefined;
  async get(key: string) {
    return this.inner.get(key);
  }
  async set(key: string, token: TokenSet) {
    const saving = this.onSaving;
    this.onSaving = undefined;
    saving?.();
    await sleep(50);
    await this.inner.set(key, token);
    this.saved.push(token.access_token, token.refresh_token ?? '');
  }
  async delete(key: string) {
    await this.inner.delete(key);
  }
}

describe('token storage', () => {
  it('a rotated refresh token is saved (TokenStore.set has resolved) before the new access token is used', async () => {
    fresh();
    const store = new SlowStore();
    const { session } = await sessionExpiringIn(-60, { store });
    const unsaved: string[] = [];
    rs.onRequest = (seen) => {
      if (!store.saved.includes(seen.token!)) unsaved.push(seen.token!);
    };
    // A second caller arrives while the rotated pair is being saved: it must wait for the save too.
    let during: Promise<unknown> | undefined;
    store.onSaving = () => {
      during = get(session);
    };
    await get(session);
    await during;
    const current = (await session.getToken())!;
    expect(store.saved).toContain(current.refresh_token);
    expect(rs.seen).toHaveLength(2);
    expect(unsaved).toEqual([]);
  });

  it('onTokenUpdated hears every change of the stored token set, after the store has it, with why: issued, refreshed, revoked', async () => {
    const store = new MemoryTokenStore();
    const heard: Array<{ token: TokenSet | undefined; reason: string; resource: string | undefined; stored: TokenSet | undefined }> = [];
    const c = await h.codeClient();
    const session = sessionFor(h, c, {
      store,
      storeKey: 'alice',
      onTokenUpdated: async (token, { reason, resource }) => {
        heard.push({ token, reason, resource, stored: await store.get('alice') });
      },
    });
    const first = await signIn(h, session);
    const second = await session.refresh();
    await session.logout();
    expect(heard.map((x) => x.reason)).toEqual(['issued', 'refreshed', 'revoked']);
    expect(heard.map((x) => x.token)).toEqual([first, second, undefined]);
    expect(heard.map((x) => x.stored)).toEqual([first, second, undefined]);
    expect(heard.map((x) => x.resource)).toEqual([undefined, undefined, undefined]);
  });

  it('tokens survive a restart: a new session on the same store and key carries on, refresh included', async () => {
    const store = new MemoryTokenStore();
    const c = await h.codeClient();
    const before = sessionFor(h, c, { store });
    const token = await signIn(h, before);
    const after = sessionFor(h, c, { store });
    expect(await after.getToken()).toEqual(token);
    const refreshed = await after.refresh();
    expect(refreshed.refresh_token).not.toBe(token.refresh_token);
  });

  it('logout() after a restart forgets the token loaded from the store, in the session and in the store', async () => {
    const store = new MemoryTokenStore();
    const c = await h.codeClient();
    const token = await signIn(h, sessionFor(h, c, { store }));
    const restarted = sessionFor(h, c, { store });
    expect(await restarted.getToken()).toEqual(token);
    await restarted.logout();
    expect(await restarted.getToken()).toBeUndefined();
    expect(await store.get(c.id)).toBeUndefined();
    expect(await h.active(token.access_token)).toBe(false);
  });

  it('a store that fails to save stops the refresh: the error reaches the caller and the unsaved token is never presented', async () => {
    fresh();
    const inner = new MemoryTokenStore();
    let broken = false;
    const store: TokenStore = {
      get: (key) => inner.get(key),
      delete: (key) => inner.delete(key),
      set: (key, token) => (broken ? Promise.reject(new Error('disk full')) : inner.set(key, token)),
    };
    const { session } = await sessionExpiringIn(-60, { store });
    const before = await session.getToken();
    broken = true;
    await expect(get(session)).rejects.toThrow('disk full');
    expect(rs.seen).toEqual([]);
    expect(await session.getToken()).toEqual(before);
  });
});

describe('a token endpoint that never answers', () => {
  /** A session whose token endpoint accepts the request and never answers (it gives up only when the request is aborted, as fetch does). */
  function hanging(options: { refreshTimeout?: number } = {}) {
    const sent: string[] = [];
    const fake: typeof fetch = async (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (!url.endsWith('/token')) return new Response('{}', { status: 200 });
      sent.push(new URLSearchParams(String(init?.body)).get('refresh_token') as string);
      return new Promise<Response>((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal?.reason)));
    };
    const session = new OAuth2Session({ server: { issuer: 'https://as.example', token_endpoint: 'https://as.example/token' }, clientId: 'app', fetch: fake, ...options });
    return { session, sent };
  }

  it('session.fetch honours the caller\'s AbortSignal while the refresh it started waits for an answer', async () => {
    const { session } = hanging();
    await session.setToken({ access_token: 'AT', token_type: 'Bearer', expires_in: 60, expires_at: now() - 1, refresh_token: 'RT' });
    const started = Date.now();
    const err = await session.fetch('https://api.example/data', { signal: AbortSignal.timeout(100) }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'TimeoutError' });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('a refresh times out after refreshTimeout: RefreshOutcomeUnknownError (the server may have rotated), the refresh token is never sent again, and the lock is free', async () => {
    const { session, sent } = hanging({ refreshTimeout: 100 });
    await session.setToken({ access_token: 'AT', token_type: 'Bearer', expires_in: 60, expires_at: now() - 1, refresh_token: 'RT' });
    await expect(session.refresh()).rejects.toMatchObject({ code: 'ERR_REFRESH_OUTCOME_UNKNOWN' });
    expect((await session.getToken())?.refresh_token).toBeUndefined();
    await expect(session.refresh()).rejects.toMatchObject({ code: 'ERR_MISSING_TOKEN', which: 'refresh_token' });
    expect(sent).toEqual(['RT']);
  });
});
