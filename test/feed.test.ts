/**
 * The revocation feed over HTTP: GET /revocations (JSON pages after a cursor) and
 * /revocations/stream (Server-Sent Events), their client authentication, and what each event
 * says: what was revoked, named by the JWT claim a guard matches, and until when it matters.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it, vi } from 'vitest';
import { expectError, sleep, useServer, type Harness } from './flows.js';
import { accessToken, claims, GUARD_SCOPE } from './guard-kit.js';
import { startTestServer, type TestClient } from './helpers.js';

const bin = join(import.meta.dirname, '..', 'packages', 'server', 'bin', 'tessera.js');

/** The events after `after`, read as a guard would. */
async function feed(h: Harness, c: TestClient, after = 0, limit?: number) {
  const query = new URLSearchParams({ after: String(after), ...(limit === undefined ? {} : { limit: String(limit) }) });
  return h.request(`/revocations?${query}`, { headers: { authorization: c.basic } });
}

/** An open SSE stream: the frames received so far, parsed per WHATWG HTML §9.2.6 (enough for our server's frames). */
async function stream(url: string, c: TestClient, lastEventId?: string) {
  const controller = new AbortController();
  const res = await fetch(`${url}/revocations/stream`, {
    headers: { authorization: c.basic, ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }) },
    signal: controller.signal,
  });
  let text = '';
  const decoder = new TextDecoder();
  const reader = res.body!.getReader();
  const ended = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += decoder.decode(value, { stream: true });
      }
    } catch {}
  })();
  const frames = () => text.split('\n\n').filter(Boolean).map((frame) => Object.fromEntries(frame.split('\n').map((line) => {
    const i = line.indexOf(':');
    return [line.slice(0, i), line.slice(i + 1).trim()];
  })) as Record<string, string>);
  const events = () => frames().filter((f) => f.event === 'revocation').map((f) => ({ id: f.id, ...JSON.parse(f.data as string) }));
  return { res, frames, events, ended, close: () => controller.abort() };
}

describe('revocation feed: access', () => {
  const h = useServer();

  it('RFC 8414 §2 (extension): the metadata advertises the feed and the stream', async () => {
    const { body } = await h.request('/.well-known/oauth-authorization-server');
    expect(body.tessera_revocation_feed_endpoint).toBe(`${h.server.url}/revocations`);
    expect(body.tessera_revocation_stream_endpoint).toBe(`${h.server.url}/revocations/stream`);
  });

  it('RFC 6749 §2.3: both endpoints require client authentication (401 invalid_client)', async () => {
    for (const path of ['/revocations', '/revocations/stream']) {
      expectError(await h.request(path), 401, 'invalid_client');
      const wrong = await h.request(path, { headers: { authorization: `Basic ${btoa('nobody:nothing')}` } });
      expectError(wrong, 401, 'invalid_client');
      expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic/);
    }
  });

  it('a client not registered with tessera:revocations is refused (403 unauthorized_client)', async () => {
    const plain = await h.client({ scope: 'read tessera:introspect' });
    expectError(await feed(h, plain), 403, 'unauthorized_client');
    expectError(await h.request('/revocations/stream', { headers: { authorization: plain.basic } }), 403, 'unauthorized_client');
  });

  it('only GET (405), and a cursor must be a non-negative integer (400 invalid_request)', async () => {
    const c = await h.client({ scope: GUARD_SCOPE });
    expect((await h.post('/revocations', {}, { authorization: c.basic })).status).toBe(405);
    for (const bad of ['-1', 'x', '1.5']) expectError(await h.request(`/revocations?after=${bad}`, { headers: { authorization: c.basic } }), 400, 'invalid_request');
    expectError(await h.request('/revocations/stream', { headers: { authorization: c.basic, 'last-event-id': 'abc' } }), 400, 'invalid_request');
  });
});

