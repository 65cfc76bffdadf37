/**
 * @tessera/client against oidc-provider from npm: a server no one here wrote, found by OpenID
 * Connect discovery. Code + PKCE, refresh with rotation, revocation, introspection and client
 * credentials; and the device flow (RFC 8628, against Tessera's server in client-device.test.ts)
 * and private_key_jwt (RFC 7523), which Tessera's server does not offer.
 */
import type { webcrypto } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK } from 'jose';
import {
  AuthorizationResponseError,
  clientSecretBasic,
  clientSecretPost,
  IssuerMismatchError,
  OAuth2Session,
  OAuthResponseError,
  privateKeyJwt,
} from '@tessera/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AWKWARD_SECRET, approve, OIDC_REDIRECT, type OidcServer, SECRET, startOidcProvider } from './client/oidc.js';

let op: OidcServer;
beforeAll(async () => {
  op = await startOidcProvider();
});
afterAll(() => op?.close());

const webSession = () =>
  new OAuth2Session({ issuer: op.issuer, discovery: 'oidc', clientId: 'web', clientAuth: clientSecretBasic(AWKWARD_SECRET), redirectUri: OIDC_REDIRECT, scope: 'openid' });

/** The authorization code flow through oidc-provider's login and consent pages. */
async function signIn(session: OAuth2Session) {
  const { url } = await session.authorizationUrl();
  const back = await approve(op.issuer, url);
  return session.fetchToken(back.location!);
}

describe('authorization code + PKCE against oidc-provider', () => {
  it('RFC 6749 §4.1 + RFC 7636: the callback code is exchanged with the PKCE verifier, the client authenticating with Basic', async () => {
    const session = webSession();
    const { url, state } = await session.authorizationUrl();
    const params = new URL(url).searchParams;
    expect(params.get('code_challenge_method')).toBe('S256');
    expect(params.get('state')).toBe(state);
    const back = await approve(op.issuer, url);
    const token = await session.fetchToken(back.location!);
    expect(token).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String), refresh_token: expect.any(String), expires_at: expect.any(Number) });
    expect(await session.introspect()).toMatchObject({ active: true, client_id: 'web' });
  });

  it('RFC 6749 §2.3.1: a secret with ":", "%", "+", " ", "/", "=" and "&" is form-urlencoded before Basic encoding', async () => {
    // oidc-provider decodes Basic credentials per §2.3.1; a client that skipped the encoding would
    // send a different secret (or split it at the ':') and get invalid_client.
    expect(AWKWARD_SECRET).toMatch(/[:%+ /=&]/);
    await expect(signIn(webSession())).resolves.toMatchObject({ token_type: 'Bearer' });
  });

  it('RFC 6749 §4.1.2.1: a user who declines comes back with access_denied, a typed AuthorizationResponseError', async () => {
    const session = webSession();
    const { url } = await session.authorizationUrl();
    const back = await approve(op.issuer, url, { decision: 'deny' });
    const err = await session.fetchToken(back.location!).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthorizationResponseError);
    expect(err).toMatchObject({ code: 'ERR_AUTHORIZATION_RESPONSE', error: 'access_denied' });
  });

  it('RFC 9207 §2.4: a callback whose iss names another issuer is refused before its code is used', async () => {
    const session = webSession();
    const { url } = await session.authorizationUrl();
    const back = new URL((await approve(op.issuer, url)).location!);
    expect(back.searchParams.get('iss')).toBe(op.issuer);
    back.searchParams.set('iss', 'https://attacker.example');
    await expect(session.fetchToken(back)).rejects.toBeInstanceOf(IssuerMismatchError);
  });
});

describe('refresh, revocation and introspection against oidc-provider', () => {
  it('RFC 6749 §6: refresh rotates the refresh token, and the new pair is what the session holds', async () => {
    const session = webSession();
    const first = await signIn(session);
    const second = await session.refresh();
    expect(second.refresh_token).toEqual(expect.any(String));
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(second.access_token).not.toBe(first.access_token);
    expect(await session.getToken()).toEqual(second);
  });

  it('RFC 9700 §4.14.2: presenting a rotated refresh token again is a typed invalid_grant: ReauthenticationRequiredError, an OAuthResponseError', async () => {
    const session = webSession();
    const first = await signIn(session);
    await session.refresh();
    const stale = webSession();
    await stale.setToken(first);
    const err = await stale.refresh().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OAuthResponseError);
    expect(err).toMatchObject({ code: 'ERR_REAUTHENTICATION_REQUIRED', name: 'ReauthenticationRequiredError', error: 'invalid_grant', status: 400 });
  });

  it('RFC 7009: logout() revokes the refresh and the access token, and forgets them', async () => {
    const session = webSession();
    const token = await signIn(session);
    await session.logout();
    expect(await session.getToken()).toBeUndefined();
    const observer = webSession();
    expect(await observer.introspect(token.access_token, 'access_token')).toEqual({ active: false });
    expect(await observer.introspect(token.refresh_token!, 'refresh_token')).toEqual({ active: false });
  });
});

