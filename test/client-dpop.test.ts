/**
 * DPoP (RFC 9449) in @tessera/client against oidc-provider from npm (a server no one here wrote,
 * requiring server nonces): tokens bound to the session's key, proofs on every request to the
 * server and on session.fetch, the code bound by dpop_jkt, one retry per use_dpop_nonce.
 */
import type { webcrypto } from 'node:crypto';
import { inspect } from 'node:util';
import { clientSecretBasic, clientSecretPost, OAuth2Session } from '@tessera/client';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, exportJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AWKWARD_SECRET, approve, OIDC_REDIRECT, type OidcServer, SECRET, startOidcProvider } from './client/oidc.js';

let op: OidcServer;
beforeAll(async () => {
  op = await startOidcProvider();
});
afterAll(() => op?.close());

/** A fetch that records each request's method, path, DPoP proof and the answer's status and error. */
function recording() {
  const seen: { method: string; path: string; proof: string | null; authorization: string | null; status: number; error?: string }[] = [];
  const fetcher: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const response = await fetch(request);
    const error = response.status >= 400 ? ((await response.clone().json().catch(() => ({}))) as { error?: string }).error : undefined;
    seen.push({ method: request.method, path: new URL(request.url).pathname, proof: request.headers.get('dpop'), authorization: request.headers.get('authorization'), status: response.status, ...(error ? { error } : {}) });
    return response;
  };
  return { seen, fetcher };
}

const pair = () => crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']) as Promise<webcrypto.CryptoKeyPair>;
const thumbprintOf = async (keys: webcrypto.CryptoKeyPair) => calculateJwkThumbprint(await exportJWK(keys.publicKey), 'sha256');

describe('DPoP (RFC 9449) against oidc-provider', () => {
  it('§5, §6: client_credentials with dpop gets a DPoP token bound to the key (introspection cnf.jkt); the nonce is fetched once (§8)', async () => {
    const keys = await pair();
    const { seen, fetcher } = recording();
    const session = new OAuth2Session({ issuer: op.issuer, discovery: 'oidc', clientId: 'service', clientAuth: clientSecretPost(SECRET), dpop: keys, fetch: fetcher });
    const token = await session.clientCredentials({ scope: 'api:read' });
    expect(token.token_type).toBe('DPoP');
    expect(await session.introspect()).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: await thumbprintOf(keys) } });
    const tokenRequests = seen.filter((r) => r.path.endsWith('/token'));
    // The first proof had no nonce: use_dpop_nonce, then the same request again with it; no third.
    expect(tokenRequests.map((r) => [r.status, r.error])).toEqual([[400, 'use_dpop_nonce'], [200, undefined]]);
    const [first, second] = tokenRequests.map((r) => r.proof as string);
    expect(decodeProtectedHeader(second as string)).toMatchObject({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: 'EC', crv: 'P-256' } });
    expect(decodeProtectedHeader(second as string).jwk).not.toHaveProperty('d');
    expect(decodeJwt(first as string).nonce).toBeUndefined();
    expect(decodeJwt(second as string)).toMatchObject({ htm: 'POST', htu: `${op.issuer}/token`, nonce: expect.any(String), jti: expect.any(String) });
    expect(decodeJwt(second as string).jti).not.toBe(decodeJwt(first as string).jti);
  });

  it('§10, §5, §7: the code flow binds the code by dpop_jkt; refresh, userinfo and session.fetch present the token under DPoP with ath; revocation carries a proof too', async () => {
    const { seen, fetcher } = recording();
    const session = new OAuth2Session({
      issuer: op.issuer, discovery: 'oidc', clientId: 'web', clientAuth: clientSecretBasic(AWKWARD_SECRET), redirectUri: OIDC_REDIRECT, scope: 'openid', dpop: true, fetch: fetcher,
    });
    const { url } = await session.authorizationUrl();
    const jkt = new URL(url).searchParams.get('dpop_jkt');
    expect(jkt).toMatch(/^[\w-]{43}$/);
    const token = await session.fetchToken((await approve(op.issuer, url)).location!);
    expect(token.token_type).toBe('DPoP');
    expect(await session.introspect()).toMatchObject({ active: true, cnf: { jkt } });

    const refreshed = await session.refresh();
    expect(refreshed).toMatchObject({ token_type: 'DPoP' });
    expect(refreshed.access_token).not.toBe(token.access_token);

    expect(await session.userinfo()).toMatchObject({ sub: 'alice' });
    const me = await session.fetch(`${op.issuer}/me`);
    expect(me.status).toBe(200);
    const presented = seen.filter((r) => r.path === '/me' && r.status === 200);
    expect(presented).toHaveLength(2);
    for (const r of presented) {
      expect(r.authorization).toBe(`DPoP ${refreshed.access_token}`);
      const proof = decodeJwt(r.proof as string);
      expect(proof).toMatchObject({ htm: 'GET', htu: `${op.issuer}/me`, ath: expect.any(String) });
    }

    await session.logout();
    const revocations = seen.filter((r) => r.path.endsWith('/token/revocation'));
    expect(revocations.length).toBeGreaterThan(0);
    for (const r of revocations) expect(r.proof).not.toBeNull();
    // Every proof had a fresh jti.
    const jtis = seen.filter((r) => r.proof).map((r) => decodeJwt(r.proof as string).jti);
    expect(new Set(jtis).size).toBe(jtis.length);
  });

  it('a session without dpop stays Bearer and sends no proof', async () => {
    const { seen, fetcher } = recording();
    const session = new OAuth2Session({ issuer: op.issuer, discovery: 'oidc', clientId: 'service', clientAuth: clientSecretPost(SECRET), fetch: fetcher });
    expect((await session.clientCredentials({ scope: 'api:read' })).token_type).toBe('Bearer');
    expect(seen.every((r) => r.proof === null)).toBe(true);
  });

  it('the DPoP key never shows in the session\'s util.inspect, JSON or String', async () => {
    const session = new OAuth2Session({ issuer: op.issuer, discovery: 'oidc', clientId: 'service', clientAuth: clientSecretPost(SECRET), dpop: true });
    await session.clientCredentials({ scope: 'api:read' });
    for (const shown of [inspect(session, { showHidden: true, depth: 10 }), JSON.stringify(session), String(session)]) {
      expect(shown).not.toMatch(/"[xyd]":|privateKey|CryptoKey/);
    }
  });
});
