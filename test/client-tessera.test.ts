/**
 * @tessera/client against Tessera's own server: discovery, the authorization code flow with
 * PKCE and its callback checks, refresh with rotation, replay, revocation, introspection, client
 * credentials, the legacy password grant, and the error classes.
 */
import {
  AuthorizationResponseError,
  ConfigurationError,
  InvalidResponseError,
  IssuerMismatchError,
  NetworkError,
  OAuth2Session,
  OAuthResponseError,
  ReauthenticationRequiredError,
  StateMismatchError,
} from '@tessera/client';
import { describe, expect, it } from 'vitest';
import { REDIRECT_URI, useServer } from './flows.js';
import { startTestServer } from './helpers.js';
import { consent, sessionFor, signIn } from './client/tessera.js';

/** A fetch that counts the requests it passes on, by path. */
function countingFetch() {
  const paths: string[] = [];
  const counted: typeof fetch = (input, init) => {
    paths.push(new URL(input instanceof Request ? input.url : input).pathname);
    return fetch(input, init);
  };
  return { fetch: counted, paths };
}

describe('discovery (RFC 8414)', () => {
  const h = useServer();

  it('RFC 8414 §3: the metadata is fetched once per session, however many steps need it', async () => {
    const c = await h.client({ scope: 'read' });
    const counter = countingFetch();
    const session = sessionFor(h, c, { fetch: counter.fetch });
    await Promise.all([session.clientCredentials(), session.metadata(), session.metadata()]);
    await session.introspect();
    await session.logout();
    expect(counter.paths.filter((p) => p === '/.well-known/oauth-authorization-server')).toHaveLength(1);
    expect(counter.paths).toEqual(expect.arrayContaining(['/token', '/introspect', '/revoke']));
  });

  it('explicit endpoints: a session given the metadata never asks for it', async () => {
    const c = await h.client({ scope: 'read' });
    const counter = countingFetch();
    const url = h.server.url;
    const session = sessionFor(h, c, { issuer: undefined, server: { issuer: url, token_endpoint: `${url}/token` }, fetch: counter.fetch });
    await expect(session.clientCredentials()).resolves.toMatchObject({ token_type: 'Bearer' });
    expect(counter.paths).toEqual(['/token']);
    // An endpoint the metadata lacks is a configuration problem, found before any request.
    await expect(session.introspect()).rejects.toBeInstanceOf(ConfigurationError);
  });

  it('RFC 8414 §3.3: a metadata document naming another issuer is refused', async () => {
    const other = await startTestServer({ issuer: 'https://elsewhere.example' });
    try {
      const session = new OAuth2Session({ issuer: other.url, clientId: 'x' });
      const err = await session.metadata().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IssuerMismatchError);
      expect(err).toMatchObject({ code: 'ERR_ISSUER_MISMATCH' });
    } finally {
      await other.close();
    }
  });
});

