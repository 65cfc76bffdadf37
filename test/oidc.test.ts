/**
 * OpenID Connect Core 1.0 and Discovery 1.0 over HTTP (issue 11): the id_token of an `openid`
 * code flow and of its refreshes, the offline_access rule, /userinfo, and
 * /.well-known/openid-configuration beside the RFC 8414 document.
 */
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { hashSecret, type UserProfile } from '@tessera/server';
import { CompactSign, createLocalJWKSet, decodeProtectedHeader, generateKeyPair, type JSONWebKeySet, type JWK, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { Agent, field } from './agent.js';
import { expectError, forged, type Harness, PASSWORD, pkce, REDIRECT_URI, sleep, useServer } from './flows.js';
import type { TestClient } from './helpers.js';

const OIDC = 'openid profile email offline_access';

async function verified(h: Harness, idToken: string, clientId: string) {
  const jwks = createLocalJWKSet((await h.request('/jwks.json')).body as JSONWebKeySet);
  return (await jwtVerify(idToken, jwks, { issuer: h.server.url, audience: clientId })).payload;
}

/** The kid /jwks.json publishes for the newest key of `alg` (one per algorithm on a fresh server). */
async function publishedKid(h: Harness, alg: 'RS256' | 'ES256'): Promise<string | undefined> {
  return ((await h.request('/jwks.json')).body as JSONWebKeySet).keys.filter((k) => k.alg === alg).at(-1)?.kid;
}

/** OIDC Core §3.1.3.6: base64url of the left half of SHA-256 of the access token. */
const atHash = (token: string) => createHash('sha256').update(token).digest().subarray(0, 16).toString('base64url');

async function profiledUser(h: Harness, profile: UserProfile = { name: 'Ada Lovelace', email: 'ada@example.com', emailVerified: true }) {
  const user = await h.engine.createUser(`ada-${Math.random().toString(36).slice(2)}`, PASSWORD, { actor: 'test' }, profile);
  return { ...user, password: PASSWORD };
}

/** The whole code flow with PKCE and the given extra parameters; the token response body. */
async function oidcTokens(h: Harness, c: TestClient, scope: string, params: Record<string, string> = {}, user?: Awaited<ReturnType<typeof profiledUser>>) {
  const p = pkce();
  const code = await h.code(c, { scope, pkce: p, params, ...(user ? { user } : {}) });
  const res = await h.exchange(c, code, { verifier: p.verifier });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

const userinfo = (h: Harness, token: string, init: RequestInit = {}) =>
  h.request('/userinfo', { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) } });