describe('revocation feed: events', () => {
  const h = useServer({ feedHeartbeat: 100 });

  it('each event names its target by the claim a guard matches (jti, tessera_grant, tessera_family, sub, client_id) and until = the latest access-token exp', async () => {
    const reader = await h.client({ scope: GUARD_SCOPE });
    const app = await h.codeClient({ tokenFormat: 'jwt' });
    const users = [await h.user(), await h.user(), await h.user(), await h.user(), await h.user()];
    const t = [];
    for (const user of users) t.push(await h.userTokens(app, { user }));
    const c = t.map((x) => claims(x.access_token));
    expect(c[0]).toMatchObject({ tessera_grant: expect.any(String), tessera_family: expect.any(String) });
    const { body: before } = await feed(h, reader);

    expect((await h.revoke(app, t[0]!.access_token)).status).toBe(200);
    // RFC 7009 §2.1: revoking a refresh token revokes its grant.
    expect((await h.revoke(app, t[1]!.refresh_token!, 'refresh_token')).status).toBe(200);
    const rotated = await h.refresh(app, t[2]!.refresh_token!);
    await h.refresh(app, t[2]!.refresh_token!); // RFC 9700 §4.14.2: reuse revokes the family
    await h.engine.setPassword(users[3]!.id, 'another long passphrase', { actor: 'test' });
    await h.engine.revoke({ client: app.id }, { actor: 'test' });
    const { body } = await feed(h, reader, before.cursor);
    expect(body.events.map((e: any) => [e.type, e.value])).toEqual([
      ['token', c[0]!.jti],
      ['grant', c[1]!.tessera_grant],
      ['family', c[2]!.tessera_family],
      ['user', c[3]!.sub],
      ['client', app.id],
    ]);
    // until is the access token's expiry, in ms (the JWT's exp is truncated to seconds).
    for (const i of [0, 1, 3, 4]) expect(Math.floor(body.events[i].until / 1000)).toBe(c[i]!.exp);
    expect(claims(rotated.body.access_token).tessera_family).toBe(c[2]!.tessera_family);
  });

  it('GET /revocations pages after the cursor, oldest first, with the cursor to resume from and `more`', async () => {
    const reader = await h.client({ scope: GUARD_SCOPE });
    const app = await h.client({ tokenFormat: 'jwt' });
    const start = (await feed(h, reader)).body;
    const tokens = [];
    for (let i = 0; i < 5; i++) tokens.push(await accessToken(h, app));
    for (const t of tokens) await h.revoke(app, t);
    const first = (await feed(h, reader, start.cursor, 3)).body;
    expect(first.events.map((e: any) => e.value)).toEqual(tokens.slice(0, 3).map((t) => claims(t).jti));
    expect(first).toMatchObject({ cursor: first.events[2].cursor, more: true });
    const rest = (await feed(h, reader, first.cursor, 3)).body;
    expect(rest.events.map((e: any) => e.value)).toEqual(tokens.slice(3).map((t) => claims(t).jti));
    expect(rest.more).toBe(false);
    expect((await feed(h, reader, rest.cursor)).body).toEqual({ events: [], cursor: rest.cursor, more: false });
  });

  it('issued-before T revokes every earlier token and says so with one event', async () => {
    const reader = await h.client({ scope: GUARD_SCOPE });
    const app = await h.client({ tokenFormat: 'jwt' });
    await accessToken(h, app);
    const { body: before } = await feed(h, reader);
    // The engine refuses a cutoff in the future: step past the millisecond the token was issued in.
    await new Promise((resolve) => setTimeout(resolve, 2));
    const T = Date.now();
    await h.engine.revoke({ issuedBefore: T }, { actor: 'test' });
    const { body } = await feed(h, reader, before.cursor);
    expect(body.events).toEqual([expect.objectContaining({ type: 'issued_before', value: T })]);
  });

  it('WHATWG SSE: the stream resumes after Last-Event-ID, each event carries id: = cursor, new ones arrive as they commit, idle ones get heartbeats', async () => {
    const reader = await h.client({ scope: GUARD_SCOPE });
    const app = await h.client({ tokenFormat: 'jwt' });
    const [a, b, c] = [await accessToken(h, app), await accessToken(h, app), await accessToken(h, app)];
    await h.revoke(app, a);
    await h.revoke(app, b);
    const { body } = await feed(h, reader);
    const afterA = body.events.find((e: any) => e.value === claims(a).jti).cursor;
    const s = await stream(h.server.url, reader, String(afterA));
    expect(s.res.headers.get('content-type')).toBe('text/event-stream');
    await vi.waitFor(() => expect(s.events().map((e) => e.value)).toEqual([claims(b).jti]));
    await h.revoke(app, c);
    await vi.waitFor(() => expect(s.events().map((e) => e.value)).toEqual([claims(b).jti, claims(c).jti]));
    for (const e of s.events()) expect(e.id).toBe(String(e.cursor));
    await vi.waitFor(() => expect(s.frames().some((f) => '' in f && f[''] === 'heartbeat')).toBe(true));
    s.close();
  });

  it('a revocation made by another process (the CLI, on the same file) reaches open streams within a heartbeat', async () => {
    const reader = await h.client({ scope: GUARD_SCOPE });
    const app = await h.client({ tokenFormat: 'jwt' });
    const token = await accessToken(h, app);
    const s = await stream(h.server.url, reader, String((await feed(h, reader)).body.cursor));
    const revoke = promisify(execFile)(process.execPath, [bin, 'token', 'revoke', '--token-stdin', '--db', h.server.db], { env: { ...process.env, TESSERA_LOG_LEVEL: 'warn' } });
    revoke.child.stdin?.end(token);
    await revoke;
    await vi.waitFor(() => expect(s.events().map((e) => e.value)).toEqual([claims(token).jti]), { timeout: 5000 });
    s.close();
  });
});

