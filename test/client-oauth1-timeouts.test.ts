/**
 * OAuth1Session's `timeout` and per-call signals, as OAuth2Session's: each request to the
 * provider's credentials endpoints (RFC 5849 §2.1 temporary credentials, §2.3 token credentials)
 * gets `timeout` ms (default 30,000) for its whole answer, body included, and without one by then
 * is a NetworkError that says it timed out; the caller's signal aborts the request and rejects with
 * its reason. session.fetch (the protected resources) is bounded by its own init.signal only, as
 * OAuth2Session.fetch is. The provider here (node:http on 127.0.0.1, port 0) reads each request and
 * never answers, or answers half a body and stalls, or answers after a delay.
 */
import { NetworkError, OAuth1Session } from '@tessera/client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { afterThirtySeconds, useScriptedServer } from './client/scripted-server.js';

/** What each path does: 'hang' never answers; 'stall' sends headers and half a body; 'slow' answers 200 after 300 ms. */
type Behaviour = 'hang' | 'stall' | 'slow';
const behaviours = new Map<string, Behaviour>();
const server = useScriptedServer(({ path }, res) => {
  const behaviour = behaviours.get(path) ?? 'hang';
  if (behaviour === 'hang') return;
  if (behaviour === 'slow') {
    setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('photo'), 300);
    return;
  }
  res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded' });
  res.write('oauth_token=hh5s93j4hdidpola&oauth_token_secret=');
});
// A test that fails under fake timers must not leave them to the next.
afterEach(() => {
  vi.useRealTimers();
});

const CLIENT = { clientKey: 'dpf43f3p2l4k3l03', clientSecret: 'CLIENT-secret-kd94hf93' };
/** A session holding temporary credentials, ready for fetchAccessToken(url, verifier). */
const withTemporary = (options: Partial<ConstructorParameters<typeof OAuth1Session>[0]> = {}) =>
  new OAuth1Session({ ...CLIENT, token: 'hh5s93j4hdidpola', tokenSecret: 'TOKEN-secret-hdhd0244', ...options });

/** Everything an error shows: message, JSON, and its causes' messages. */
const shown = (err: Error): string => `${err.message} ${JSON.stringify(err)} ${err.cause instanceof Error ? shown(err.cause) : ''}`;

// Each test would wait for ever (or 30 s) without the bound: fail fast instead.
describe('OAuth1Session: the credentials endpoints are given up after `timeout` ms', { timeout: 5_000 }, () => {
  it('fetchRequestToken(): a provider that never answers is a NetworkError that says it timed out after 200 ms, naming no secret', async () => {
    behaviours.set('/initiate', 'hang');
    const err = await new OAuth1Session({ ...CLIENT, timeout: 200 }).fetchRequestToken(`${server.base}/initiate?x=QUERY-1`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect(err).toMatchObject({ code: 'ERR_NETWORK', url: `${server.base}/initiate`, notSent: false });
    expect((err as Error).message).toMatch(/timed out after 200 ms/);
    expect(shown(err as Error)).not.toMatch(/CLIENT-secret|QUERY-1/);
  });

  it("fetchAccessToken(): an answer whose body stalls is timed out too (the bound covers the body), naming neither the token's secret nor the verifier", async () => {
    behaviours.set('/token', 'stall');
    const err = await withTemporary({ timeout: 200 }).fetchAccessToken(`${server.base}/token`, 'VERIFIER-hfdp7dh39dks9884').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as Error).message).toMatch(/timed out after 200 ms/);
    expect(shown(err as Error)).not.toMatch(/CLIENT-secret|TOKEN-secret|VERIFIER/);
  });

  it('with no option, a credentials request is bounded by the default 30,000 ms', async () => {
    const err = (await afterThirtySeconds((hanging) => new OAuth1Session({ ...CLIENT, fetch: hanging }).fetchRequestToken('https://photos.example.net/initiate'))) as Error;
    expect(err).toBeInstanceOf(NetworkError);
    expect(err.message).toMatch(/timed out after 30000 ms/);
  });

  it('a timeout that is not a positive number of milliseconds setTimeout can hold is a ConfigurationError at construction', () => {
    for (const timeout of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31]) {
      expect(() => new OAuth1Session({ ...CLIENT, timeout })).toThrow(expect.objectContaining({ code: 'ERR_CONFIGURATION' }));
    }
  });
});

describe("OAuth1Session: the caller's signal aborts a request and rejects with its reason", { timeout: 5_000 }, () => {
  it('fetchRequestToken(url, { signal }): the abort is the reason, and the provider sees the connection closed', async () => {
    behaviours.set('/initiate', 'hang');
    const controller = new AbortController();
    const reason = new Error('the user cancelled');
    const pending = new OAuth1Session({ ...CLIENT, timeout: 60_000 }).fetchRequestToken(`${server.base}/initiate`, { signal: controller.signal }).catch((e: unknown) => e);
    const request = await server.nextRequest('/initiate');
    controller.abort(reason);
    expect(await pending).toBe(reason);
    await request.closed;
  });

  it('fetchAccessToken(url, verifier, { signal }): an abort while the body stalls is the reason too; the temporary credentials stay', async () => {
    behaviours.set('/token', 'stall');
    const session = withTemporary({ timeout: 60_000 });
    const controller = new AbortController();
    const pending = session.fetchAccessToken(`${server.base}/token`, 'VERIFIER-hfdp7dh39dks9884', { signal: controller.signal }).catch((e: unknown) => e);
    const request = await server.nextRequest('/token');
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();
    const err = await pending;
    expect(err).toMatchObject({ name: 'AbortError' });
    expect(err).toBe(controller.signal.reason);
    await request.closed;
    expect(session.getToken()).toMatchObject({ oauth_token: 'hh5s93j4hdidpola' });
  });

  it('a signal already aborted rejects with its reason and sends nothing', async () => {
    const reason = new Error('already cancelled');
    const before = server.requests.length;
    expect(await new OAuth1Session(CLIENT).fetchRequestToken(`${server.base}/initiate`, { signal: AbortSignal.abort(reason) }).catch((e: unknown) => e)).toBe(reason);
    expect(await withTemporary().fetchAccessToken(`${server.base}/token`, 'v', { signal: AbortSignal.abort(reason) }).catch((e: unknown) => e)).toBe(reason);
    expect(server.requests.length).toBe(before);
  });

  it('session.fetch(url, { signal }): a signed request to a resource that never answers is aborted, the provider sees the connection closed', async () => {
    behaviours.set('/photos', 'hang');
    const controller = new AbortController();
    const reason = new Error('the user cancelled');
    const pending = withTemporary().fetch(`${server.base}/photos?size=original`, { signal: controller.signal }).catch((e: unknown) => e);
    const request = await server.nextRequest('/photos');
    controller.abort(reason);
    expect(await pending).toBe(reason);
    await request.closed;
  });

  it('session.fetch is not bounded by `timeout` (the protected resources are not the credentials endpoints), as OAuth2Session.fetch is not', async () => {
    behaviours.set('/photos', 'slow');
    const response = await withTemporary({ timeout: 100 }).fetch(`${server.base}/photos`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('photo');
  });
});
