/**
 * Every request an OAuth2Session makes to the authorization server (discovery, token, device
 * authorization, revocation, introspection and userinfo endpoints, and each poll of the device
 * flow) is bounded: by the `timeout` option (default 30 s), or for a renewal by `refreshTimeout`
 * when that is given. A request without a whole answer by then is a NetworkError that says it
 * timed out and after how long, and names no secret. Device polling as a whole ends when the
 * device code's `expires_in` has passed, even if the server never says `expired_token`. The server
 * here (node:http on loopback) reads each request and never answers, or answers half a body and
 * stalls, or answers a fixed JSON body (400 when it has an `error`).
 */
import { NetworkError, OAuth2Session, OAuthResponseError, type SessionOptions, ServerClock, processDeviceAuthorizationResponse } from '@tessera/client';
import { describe, expect, it } from 'vitest';
import { afterThirtySeconds, useScriptedServer } from './client/scripted-server.js';

/**
 * What each path does: 'hang' reads the request and never answers; 'stall' sends headers and half
 * a body; else a JSON answer; or a function of the request's body that says which.
 */
type Answer = 'hang' | 'stall' | Record<string, unknown>;
type Behaviour = Answer | ((body: string) => Answer);
const behaviours = new Map<string, Behaviour>();
/** Milliseconds a path waits before it answers (none: at once). */
const delays = new Map<string, number>();
/** Per path, the requests read and not answered yet: now, and at most since the count was reset. */
const inFlight = new Map<string, { now: number; max: number }>();
const server = useScriptedServer(({ path, body }, res) => {
  const configured = behaviours.get(path) ?? 'hang';
  const behaviour = typeof configured === 'function' ? configured(body) : configured;
  const count = inFlight.get(path) ?? { now: 0, max: 0 };
  count.now++;
  count.max = Math.max(count.max, count.now);
  inFlight.set(path, count);
  if (behaviour === 'hang') return;
  setTimeout(() => {
    count.now--;
    res.writeHead(typeof behaviour === 'object' && typeof behaviour.error === 'string' ? 400 : 200, { 'content-type': 'application/json' });
    if (behaviour === 'stall') res.write('{"access_token":"AT","token_type":"Bearer",');
    else res.end(JSON.stringify(behaviour));
  }, delays.get(path) ?? 0);
});
/** The body of each request the server read, in order. */
const bodies = () => server.requests.map((r) => r.body);

/** A session against the loopback server: explicit endpoints, a client secret, the given options. */
const session = (options: Partial<SessionOptions> = {}) =>
  server.session({ revocation_endpoint: '/revoke', introspection_endpoint: '/introspect', userinfo_endpoint: '/userinfo' }, options);

/** The rejection of `promise`, which must be a NetworkError. */
async function networkError(promise: Promise<unknown>): Promise<NetworkError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NetworkError);
  return err as NetworkError;
}

/** Everything an error shows: message, JSON, and its causes' messages. */
const shown = (err: Error): string => `${err.message} ${JSON.stringify(err)} ${err.cause instanceof Error ? shown(err.cause) : ''}`;

