/**
 * DPoP (RFC 9449) at the authorization server, over HTTP: every check of §4.3 refused with
 * invalid_dpop_proof, tokens bound by every grant (§5, §6), codes bound by dpop_jkt and at PAR
 * (§10), public clients' refresh tokens bound (§5), clients that must use DPoP (§5.2), nonces
 * (§8) and /userinfo (§7). Proofs are made by test/dpop-kit.ts with node:crypto alone.
 */
import { DpopNonces } from '@tessera/core/dpop';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { ath, type DpopKey, dpopKey, type ProofClaims, payloadOf, proof, unsignedProof } from './dpop-kit.js';
import { expectError, type Harness, pkce, REDIRECT_URI, useServer } from './flows.js';
import type { TestClient, TestResponse } from './helpers.js';
import { DEVICE_GRANT, decide, deviceClient, startDevice } from './device-kit.js';

/** POST /token as the client, with a DPoP header when given. */
function tokenRequest(h: Harness, c: TestClient, form: Record<string, string>, dpop?: string | string[]): Promise<TestResponse> {
  const a = h.auth(c);
  const headers: Record<string, string> = { ...a.headers };
  if (typeof dpop === 'string') headers.dpop = dpop;
  // Two header fields of one name: fetch joins them with ", " as RFC 9110 §5.3 allows.
  if (Array.isArray(dpop)) headers.dpop = dpop.join(', ');
  return h.post('/token', { ...a.form, ...form }, headers);
}

const tokenProof = (h: Harness, key: DpopKey, over: Partial<ProofClaims> = {}) => proof(key, { htm: 'POST', htu: `${h.server.url}/token`, ...over });
const cc = { grant_type: 'client_credentials' } as const;