describe('revocation feed: server shutdown', () => {
  it('closing the server ends open streams instead of waiting for them', async () => {
    const server = await startTestServer({ feedHeartbeat: 60_000 });
    const c = await server.createClient({ scope: GUARD_SCOPE });
    const s = await stream(server.url, c);
    await vi.waitFor(() => expect(s.frames().length).toBeGreaterThan(0));
    await server.close();
    await s.ended;
  });
});

/**
 * A user or client event covers the tokens issued before its `at` (README "The revocation feed").
 * The revocation's time is taken before its write reaches the database; that write may then wait
 * (for a pool connection on PostgreSQL, for the writer behind other workers' writes on SQLite)
 * while another request, on any instance, issues a token on the same grant and commits first. The
 * revocation revokes that token too (it revokes every token of the grants it finds), so the feed
 * must tell guards: else a guard keeps accepting a JWT that introspection calls inactive.
 */
describe.each(['sqlite', 'postgres'] as const)('revocation feed: a user or client revocation tells guards of every token it revoked (%s)', (store) => {
  const h = useServer({}, { store });

  for (const kind of ['user', 'client'] as const) {
    it(`${kind}: a token issued while the revocation's write waited is revoked, and the feed covers it (a token event of its own)`, async () => {
      const app = await h.codeClient({ tokenFormat: 'jwt' });
      const user = await h.user();
      const first = await h.userTokens(app, { user });
      // The revocation's write waits, as for a busy pool, until the other request has committed.
      let release!: () => void;
      const waited = new Promise<void>((resolve) => {
        release = resolve;
      });
      const revokeInStore = h.store.revoke.bind(h.store);
      const spy = vi.spyOn(h.store, 'revoke').mockImplementation(async (...args) => {
        await waited;
        return revokeInStore(...args);
      });
      try {
        const revoking = h.engine.revoke(kind === 'user' ? { user: user.id } : { client: app.id }, { actor: 'test' });
        await sleep(1100);
        const rotated = await h.refresh(app, first.refresh_token!);
        expect(rotated.status).toBe(200);
        release();
        await revoking;
        const token = claims(rotated.body.access_token);
        expect(await h.active(rotated.body.access_token)).toBe(false);
        const value = kind === 'user' ? user.id : app.id;
        const events = await h.store.readFeed(0, 100_000);
        // A guard refuses the JWT on an event naming its jti, or naming its sub or client_id with
        // an `at` after the whole second of its iat (seconds, truncated): surely issued before.
        const covering = events.filter((e) => {
          const target = e.target as Record<string, unknown>;
          return e.until >= (token.exp as number) * 1000 - 999
            && (target.token === token.jti || (target[kind] === value && (token.iat as number) * 1000 + 999 < e.at));
        });
        expect(covering, JSON.stringify({ iat: token.iat, jti: token.jti, events })).not.toEqual([]);
      } finally {
        release();
        spy.mockRestore();
      }
    });
  }
});