describe('authorization code + PKCE against Tessera', () => {
  const h = useServer();

  it('RFC 6749 §4.1 + RFC 7636: authorization URL with state and S256 challenge, then the code exchanged with the verifier', async () => {
    const c = await h.codeClient({ scope: 'read write' });
    const session = sessionFor(h, c, { scope: 'read' });
    const { url, state, codeVerifier } = await session.authorizationUrl();
    const query = new URL(url).searchParams;
    expect(Object.fromEntries(query)).toMatchObject({ response_type: 'code', client_id: c.id, redirect_uri: REDIRECT_URI, scope: 'read', state, code_challenge_method: 'S256' });
    expect(codeVerifier).toMatch(/^[A-Za-z0-9_-]{43,128}$/);
    const token = await session.fetchToken(await consent(h, url));
    expect(token).toMatchObject({ token_type: 'Bearer', scope: 'read', refresh_token: expect.any(String), expires_in: 3600 });
    expect(await h.active(token.access_token)).toBe(true);
  });

  it('a public client (auth method none) runs the flow with PKCE and no secret', async () => {
    const c = await h.codeClient({ authMethod: 'none', grantTypes: ['authorization_code'] });
    const token = await signIn(h, sessionFor(h, c));
    expect(await h.active(token.access_token)).toBe(true);
  });

  it('a web server keeps the pending request between two HTTP requests: a fresh session finishes it', async () => {
    const c = await h.codeClient();
    const pending = await sessionFor(h, c).authorizationUrl();
    const callback = await consent(h, pending.url);
    await expect(sessionFor(h, c).fetchToken(callback, pending)).resolves.toMatchObject({ token_type: 'Bearer' });
  });

  it('RFC 6749 §10.12: a callback for another authorization request (state mismatch) is refused, and its code is not spent', async () => {
    const c = await h.codeClient();
    const victim = sessionFor(h, c);
    await victim.authorizationUrl();
    const attacker = sessionFor(h, c);
    const { url } = await attacker.authorizationUrl();
    const callback = await consent(h, url);
    const err = await victim.fetchToken(callback).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateMismatchError);
    expect(err).toMatchObject({ code: 'ERR_STATE_MISMATCH' });
    await expect(attacker.fetchToken(callback)).resolves.toMatchObject({ token_type: 'Bearer' });
  });

  it('RFC 6749 §4.1.2.1: a denied request comes back as a typed AuthorizationResponseError with the error code', async () => {
    const c = await h.codeClient({ name: 'denied' });
    const session = sessionFor(h, c);
    const { url, state } = await session.authorizationUrl();
    const err = await session.fetchToken(await consent(h, url, 'deny')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthorizationResponseError);
    expect(err).toMatchObject({ code: 'ERR_AUTHORIZATION_RESPONSE', error: 'access_denied', error_description: expect.any(String), state });
  });

  it('RFC 9207 §2.4: Tessera promises iss, so a callback without it is refused', async () => {
    const c = await h.codeClient();
    const session = sessionFor(h, c);
    expect((await session.metadata()).authorization_response_iss_parameter_supported).toBe(true);
    const { url } = await session.authorizationUrl();
    const callback = new URL(await consent(h, url));
    expect(callback.searchParams.get('iss')).toBe(h.server.url);
    callback.searchParams.delete('iss');
    await expect(session.fetchToken(callback)).rejects.toBeInstanceOf(IssuerMismatchError);
  });

  it('RFC 6749 §4.1.2: a code is single-use: exchanging it again is a typed invalid_grant', async () => {
    const c = await h.codeClient();
    const session = sessionFor(h, c);
    const pending = await session.authorizationUrl();
    const callback = await consent(h, pending.url);
    await session.fetchToken(callback, pending);
    await expect(session.fetchToken(callback, pending)).rejects.toMatchObject({ code: 'ERR_OAUTH_RESPONSE', error: 'invalid_grant', status: 400 });
  });
});

describe('refresh, replay, revocation and introspection against Tessera', () => {
  const h = useServer();

  it('RFC 6749 §6: refresh rotates the refresh token: the old one is spent, the new pair is held and active', async () => {
    const c = await h.codeClient();
    const session = sessionFor(h, c);
    const first = await signIn(h, session);
    const second = await session.refresh();
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(second.scope).toBe(first.scope);
    expect(await session.getToken()).toEqual(second);
    expect(await h.active(first.refresh_token!)).toBe(false);
    expect(await h.active(second.access_token)).toBe(true);
  });

  it('RFC 9700 §4.14.2: a replayed refresh token surfaces as ReauthenticationRequiredError, still an invalid_grant OAuthResponseError (and the server revokes the family)', async () => {
    const c = await h.codeClient();
    const session = sessionFor(h, c);
    const first = await signIn(h, session);
    const second = await session.refresh();
    const replayer = sessionFor(h, c);
    await replayer.setToken(first);
    const err = await replayer.refresh().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReauthenticationRequiredError);
    expect(err).toBeInstanceOf(OAuthResponseError);
    expect(err).toMatchObject({ code: 'ERR_REAUTHENTICATION_REQUIRED', error: 'invalid_grant', status: 400 });
    expect(await h.active(second.access_token)).toBe(false);
    // The refused token is forgotten: nothing is sent again, the session says to sign in.
    expect(await replayer.getToken()).toBeUndefined();
    await expect(replayer.accessToken()).rejects.toMatchObject({ code: 'ERR_MISSING_TOKEN' });
  });

  it('RFC 7009: revoke() with token_type_hint revokes exactly that access token', async () => {
    const c = await h.codeClient();
    const session = sessionFor(h, c);
    const token = await signIn(h, session);
    await session.revoke(token.access_token, 'access_token');
    expect(await h.active(token.access_token)).toBe(false);
    expect(await h.active(token.refresh_token!)).toBe(true);
  });

  it('RFC 7009 §2.1: logout() revokes the refresh token, then the access token, and forgets both', async () => {
    const c = await h.codeClient();
    const counter = countingFetch();
    const session = sessionFor(h, c, { fetch: counter.fetch });
    const token = await signIn(h, session);
    await session.logout();
    expect(counter.paths.filter((p) => p === '/revoke')).toHaveLength(2);
    expect(await h.active(token.access_token)).toBe(false);
    expect(await h.active(token.refresh_token!)).toBe(false);
    expect(await session.getToken()).toBeUndefined();
  });

  it('RFC 7662: introspect() reports the active token with its scope and client, and a revoked one as exactly inactive', async () => {
    const c = await h.codeClient({ scope: 'read write' });
    const session = sessionFor(h, c);
    const token = await signIn(h, session);
    expect(await session.introspect()).toMatchObject({ active: true, scope: 'read write', client_id: c.id, token_type: 'Bearer' });
    expect(await session.introspect(token.refresh_token!, 'refresh_token')).toMatchObject({ active: true, token_type: 'refresh_token' });
    await session.revoke(token.refresh_token!, 'refresh_token');
    expect(await session.introspect(token.access_token)).toEqual({ active: false });
  });
});