// Each test would wait for ever without the bound: fail fast instead.
describe('a token endpoint that never answers is given up after `timeout` ms', { timeout: 5_000 }, () => {
  it('fetchToken: the code exchange is a NetworkError that says it timed out after 200 ms, naming neither the code nor the verifier', async () => {
    behaviours.set('/token', 'hang');
    const s = session({ timeout: 200 });
    const { state, codeVerifier } = await s.authorizationUrl();
    const err = await networkError(s.fetchToken(`http://127.0.0.1/callback?code=CODE-secret-42&state=${state}`));
    expect(err).toMatchObject({ code: 'ERR_NETWORK', url: `${server.base}/token`, notSent: false });
    expect(err.message).toMatch(/timed out after 200 ms/);
    expect(shown(err)).not.toMatch(/CODE-secret-42|CLIENT-SECRET-1/);
    expect(shown(err)).not.toContain(codeVerifier);
    expect(await s.getToken()).toBeUndefined();
  });

  it('fetchToken: an answer whose body stalls is timed out too (the bound covers the body)', async () => {
    behaviours.set('/token', 'stall');
    const s = session({ timeout: 200 });
    const { state } = await s.authorizationUrl();
    const err = await networkError(s.fetchToken(`http://127.0.0.1/callback?code=CODE-secret-42&state=${state}`));
    expect(err.message).toMatch(/timed out after 200 ms/);
  });

  it('password(): a NetworkError that says it timed out, naming no password', async () => {
    behaviours.set('/token', 'hang');
    const err = await networkError(session({ timeout: 200 }).password('alice', 'PASSWORD-hunter2'));
    expect(err.message).toMatch(/timed out after 200 ms/);
    expect(shown(err)).not.toMatch(/PASSWORD-hunter2|CLIENT-SECRET-1/);
  });

  it('clientCredentials(): the first token request is bounded as well', async () => {
    behaviours.set('/token', 'hang');
    const err = await networkError(session({ timeout: 200 }).clientCredentials());
    expect(err).toMatchObject({ url: `${server.base}/token` });
    expect(err.message).toMatch(/timed out after 200 ms/);
  });

  it('deviceAuthorization(): a device authorization endpoint that never answers is a NetworkError that says it timed out', async () => {
    behaviours.set('/device', 'hang');
    const err = await networkError(session({ timeout: 200 }).deviceAuthorization());
    expect(err).toMatchObject({ url: `${server.base}/device` });
    expect(err.message).toMatch(/timed out after 200 ms/);
  });

  it('pollDeviceToken(): each poll is bounded on its own: a poll that never answers is a NetworkError that says it timed out, naming no device code', async () => {
    behaviours.set('/device', { device_code: 'DEVICE-code-77', user_code: 'WDJB-MJHT', verification_uri: `${server.base}/verify`, expires_in: 600, interval: 0 });
    behaviours.set('/token', 'hang');
    const s = session({ timeout: 200 });
    const device = await s.deviceAuthorization();
    const err = await networkError(s.pollDeviceToken(device));
    expect(err).toMatchObject({ url: `${server.base}/token` });
    expect(err.message).toMatch(/timed out after 200 ms/);
    expect(shown(err)).not.toMatch(/DEVICE-code-77|CLIENT-SECRET-1/);
  });

  it("pollDeviceToken(): the caller's signal still ends a poll with its own reason, not a NetworkError", async () => {
    behaviours.set('/device', { device_code: 'DEVICE-code-77', user_code: 'WDJB-MJHT', verification_uri: `${server.base}/verify`, expires_in: 600, interval: 0 });
    behaviours.set('/token', 'hang');
    const s = session({ timeout: 60_000 });
    const device = await s.deviceAuthorization();
    const controller = new AbortController();
    const polling = s.pollDeviceToken(device, { signal: controller.signal }).catch((e: unknown) => e);
    setTimeout(() => controller.abort(new Error('the user cancelled')), 100);
    expect(await polling).toMatchObject({ message: 'the user cancelled' });
  });

  it('discovery: an issuer whose metadata never comes is a NetworkError that says it timed out', async () => {
    const s = new OAuth2Session({ issuer: `${server.base}/hanging-issuer`, clientId: 'app', timeout: 200 });
    const err = await networkError(s.password('alice', 'PASSWORD-hunter2'));
    expect(err.url).toContain('/.well-known/oauth-authorization-server');
    expect(err.message).toMatch(/timed out after 200 ms/);
  });

  it('a refresh is bounded by `timeout` when refreshTimeout is not given: RefreshOutcomeUnknownError, caused by the timed-out NetworkError', async () => {
    behaviours.set('/token', 'hang');
    const s = session({ timeout: 200 });
    await s.setToken({ access_token: 'AT', token_type: 'Bearer', expires_in: 60, refresh_token: 'REFRESH-secret-9' });
    const err = (await s.refresh().catch((e: unknown) => e)) as Error;
    expect(err).toMatchObject({ code: 'ERR_REFRESH_OUTCOME_UNKNOWN', cause: { code: 'ERR_NETWORK' } });
    expect(err.message).toMatch(/timed out after 200 ms/);
    expect(shown(err)).not.toMatch(/REFRESH-secret-9|CLIENT-SECRET-1/);
  });

  it('refreshTimeout, when given, bounds a refresh rather than `timeout`', async () => {
    behaviours.set('/token', 'hang');
    const s = session({ timeout: 60_000, refreshTimeout: 200 });
    await s.setToken({ access_token: 'AT', token_type: 'Bearer', expires_in: 60, refresh_token: 'REFRESH-secret-9' });
    const err = (await s.refresh().catch((e: unknown) => e)) as Error;
    expect(err).toMatchObject({ code: 'ERR_REFRESH_OUTCOME_UNKNOWN' });
    expect(err.message).toMatch(/timed out after 200 ms/);
  });

  it('with no option, a token request is bounded by the default 30,000 ms', async () => {
    const err = (await afterThirtySeconds((hanging) => session({ fetch: hanging }).password('alice', 'PASSWORD-hunter2'))) as Error;
    expect(err).toBeInstanceOf(NetworkError);
    expect(err.message).toMatch(/timed out after 30000 ms/);
  });

  it('a timeout or refreshTimeout that is not a positive number of milliseconds setTimeout can hold is a ConfigurationError at construction', () => {
    for (const timeout of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31]) {
      expect(() => session({ timeout })).toThrow(expect.objectContaining({ code: 'ERR_CONFIGURATION' }));
      expect(() => session({ refreshTimeout: timeout })).toThrow(expect.objectContaining({ code: 'ERR_CONFIGURATION', message: expect.stringMatching(/^refreshTimeout /) }));
    }
  });
});

