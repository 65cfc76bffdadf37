/**
 * @tessera/client as an OpenID Connect relying party against Tessera (issue 11): ID Token
 * validation (signature via jwks_uri, iss, aud, azp, exp, nonce, at_hash, max_age), UserInfo with
 * the sub check, and the RP-initiated logout URL.
 */
import {
  buildEndSessionUrl, clientSecretBasic, discover, IdTokenError, InvalidResponseError, OAuth2Session, OAuthResponseError, processUserInfoResponse, userinfoRequest,
  validateIdToken,
} from '@tessera/client';
import { decodeJwt } from 'jose';
import { consent } from './client/tessera.js';
import { describe, expect, it } from 'vitest';
import { forged, pkce, useServer } from './flows.js';

describe('@tessera/client: OpenID Connect relying party against Tessera', () => {
  const h = useServer();

  async function signedIn(nonce = 'n-123') {
    const c = await h.codeClient({ scope: 'openid profile email', postLogoutRedirectUris: ['https://app.example/bye'] });
    const user = await h.engine.createUser(`rp-${Math.random().toString(36).slice(2)}`, 'correct horse battery staple', { actor: 'test' }, { name: 'Ada', email: 'ada@example.com', emailVerified: true });
    const p = pkce();
    const code = await h.code(c, { user: { ...user, password: 'correct horse battery staple' }, scope: 'openid profile email', pkce: p, params: { nonce } });
    const tokens = (await h.exchange(c, code, { verifier: p.verifier })).body;
    const as = await discover(h.server.url, { algorithm: 'oidc' });
    return { c, user, tokens, as, client: { client_id: c.id } };
  }

  it('OIDC Core §3.1.3.7: validateIdToken checks the signature from jwks_uri, iss, aud, exp, iat, nonce and at_hash', async () => {
    const { tokens, as, client, user } = await signedIn();
    const claims = await validateIdToken(as, client, tokens.id_token, { nonce: 'n-123', accessToken: tokens.access_token, maxAge: 3600 });
    expect(claims).toMatchObject({ iss: h.server.url, sub: user.id, aud: client.client_id, nonce: 'n-123' });
  });

  it('OIDC Core §3.1.3.7: a wrong nonce, another client, a forged signature, another access token or a stale auth_time are IdTokenError naming the claim', async () => {
    const { tokens, as, client } = await signedIn();
    const other = await signedIn('n-other');
    const fails = async (promise: Promise<unknown>, claim?: string) => {
      const err = await promise.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IdTokenError);
      expect((err as IdTokenError).code).toBe('ERR_ID_TOKEN');
      if (claim) expect((err as IdTokenError).claim).toBe(claim);
    };
    await fails(validateIdToken(as, client, tokens.id_token, { nonce: 'n-456' }), 'nonce');
    await fails(validateIdToken(as, other.client, tokens.id_token), 'aud');
    await fails(validateIdToken(as, client, forged(tokens.id_token)));
    await fails(validateIdToken(as, client, tokens.id_token, { accessToken: other.tokens.access_token }), 'at_hash');
    // auth_time is in whole seconds: past the next second, a sign-in is older than max_age=0.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await fails(validateIdToken(as, client, tokens.id_token, { maxAge: 0, clockTolerance: 0 }), 'auth_time');
    await fails(validateIdToken({ ...as, issuer: 'https://elsewhere.example' }, client, tokens.id_token), 'iss');
  });

  it('OIDC Core §5.3: userinfoRequest / processUserInfoResponse: claims by scope; another sub is refused; a revoked token is OAuthResponseError invalid_token', async () => {
    const { tokens, as, client, user } = await signedIn();
    const claims = await validateIdToken(as, client, tokens.id_token);
    expect(await processUserInfoResponse(await userinfoRequest(as, tokens.access_token), claims.sub)).toEqual({ sub: user.id, name: 'Ada', email: 'ada@example.com', email_verified: true });
    await expect(processUserInfoResponse(await userinfoRequest(as, tokens.access_token), 'someone-else')).rejects.toBeInstanceOf(InvalidResponseError);
    await h.engine.revoke({ user: user.id }, { actor: 'test' });
    const err = await processUserInfoResponse(await userinfoRequest(as, tokens.access_token), user.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OAuthResponseError);
    expect(err).toMatchObject({ error: 'invalid_token', status: 401 });
  });

  it('RP-Initiated Logout §2: buildEndSessionUrl puts the parameters on end_session_endpoint, which accepts them', async () => {
    const { tokens, as, c } = await signedIn();
    const url = buildEndSessionUrl(as, { id_token_hint: tokens.id_token, post_logout_redirect_uri: 'https://app.example/bye', state: 'z' });
    expect(url.origin + url.pathname).toBe(`${h.server.url}/end_session`);
    expect(Object.fromEntries(url.searchParams)).toEqual({ id_token_hint: tokens.id_token, post_logout_redirect_uri: 'https://app.example/bye', state: 'z' });
    const agent = await h.signedIn((await h.alice()));
    const page = await agent.get(url.href);
    expect(page.status).toBe(200);
    expect(page.body).toContain(c.client.name);
  });

  it('OAuth2Session with scope openid: a nonce is sent and the ID Token validated at fetchToken and at refresh; userinfo(); endSessionUrl()', async () => {
    const c = await h.codeClient({ redirectUris: ['http://127.0.0.1:8080/callback'], scope: 'openid profile offline_access', postLogoutRedirectUris: ['http://127.0.0.1:8080/bye'] });
    const alice = await h.alice();
    await h.engine.setUserProfile(alice, { name: 'Alice', email: null, emailVerified: false }, { actor: 'test' });
    const session = new OAuth2Session({
      issuer: h.server.url, discovery: 'oidc', clientId: c.id, clientAuth: clientSecretBasic(c.secret!), redirectUri: 'http://127.0.0.1:8080/callback', scope: 'openid profile offline_access',
    });
    const pending = await session.authorizationUrl();
    expect(new URL(pending.url).searchParams.get('nonce')).toBe(pending.nonce);
    const token = await session.fetchToken(await consent(h, pending.url));
    expect(decodeJwt(token.id_token!)).toMatchObject({ sub: alice.id, nonce: pending.nonce });
    expect(await session.userinfo()).toEqual({ sub: alice.id, name: 'Alice' });
    const refreshed = await session.refresh();
    expect(refreshed.id_token).not.toBe(token.id_token);
    expect(await session.userinfo()).toEqual({ sub: alice.id, name: 'Alice' });
    const logout = new URL(await session.endSessionUrl({ post_logout_redirect_uri: 'http://127.0.0.1:8080/bye', state: 'x' }));
    expect(Object.fromEntries(logout.searchParams)).toEqual({ post_logout_redirect_uri: 'http://127.0.0.1:8080/bye', state: 'x', client_id: c.id, id_token_hint: refreshed.id_token });
    const page = await (await h.signedIn(alice)).get(logout.href);
    expect(page.status).toBe(200);
  });

  it('OAuth2Session: a callback whose ID Token does not carry the nonce sent is refused (IdTokenError), and nothing is stored', async () => {
    const c = await h.codeClient({ redirectUris: ['http://127.0.0.1:8080/callback'], scope: 'openid' });
    const session = new OAuth2Session({ issuer: h.server.url, discovery: 'oidc', clientId: c.id, clientAuth: clientSecretBasic(c.secret!), redirectUri: 'http://127.0.0.1:8080/callback', scope: 'openid' });
    const pending = await session.authorizationUrl();
    // The request the user approves carries another nonce: a code injected from another request.
    const other = new URL(pending.url);
    other.searchParams.set('nonce', 'someone-elses');
    const callback = await consent(h, other.href);
    await expect(session.fetchToken(callback, pending)).rejects.toMatchObject({ code: 'ERR_ID_TOKEN', claim: 'nonce' });
    await expect(session.accessToken()).rejects.toBeInstanceOf(Error);
  });
});