describe('client credentials against oidc-provider', () => {
  it('RFC 6749 §4.4 with client_secret_post: a token for the client, active at introspection (RFC 7662)', async () => {
    const session = new OAuth2Session({ issuer: op.issuer, discovery: 'oidc', clientId: 'service', clientAuth: clientSecretPost(SECRET) });
    const token = await session.clientCredentials({ scope: 'api:read' });
    expect(token).toMatchObject({ token_type: 'Bearer', scope: 'api:read' });
    expect(token.refresh_token).toBeUndefined();
    expect(await session.introspect()).toMatchObject({ active: true, client_id: 'service', scope: 'api:read' });
    await session.revoke(token.access_token, 'access_token');
    expect(await session.introspect(token.access_token)).toEqual({ active: false });
  });

  it('RFC 6749 §5.2: a wrong secret is a typed invalid_client with status 401', async () => {
    const session = new OAuth2Session({ issuer: op.issuer, discovery: 'oidc', clientId: 'service', clientAuth: clientSecretPost('wrong') });
    await expect(session.clientCredentials()).rejects.toMatchObject({ code: 'ERR_OAUTH_RESPONSE', error: 'invalid_client', status: 401 });
  });
});

describe('private_key_jwt (RFC 7523) against oidc-provider', () => {
  const jwtSession = (key: Parameters<typeof privateKeyJwt>[0]) =>
    new OAuth2Session({ issuer: op.issuer, discovery: 'oidc', clientId: 'jwt-client', clientAuth: privateKeyJwt(key) });

  it('RFC 7523 §2.2: the client authenticates with a JWT signed by its registered key, a fresh one per request', async () => {
    const session = jwtSession(op.clientKey);
    await expect(session.clientCredentials({ scope: 'api:read' })).resolves.toMatchObject({ token_type: 'Bearer' });
    // oidc-provider refuses a replayed assertion (same jti): a second request must carry a new one.
    await expect(session.clientCredentials({ scope: 'api:read' })).resolves.toMatchObject({ token_type: 'Bearer' });
  });

  it('RFC 7523 §3.2: an assertion signed by another key is refused with invalid_client', async () => {
    const other = await generateKeyPair('ES256', { extractable: true });
    const session = jwtSession({ ...(await exportJWK(other.privateKey)), kid: op.clientKey.kid! });
    await expect(session.clientCredentials()).rejects.toMatchObject({ error: 'invalid_client', status: 401 });
  });

  it('a Web Crypto CryptoKey works as well as a JWK', async () => {
    const key = (await importJWK(op.clientKey, 'ES256')) as webcrypto.CryptoKey;
    const session = new OAuth2Session({ issuer: op.issuer, discovery: 'oidc', clientId: 'jwt-client', clientAuth: privateKeyJwt(key, { kid: op.clientKey.kid! }) });
    await expect(session.clientCredentials()).resolves.toMatchObject({ token_type: 'Bearer' });
  });
});

// Each device test waits out one polling interval (5 s, RFC 8628 §3.2's default: oidc-provider
// sends none), so they run side by side.
describe.concurrent('device authorization grant (RFC 8628) against oidc-provider', () => {
  const tvSession = (clientId = 'tv') => new OAuth2Session({ issuer: op.issuer, discovery: 'oidc', clientId, scope: 'openid' });

  it('RFC 8628 §3.4: once the user has approved on another device, polling yields the tokens', async () => {
    const session = tvSession();
    const device = await session.deviceAuthorization();
    expect(device).toMatchObject({ user_code: expect.any(String), verification_uri: `${op.issuer}/device`, interval: 5 });
    const done = await approve(op.issuer, device.verification_uri_complete!);
    expect(done.status).toBe(200);
    const token = await session.pollDeviceToken(device);
    expect(token).toMatchObject({ token_type: 'Bearer', refresh_token: expect.any(String) });
    expect(await session.getToken()).toEqual(token);
  }, 20_000);

  it('RFC 8628 §3.5: access_denied stops polling with a typed error', async () => {
    const session = tvSession();
    const device = await session.deviceAuthorization();
    await approve(op.issuer, device.verification_uri_complete!, { decision: 'deny' });
    await expect(session.pollDeviceToken(device)).rejects.toMatchObject({ code: 'ERR_OAUTH_RESPONSE', error: 'access_denied' });
  }, 20_000);

  it('RFC 8628 §3.5: expired_token stops polling with a typed error', async () => {
    // tv-short's codes live 2 s; the first poll comes after the 5 s interval.
    const session = tvSession('tv-short');
    const device = await session.deviceAuthorization();
    expect(device.expires_in).toBe(2);
    await expect(session.pollDeviceToken(device)).rejects.toMatchObject({ code: 'ERR_OAUTH_RESPONSE', error: 'expired_token' });
  }, 20_000);

  it('an aborted poll rejects at once with the abort reason', async () => {
    const session = tvSession();
    const device = await session.deviceAuthorization();
    const controller = new AbortController();
    const polling = session.pollDeviceToken(device, { signal: controller.signal });
    controller.abort(new Error('user went away'));
    await expect(polling).rejects.toThrow('user went away');
  });
});