describe('DPoP at the token endpoint (RFC 9449 §4, §5, §6)', () => {
  const h = useServer({ legacyGrants: ['password', 'implicit'] });

  it('RFC 9449 §5.1: the metadata (and OpenID discovery) lists dpop_signing_alg_values_supported, asymmetric algorithms only', async () => {
    const [meta, oidc] = await Promise.all([h.request('/.well-known/oauth-authorization-server'), h.request('/.well-known/openid-configuration')]);
    expect(meta.body.dpop_signing_alg_values_supported).toEqual(['ES256', 'PS256', 'RS256', 'EdDSA', 'Ed25519']);
    expect(oidc.body.dpop_signing_alg_values_supported).toEqual(meta.body.dpop_signing_alg_values_supported);
  });

  it('RFC 9449 §5, §6.1: client_credentials with a proof gets token_type DPoP and a JWT access token with cnf.jkt, the key\'s RFC 7638 thumbprint', async () => {
    const c = await h.client({ tokenFormat: 'jwt' });
    const key = await dpopKey();
    const res = await tokenRequest(h, c, cc, tokenProof(h, key));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.token_type).toBe('DPoP');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(decodeJwt(res.body.access_token).cnf).toEqual({ jkt: key.jkt });
    // RFC 9449 §6.2: introspection says the same.
    const intro = await h.introspect(c, res.body.access_token);
    expect(intro.body).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: key.jkt } });
  });

  it('RFC 9449 §6.2: an opaque DPoP-bound token is recorded with its key: /introspect answers token_type DPoP and cnf.jkt', async () => {
    const c = await h.client();
    const key = await dpopKey();
    const res = await tokenRequest(h, c, cc, tokenProof(h, key));
    expect(res.body).toMatchObject({ token_type: 'DPoP' });
    expect(res.body.access_token).toMatch(/^tsa_/);
    const intro = await h.introspect(c, res.body.access_token);
    expect(intro.body).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: key.jkt } });
    // The audit record of the issuance names the key (a public thumbprint), never the proof.
    const records = await h.store.readAudit(0, 100_000);
    const issued = records.filter((r) => r.event === 'token.issued' && r.clientId === c.id);
    expect(issued.at(-1)?.data).toMatchObject({ jkt: key.jkt });
  });

  it('without a DPoP header nothing changes: token_type Bearer, no cnf, introspection says Bearer', async () => {
    const c = await h.client({ tokenFormat: 'jwt' });
    const res = await tokenRequest(h, c, cc);
    expect(res.body.token_type).toBe('Bearer');
    expect(decodeJwt(res.body.access_token).cnf).toBeUndefined();
    expect((await h.introspect(c, res.body.access_token)).body).toMatchObject({ token_type: 'Bearer' });
    expect((await h.introspect(c, res.body.access_token)).body.cnf).toBeUndefined();
  });

  it.each(['ES256', 'RS256', 'PS256', 'EdDSA', 'Ed25519'] as const)('RFC 9449 §4.3 item 5: a %s proof is accepted and binds to its key', async (alg) => {
    const c = await h.client({ tokenFormat: 'jwt' });
    const key = await dpopKey(alg);
    const res = await tokenRequest(h, c, cc, tokenProof(h, key));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(decodeJwt(res.body.access_token).cnf).toEqual({ jkt: key.jkt });
  });

  describe('RFC 9449 §4.3: each check refused with invalid_dpop_proof (400, no-store), nothing issued', () => {
    /** Refused with invalid_dpop_proof, the description naming the check (`why`). */
    const refused = async (dpop: string | string[], why: RegExp, c?: TestClient) => {
      const client = c ?? (await h.client());
      const res = await tokenRequest(h, client, cc, dpop);
      expectError(res, 400, 'invalid_dpop_proof');
      expect(res.body.error_description).toMatch(why);
    };

    it('item 1: two DPoP header fields', async () => {
      const key = await dpopKey();
      await refused([tokenProof(h, key), tokenProof(h, key)], /more than one DPoP header/);
    });

    it('item 2: not a JWT, or not canonical base64url', async () => {
      const key = await dpopKey();
      await refused('not-a-jwt', /not a compact JWS/);
      const good = tokenProof(h, key);
      await refused(`${good}=`, /not canonical base64url/);
      await refused(`${good}.extra`, /not a compact JWS/);
    });

    it('item 3: a required claim missing (jti, htm, htu, iat)', async () => {
      const key = await dpopKey();
      for (const claim of ['jti', 'htm', 'htu', 'iat']) await refused(tokenProof(h, key, { [claim]: undefined }), /lacks jti, htm, htu or iat/);
    });

    it('item 3: a jti that is not text (a NUL, a control character, a lone surrogate), refused as such on every store rather than as a replay', async () => {
      const key = await dpopKey();
      for (const jti of ['a\u0000b', 'tab\tjti', '\ud800']) await refused(tokenProof(h, key, { jti }), /jti is not text/);
    });

    it('item 4: typ other than dpop+jwt', async () => {
      const key = await dpopKey();
      await refused(proof(key, { htm: 'POST', htu: `${h.server.url}/token` }, { typ: 'JWT' }), /typ is not dpop\+jwt/);
      await refused(proof(key, { htm: 'POST', htu: `${h.server.url}/token` }, { typ: undefined }), /typ is not dpop\+jwt/);
    });

    it('item 5: alg none and a symmetric alg (HS256) are refused, as is an alg the key does not fit', async () => {
      const key = await dpopKey();
      const claims = { htm: 'POST', htu: `${h.server.url}/token` };
      await refused(unsignedProof('none', key.jwk, claims), /alg is not one of ES256, PS256, RS256, EdDSA, Ed25519/);
      await refused(unsignedProof('HS256', key.jwk, claims), /alg is not one of/);
      await refused(proof(key, claims, { alg: 'ES384' }), /alg is not one of/);
      await refused(proof(key, claims, { alg: 'RS256' }), /jwk is not a key for RS256/);
    });

    it('item 6: a signature that does not verify with the header key', async () => {
      const [key, other] = [await dpopKey(), await dpopKey()];
      await refused(proof(key, { htm: 'POST', htu: `${h.server.url}/token` }, { jwk: other.jwk }), /signature is invalid/);
    });

    it('item 7: a jwk holding a private key', async () => {
      const key = await dpopKey();
      await refused(proof(key, { htm: 'POST', htu: `${h.server.url}/token` }, { jwk: key.privateJwk }), /jwk holds a private key/);
    });

    it('item 7: a jwk whose members are not the canonical base64url of the key (one key, one thumbprint: RFC 7638, RFC 7518 §2, §6.2.1.2)', async () => {
      const claims = { htm: 'POST', htu: `${h.server.url}/token` };
      const lead = (v: string) => Buffer.concat([Buffer.alloc(1), Buffer.from(v, 'base64url')]).toString('base64url');
      const ec = await dpopKey();
      const x = ec.jwk.x as string;
      // Each is the same P-256 key to node:crypto, with another thumbprint; each proof is signed by that key.
      for (const odd of [`${x}=`, Buffer.from(x, 'base64url').toString('base64'), `${x.slice(0, 8)}.${x.slice(8)}`, lead(x)]) {
        await refused(proof(ec, claims, { jwk: { ...ec.jwk, x: odd } }), /jwk members are not the canonical base64url/);
      }
      const rsa = await dpopKey('RS256');
      await refused(proof(rsa, claims, { jwk: { ...rsa.jwk, n: lead(rsa.jwk.n as string) } }), /not the canonical base64url/);
      await refused(proof(rsa, claims, { jwk: { ...rsa.jwk, e: 'AAEAAQ' } }), /not the canonical base64url/);
      const ed = await dpopKey('EdDSA');
      await refused(proof(ed, claims, { jwk: { ...ed.jwk, x: `${ed.jwk.x}=` } }), /not the canonical base64url/);
      // The canonical ones still pass.
      for (const key of [ec, rsa, ed]) expect((await tokenRequest(h, await h.client(), cc, proof(key, claims))).status).toBe(200);
    });

    it('item 8: htm other than the request method', async () => {
      const key = await dpopKey();
      await refused(tokenProof(h, key, { htm: 'GET' }), /htm does not match/);
      await refused(tokenProof(h, key, { htm: 'post' }), /htm does not match/);
    });

    it('item 9: htu other than the token endpoint (another path, another host, another scheme)', async () => {
      const key = await dpopKey();
      const url = new URL(h.server.url);
      for (const htu of [`${h.server.url}/introspect`, `http://localhost:${url.port}/token`, `https://${url.host}/token`, 'token']) {
        await refused(tokenProof(h, key, { htu }), /htu does not match/);
      }
    });

    it('item 11: iat too old (past dpopProofLifetime, 60 s) or ahead of the clock', async () => {
      const key = await dpopKey();
      const now = Math.floor(Date.now() / 1000);
      await refused(tokenProof(h, key, { iat: now - 61 }), /too old/);
      await refused(tokenProof(h, key, { iat: now + 60 }), /in the future/);
    });

    it('RFC 9449 §11.1: a proof used twice is refused the second time (jti replay), whichever client sends it', async () => {
      const c = await h.client();
      const key = await dpopKey();
      const once = tokenProof(h, key);
      expect((await tokenRequest(h, c, cc, once)).status).toBe(200);
      await refused(once, /used before/, c);
      await refused(once, /used before/);
    });
  });

  it('RFC 9449 §11.1: a proof sent with bad client credentials costs no write (its jti is not spent): the same proof then works for the real client', async () => {
    const c = await h.client();
    const key = await dpopKey();
    const once = tokenProof(h, key);
    const stranger = await h.post('/token', { grant_type: 'client_credentials', client_id: c.id, client_secret: 'wrong' }, { dpop: once });
    expectError(stranger, 401, 'invalid_client');
    // Had the stranger's request spent the jti, this would be "used before".
    expect((await tokenRequest(h, c, cc, once)).status).toBe(200);
  });

  it('RFC 9449 §4.3 item 9: htu is compared normalised (case of scheme and host, default port, percent-encoding); its query and fragment are ignored', async () => {
    const c = await h.client();
    const key = await dpopKey();
    const url = new URL(h.server.url);
    for (const htu of [`HTTP://${url.host}/token`, `${h.server.url}/%74oken`, `${h.server.url}/token?x=1#f`, `${h.server.url}/./token`]) {
      const res = await tokenRequest(h, c, cc, tokenProof(h, key, { htu }));
      expect(res.status, `${htu}: ${JSON.stringify(res.body)}`).toBe(200);
    }
  });

  it('a failed proof costs the client nothing: the same request with a good proof then succeeds', async () => {
    const c = await h.client();
    const key = await dpopKey();
    expectError(await tokenRequest(h, c, cc, tokenProof(h, key, { htm: 'PUT' })), 400, 'invalid_dpop_proof');
    expect((await tokenRequest(h, c, cc, tokenProof(h, key))).status).toBe(200);
  });

  it('RFC 9449 §5: the password grant binds its tokens; the public client\'s refresh token is bound too', async () => {
    const c = await h.client({ grantTypes: ['password', 'refresh_token'], authMethod: 'none', tokenFormat: 'jwt' });
    const user = await h.alice();
    const key = await dpopKey();
    const res = await tokenRequest(h, c, { grant_type: 'password', username: user.username, password: user.password }, tokenProof(h, key));
    expect(res.body.token_type).toBe('DPoP');
    expect(decodeJwt(res.body.access_token).cnf).toEqual({ jkt: key.jkt });
    expectError(await tokenRequest(h, c, { grant_type: 'refresh_token', refresh_token: res.body.refresh_token }), 400, 'invalid_dpop_proof');
  });

  it('RFC 9449 §5.2: a client that requires DPoP cannot use the implicit grant (no proof reaches /authorize): unauthorized_client', async () => {
    const c = await h.client({ authMethod: 'none', grantTypes: ['implicit'], redirectUris: [REDIRECT_URI], scope: 'read', dpopBoundAccessTokens: true });
    const agent = await h.signedIn(await h.alice());
    const res = await agent.get(`/authorize?${new URLSearchParams({ response_type: 'token', client_id: c.id, redirect_uri: REDIRECT_URI, scope: 'read', state: 's' })}`);
    expect(res.status).toBe(302);
    expect(new URLSearchParams(new URL(res.location!).hash.slice(1)).get('error')).toBe('unauthorized_client');
  });

  it('RFC 8628 with DPoP: the device code is redeemed for DPoP-bound tokens', async () => {
    const c = await deviceClient(h, { tokenFormat: 'jwt' });
    const start = await startDevice(h, c, { scope: 'read' });
    await decide(await h.signedIn(await h.alice()), start.user_code, 'allow');
    const key = await dpopKey();
    const res = await tokenRequest(h, c, { grant_type: DEVICE_GRANT, device_code: start.device_code }, tokenProof(h, key));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.token_type).toBe('DPoP');
    expect(decodeJwt(res.body.access_token).cnf).toEqual({ jkt: key.jkt });
  });
});