describe('revocation, introspection and userinfo endpoints that never answer are given up after `timeout` ms', { timeout: 5_000 }, () => {
  it('revoke(): RFC 7009 revocation is bounded: a NetworkError that says it timed out after 200 ms, naming neither the token nor the secret', async () => {
    behaviours.set('/revoke', 'hang');
    const err = await networkError(session({ timeout: 200 }).revoke('REVOKED-token-31', 'refresh_token'));
    expect(err).toMatchObject({ code: 'ERR_NETWORK', url: `${server.base}/revoke`, notSent: false });
    expect(err.message).toMatch(/timed out after 200 ms/);
    expect(shown(err)).not.toMatch(/REVOKED-token-31|CLIENT-SECRET-1/);
  });

  it('logout(): a revocation that times out rejects with that NetworkError, and the tokens are forgotten all the same', async () => {
    behaviours.set('/revoke', 'hang');
    const s = session({ timeout: 200 });
    await s.setToken({ access_token: 'AT', token_type: 'Bearer', expires_in: 60, refresh_token: 'REFRESH-secret-9' });
    const err = await networkError(s.logout());
    expect(err).toMatchObject({ url: `${server.base}/revoke` });
    expect(err.message).toMatch(/timed out after 200 ms/);
    expect(shown(err)).not.toMatch(/REFRESH-secret-9|CLIENT-SECRET-1/);
    expect(await s.getToken()).toBeUndefined();
  });

  /** A token set with a refresh token, an access token and two APIs' tokens (RFC 8707): four revocations. */
  const fourTokens = {
    access_token: 'ACCESS-token-1',
    token_type: 'Bearer',
    expires_in: 60,
    refresh_token: 'REFRESH-secret-9',
    resource_tokens: {
      'https://a.example': { access_token: 'ACCESS-token-a', token_type: 'Bearer' },
      'https://b.example': { access_token: 'ACCESS-token-b', token_type: 'Bearer' },
    },
  };
  const revoked = (from: number) => bodies().slice(from).map((b) => new URLSearchParams(b).get('token')).sort();

  it('logout(): the revocations run at once: four that each take 300 ms end within one timeout (1,000 ms), not four', async () => {
    behaviours.set('/revoke', {});
    delays.set('/revoke', 300);
    inFlight.delete('/revoke');
    const s = session({ timeout: 1_000 });
    await s.setToken(fourTokens);
    const before = bodies().length;
    const started = performance.now();
    try {
      await s.logout();
    } finally {
      delays.delete('/revoke');
    }
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(inFlight.get('/revoke')?.max).toBe(4);
    expect(revoked(before)).toEqual(['ACCESS-token-1', 'ACCESS-token-a', 'ACCESS-token-b', 'REFRESH-secret-9']);
    expect(await s.getToken()).toBeUndefined();
  });

  it("logout(): the error thrown is the first revocation's in order (refresh token, access token, the APIs'), whichever failed first in time; the tokens are forgotten", async () => {
    // The refresh token's revocation times out; the access token's is refused at once.
    behaviours.set('/revoke', (body) => {
      const token = new URLSearchParams(body).get('token');
      if (token === 'REFRESH-secret-9') return 'hang';
      return token === 'ACCESS-token-1' ? { error: 'unsupported_token_type' } : {};
    });
    const s = session({ timeout: 300 });
    await s.setToken(fourTokens);
    const before = bodies().length;
    const started = performance.now();
    const err = await networkError(s.logout());
    expect(performance.now() - started).toBeLessThan(600);
    expect(err).toMatchObject({ url: `${server.base}/revoke` });
    expect(err.message).toMatch(/timed out after 300 ms/);
    expect(shown(err)).not.toMatch(/REFRESH-secret-9|CLIENT-SECRET-1/);
    // Every token was sent for revocation all the same.
    expect(revoked(before)).toEqual(['ACCESS-token-1', 'ACCESS-token-a', 'ACCESS-token-b', 'REFRESH-secret-9']);
    expect(await s.getToken()).toBeUndefined();
  });

  it("logout(): a refused refresh token's revocation is the error, an OAuthResponseError as before, once the others are done", async () => {
    behaviours.set('/revoke', (body) => (new URLSearchParams(body).get('token') === 'REFRESH-secret-9' ? { error: 'invalid_client' } : {}));
    const s = session({ timeout: 1_000 });
    await s.setToken(fourTokens);
    const err = await s.logout().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OAuthResponseError);
    expect(err).toMatchObject({ error: 'invalid_client', status: 400 });
    expect(await s.getToken()).toBeUndefined();
  });

  it('introspect(): RFC 7662 introspection is bounded: a NetworkError that says it timed out, naming not the token', async () => {
    behaviours.set('/introspect', 'hang');
    const err = await networkError(session({ timeout: 200 }).introspect('INTROSPECTED-token-5'));
    expect(err).toMatchObject({ url: `${server.base}/introspect` });
    expect(err.message).toMatch(/timed out after 200 ms/);
    expect(shown(err)).not.toMatch(/INTROSPECTED-token-5|CLIENT-SECRET-1/);
  });

  it('introspect(): an answer whose body stalls is timed out too (the bound covers the body)', async () => {
    behaviours.set('/introspect', 'stall');
    const err = await networkError(session({ timeout: 200 }).introspect('INTROSPECTED-token-5'));
    expect(err.message).toMatch(/timed out after 200 ms/);
  });

  it('userinfo(): the OIDC UserInfo request is bounded: a NetworkError that says it timed out, naming not the access token', async () => {
    behaviours.set('/userinfo', 'hang');
    const s = session({ timeout: 200 });
    const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const idToken = `${part({ alg: 'RS256' })}.${part({ iss: server.base, sub: 'alice', aud: 'app' })}.c2ln`;
    await s.setToken({ access_token: 'ACCESS-token-8', token_type: 'Bearer', expires_in: 3600, id_token: idToken });
    const err = await networkError(s.userinfo());
    expect(err).toMatchObject({ url: `${server.base}/userinfo` });
    expect(err.message).toMatch(/timed out after 200 ms/);
    expect(shown(err)).not.toMatch(/ACCESS-token-8/);
  });
});