describe('OpenID Connect Core: the id_token', () => {
  const h = useServer();

  it('OIDC Core §3.1.3.3: scope=openid returns an id_token signed with the keys in /jwks.json: iss, sub, aud, exp, iat, auth_time, nonce, at_hash', async () => {
    const c = await h.codeClient({ scope: OIDC });
    const user = await profiledUser(h);
    const before = Math.floor(Date.now() / 1000);
    const body = await oidcTokens(h, c, 'openid profile', { nonce: 'n-0S6_WzA2Mj' }, user);
    expect(typeof body.id_token).toBe('string');
    // OIDC Registration §2: a client that registered no id_token_signed_response_alg gets RS256.
    expect(decodeProtectedHeader(body.id_token)).toEqual({ alg: 'RS256', kid: await publishedKid(h, 'RS256'), typ: 'JWT' });
    const claims = await verified(h, body.id_token, c.id);
    // §2: sub is the user's id, the same for every client; aud is the client alone, so no azp.
    expect(claims).toMatchObject({ iss: h.server.url, sub: user.id, aud: c.id, nonce: 'n-0S6_WzA2Mj', at_hash: atHash(body.access_token) });
    expect(claims.azp).toBeUndefined();
    expect(claims.iat).toBeGreaterThanOrEqual(before);
    expect(claims.exp).toBe((claims.iat as number) + body.expires_in);
    // auth_time is when the browser session began, not when the code was issued.
    const agent = await h.signedIn(user);
    const session = await h.store.findSessionByHash(hashSecret(agent.cookies.get('tessera_session') ?? ''));
    expect(claims.auth_time).toBe(Math.floor((session?.createdAt ?? 0) / 1000));
    // The id_token holds no profile claims: those come from /userinfo (§5.4, an access token was issued).
    expect(claims.name).toBeUndefined();
  });

  it('OIDC Core §3.1.2.1: no nonce on the request, no nonce claim; a repeated nonce is invalid_request at the redirect URI', async () => {
    const c = await h.codeClient({ scope: OIDC });
    const body = await oidcTokens(h, c, 'openid');
    expect((await verified(h, body.id_token, c.id)).nonce).toBeUndefined();
    const agent = await h.signedIn(await h.alice());
    const p = pkce();
    const res = await agent.get(`/authorize?${new URLSearchParams({ response_type: 'code', client_id: c.id, redirect_uri: c.client.redirectUris[0]!, scope: 'openid', code_challenge: p.challenge, code_challenge_method: 'S256' })}&nonce=a&nonce=b`);
    expect(res.status).toBe(302);
    expect(new URL(res.location!).searchParams.get('error')).toBe('invalid_request');
  });

  it('a request without openid gets no id_token, and its refresh token as before (plain OAuth unchanged)', async () => {
    const c = await h.codeClient({ scope: 'read write' });
    const body = await h.userTokens(c, { scope: 'read' });
    expect(body).not.toHaveProperty('id_token');
    expect(typeof body.refresh_token).toBe('string');
  });

  it('OIDC Core §11 offline_access: an openid request gets a refresh token only when offline_access was granted', async () => {
    const c = await h.codeClient({ scope: OIDC });
    const online = await oidcTokens(h, c, 'openid profile');
    expect(online).not.toHaveProperty('refresh_token');
    const offline = await oidcTokens(h, c, 'openid offline_access');
    expect(typeof offline.refresh_token).toBe('string');
    // A client not registered for refresh_token gets none, offline_access or not.
    const noRefresh = await h.codeClient({ scope: OIDC, grantTypes: ['authorization_code'] });
    expect(await oidcTokens(h, noRefresh, 'openid offline_access')).not.toHaveProperty('refresh_token');
  });

  it('a client may request the OIDC scopes only when its registered scope includes them (RFC 6749 §3.3 invalid_scope)', async () => {
    const c = await h.codeClient({ scope: 'openid' });
    const agent = await h.signedIn(await h.alice());
    const p = pkce();
    const res = await agent.get(`/authorize?${new URLSearchParams({ response_type: 'code', client_id: c.id, redirect_uri: c.client.redirectUris[0]!, scope: 'openid email', code_challenge: p.challenge, code_challenge_method: 'S256' })}`);
    expect(new URL(res.location!).searchParams.get('error')).toBe('invalid_scope');
  });

  it('OIDC Core §12.2: a refresh returns a new id_token with the same iss, sub and aud, a new iat, no nonce, at_hash of the new access token', async () => {
    const c = await h.codeClient({ scope: OIDC });
    const first = await oidcTokens(h, c, 'openid offline_access', { nonce: 'first-nonce' });
    const original = await verified(h, first.id_token, c.id);
    await sleep(1100);
    const res = await h.refresh(c, first.refresh_token);
    expect(res.status).toBe(200);
    const claims = await verified(h, res.body.id_token, c.id);
    expect(claims).toMatchObject({ iss: original.iss, sub: original.sub, aud: original.aud, at_hash: atHash(res.body.access_token) });
    expect(claims.iat).toBeGreaterThan(original.iat as number);
    expect(claims.nonce).toBeUndefined();
    // Narrowed to a scope without openid, the refresh is plain OAuth: no id_token.
    const narrowed = await h.refresh(c, res.body.refresh_token, 'offline_access');
    expect(narrowed.status).toBe(200);
    expect(narrowed.body).not.toHaveProperty('id_token');
  });

  it('OIDC Core §12.2: every refreshed id_token carries the auth_time of the original authentication (not the refresh time), through each rotation; its iat is new', async () => {
    const c = await h.codeClient({ scope: OIDC });
    const first = await oidcTokens(h, c, 'openid offline_access', { nonce: 'first-nonce' });
    const original = await verified(h, first.id_token, c.id);
    expect(typeof original.auth_time).toBe('number');
    let { refresh_token: refreshToken } = first;
    let previousIat = original.iat as number;
    for (let round = 0; round < 2; round++) {
      // iat and auth_time are whole seconds: past the next one, a new time would show.
      await sleep(1100);
      const res = await h.refresh(c, refreshToken);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const claims = await verified(h, res.body.id_token, c.id);
      expect(claims.auth_time).toBe(original.auth_time);
      expect(claims.iat).toBeGreaterThan(previousIat);
      expect(claims.nonce).toBeUndefined();
      previousIat = claims.iat as number;
      refreshToken = res.body.refresh_token;
    }
  });

  it('a client with JWT access tokens gets an id_token whose at_hash covers the JWT', async () => {
    const c = await h.codeClient({ scope: OIDC, tokenFormat: 'jwt' });
    const body = await oidcTokens(h, c, 'openid');
    expect(body.access_token.split('.')).toHaveLength(3);
    expect((await verified(h, body.id_token, c.id)).at_hash).toBe(atHash(body.access_token));
  });

  it('OIDC Registration §2: a client registered with id_token_signed_response_alg ES256 gets ES256 id_tokens, on refresh too; JWT access tokens are ES256 whatever the client registered', async () => {
    const es = await h.codeClient({ scope: OIDC, tokenFormat: 'jwt', idTokenSignedResponseAlg: 'ES256' });
    const rs = await h.codeClient({ scope: OIDC, tokenFormat: 'jwt' });
    const esKid = await publishedKid(h, 'ES256');
    const first = await oidcTokens(h, es, 'openid offline_access', { nonce: 'es' });
    expect(decodeProtectedHeader(first.id_token)).toEqual({ alg: 'ES256', kid: esKid, typ: 'JWT' });
    expect(await verified(h, first.id_token, es.id)).toMatchObject({ aud: es.id, nonce: 'es', at_hash: atHash(first.access_token) });
    const refreshed = await h.refresh(es, first.refresh_token);
    expect(decodeProtectedHeader(refreshed.body.id_token)).toMatchObject({ alg: 'ES256', kid: esKid });
    expect(await verified(h, refreshed.body.id_token, es.id)).toMatchObject({ at_hash: atHash(refreshed.body.access_token) });
    // RFC 9068 access tokens: ES256 for both clients; only the id_token follows the registration.
    const other = await oidcTokens(h, rs, 'openid');
    expect(decodeProtectedHeader(other.id_token)).toMatchObject({ alg: 'RS256' });
    for (const token of [first.access_token, refreshed.body.access_token, other.access_token]) {
      expect(decodeProtectedHeader(token)).toEqual({ alg: 'ES256', kid: esKid, typ: 'at+jwt' });
    }
  });
});