describe('DPoP with the authorization code and refresh tokens (RFC 9449 §5, §10)', () => {
  const h = useServer();

  /** A code from /authorize (with `params`), and its exchange with a proof of `key` (none: no DPoP header). */
  async function codeFlow(c: TestClient, params: Record<string, string> = {}) {
    const p = pkce();
    const code = await h.code(c, { pkce: p, params });
    return (key: DpopKey | undefined) =>
      tokenRequest(h, c, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: p.verifier }, key && tokenProof(h, key));
  }

  it('RFC 9449 §5: a public client\'s refresh token is bound to the key: refreshed with that key it works (and stays bound), without a proof or with another key it is invalid_dpop_proof', async () => {
    const c = await h.codeClient({ authMethod: 'none', tokenFormat: 'jwt' });
    const key = await dpopKey();
    const first = await (await codeFlow(c))(key);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.token_type).toBe('DPoP');
    const refreshForm = (rt: string) => ({ grant_type: 'refresh_token', refresh_token: rt });

    expectError(await tokenRequest(h, c, refreshForm(first.body.refresh_token)), 400, 'invalid_dpop_proof');
    expectError(await tokenRequest(h, c, refreshForm(first.body.refresh_token), tokenProof(h, await dpopKey())), 400, 'invalid_dpop_proof');
    // The refused attempts spent nothing: the right key still refreshes, and the family keeps its key.
    const second = await tokenRequest(h, c, refreshForm(first.body.refresh_token), tokenProof(h, key));
    expect(second.status, JSON.stringify(second.body)).toBe(200);
    expect(decodeJwt(second.body.access_token).cnf).toEqual({ jkt: key.jkt });
    expectError(await tokenRequest(h, c, refreshForm(second.body.refresh_token), tokenProof(h, await dpopKey('EdDSA'))), 400, 'invalid_dpop_proof');
    expect((await tokenRequest(h, c, refreshForm(second.body.refresh_token), tokenProof(h, key))).status).toBe(200);
  });

  it('RFC 9449 §5 before RFC 9700 §4.14.2: a used bound refresh token replayed without its key is refused and does not revoke the family (reuse detection needs the key)', async () => {
    const c = await h.codeClient({ authMethod: 'none', tokenFormat: 'jwt' });
    const key = await dpopKey();
    const first = await (await codeFlow(c))(key);
    const refreshForm = (rt: string) => ({ grant_type: 'refresh_token', refresh_token: rt });
    const second = await tokenRequest(h, c, refreshForm(first.body.refresh_token), tokenProof(h, key));
    expect(second.status).toBe(200);
    // The thief of the used token has no key: refused, and the family lives on.
    expectError(await tokenRequest(h, c, refreshForm(first.body.refresh_token), tokenProof(h, await dpopKey())), 400, 'invalid_dpop_proof');
    expectError(await tokenRequest(h, c, refreshForm(first.body.refresh_token)), 400, 'invalid_dpop_proof');
    expect(await h.active(second.body.access_token)).toBe(true);
    expect((await tokenRequest(h, c, refreshForm(second.body.refresh_token), tokenProof(h, key))).status).toBe(200);
  });

  it('RFC 9449 §5: a confidential client\'s refresh token is not bound: refreshed without a proof it gets Bearer tokens, with another key tokens bound to that key', async () => {
    const c = await h.codeClient({ tokenFormat: 'jwt' });
    const key = await dpopKey();
    const first = await (await codeFlow(c))(key);
    expect(first.body.token_type).toBe('DPoP');
    const bearer = await tokenRequest(h, c, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token });
    expect(bearer.status, JSON.stringify(bearer.body)).toBe(200);
    expect(bearer.body.token_type).toBe('Bearer');
    const other = await dpopKey('PS256');
    const rebound = await tokenRequest(h, c, { grant_type: 'refresh_token', refresh_token: bearer.body.refresh_token }, tokenProof(h, other));
    expect(rebound.body.token_type).toBe('DPoP');
    expect(decodeJwt(rebound.body.access_token).cnf).toEqual({ jkt: other.jkt });
  });

  it('RFC 9449 §10: a code asked with dpop_jkt is redeemed only with a proof of that key; the refused attempts do not spend it', async () => {
    const c = await h.codeClient({ tokenFormat: 'jwt' });
    const key = await dpopKey();
    const exchange = await codeFlow(c, { dpop_jkt: key.jkt });
    expectError(await exchange(undefined), 400, 'invalid_dpop_proof');
    expectError(await exchange(await dpopKey()), 400, 'invalid_dpop_proof');
    const res = await exchange(key);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(decodeJwt(res.body.access_token).cnf).toEqual({ jkt: key.jkt });
  });

  it('RFC 9449 §10: a malformed dpop_jkt is invalid_request, sent back to the client', async () => {
    const c = await h.codeClient();
    const agent = await h.signedIn(await h.alice());
    const res = await agent.get(`/authorize?${new URLSearchParams({ response_type: 'code', client_id: c.id, redirect_uri: REDIRECT_URI, scope: 'read', code_challenge: pkce().challenge, code_challenge_method: 'S256', dpop_jkt: 'short' })}`);
    expect(res.status).toBe(302);
    expect(new URL(res.location!).searchParams.get('error')).toBe('invalid_request');
  });

  it('RFC 9449 §10.1: a DPoP proof at PAR binds the code to its key', async () => {
    const c = await h.codeClient({ tokenFormat: 'jwt' });
    const key = await dpopKey();
    const p = pkce();
    const a = h.auth(c);
    const pushed = await h.post('/par', { ...a.form, response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'read', code_challenge: p.challenge, code_challenge_method: 'S256' },
      { ...a.headers, dpop: proof(key, { htm: 'POST', htu: `${h.server.url}/par` }) });
    expect(pushed.status, JSON.stringify(pushed.body)).toBe(201);
    const code = await h.code(c, { scope: 'read', pkce: null, params: { request_uri: pushed.body.request_uri } });
    const form = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: p.verifier };
    expectError(await tokenRequest(h, c, form), 400, 'invalid_dpop_proof');
    expectError(await tokenRequest(h, c, form, tokenProof(h, await dpopKey())), 400, 'invalid_dpop_proof');
    const res = await tokenRequest(h, c, form, tokenProof(h, key));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(decodeJwt(res.body.access_token).cnf).toEqual({ jkt: key.jkt });
  });

  it('RFC 9449 §10.1: at PAR, dpop_jkt beside a proof of another key is invalid_dpop_proof; a bad proof at PAR is refused as at /token', async () => {
    const c = await h.codeClient();
    const [key, other] = [await dpopKey(), await dpopKey()];
    const a = h.auth(c);
    const params = { ...a.form, response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'read', code_challenge: pkce().challenge, code_challenge_method: 'S256' };
    const parProof = (k: DpopKey, htu = `${h.server.url}/par`) => ({ ...a.headers, dpop: proof(k, { htm: 'POST', htu }) });
    expectError(await h.post('/par', { ...params, dpop_jkt: other.jkt }, parProof(key)), 400, 'invalid_dpop_proof');
    expectError(await h.post('/par', params, parProof(key, `${h.server.url}/token`)), 400, 'invalid_dpop_proof');
    expect((await h.post('/par', { ...params, dpop_jkt: key.jkt }, parProof(key))).status).toBe(201);
  });

  it('RFC 9449 §5.2: a client registered with dpop_bound_access_tokens gets invalid_dpop_proof without a proof, tokens with one', async () => {
    const c = await h.client({ dpopBoundAccessTokens: true });
    expectError(await tokenRequest(h, c, cc), 400, 'invalid_dpop_proof');
    const res = await tokenRequest(h, c, cc, tokenProof(h, await dpopKey()));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.token_type).toBe('DPoP');
  });
});