describe('client credentials and errors against Tessera', () => {
  const h = useServer();

  it.each(['client_secret_basic', 'client_secret_post'] as const)('RFC 6749 §4.4 with %s: a token for the client itself', async (authMethod) => {
    const c = await h.client({ authMethod, scope: 'read write' });
    const session = sessionFor(h, c);
    const token = await session.clientCredentials({ scope: 'read' });
    expect(token).toMatchObject({ token_type: 'Bearer', scope: 'read' });
    expect(await session.introspect()).toMatchObject({ active: true, client_id: c.id, scope: 'read' });
  });

  it('RFC 6749 §5.2: a wrong secret is a typed invalid_client with status 401 and the Basic challenge', async () => {
    const c = await h.client();
    const session = sessionFor(h, { ...c, secret: 'wrong' });
    const err = await session.clientCredentials().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OAuthResponseError);
    expect(err).toMatchObject({ error: 'invalid_client', status: 401, wwwAuthenticate: expect.stringMatching(/^Basic/) });
  });

  it('RFC 6749 §5.2: an unauthorized grant is a typed unauthorized_client, status 400', async () => {
    const c = await h.codeClient();
    await expect(sessionFor(h, c).clientCredentials()).rejects.toMatchObject({ error: 'unauthorized_client', status: 400 });
  });

  it('a server that cannot be reached is a NetworkError, not an OAuth error', async () => {
    const gone = await startTestServer();
    const url = gone.url;
    await gone.close();
    const session = new OAuth2Session({ issuer: url, clientId: 'x' });
    const err = await session.clientCredentials().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect(err).toMatchObject({ code: 'ERR_NETWORK' });
  });

  it('an answer that is not OAuth (an HTML page where JSON belongs) is an InvalidResponseError', async () => {
    const c = await h.client();
    const url = h.server.url;
    const session = sessionFor(h, c, { issuer: undefined, server: { issuer: url, token_endpoint: `${url}/login?return_to=x` } });
    const err = await session.clientCredentials().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidResponseError);
    expect(err).toMatchObject({ code: 'ERR_INVALID_RESPONSE' });
  });

  it('RFC 6749 §3.1: an issuer on plain http other than loopback is refused before any request', async () => {
    const counter = countingFetch();
    const session = new OAuth2Session({ issuer: 'http://tessera.example', clientId: 'x', fetch: counter.fetch });
    await expect(session.metadata()).rejects.toMatchObject({ code: 'ERR_CONFIGURATION' });
    expect(counter.paths).toEqual([]);
  });
});

describe('the password grant (legacy, RFC 6749 §4.3) against Tessera', () => {
  const h = useServer({ legacyGrants: ['password'] });

  it('RFC 6749 §4.3.2: username and password for tokens, when the server and the client both enable it', async () => {
    const c = await h.client({ grantTypes: ['password', 'refresh_token'] });
    const user = await h.user();
    const session = sessionFor(h, c);
    const token = await session.password(user.username, user.password, { scope: 'read' });
    expect(token).toMatchObject({ token_type: 'Bearer', scope: 'read', refresh_token: expect.any(String) });
    await expect(session.password(user.username, 'wrong password')).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});
