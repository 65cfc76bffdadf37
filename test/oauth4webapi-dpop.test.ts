/**
 * DPoP (RFC 9449) interop with oauth4webapi, a client library no one here wrote, against
 * Tessera's server (nonces required, so every flow takes a use_dpop_nonce round) and a resource
 * server on Express with @tessera/guard (nonces required too): client_credentials, then the
 * authorization code with PKCE pushed to /par with a proof (the code bound to the key), its
 * refresh, and protected resource requests with each access token. oauth4webapi makes every
 * proof, keeps the nonces, and tells when to retry (isDPoPNonceError).
 */
import type { AddressInfo } from 'node:net';
import { createGuard, type Guard } from '@tessera/guard';
import { expressGuard } from '@tessera/guard/express';
import express from 'express';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIRECT_URI, useServer } from './flows.js';
import { GUARD_SCOPE } from './guard-kit.js';

/** oauth4webapi refuses plain HTTP unless told: the test server is on loopback. */
const insecure = { [oauth.allowInsecureRequests]: true } as const;

/**
 * Runs `request` and reads its answer with `read`; on a DPoP nonce error (the server wants its
 * nonce, which the handle has just learned) runs both once more. Counts the nonce rounds.
 */
async function withNonce<T>(rounds: { n: number }, request: () => Promise<Response>, read: (response: Response) => Promise<T>): Promise<T> {
  try {
    return await read(await request());
  } catch (err) {
    if (!oauth.isDPoPNonceError(err)) throw err;
    rounds.n++;
    return read(await request());
  }
}

describe('oauth4webapi with DPoP against Tessera (nonces required) and @tessera/guard', () => {
  const h = useServer({ dpopNonce: true });
  let as: oauth.AuthorizationServer;
  let guard: Guard;
  let resource: string;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const issuer = new URL(h.server.url);
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
    const rs = await h.client({ scope: GUARD_SCOPE });
    guard = createGuard({ issuer: h.server.url, audience: h.server.tessera.config.audience, client: { id: rs.id, secret: rs.secret! }, dpopNonce: true });
    await guard.ready();
    const app = express();
    app.get('/notes', expressGuard(guard, ['read']), (_req, res) => res.json({ client: res.locals.auth.clientId, jkt: res.locals.auth.jkt }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    resource = `http://127.0.0.1:${(server.address() as AddressInfo).port}/notes`;
    close = () => new Promise((resolve) => server.close(() => resolve()));
  });
  afterAll(async () => {
    await close?.();
    await guard?.close();
  });

  /** GET /notes on the resource server with the DPoP-bound token: the guard's nonce round, then the answer. */
  async function notes(token: string, DPoP: oauth.DPoPHandle, rounds: { n: number }) {
    const res = await withNonce(rounds, () => oauth.protectedResourceRequest(token, 'GET', new URL(resource), undefined, undefined, { DPoP, ...insecure }), async (r) => r);
    expect(res.status).toBe(200);
    return res.json();
  }

  it('RFC 9449 §5.1: oauth4webapi reads dpop_signing_alg_values_supported from the discovered metadata', () => {
    expect(as.dpop_signing_alg_values_supported).toEqual(['ES256', 'PS256', 'RS256', 'EdDSA', 'Ed25519']);
  });

  it('client_credentials with DPoP: a nonce round, then a DPoP token that the guard accepts (after its own nonce round) and binds to the key', async () => {
    const c = await h.client({ scope: 'read', tokenFormat: 'jwt' });
    const client: oauth.Client = { client_id: c.id };
    const keyPair = await oauth.generateKeyPair('ES256');
    const DPoP = oauth.DPoP(client, keyPair);
    const rounds = { n: 0 };
    const tokens = await withNonce(rounds,
      () => oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(c.secret!), { scope: 'read' }, { DPoP, ...insecure }),
      (r) => oauth.processClientCredentialsResponse(as, client, r));
    expect(rounds.n).toBe(1);
    expect(tokens.token_type).toBe('dpop');
    const body = await notes(tokens.access_token, DPoP, rounds);
    expect(rounds.n).toBe(2);
    expect(body).toEqual({ client: c.id, jkt: await DPoP.calculateThumbprint() });
  });

  it('authorization code with PKCE, pushed to /par with a DPoP proof (RFC 9449 §10.1), then a refresh bound to the key (a public client, §5), each token accepted by the guard', async () => {
    const c = await h.codeClient({ authMethod: 'none', scope: 'read', tokenFormat: 'opaque' });
    const client: oauth.Client = { client_id: c.id };
    // oauth4webapi signs with an Ed25519 key as alg Ed25519 (RFC 9864), not EdDSA.
    const keyPair = await oauth.generateKeyPair('Ed25519');
    const DPoP = oauth.DPoP(client, keyPair);
    const rounds = { n: 0 };
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const pushed = await withNonce(rounds,
      async () => oauth.pushedAuthorizationRequest(as, client, oauth.None(), {
        response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'read', state,
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      }, { DPoP, ...insecure }),
      (r) => oauth.processPushedAuthorizationResponse(as, client, r));
    expect(rounds.n).toBe(1);

    // The browser: the user (consent recorded) at /authorize with the request_uri, back with the code.
    const location = await h.authorizeRedirect(c, { scope: 'read', pkce: null, params: { request_uri: pushed.request_uri } });
    const params = oauth.validateAuthResponse(as, client, new URL(location), state);

    // The code is bound to the key of the proof at /par: another key cannot redeem it (nor spend it).
    const stranger = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
    await expect(withNonce(rounds,
      () => oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, REDIRECT_URI, verifier, { DPoP: stranger, ...insecure }),
      (r) => oauth.processAuthorizationCodeResponse(as, client, r))).rejects.toMatchObject({ error: 'invalid_dpop_proof' });

    const tokens = await withNonce(rounds,
      () => oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, REDIRECT_URI, verifier, { DPoP, ...insecure }),
      (r) => oauth.processAuthorizationCodeResponse(as, client, r));
    expect(tokens.token_type).toBe('dpop');
    expect(await notes(tokens.access_token, DPoP, rounds)).toMatchObject({ client: c.id, jkt: await DPoP.calculateThumbprint() });

    // The refresh token is bound to the key: without the DPoP handle the server refuses it.
    await expect(oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token!, insecure)))
      .rejects.toMatchObject({ error: 'invalid_dpop_proof' });
    const refreshed = await withNonce(rounds,
      () => oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token!, { DPoP, ...insecure }),
      (r) => oauth.processRefreshTokenResponse(as, client, r));
    expect(refreshed.token_type).toBe('dpop');
    expect(await notes(refreshed.access_token, DPoP, rounds)).toMatchObject({ jkt: await DPoP.calculateThumbprint() });
  });
});