describe('DPoP nonces (RFC 9449 §8, dpopNonce)', () => {
  const h = useServer({ dpopNonce: true });

  it('RFC 9449 §8: a proof without the server\'s nonce gets 400 use_dpop_nonce with a DPoP-Nonce header; with it, the tokens (and a wrong nonce is refused again)', async () => {
    const c = await h.client({ tokenFormat: 'jwt' });
    const key = await dpopKey();
    const first = await tokenRequest(h, c, cc, tokenProof(h, key));
    expectError(first, 400, 'use_dpop_nonce');
    const nonce = first.headers.get('dpop-nonce');
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expectError(await tokenRequest(h, c, cc, tokenProof(h, key, { nonce: 'made-up' })), 400, 'use_dpop_nonce');
    const res = await tokenRequest(h, c, cc, tokenProof(h, key, { nonce: nonce! }));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.token_type).toBe('DPoP');
    // Bearer requests need no nonce.
    expect((await tokenRequest(h, c, cc)).body.token_type).toBe('Bearer');
  });

  it('the nonce is refused without its other checks: a bad proof is invalid_dpop_proof even without a nonce', async () => {
    const c = await h.client();
    expectError(await tokenRequest(h, c, cc, tokenProof(h, await dpopKey(), { htm: 'GET' })), 400, 'invalid_dpop_proof');
  });
});