describe('OpenID Connect Core §5.3: /userinfo', () => {
  const h = useServer();

  it('GET and POST with a bearer token with openid: sub, then claims by scope (profile → name; email → email, email_verified), no-store', async () => {
    const c = await h.codeClient({ scope: OIDC });
    const user = await profiledUser(h);
    const all = await oidcTokens(h, c, 'openid profile email', {}, user);
    for (const init of [{}, { method: 'POST' }]) {
      const res = await userinfo(h, all.access_token, init);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.body).toEqual({ sub: user.id, name: 'Ada Lovelace', email: 'ada@example.com', email_verified: true });
    }
    // RFC 6750 §2.2: the token in a form body.
    const form = await h.post('/userinfo', { access_token: all.access_token });
    expect(form.body).toEqual({ sub: user.id, name: 'Ada Lovelace', email: 'ada@example.com', email_verified: true });
    expect((await userinfo(h, (await oidcTokens(h, c, 'openid', {}, user)).access_token)).body).toEqual({ sub: user.id });
    expect((await userinfo(h, (await oidcTokens(h, c, 'openid email', {}, user)).access_token)).body).toEqual({ sub: user.id, email: 'ada@example.com', email_verified: true });
    expect((await userinfo(h, (await oidcTokens(h, c, 'openid profile', {}, user)).access_token)).body).toEqual({ sub: user.id, name: 'Ada Lovelace' });
  });

  it('OIDC Core §5.3.2: claims the user has no value for are omitted; a profile change shows at once', async () => {
    const c = await h.codeClient({ scope: OIDC });
    const user = await profiledUser(h, { name: null, email: null, emailVerified: false });
    const { access_token } = await oidcTokens(h, c, 'openid profile email', {}, user);
    expect((await userinfo(h, access_token)).body).toEqual({ sub: user.id });
    await h.engine.setUserProfile(user, { name: 'Grace', email: 'grace@example.com', emailVerified: false }, { actor: 'test' });
    expect((await userinfo(h, access_token)).body).toEqual({ sub: user.id, name: 'Grace', email: 'grace@example.com', email_verified: false });
  });

  it('a JWT access token works as an opaque one does, and stops working once revoked', async () => {
    const c = await h.codeClient({ scope: OIDC, tokenFormat: 'jwt' });
    const user = await profiledUser(h);
    const { access_token } = await oidcTokens(h, c, 'openid email', {}, user);
    expect((await userinfo(h, access_token)).body).toMatchObject({ sub: user.id, email: 'ada@example.com' });
    expect((await h.revoke(c, access_token)).status).toBe(200);
    const res = await userinfo(h, access_token);
    expectError(res, 401, 'invalid_token');
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="[^"]+", error="invalid_token"/);
  });

  it('RFC 6750 §3.1: no token → 401 with a bare Bearer challenge; a bad, forged, revoked or expired token → 401 invalid_token', async () => {
    const c = await h.codeClient({ scope: OIDC });
    const none = await h.request('/userinfo');
    expectError(none, 401, 'invalid_token');
    expect(none.headers.get('www-authenticate')).toBe(`Bearer realm="${h.server.url}"`);
    const { access_token, refresh_token } = await oidcTokens(h, c, 'openid offline_access');
    for (const bad of [forged(access_token), 'tsa_nothing', refresh_token]) {
      const res = await userinfo(h, bad);
      expectError(res, 401, 'invalid_token');
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }
    await h.revoke(c, access_token);
    expectError(await userinfo(h, access_token), 401, 'invalid_token');
    const short = await h.codeClient({ scope: OIDC, accessTtl: 1 });
    const expiring = await oidcTokens(h, short, 'openid');
    expect((await userinfo(h, expiring.access_token)).status).toBe(200);
    await sleep(1100);
    expectError(await userinfo(h, expiring.access_token), 401, 'invalid_token');
  });

  it('RFC 6750 §3.1, RFC 9110 §5.3: two Authorization fields (a valid token in the first) → 400 invalid_request, never the first read alone', async () => {
    const c = await h.codeClient({ scope: OIDC });
    const { access_token } = await oidcTokens(h, c, 'openid');
    const twice = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      // Raw header pairs: node:http sends each as a line of its own (and adds no Host then).
      const headers = ['host', new URL(h.server.url).host, 'authorization', `Bearer ${access_token}`, 'authorization', 'Bearer other'];
      const req = httpRequest(`${h.server.url}/userinfo`, { headers }, (res) => {
        let body = '';
        res.on('data', (d) => { body += d; });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(twice.status).toBe(400);
    expect(JSON.parse(twice.body)).toMatchObject({ error: 'invalid_request' });
    expect((await userinfo(h, access_token)).status).toBe(200);
  });

  it('RFC 8707 §2: a token issued for a named resource is refused (401 invalid_token), as oidc-provider does; one for the default audience is served', async () => {
    const api = 'https://api.example/';
    const c = await h.codeClient({ scope: OIDC, resources: [api] });
    const user = await profiledUser(h);
    const p = pkce();
    const code = await h.code(c, { scope: 'openid email', pkce: p, user, resources: [api] });
    const forApi = await h.token(c, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: p.verifier, resource: api });
    expect(forApi.status, JSON.stringify(forApi.body)).toBe(200);
    const res = await userinfo(h, forApi.body.access_token);
    expectError(res, 401, 'invalid_token');
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect((await userinfo(h, (await oidcTokens(h, c, 'openid email', {}, user)).access_token)).body).toMatchObject({ sub: user.id });
    // Named, but the server's own audience (the issuer, by default): served as the default is.
    const own = await h.codeClient({ scope: OIDC, resources: [h.server.url] });
    const q = pkce();
    const ownCode = await h.code(own, { scope: 'openid', pkce: q, user, resources: [h.server.url] });
    const forServer = await h.token(own, { grant_type: 'authorization_code', code: ownCode, redirect_uri: REDIRECT_URI, code_verifier: q.verifier, resource: h.server.url });
    expect(forServer.status, JSON.stringify(forServer.body)).toBe(200);
    expect((await userinfo(h, forServer.body.access_token)).body).toEqual({ sub: user.id });
  });

  it('RFC 6750 §3.1: a token without openid → 403 insufficient_scope; a client_credentials token → 401 invalid_token', async () => {
    const c = await h.codeClient({ scope: 'openid read' });
    const { access_token } = await h.userTokens(c, { scope: 'read' });
    const res = await userinfo(h, access_token);
    expectError(res, 403, 'insufficient_scope');
    expect(res.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    const cc = await h.client({ scope: 'openid', grantTypes: ['client_credentials'] });
    const token = await h.token(cc, { grant_type: 'client_credentials' });
    expectError(await userinfo(h, token.body.access_token), 401, 'invalid_token');
  });

  it('RFC 6750 §2: malformed requests are invalid_request (400), never a 500; other methods 405', async () => {
    const c = await h.codeClient({ scope: OIDC });
    const { access_token } = await oidcTokens(h, c, 'openid');
    // §2: one method only; a token in the URL is refused (RFC 9700 §4.3.2 keeps tokens out of URLs).
    expectError(await h.post('/userinfo', { access_token }, { authorization: `Bearer ${access_token}` }), 400, 'invalid_request');
    expectError(await h.post('/userinfo', `access_token=${access_token}&access_token=${access_token}`), 400, 'invalid_request');
    expectError(await h.request(`/userinfo?access_token=${access_token}`), 400, 'invalid_request');
    expectError(await userinfo(h, 'not a b64token!'), 400, 'invalid_request');
    expectError(await h.request('/userinfo', { headers: { authorization: 'Bearer' } }), 400, 'invalid_request');
    // Another scheme is no bearer token at all.
    expect((await h.request('/userinfo', { headers: { authorization: 'Basic Zm9vOmJhcg==' } })).headers.get('www-authenticate')).toBe(`Bearer realm="${h.server.url}"`);
    const put = await h.request('/userinfo', { method: 'PUT', headers: { authorization: `Bearer ${access_token}` } });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, POST');
  });
});

