/**
 * @tessera/client's OpenID Connect relying-party steps against oidc-provider from npm (an OP no
 * one here wrote, signing with RS256): the ID Token of a code flow with nonce passes
 * validateIdToken, and its UserInfo passes processUserInfoResponse.
 */
import {
  authorizationCodeGrantRequest, buildAuthorizationUrl, calculateCodeChallenge, clientSecretBasic, discover, generateCodeVerifier, generateState, IdTokenError,
  processTokenResponse, processUserInfoResponse, userinfoRequest, validateAuthorizationResponse, validateIdToken,
} from '@tessera/client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AWKWARD_SECRET, approve, OIDC_REDIRECT, type OidcServer, startOidcProvider } from './client/oidc.js';

let op: OidcServer;
beforeAll(async () => {
  op = await startOidcProvider();
});
afterAll(() => op?.close());

it('OIDC Core §3.1.3.7 against oidc-provider: code + PKCE + nonce; validateIdToken accepts its RS256 ID Token and refuses a wrong nonce; UserInfo matches sub', async () => {
  const as = await discover(op.issuer, { algorithm: 'oidc' });
  const client = { client_id: 'web' };
  const verifier = generateCodeVerifier();
  const state = generateState();
  const nonce = generateState();
  const url = buildAuthorizationUrl(as, client, {
    redirect_uri: OIDC_REDIRECT, scope: 'openid', state, nonce, code_challenge: await calculateCodeChallenge(verifier), code_challenge_method: 'S256',
  });
  const back = await approve(op.issuer, url.href);
  const callback = validateAuthorizationResponse(as, back.location!, state);
  const tokens = await processTokenResponse(await authorizationCodeGrantRequest(as, client, clientSecretBasic(AWKWARD_SECRET), callback, OIDC_REDIRECT, verifier));
  const claims = await validateIdToken(as, client, tokens.id_token!, { nonce, accessToken: tokens.access_token });
  expect(claims).toMatchObject({ iss: op.issuer, aud: 'web', sub: 'alice', nonce });
  await expect(validateIdToken(as, client, tokens.id_token!, { nonce: 'another' })).rejects.toBeInstanceOf(IdTokenError);
  expect(await processUserInfoResponse(await userinfoRequest(as, tokens.access_token), claims.sub)).toMatchObject({ sub: 'alice' });
});