describe('/userinfo with DPoP-bound access tokens (RFC 9449 §7)', () => {
  const h = useServer();

  async function boundToken(key: DpopKey) {
    const c = await h.codeClient({ scope: 'openid profile', tokenFormat: 'jwt' });
    const p = pkce();
    const code = await h.code(c, { pkce: p, scope: 'openid profile' });
    const res = await tokenRequest(h, c, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: p.verifier }, tokenProof(h, key));
    expect(res.body.token_type).toBe('DPoP');
    return res.body.access_token as string;
  }
  const userinfoProof = (key: DpopKey, token: string, over: Partial<ProofClaims> = {}) => proof(key, { htm: 'GET', htu: `${h.server.url}/userinfo`, ath: ath(token), ...over });
  const get = (headers: Record<string, string>) => h.request('/userinfo', { headers });

  it('RFC 9449 §7: Authorization: DPoP with a proof over the request (ath = the token\'s hash) gets the claims', async () => {
    const key = await dpopKey();
    const token = await boundToken(key);
    const res = await get({ authorization: `DPoP ${token}`, dpop: userinfoProof(key, token) });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.sub).toBe((await h.alice()).id);
    expect(payloadOf(token).cnf).toEqual({ jkt: key.jkt });
  });

  it('RFC 9449 §7.2: the DPoP-bound token sent as a Bearer token is refused, with a DPoP challenge', async () => {
    const key = await dpopKey();
    const token = await boundToken(key);
    const res = await get({ authorization: `Bearer ${token}` });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_token');
    expect(res.headers.get('www-authenticate')).toMatch(/^DPoP realm="[^"]+", error="invalid_token", error_description="[^"]+", algs="ES256 PS256 RS256 EdDSA Ed25519"$/);
  });

  it('RFC 9449 §7.1: a missing, wrong or replayed proof is 401 invalid_dpop_proof with a DPoP challenge', async () => {
    const key = await dpopKey();
    const token = await boundToken(key);
    const refusedWith = async (headers: Record<string, string>) => {
      const res = await get({ authorization: `DPoP ${token}`, ...headers });
      expect(res.status, JSON.stringify(res.body)).toBe(401);
      expect(res.body.error).toBe('invalid_dpop_proof');
      expect(res.headers.get('www-authenticate')).toMatch(/^DPoP realm="[^"]+", error="invalid_dpop_proof", error_description="[^"]+", algs="/);
      expect(res.headers.get('cache-control')).toBe('no-store');
    };
    await refusedWith({});
    await refusedWith({ dpop: userinfoProof(key, token, { ath: undefined }) });
    await refusedWith({ dpop: userinfoProof(key, token, { ath: ath(`${token}x`) }) });
    await refusedWith({ dpop: userinfoProof(key, token, { htm: 'POST' }) });
    await refusedWith({ dpop: userinfoProof(key, token, { htu: `${h.server.url}/token` }) });
    await refusedWith({ dpop: userinfoProof(await dpopKey(), token) });
    const once = userinfoProof(key, token);
    expect((await get({ authorization: `DPoP ${token}`, dpop: once })).status).toBe(200);
    await refusedWith({ dpop: once });
  });

  it('a bearer token sent with the DPoP scheme is refused: invalid_token', async () => {
    const c = await h.codeClient({ scope: 'openid', tokenFormat: 'jwt' });
    const { access_token: token } = await h.userTokens(c, { scope: 'openid' });
    const key = await dpopKey();
    const res = await get({ authorization: `DPoP ${token}`, dpop: userinfoProof(key, token) });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_token');
    // As a bearer token it still works.
    expect((await get({ authorization: `Bearer ${token}` })).status).toBe(200);
  });
});

