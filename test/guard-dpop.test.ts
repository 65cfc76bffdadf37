/**
 * The guard with DPoP (RFC 9449 §7) against a real server: tokens the server bound to a key (JWT
 * and opaque), presented with the DPoP scheme and a proof over the request, through verifyRequest
 * (a fetch-API Request). Each refusal answers with a DPoP challenge naming the error and the
 * algorithms (§7.1); a bound token is never accepted as a bearer token (§7.2); proofs are used
 * once; nonces when the guard asks for them (§9).
 */
import { type GuardFailure, type GuardResult, verifyRequest } from '@tessera/guard';
import { describe, expect, it, vi } from 'vitest';
import { ath, type DpopKey, dpopKey, type ProofClaims, proof, unsignedProof } from './dpop-kit.js';
import { type Harness, useServer } from './flows.js';
import { GUARD_SCOPE, useGuards } from './guard-kit.js';
import type { TestClient } from './helpers.js';

const RESOURCE = 'https://api.example/notes';
const ALGS = 'ES256 PS256 RS256 EdDSA Ed25519';

/** A client_credentials token bound to `key` by a proof at /token. */
async function boundToken(h: Harness, c: TestClient, key: DpopKey, scope = 'read'): Promise<string> {
  const a = h.auth(c);
  const res = await h.post('/token', { ...a.form, grant_type: 'client_credentials', scope }, { ...a.headers, dpop: proof(key, { htm: 'POST', htu: `${h.server.url}/token` }) });
  expect(res.body.token_type, JSON.stringify(res.body)).toBe('DPoP');
  return res.body.access_token;
}

/** A request to the resource with the DPoP scheme and a proof (claims overridable; `dpop: null` sends none). */
function dpopRequest(key: DpopKey, token: string, over: Partial<ProofClaims> = {}, extra: { method?: string; url?: string; dpop?: string | null } = {}): Request {
  const method = extra.method ?? 'GET';
  const url = extra.url ?? RESOURCE;
  const headers: Record<string, string> = { authorization: `DPoP ${token}` };
  const value = extra.dpop === undefined ? proof(key, { htm: method, htu: url, ath: ath(token), ...over }) : extra.dpop;
  if (value !== null) headers.dpop = value;
  return new Request(url, { method, headers });
}

function refused(result: GuardResult, status: number, error: string, description?: RegExp): GuardFailure {
  expect(result.ok, JSON.stringify(result)).toBe(false);
  const f = result as GuardFailure;
  expect({ status: f.status, error: f.error }).toEqual({ status, error });
  expect(f.headers['cache-control']).toBe('no-store');
  // RFC 9449 §7.1: the DPoP challenge names the error and the algorithms.
  expect(f.headers['www-authenticate']).toMatch(new RegExp(`^DPoP realm="notes", error="${error}", error_description="[^"]*"(, scope="[^"]*")?, algs="${ALGS}"$`));
  if (description) expect(f.description).toMatch(description);
  return f;
}

