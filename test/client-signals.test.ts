/**
 * The caller's AbortSignal on each OAuth2Session call that obtains a token or a device code:
 * fetchToken, password, clientCredentials and deviceAuthorization. An abort rejects the call with
 * the signal's reason, unchanged (as session.fetch, refresh waits and pollDeviceToken do), the
 * request is really aborted (the server sees its connection closed), and `timeout` still bounds the
 * call when the signal never fires. The server here (node:http on 127.0.0.1, port 0) reads each
 * request and never answers, or answers half a body and stalls.
 */
import { NetworkError, OAuth2Session, type SessionOptions, discoveryUrl } from '@tessera/client';
import { describe, expect, it } from 'vitest';
import { useScriptedServer } from './client/scripted-server.js';

/** What each path does: 'hang' reads the request and never answers; 'stall' sends headers and half a body; else a JSON answer. */
type Behaviour = 'hang' | 'stall' | Record<string, unknown>;
const behaviours = new Map<string, Behaviour>();
const server = useScriptedServer(({ path }, res) => {
  const behaviour = behaviours.get(path) ?? 'hang';
  if (behaviour === 'hang') return;
  res.writeHead(200, { 'content-type': 'application/json' });
  if (behaviour === 'stall') res.write('{"access_token":"AT","token_type":"Bearer",');
  else res.end(JSON.stringify(behaviour));
});

/** A session against the loopback server: explicit endpoints, a client secret, a timeout no test reaches unless it says so. */
const session = (options: Partial<SessionOptions> = {}) => server.session({ jwks_uri: '/jwks' }, { timeout: 60_000, ...options });

/** Each call, given a signal: the four calls that had none. */
const calls: [string, string, (s: OAuth2Session, signal: AbortSignal) => Promise<unknown>][] = [
  [
    'fetchToken',
    '/token',
    async (s, signal) => {
      const { state } = await s.authorizationUrl();
      return s.fetchToken(`http://127.0.0.1/callback?code=CODE-secret-42&state=${state}`, undefined, { signal });
    },
  ],
  ['password', '/token', (s, signal) => s.password('alice', 'PASSWORD-hunter2', { signal })],
  ['clientCredentials', '/token', (s, signal) => s.clientCredentials({ signal })],
  ['deviceAuthorization', '/device', (s, signal) => s.deviceAuthorization({ signal })],
];

// Without the signal each call would wait for its 60 s timeout: fail fast instead.
describe("the caller's signal aborts a session's grant and device authorization requests", { timeout: 5_000 }, () => {
  for (const [name, path, call] of calls) {
    it(`${name}(): an abort while the server holds the request rejects with the signal's reason, and the server sees the connection closed`, async () => {
      behaviours.set(path, 'hang');
      const s = session();
      const controller = new AbortController();
      const reason = new Error('the user cancelled');
      const pending = call(s, controller.signal).catch((e: unknown) => e);
      const request = await server.nextRequest(path);
      controller.abort(reason);
      expect(await pending).toBe(reason);
      await request.closed;
      expect(await s.getToken()).toBeUndefined();
    });
  }

  it("an abort without a reason is the signal's own AbortError (a DOMException), as fetch's abort is", async () => {
    behaviours.set('/token', 'hang');
    const controller = new AbortController();
    const pending = session().password('alice', 'PASSWORD-hunter2', { signal: controller.signal }).catch((e: unknown) => e);
    await server.nextRequest('/token');
    controller.abort();
    const err = await pending;
    expect(err).toBeInstanceOf(DOMException);
    expect(err).toMatchObject({ name: 'AbortError' });
    expect(err).toBe(controller.signal.reason);
  });

  it("the reason is passed on unchanged: not redacted like the server's words, even where it looks like a token", async () => {
    behaviours.set('/token', 'hang');
    const message = 'request 7f3c9a2b4d5e6f708192a3b4c5d6e7f8 cancelled';
    const controller = new AbortController();
    const reason = new Error(message);
    const pending = session().password('alice', 'PASSWORD-hunter2', { signal: controller.signal }).catch((e: unknown) => e);
    await server.nextRequest('/token');
    controller.abort(reason);
    expect(await pending).toBe(reason);
    expect(reason.message).toBe(message);
  });

  it('a signal already aborted rejects with its reason and sends nothing', async () => {
    const reason = new Error('already cancelled');
    const before = server.requests.length;
    for (const [, , call] of calls) expect(await call(session(), AbortSignal.abort(reason)).catch((e: unknown) => e)).toBe(reason);
    expect(server.requests.length).toBe(before);
  });

  it("fetchToken(): an abort while the answer's body stalls is the signal's reason too, not an unreadable-body error", async () => {
    behaviours.set('/token', 'stall');
    const s = session();
    const { state } = await s.authorizationUrl();
    const controller = new AbortController();
    const reason = new Error('the user cancelled');
    const pending = s.fetchToken(`http://127.0.0.1/callback?code=CODE-secret-42&state=${state}`, undefined, { signal: controller.signal }).catch((e: unknown) => e);
    const request = await server.nextRequest('/token');
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort(reason);
    expect(await pending).toBe(reason);
    await request.closed;
  });

  it("fetchToken(): an OpenID Connect exchange's JWK Set fetch (to validate the ID Token) is aborted by the same signal", async () => {
    const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    behaviours.set('/token', { access_token: 'AT', token_type: 'Bearer', expires_in: 60, id_token: `${part({ alg: 'RS256' })}.${part({ sub: 'alice' })}.c2ln` });
    behaviours.set('/jwks', 'hang');
    const s = session({ scope: 'openid' });
    const { state } = await s.authorizationUrl();
    const controller = new AbortController();
    const reason = new Error('the user cancelled');
    const pending = s.fetchToken(`http://127.0.0.1/callback?code=CODE-secret-42&state=${state}`, undefined, { signal: controller.signal }).catch((e: unknown) => e);
    const request = await server.nextRequest('/jwks');
    controller.abort(reason);
    expect(await pending).toBe(reason);
    await request.closed;
    expect(await s.getToken()).toBeUndefined();
  });

  it('an abort while discovery waits rejects the call at once; discovery carries on, shared, within its own timeout', async () => {
    const issuer = `${server.base}/hanging-issuer`;
    const s = new OAuth2Session({ issuer, clientId: 'app', timeout: 300 });
    const controller = new AbortController();
    const reason = new Error('the user cancelled');
    const pending = s.password('alice', 'PASSWORD-hunter2', { signal: controller.signal }).catch((e: unknown) => e);
    await server.nextRequest(discoveryUrl(issuer, 'oauth2').pathname);
    controller.abort(reason);
    expect(await pending).toBe(reason);
  });

  it('a signal that never fires leaves `timeout` in force: a NetworkError that says it timed out', async () => {
    behaviours.set('/token', 'hang');
    const err = await session({ timeout: 200 })
      .clientCredentials({ signal: new AbortController().signal })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as NetworkError).message).toMatch(/timed out after 200 ms/);
  });
});