describe('/userinfo nonces (RFC 9449 §9)', () => {
  const h = useServer({ dpopNonce: true });

  it('RFC 9449 §9: a resource that requires nonces answers 401 use_dpop_nonce with DPoP-Nonce; the retry with it succeeds', async () => {
    const c = await h.codeClient({ scope: 'openid', tokenFormat: 'jwt' });
    const key = await dpopKey();
    const p = pkce();
    const code = await h.code(c, { pkce: p, scope: 'openid' });
    const form = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: p.verifier };
    const first = await tokenRequest(h, c, form, tokenProof(h, key));
    const nonce = first.headers.get('dpop-nonce')!;
    const { access_token: token } = (await tokenRequest(h, c, form, tokenProof(h, key, { nonce }))).body;
    const at = (n?: string) => h.request('/userinfo', {
      headers: { authorization: `DPoP ${token}`, dpop: proof(key, { htm: 'GET', htu: `${h.server.url}/userinfo`, ath: ath(token), ...(n ? { nonce: n } : {}) }) },
    });
    const refused = await at();
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('use_dpop_nonce');
    expect(refused.headers.get('www-authenticate')).toMatch(/^DPoP .*error="use_dpop_nonce"/);
    const again = refused.headers.get('dpop-nonce');
    expect(again).toBeTruthy();
    expect((await at(again!)).status).toBe(200);
  });

  it('RFC 9449 §8.2, §9: a success answered to a proof with last minute\'s nonce carries the new one in DPoP-Nonce, at /userinfo as at /token', async () => {
    const c = await h.codeClient({ scope: 'openid', tokenFormat: 'jwt' });
    const key = await dpopKey();
    // The nonce of the window before this one, made with the key every instance shares.
    const nonceKey = await h.engine.dpopNonceKey();
    const lastMinute = () => new DpopNonces(nonceKey, 60, () => Date.now() - 60_000).current();
    const p = pkce();
    const code = await h.code(c, { pkce: p, scope: 'openid' });
    const form = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: p.verifier };
    const issued = await tokenRequest(h, c, form, tokenProof(h, key, { nonce: lastMinute() }));
    expect(issued.status, JSON.stringify(issued.body)).toBe(200);
    const fresh = issued.headers.get('dpop-nonce');
    expect(fresh).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const token = issued.body.access_token as string;
    const res = await h.request('/userinfo', {
      headers: { authorization: `DPoP ${token}`, dpop: proof(key, { htm: 'GET', htu: `${h.server.url}/userinfo`, ath: ath(token), nonce: lastMinute() }) },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.headers.get('dpop-nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});