describe('guard: DPoP-bound access tokens (RFC 9449 §7)', () => {
  const h = useServer();
  const guards = useGuards(h);
  const guard = (options = {}) => guards.ready({ realm: 'notes', ...options });

  it('RFC 9449 §7: a JWT bound to the key, sent with the DPoP scheme and a proof over the request, is accepted; the token carries its jkt', async () => {
    const g = await guard();
    const c = await h.client({ tokenFormat: 'jwt' });
    const key = await dpopKey();
    const token = await boundToken(h, c, key);
    const result = await verifyRequest(g, dpopRequest(key, token), ['read']);
    expect(result).toMatchObject({ ok: true, token: { format: 'jwt', clientId: c.id, scopes: ['read'], jkt: key.jkt } });
  });

  it('RFC 9449 §6.2: an opaque token is bound through introspection\'s cnf.jkt and accepted the same way', async () => {
    const g = await guard();
    const c = await h.client();
    const key = await dpopKey('EdDSA');
    const token = await boundToken(h, c, key);
    expect(token).toMatch(/^tsa_/);
    const result = await verifyRequest(g, dpopRequest(key, token, {}, { method: 'POST', url: `${RESOURCE}?page=2` }), ['read']);
    expect(result).toMatchObject({ ok: true, token: { format: 'opaque', jkt: key.jkt } });
  });

  it('RFC 9449 §7.2: a DPoP-bound token sent as a Bearer token (or checked bare) is refused with a DPoP challenge', async () => {
    const g = await guard();
    const key = await dpopKey();
    for (const c of [await h.client({ tokenFormat: 'jwt' }), await h.client()]) {
      const token = await boundToken(h, c, key);
      refused(await verifyRequest(g, new Request(RESOURCE, { headers: { authorization: `Bearer ${token}` } })), 401, 'invalid_token', /DPoP-bound/);
      refused(await g.verify(`Bearer ${token}`), 401, 'invalid_token', /DPoP-bound/);
      refused(await g.verifyToken(token), 401, 'invalid_token', /DPoP-bound/);
    }
  });

  it('RFC 9449 §4.3, §7.1: each failed proof check is 401 invalid_dpop_proof with a DPoP challenge', async () => {
    const g = await guard();
    const c = await h.client({ tokenFormat: 'jwt' });
    const key = await dpopKey();
    const token = await boundToken(h, c, key);
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, Request, RegExp][] = [
      ['no DPoP header', dpopRequest(key, token, {}, { dpop: null }), /needs a DPoP proof/],
      ['htm is not the method', dpopRequest(key, token, { htm: 'POST' }), /htm/],
      ['htu is another URL', dpopRequest(key, token, { htu: 'https://api.example/other' }), /htu/],
      ['htu is another origin', dpopRequest(key, token, { htu: 'https://evil.example/notes' }), /htu/],
      ['iat too old', dpopRequest(key, token, { iat: now - 120 }), /too old/],
      ['iat in the future', dpopRequest(key, token, { iat: now + 120 }), /future/],
      ['no ath', dpopRequest(key, token, { ath: undefined }), /ath/],
      ['ath of another token', dpopRequest(key, token, { ath: ath(`${token}x`) }), /ath/],
      ['alg none', dpopRequest(key, token, {}, { dpop: unsignedProof('none', key.jwk, { htm: 'GET', htu: RESOURCE, ath: ath(token) }) }), /alg/],
      ['a private key in jwk', dpopRequest(key, token, {}, { dpop: proof(key, { htm: 'GET', htu: RESOURCE, ath: ath(token) }, { jwk: key.privateJwk }) }), /private key/],
      ['typ not dpop+jwt', dpopRequest(key, token, {}, { dpop: proof(key, { htm: 'GET', htu: RESOURCE, ath: ath(token) }, { typ: 'JWT' }) }), /typ/],
      ['a proof by another key', dpopRequest(await dpopKey(), token), /not of the key the token is bound to/],
    ];
    for (const [name, request, why] of cases) {
      const f = refused(await verifyRequest(g, request), 401, 'invalid_dpop_proof', why);
      expect(f.body, name).toMatchObject({ error: 'invalid_dpop_proof' });
    }
  });

  it('RFC 9449 §4.3 item 9 with expectedOrigin: htu is that origin (normalised) with the request\'s path, whatever origin the request arrived at; the internal URL is refused', async () => {
    const g = await guard({ expectedOrigin: 'HTTPS://API.Example:443/' });
    const c = await h.client({ tokenFormat: 'jwt' });
    const key = await dpopKey();
    const token = await boundToken(h, c, key);
    const internal = 'http://10.0.0.7:8080/notes?page=2';
    expect((await verifyRequest(g, dpopRequest(key, token, { htu: RESOURCE }, { url: internal }))).ok).toBe(true);
    // A framework view: the path as received, and a URL rebuilt from a Host header the guard does not read.
    const viewOf = (request: Request) => ({ method: request.method, url: 'http://internal.example/elsewhere', path: '/notes?page=2', headers: request.headers });
    expect((await verifyRequest(g, viewOf(dpopRequest(key, token, { htu: RESOURCE }, { url: internal })))).ok).toBe(true);
    refused(await verifyRequest(g, dpopRequest(key, token, { htu: internal }, { url: internal })), 401, 'invalid_dpop_proof', /htu/);
    refused(await verifyRequest(g, dpopRequest(key, token, { htu: 'https://api.example/other' }, { url: internal })), 401, 'invalid_dpop_proof', /htu/);
    refused(await verifyRequest(g, { ...viewOf(dpopRequest(key, token, { htu: RESOURCE }, { url: internal })), path: '*' }), 401, 'invalid_dpop_proof', /htu/);
  });

  it('RFC 9449 §11.1: a proof is accepted once; the same proof again is refused as a replay', async () => {
    const g = await guard();
    const c = await h.client({ tokenFormat: 'jwt' });
    const key = await dpopKey();
    const token = await boundToken(h, c, key);
    const once = proof(key, { htm: 'GET', htu: RESOURCE, ath: ath(token) });
    expect((await verifyRequest(g, dpopRequest(key, token, {}, { dpop: once }))).ok).toBe(true);
    refused(await verifyRequest(g, dpopRequest(key, token, {}, { dpop: once })), 401, 'invalid_dpop_proof', /used before/);
    expect(g.status().dpopProofs).toBeGreaterThanOrEqual(1);
  });

  it('RFC 9449 §11.1: a proof replayed in the last millisecond it is accepted (iat + dpopProofLifetime) is still refused as a replay', async () => {
    const g = await guard();
    const c = await h.client({ tokenFormat: 'jwt' });
    const key = await dpopKey();
    const token = await boundToken(h, c, key);
    // Old enough that (iat + 60) s is a moment away: the revocation feed, on the real clock, is not stale then.
    const iat = Math.floor(Date.now() / 1000) - 58;
    const once = proof(key, { htm: 'GET', htu: RESOURCE, ath: ath(token), iat });
    expect((await verifyRequest(g, dpopRequest(key, token, {}, { dpop: once }))).ok).toBe(true);
    // Only Date is faked: the guard's clock reads (iat + 60) s exactly, which the iat check still accepts.
    vi.useFakeTimers({ toFake: ['Date'], now: (iat + 60) * 1000 });
    try {
      refused(await verifyRequest(g, dpopRequest(key, token, {}, { dpop: once })), 401, 'invalid_dpop_proof', /used before/);
    } finally {
      vi.useRealTimers();
    }
  });

  it('RFC 9449 §11.1: the replay cache is bounded (dpopReplayCacheSize): it never holds more, and the latest proofs stay refused as replays', async () => {
    const g = await guard({ dpopReplayCacheSize: 2 });
    const c = await h.client({ tokenFormat: 'jwt' });
    const key = await dpopKey();
    const token = await boundToken(h, c, key);
    let last = '';
    for (let i = 0; i < 5; i++) {
      last = proof(key, { htm: 'GET', htu: RESOURCE, ath: ath(token) });
      expect((await verifyRequest(g, dpopRequest(key, token, {}, { dpop: last }))).ok).toBe(true);
    }
    expect(g.status().dpopProofs).toBeLessThanOrEqual(2);
    refused(await verifyRequest(g, dpopRequest(key, token, {}, { dpop: last })), 401, 'invalid_dpop_proof', /used before/);
  });

  it('RFC 9449 §11.1: proofs that come with junk tokens are not remembered, so they cannot push a live proof out of the replay cache and make its replay pass', async () => {
    const g = await guard({ dpopReplayCacheSize: 4 });
    const c = await h.client({ tokenFormat: 'jwt' });
    const key = await dpopKey();
    const token = await boundToken(h, c, key);
    const captured = proof(key, { htm: 'GET', htu: RESOURCE, ath: ath(token) });
    expect((await verifyRequest(g, dpopRequest(key, token, {}, { dpop: captured }))).ok).toBe(true);
    // An attacker's own key, valid proofs, tokens that are not tokens: each refused, none remembered.
    const attacker = await dpopKey();
    for (let i = 0; i < 10; i++) {
      const junk = `junk-${i}`;
      expect((await verifyRequest(g, dpopRequest(attacker, junk, {}, { dpop: proof(attacker, { htm: 'GET', htu: RESOURCE, ath: ath(junk) }) }))).ok).toBe(false);
    }
    expect(g.status().dpopProofs).toBe(1);
    refused(await verifyRequest(g, dpopRequest(key, token, {}, { dpop: captured })), 401, 'invalid_dpop_proof', /used before/);
  });

  it('a bearer token sent with the DPoP scheme is refused (invalid_token, DPoP challenge); an inactive or revoked bound token is invalid_token', async () => {
    const g = await guard();
    const c = await h.client({ tokenFormat: 'jwt' });
    const key = await dpopKey();
    const a = h.auth(c);
    const bearer = (await h.post('/token', { ...a.form, grant_type: 'client_credentials' }, a.headers)).body.access_token;
    refused(await verifyRequest(g, dpopRequest(key, bearer)), 401, 'invalid_token', /not DPoP-bound/);
    const token = await boundToken(h, c, key);
    await h.revoke(c, token);
    await expect.poll(async () => (await verifyRequest(g, dpopRequest(key, token))).ok).toBe(false);
    refused(await verifyRequest(g, dpopRequest(key, token)), 401, 'invalid_token', /revoked/);
  });

  it('RFC 9449 §7.1: a malformed DPoP Authorization header (no token, not a b64token) is 400 invalid_request with a DPoP challenge, not a Bearer one', async () => {
    const g = await guard();
    for (const authorization of ['DPoP', 'DPoP ', 'dpop a b']) {
      refused(await verifyRequest(g, new Request(RESOURCE, { headers: { authorization, dpop: 'x.y.z' } })), 400, 'invalid_request');
    }
    // A malformed Bearer header keeps its Bearer challenge.
    const bearer = await verifyRequest(g, new Request(RESOURCE, { headers: { authorization: 'Bearer a b' } }));
    expect(bearer.ok ? '' : bearer.headers['www-authenticate']).toMatch(/^Bearer realm="notes", error="invalid_request"/);
  });

  it('RFC 6750 §3.1 with RFC 9449 §7.1: a bound token without the route\'s scope is 403 insufficient_scope with a DPoP challenge naming the scope', async () => {
    const g = await guard();
    const c = await h.client({ tokenFormat: 'jwt' });
    const key = await dpopKey();
    const f = refused(await verifyRequest(g, dpopRequest(key, await boundToken(h, c, key)), ['write']), 403, 'insufficient_scope');
    expect(f.headers['www-authenticate']).toContain('scope="write"');
  });

  it('RFC 9449 §9: a guard that requires nonces answers 401 use_dpop_nonce with DPoP-Nonce; the retry with it is accepted; replicas sharing dpopNonceSecret accept each other\'s', async () => {
    const secret = 'a secret of at least thirty-two bytes, shared by replicas';
    const [g, replica] = [await guard({ dpopNonce: true, dpopNonceSecret: secret }), await guard({ dpopNonce: true, dpopNonceSecret: secret })];
    const c = await h.client({ tokenFormat: 'jwt' });
    const key = await dpopKey();
    const token = await boundToken(h, c, key);
    const f = refused(await verifyRequest(g, dpopRequest(key, token)), 401, 'use_dpop_nonce');
    const nonce = f.headers['dpop-nonce'];
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    refused(await verifyRequest(g, dpopRequest(key, token, { nonce: 'stale' })), 401, 'use_dpop_nonce');
    expect((await verifyRequest(g, dpopRequest(key, token, { nonce }))).ok).toBe(true);
    expect((await verifyRequest(replica, dpopRequest(key, token, { nonce }))).ok).toBe(true);
    // Another guard's nonce (its own random key) is not this one's.
    const other = await guard({ dpopNonce: true });
    refused(await verifyRequest(other, dpopRequest(key, token, { nonce })), 401, 'use_dpop_nonce');
  });

  it('the guard\'s client sees DPoP-bound opaque tokens of other clients through introspection (token_type DPoP is an access token)', async () => {
    const g = await guard();
    expect((await guards.client()).client.scope).toBe(GUARD_SCOPE);
    const key = await dpopKey('PS256');
    const token = await boundToken(h, await h.client(), key);
    expect((await verifyRequest(g, dpopRequest(key, token))).ok).toBe(true);
  });
});