describe('RFC 8628 §3.2, §3.5: device polling ends once the device code has expired, whatever the server answers', { timeout: 10_000 }, () => {
  const polls = () => bodies().filter((b) => b.includes('device_code=')).length;

  it('pollDeviceToken(): a server that answers authorization_pending past expires_in stops the polling with expired_token, the error the server would have sent', async () => {
    behaviours.set('/device', { device_code: 'DEVICE-code-77', user_code: 'WDJB-MJHT', verification_uri: `${server.base}/verify`, expires_in: 2, interval: 1 });
    behaviours.set('/token', { error: 'authorization_pending' });
    const s = session({ timeout: 1_000 });
    const device = await s.deviceAuthorization();
    const before = polls();
    const err = await s.pollDeviceToken(device).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OAuthResponseError);
    expect(err).toMatchObject({ code: 'ERR_OAUTH_RESPONSE', error: 'expired_token', status: 400 });
    // The server was asked (and said authorization_pending) before the code expired.
    expect(polls()).toBeGreaterThan(before);
    expect(shown(err as Error)).not.toMatch(/DEVICE-code-77|CLIENT-SECRET-1/);
    expect(await s.getToken()).toBeUndefined();
  });

  it('pollDeviceToken(): a device authorization whose expires_at has already passed is expired_token without a single poll', async () => {
    behaviours.set('/token', { error: 'authorization_pending' });
    const s = session({ timeout: 1_000 });
    const past = Math.floor(Date.now() / 1000) - 1;
    const before = polls();
    const device = { device_code: 'DEVICE-code-78', user_code: 'WDJB-MJHT', verification_uri: `${server.base}/verify`, expires_in: 1, expires_at: past, interval: 1 };
    await expect(s.pollDeviceToken(device)).rejects.toMatchObject({ code: 'ERR_OAUTH_RESPONSE', error: 'expired_token' });
    expect(polls()).toBe(before);
  });

  it("deviceAuthorization(): expires_at is expires_in after the answer came, on the server's clock (its Date header), rounded up", async () => {
    const clock = new ServerClock();
    const serverNow = Date.now() + 3_600_000;
    const response = new Response(
      JSON.stringify({ device_code: 'D', user_code: 'U', verification_uri: `${server.base}/verify`, expires_in: 600 }),
      { status: 200, headers: { 'content-type': 'application/json', date: new Date(serverNow).toUTCString() } },
    );
    const device = await processDeviceAuthorizationResponse(response, clock);
    expect(Number.isInteger(device.expires_at)).toBe(true);
    expect(device.expires_at).toBeGreaterThanOrEqual(Math.floor(serverNow / 1000) + 600);
    expect(device.expires_at).toBeLessThanOrEqual(Math.ceil(serverNow / 1000) + 602);
  });
});