describe('OpenID Connect Discovery 1.0', () => {
  const h = useServer();

  it('Discovery §4: /.well-known/openid-configuration names this issuer and agrees with the RFC 8414 document on every shared field', async () => {
    const res = await h.request('/.well-known/openid-configuration');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const oidc = res.body;
    const oauth = (await h.request('/.well-known/oauth-authorization-server')).body;
    // Discovery §4.3: issuer identical to the URL the document was fetched for, less the well-known path.
    expect(oidc.issuer).toBe(h.server.url);
    for (const [key, value] of Object.entries(oauth)) expect(oidc[key], key).toEqual(value);
  });

  it('Discovery §3: the REQUIRED fields, and only what is supported', async () => {
    const { body: m } = await h.request('/.well-known/openid-configuration');
    const url = h.server.url;
    expect(m).toMatchObject({
      authorization_endpoint: `${url}/authorize`,
      token_endpoint: `${url}/token`,
      userinfo_endpoint: `${url}/userinfo`,
      jwks_uri: `${url}/jwks.json`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      // Discovery §3: MUST include RS256; ES256 for clients that register it.
      id_token_signing_alg_values_supported: ['RS256', 'ES256'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      // Its default is true: the request_uri parameter is not supported, so it says so.
      request_uri_parameter_supported: false,
    });
    expect([...m.claims_supported].sort()).toEqual(['at_hash', 'aud', 'auth_time', 'email', 'email_verified', 'exp', 'iat', 'iss', 'name', 'nonce', 'sub']);
    // The signing keys are of the advertised algorithms, a current key for each (RSA of 2048 bits for RS256).
    const keys: JWK[] = (await h.request('/jwks.json')).body.keys;
    expect(keys.map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
    for (const key of keys) expect(key).toMatchObject({ use: 'sig', kid: expect.any(String) });
    expect(keys.find((k) => k.alg === 'RS256')).toMatchObject({ kty: 'RSA', e: 'AQAB' });
    expect(Buffer.from(keys.find((k) => k.alg === 'RS256')?.n ?? '', 'base64url').length * 8).toBe(2048);
    expect(keys.find((k) => k.alg === 'ES256')).toMatchObject({ kty: 'EC', crv: 'P-256' });
    // Nothing advertised that is not served.
    for (const key of ['userinfo_endpoint', 'jwks_uri']) expect((await h.request(new URL(m[key]).pathname)).status, key).not.toBe(404);
  });
});

describe('OpenID Connect Core §3.1.2.1: prompt, max_age, id_token_hint, login_hint', () => {
  const h = useServer();

  /** An /authorize URL for the client with PKCE, state and the given parameters. */
  function authorize(c: TestClient, params: Record<string, string>): string {
    const p = pkce();
    return `/authorize?${new URLSearchParams({
      response_type: 'code', client_id: c.id, redirect_uri: c.client.redirectUris[0]!, scope: 'openid', state: 'st', code_challenge: p.challenge, code_challenge_method: 'S256', ...params,
    })}`;
  }
  const query = (location: string | undefined) => new URL(location ?? 'about:blank').searchParams;

  async function consented(c: TestClient, user: Awaited<ReturnType<Harness['user']>>) {
    // h.code records the user's consent to the client's scope through their browser session.
    await h.code(c, { user, scope: c.client.scope });
    return h.signedIn(user);
  }

  it('§3.1.2.6 prompt=none: not signed in → login_required; no consent yet → consent_required; both there → a code, no page', async () => {
    const c = await h.codeClient({ scope: 'openid profile' });
    const stranger = new Agent(h.server.url);
    const out = await stranger.get(authorize(c, { prompt: 'none' }));
    expect(out.status).toBe(302);
    expect(Object.fromEntries(query(out.location))).toMatchObject({ error: 'login_required', state: 'st', iss: h.server.url });
    const user = await h.user();
    const agent = await h.signedIn(user);
    expect(Object.fromEntries(query((await agent.get(authorize(c, { prompt: 'none' }))).location))).toMatchObject({ error: 'consent_required', state: 'st' });
    await consented(c, user);
    const ok = await agent.get(authorize(c, { prompt: 'none', scope: 'openid profile' }));
    expect(query(ok.location).get('code')).toBeTruthy();
  });

  it('§3.1.2.1: prompt=none with another value, an unknown prompt value, or a bad max_age is invalid_request at the redirect URI', async () => {
    const c = await h.codeClient({ scope: 'openid' });
    const agent = await h.signedIn(await h.alice());
    for (const params of [{ prompt: 'none login' }, { prompt: 'sometimes' }, { max_age: '-1' }, { max_age: 'soon' }] as Record<string, string>[]) {
      const res = await agent.get(authorize(c, params));
      expect(res.status, JSON.stringify(params)).toBe(302);
      expect(query(res.location).get('error'), JSON.stringify(params)).toBe('invalid_request');
    }
  });

  it('§3.1.2.1 prompt=login: a signed-in user signs in again; the code that follows carries the new auth_time', async () => {
    const c = await h.codeClient({ scope: 'openid' });
    const user = await h.user();
    const agent = await consented(c, user);
    const oldSession = await h.store.findSessionByHash(hashSecret(agent.cookies.get('tessera_session') ?? ''));
    await sleep(1100);
    const p = pkce();
    const res = await agent.get(`/authorize?${new URLSearchParams({ response_type: 'code', client_id: c.id, redirect_uri: c.client.redirectUris[0]!, scope: 'openid', prompt: 'login', code_challenge: p.challenge, code_challenge_method: 'S256' })}`);
    expect(res.location).toMatch(/\/login\?return_to=/);
    // What asked for the sign-in is not asked again once it is done.
    const returnTo = query(res.location).get('return_to') as string;
    expect(returnTo).not.toMatch(/prompt=login/);
    const page = await agent.get(res.location as string);
    const signedIn = await agent.post('/login', { username: user.username, password: user.password, csrf: field(page.body, 'csrf'), return_to: field(page.body, 'return_to') });
    expect(signedIn.status).toBe(303);
    const back = await agent.get(signedIn.location as string);
    const code = query(back.location).get('code') as string;
    const tokens = await h.exchange(c, code, { verifier: p.verifier });
    const claims = await verified(h, tokens.body.id_token, c.id);
    expect(claims.auth_time).toBeGreaterThan(Math.floor((oldSession?.createdAt ?? 0) / 1000));
  });

  it('§3.1.2.1 max_age: a sign-in older than max_age signs in again (login_required with prompt=none); a recent one goes on', async () => {
    const c = await h.codeClient({ scope: 'openid' });
    const user = await h.user();
    const agent = await consented(c, user);
    expect(query((await agent.get(authorize(c, { max_age: '3600' }))).location).get('code')).toBeTruthy();
    await sleep(20);
    const old = await agent.get(authorize(c, { max_age: '0' }));
    expect(old.location).toMatch(/\/login\?return_to=/);
    expect(query(old.location).get('return_to')).not.toMatch(/max_age/);
    expect(query((await agent.get(authorize(c, { max_age: '0', prompt: 'none' }))).location).get('error')).toBe('login_required');
  });

  it('§3.1.2.1 id_token_hint: the same user goes on; another signed-in user gets login_required (the login page only with prompt=login); a forged or foreign hint is invalid_request', async () => {
    const c = await h.codeClient({ scope: 'openid' });
    const other = await h.codeClient({ scope: 'openid' });
    const [ada, bob] = [await h.user(), await h.user()];
    await consented(c, ada);
    await consented(other, ada);
    const adaToken = (await oidcTokens(h, c, 'openid', {}, ada)).id_token as string;
    const bobAgent = await consented(c, bob);
    const adaAgent = await h.signedIn(ada);
    expect(query((await adaAgent.get(authorize(c, { id_token_hint: adaToken, prompt: 'none' }))).location).get('code')).toBeTruthy();
    expect(query((await bobAgent.get(authorize(c, { id_token_hint: adaToken, prompt: 'none' }))).location).get('error')).toBe('login_required');
    expect(query((await bobAgent.get(authorize(c, { id_token_hint: adaToken }))).location).get('error')).toBe('login_required');
    expect((await bobAgent.get(authorize(c, { id_token_hint: adaToken, prompt: 'login' }))).location).toMatch(/\/login\?return_to=/);
    const foreign = (await oidcTokens(h, other, 'openid', {}, ada)).id_token as string;
    for (const hint of [forged(adaToken), 'not.a.jwt', foreign]) {
      expect(query((await adaAgent.get(authorize(c, { id_token_hint: hint }))).location).get('error')).toBe('invalid_request');
    }
  });

  it('§3.1.2.1 id_token_hint, signed out: the login page; the hinted user signing in gets a code, another user login_required, never the login page again (no loop)', async () => {
    const c = await h.codeClient({ scope: 'openid' });
    const [ada, bob] = [await h.user(), await h.user()];
    await consented(c, ada);
    await consented(c, bob);
    const adaToken = (await oidcTokens(h, c, 'openid', {}, ada)).id_token as string;
    for (const [who, expected] of [[ada, 'code'], [bob, 'error']] as const) {
      const browser = new Agent(h.server.url);
      const toLogin = await browser.get(authorize(c, { id_token_hint: adaToken }));
      expect(toLogin.location).toMatch(/\/login\?return_to=/);
      const login = await browser.get(toLogin.location as string);
      const signedIn = await browser.post('/login', { username: who.username, password: who.password, csrf: field(login.body, 'csrf'), return_to: field(login.body, 'return_to') });
      expect(signedIn.status).toBe(303);
      const back = query((await browser.get(signedIn.location as string)).location);
      expect(back.has(expected), `${who.username}: ${back}`).toBe(true);
      if (expected === 'error') expect(back.get('error')).toBe('login_required');
    }
  });

  it('§3.1.2.1 id_token_hint: an RS256 and an ES256 ID Token both verify (each client\'s algorithm); a hint signed with a key /jwks.json does not publish is invalid_request', async () => {
    const rs = await h.codeClient({ scope: 'openid' });
    const es = await h.codeClient({ scope: 'openid', idTokenSignedResponseAlg: 'ES256' });
    const ada = await h.user();
    await consented(rs, ada);
    const adaAgent = await consented(es, ada);
    for (const [c, alg] of [[rs, 'RS256'], [es, 'ES256']] as const) {
      const hint = (await oidcTokens(h, c, 'openid', {}, ada)).id_token as string;
      expect(decodeProtectedHeader(hint).alg).toBe(alg);
      expect(query((await adaAgent.get(authorize(c, { id_token_hint: hint, prompt: 'none' }))).location).get('code'), alg).toBeTruthy();
      // The same claims and header under a key of the same algorithm that the server never published.
      const { privateKey } = await generateKeyPair(alg);
      const [header, payload] = hint.split('.') as [string, string];
      const stranger = await new CompactSign(Buffer.from(payload, 'base64url')).setProtectedHeader(JSON.parse(Buffer.from(header, 'base64url').toString())).sign(privateKey);
      expect(query((await adaAgent.get(authorize(c, { id_token_hint: stranger }))).location).get('error'), alg).toBe('invalid_request');
    }
  });

  it('§3.1.2.1 prompt=consent asks again although the grant covers the request; login_hint fills in the username', async () => {
    const c = await h.codeClient({ scope: 'openid' });
    const user = await h.user();
    const agent = await consented(c, user);
    const page = await agent.get(authorize(c, { prompt: 'consent' }));
    expect(page.status).toBe(200);
    expect(page.body).toContain('Allow access?');
    const back = await agent.post('/consent', { csrf: field(page.body, 'csrf'), request: field(page.body, 'request'), decision: 'allow' });
    expect(query(back.location).get('code')).toBeTruthy();
    const stranger = new Agent(h.server.url);
    const toLogin = await stranger.get(authorize(c, { login_hint: 'ada@example.com' }));
    const login = await stranger.get(toLogin.location as string);
    expect(field(login.body, 'username')).toBe('ada@example.com');
  });
});
