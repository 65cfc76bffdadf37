/**
 * Interop with openid-client (npm), the certified relying-party library, against Tessera as an
 * OpenID Provider (issue 11): discovery, code + PKCE with `openid profile email`, its own strict
 * id_token validation (signature, iss, aud, exp, iat, nonce, at_hash), userinfo, refresh. With its
 * default expectations the ID Tokens are RS256 (OpenID Connect Registration §2's default); a
 * client registered for ES256 tells openid-client so, which then refuses any other algorithm.
 */
import { decodeProtectedHeader } from 'jose';
import * as oidc from 'openid-client';
import { describe, expect, it } from 'vitest';
import { field } from './agent.js';
import { type Harness, PASSWORD, REDIRECT_URI, useServer } from './flows.js';

/** Plays the user: signs in, allows the consent page, and returns the callback URL the browser lands on. */
async function userAllows(h: Harness, user: { id: string; username: string; password: string }, url: URL): Promise<URL> {
  const agent = await h.signedIn(user);
  let res = await agent.get(url.toString());
  if (res.status === 200) {
    res = await agent.post('/consent', { csrf: field(res.body, 'csrf'), request: field(res.body, 'request'), decision: 'allow' });
  }
  if (!res.location?.startsWith(REDIRECT_URI)) throw new Error(`/authorize answered ${res.status} ${res.location ?? res.body}`);
  return new URL(res.location);
}

describe('openid-client against Tessera', () => {
  const h = useServer();

  /** `alg`: the client registers that id_token_signed_response_alg and openid-client expects it; none: the defaults of both. */
  async function setup(tokenFormat: 'opaque' | 'jwt', username = `oc-${tokenFormat}`, alg?: 'ES256') {
    const c = await h.codeClient({
      scope: 'openid profile email offline_access', tokenFormat, postLogoutRedirectUris: [`${REDIRECT_URI}/bye`], ...(alg ? { idTokenSignedResponseAlg: alg } : {}),
    });
    const user = { ...(await h.engine.createUser(username, PASSWORD, { actor: 'test' }, { name: 'Ada Lovelace', email: 'ada@example.com', emailVerified: true })), password: PASSWORD };
    // Discovery 1.0 §4: from the issuer URL alone. Plain HTTP on loopback is a test's allowance.
    const metadata = alg ? { id_token_signed_response_alg: alg } : undefined;
    const config = await oidc.discovery(new URL(h.server.url), c.id, metadata, oidc.ClientSecretBasic(c.secret), { execute: [oidc.allowInsecureRequests] });
    return { c, user, config };
  }

  const cases = [
    { tokenFormat: 'opaque', alg: undefined, expected: 'RS256' },
    { tokenFormat: 'jwt', alg: undefined, expected: 'RS256' },
    { tokenFormat: 'jwt', alg: 'ES256', expected: 'ES256' },
  ] as const;
  for (const { tokenFormat, alg, expected } of cases) {
    const registered = alg ? `id_token_signed_response_alg ${alg}` : 'openid-client defaults';
    it(`discovery → code + PKCE (openid profile email) → ${expected} id_token validated by openid-client → userinfo → refresh [${tokenFormat} access tokens, ${registered}]`, async () => {
      const { c, user, config } = await setup(tokenFormat, `oc-${tokenFormat}-${expected}`, alg);
      expect(config.serverMetadata()).toMatchObject({ issuer: h.server.url, userinfo_endpoint: `${h.server.url}/userinfo` });

      const verifier = oidc.randomPKCECodeVerifier();
      const nonce = oidc.randomNonce();
      const state = oidc.randomState();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT_URI, scope: 'openid profile email offline_access', nonce, state,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      });
      const callback = await userAllows(h, user, url);
      // openid-client checks state, iss (RFC 9207), then the id_token: signature from jwks_uri, iss,
      // aud, exp, iat, nonce and at_hash; idTokenExpected makes a missing id_token an error.
      const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedNonce: nonce, expectedState: state, idTokenExpected: true });
      const claims = tokens.claims();
      expect(claims).toMatchObject({ iss: h.server.url, sub: user.id, aud: c.id, nonce });
      // What openid-client accepted: RS256 under its defaults (OpenID Connect Core §15.1 interop).
      expect(decodeProtectedHeader(tokens.id_token as string).alg).toBe(expected);
      expect(typeof claims?.auth_time).toBe('number');

      const info = await oidc.fetchUserInfo(config, tokens.access_token, user.id);
      expect(info).toEqual({ sub: user.id, name: 'Ada Lovelace', email: 'ada@example.com', email_verified: true });

      // Refresh (offline_access granted): a rotated refresh token and a new id_token, validated again.
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token as string);
      expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
      expect(refreshed.claims()).toMatchObject({ iss: h.server.url, sub: user.id, aud: c.id });
      expect(decodeProtectedHeader(refreshed.id_token as string).alg).toBe(expected);
      expect(await oidc.fetchUserInfo(config, refreshed.access_token, user.id)).toMatchObject({ sub: user.id });
      // userinfo refuses another user's expected subject: openid-client compares sub.
      await expect(oidc.fetchUserInfo(config, refreshed.access_token, 'someone-else')).rejects.toThrow();

      // RP-initiated logout: openid-client builds the URL from end_session_endpoint; the user confirms.
      const logout = oidc.buildEndSessionUrl(config, { id_token_hint: refreshed.id_token as string, post_logout_redirect_uri: `${REDIRECT_URI}/bye`, state: 'bye' });
      const agent = await h.signedIn(user);
      const page = await agent.get(logout.href);
      const done = await agent.post('/end_session/confirm', { csrf: field(page.body, 'csrf'), request: field(page.body, 'request'), decision: 'logout' });
      expect(done.location).toBe(`${REDIRECT_URI}/bye?state=bye`);
    });
  }

  it('a wrong nonce is caught by openid-client: the id_token echoes the one sent', async () => {
    const { user, config } = await setup('opaque', 'oc-nonce');
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI, scope: 'openid', nonce: 'the-nonce-sent',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const callback = await userAllows(h, user, url);
    const err = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedNonce: 'another-nonce' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'OAUTH_JWT_CLAIM_COMPARISON_FAILED' });
    // oauth4webapi names the claim, and the id_token holds the nonce that was sent.
    expect((err as { cause?: unknown }).cause).toMatchObject({ message: 'unexpected ID Token "nonce" claim value', cause: { claim: 'nonce', claims: { nonce: 'the-nonce-sent' } } });
  });
});
