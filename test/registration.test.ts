/**
 * Dynamic client registration (RFC 7591) and management (RFC 7592) over HTTP: the gate modes,
 * every error code, each authentication method, and the configuration endpoint.
 */
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { expectError, useServer } from './flows.js';

type Harness = ReturnType<typeof useServer>;
const REDIRECT = 'https://app.example/callback';
const CONFIG = { registrationScopes: 'read write' } as const;

async function register(h: Harness, metadata: unknown, token?: string, raw?: string) {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) };
  return h.request('/register', { method: 'POST', headers, body: raw ?? JSON.stringify(metadata) });
}

const initialToken = async (h: Harness) => (await h.engine.mintInitialAccessToken(600, { actor: 'test' })).value;

function expectBearerChallenge(res: { status: number; headers: Headers; body: any }): void {
  expectError(res, 401, 'invalid_token');
  expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="tessera", error="invalid_token"/);
}

describe('dynamic client registration, --registration token (the default)', () => {
  const h = useServer(CONFIG);

  it('RFC 8414 §2, RFC 7591 §3: the metadata names the registration endpoint', async () => {
    const meta = await h.request('/.well-known/oauth-authorization-server');
    expect(meta.body.registration_endpoint).toBe(`${h.server.url}/register`);
  });

  it('RFC 7591 §3.2.1: a confidential client registers with an initial access token: 201, its secret once, the registered metadata, and it gets tokens', async () => {
    const res = await register(h, { client_name: 'Billing', grant_types: ['client_credentials'], scope: 'read', token_endpoint_auth_method: 'client_secret_post', logo_uri: 'https://app.example/logo.png' }, await initialToken(h));
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toMatchObject({
      client_name: 'Billing', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'read',
      token_endpoint_auth_method: 'client_secret_post', client_secret_expires_at: 0,
    });
    expect(res.body.client_secret).toMatch(/^tss_/);
    expect(res.body.registration_access_token).toMatch(/^tsg_/);
    expect(res.body.registration_client_uri).toBe(`${h.server.url}/register/${res.body.client_id}`);
    expect(res.body.client_id_issued_at).toBeCloseTo(Date.now() / 1000, -2);
    // RFC 7591 §2: unknown (here: unsupported) metadata is ignored, not stored or echoed.
    expect(res.body.logo_uri).toBeUndefined();
    const token = await h.post('/token', { grant_type: 'client_credentials', client_id: res.body.client_id, client_secret: res.body.client_secret });
    expect(token.status).toBe(200);
    expect(token.body.scope).toBe('read');
  });

  it('RFC 7591 §2: defaults are authorization_code, code, client_secret_basic and every allowed scope; a public client gets no secret', async () => {
    const res = await register(h, { redirect_uris: [REDIRECT] }, await initialToken(h));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic', scope: 'read write',
      // OpenID Connect Dynamic Client Registration 1.0 §2: RS256 when not registered.
      id_token_signed_response_alg: 'RS256',
    });
    expect(res.body.client_secret).toBeDefined();
    const pub = await register(h, { redirect_uris: ['com.example.app:/callback', 'http://127.0.0.1:8765/cb'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] }, await initialToken(h));
    expect(pub.status).toBe(201);
    expect(pub.body.client_secret).toBeUndefined();
    expect(pub.body.client_secret_expires_at).toBeUndefined();
  });

  it('RFC 7591 §3 (RFC 6750 §3.1): no, a malformed, an unknown, or a spent initial access token is 401 invalid_token with a Bearer challenge', async () => {
    const metadata = { grant_types: ['client_credentials'] };
    expectBearerChallenge(await register(h, metadata));
    expectBearerChallenge(await register(h, metadata, 'not a token'));
    expectBearerChallenge(await register(h, metadata, 'tsi_unknown'));
    const once = await initialToken(h);
    expect((await register(h, metadata, once)).status).toBe(201);
    expectBearerChallenge(await register(h, metadata, once));
  });

  it('an expired initial access token is refused', async () => {
    const store = h.server.tessera.store;
    const { hashSecret } = await import('../packages/server/src/secrets.js');
    await store.createInitialAccessToken({ hash: hashSecret('tsi_expired'), createdAt: Date.now() - 2000, expiresAt: Date.now() - 1000 }, []);
    expectBearerChallenge(await register(h, { grant_types: ['client_credentials'] }, 'tsi_expired'));
  });

  it('RFC 7591 §3.2.2: invalid metadata is 400 invalid_client_metadata, and does not spend the initial access token', async () => {
    const token = await initialToken(h);
    const cases: unknown[] = [
      [],
      'a string',
      { grant_types: 'client_credentials' },
      { grant_types: ['password'] },
      { grant_types: [] },
      { grant_types: ['client_credentials'], token_endpoint_auth_method: 'tls_client_auth' },
      { grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_jwt' },
      { grant_types: ['client_credentials'], token_endpoint_auth_method: 'none' },
      { grant_types: ['client_credentials'], scope: 'admin' },
      { grant_types: ['client_credentials'], scope: 'read "x' },
      { grant_types: ['client_credentials'], client_name: 7 },
      { grant_types: ['client_credentials'], client_name: 'x'.repeat(201) },
      { grant_types: ['client_credentials'], jwks_uri: 'https://app.example/jwks' },
      { grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt' },
      { grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [] } },
      { grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'oct', k: 'AAAA' }] } },
      { grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'http://app.example/jwks' },
      { grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://app.example/jwks', jwks: { keys: [] } },
      // RFC 7591 §2.1: response types and grant types must agree.
      { grant_types: ['client_credentials'], response_types: ['code'] },
      { grant_types: ['authorization_code'], response_types: [], redirect_uris: [REDIRECT] },
      { grant_types: ['authorization_code'], response_types: ['token'], redirect_uris: [REDIRECT] },
      { grant_types: ['authorization_code'], response_types: ['code id_token'], redirect_uris: [REDIRECT] },
      // OpenID Connect Registration §2: only the algorithms the server signs ID Tokens with (never none, never a MAC).
      { grant_types: ['client_credentials'], id_token_signed_response_alg: 'HS256' },
      { grant_types: ['client_credentials'], id_token_signed_response_alg: 'none' },
      { grant_types: ['client_credentials'], id_token_signed_response_alg: 'PS256' },
      { grant_types: ['client_credentials'], id_token_signed_response_alg: 256 },
    ];
    for (const metadata of cases) {
      const res = await register(h, metadata, token);
      expectError(res, 400, 'invalid_client_metadata');
    }
    // An error_description never repeats what the request sent.
    const echoed = await register(h, { grant_types: ['client_credentials', 'x-echo-me'], scope: 'read' }, token);
    expect(echoed.body.error_description).not.toContain('x-echo-me');
    const scoped = await register(h, { grant_types: ['client_credentials'], scope: 'x-echo-me' }, token);
    expect(scoped.body.error_description).not.toContain('x-echo-me');
    const redirect = await register(h, { redirect_uris: ['http://x-echo-me.example/cb'] }, token);
    expect(redirect.body.error_description).not.toContain('x-echo-me');
    expect((await register(h, { grant_types: ['client_credentials'] }, token)).status).toBe(201);
  });

  it('RFC 7591 §3.2.2: bad JSON, another content type and an empty body are invalid_client_metadata, never a 500', async () => {
    const token = await initialToken(h);
    expectError(await register(h, undefined, token, '{"grant_types": ['), 400, 'invalid_client_metadata');
    expectError(await register(h, undefined, token, ''), 400, 'invalid_client_metadata');
    const form = await h.request('/register', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${token}` }, body: 'grant_types=client_credentials' });
    expectError(form, 400, 'invalid_client_metadata');
    const big = await register(h, undefined, token, JSON.stringify({ client_name: 'x'.repeat(70_000) }));
    expect(big.status).toBe(413);
    expect((await h.request('/register', { headers: { authorization: `Bearer ${token}` } })).status).toBe(405);
  });

  it('RFC 7591 §3.2.2: bad redirect URIs are invalid_redirect_uri (RFC 8252: https, loopback http, reverse-domain private-use schemes; no fragment)', async () => {
    const token = await initialToken(h);
    for (const uris of [[], ['http://app.example/cb'], ['https://app.example/cb#frag'], ['myapp:/cb'], ['javascript:alert(1)'], ['/relative'], ['https://'], [7]]) {
      const res = await register(h, { redirect_uris: uris }, token);
      expectError(res, 400, uris[0] === 7 ? 'invalid_client_metadata' : 'invalid_redirect_uri');
    }
  });

  it('a registered jwks_uri is https to a host name: never an IP address or localhost (the server would fetch it)', async () => {
    for (const uri of ['https://127.0.0.1/jwks', 'https://[::1]/jwks', 'https://10.0.0.8/jwks', 'https://localhost/jwks', 'https://localhost./jwks', 'https://keys.localhost/jwks',
      'https://2130706433/jwks', 'https://[::ffff:169.254.169.254]/jwks', 'http://127.0.0.1:8080/jwks']) {
      const res = await register(h, { grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: uri }, await initialToken(h));
      expectError(res, 400, 'invalid_client_metadata');
    }
  });

  it('RFC 7523 §2.2: a private_key_jwt client registers its JWK Set and authenticates with an assertion', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
    const res = await register(h, { grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] } }, await initialToken(h));
    expect(res.status).toBe(201);
    expect(res.body.client_secret).toBeUndefined();
    expect(res.body.jwks).toEqual({ keys: [jwk] });
    const id = res.body.client_id as string;
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ iss: id, sub: id, aud: h.server.url, jti: crypto.randomUUID(), iat: now, exp: now + 60 })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(privateKey);
    const token = await h.post('/token', { grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion });
    expect(token.status).toBe(200);
    const byUri = await register(h, { grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://app.example/jwks' }, await initialToken(h));
    expect(byUri.status).toBe(201);
    expect(byUri.body.jwks_uri).toBe('https://app.example/jwks');
  });

  it('client_secret_basic: the registered secret authenticates at /token', async () => {
    const res = await register(h, { grant_types: ['client_credentials'] }, await initialToken(h));
    const basic = `Basic ${btoa(`${res.body.client_id}:${res.body.client_secret}`)}`;
    expect((await h.post('/token', { grant_type: 'client_credentials' }, { authorization: basic })).status).toBe(200);
  });

  it('every registration is audited, without its token or secret', async () => {
    const before = (await h.server.tessera.store.auditHeads()).reduce((n, c) => Math.max(n, c.seq), 0);
    const token = await initialToken(h);
    const res = await register(h, { grant_types: ['client_credentials'] }, token);
    const records = await h.server.tessera.store.readAudit(before, 100);
    const text = JSON.stringify(records);
    expect(records.map((r) => r.event)).toEqual(['registration.initial_token_created', 'client.created']);
    expect(records[1]).toMatchObject({ actor: 'registration', clientId: res.body.client_id, data: { registered: 'initial access token' } });
    for (const secret of [token, res.body.client_secret, res.body.registration_access_token]) expect(text).not.toContain(secret);
  });
});

describe('client configuration endpoint (RFC 7592)', () => {
  const h = useServer(CONFIG);

  async function registered(metadata: Record<string, unknown> = { grant_types: ['client_credentials', 'authorization_code'], redirect_uris: [REDIRECT], scope: 'read' }) {
    const res = await register(h, metadata, await initialToken(h));
    expect(res.status).toBe(201);
    return res.body as Record<string, any>;
  }
  const call = (uri: string, token: string | undefined, method: string, body?: unknown) =>
    h.request(new URL(uri).pathname, {
      method,
      headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  it('RFC 7592 §2.1: GET reads the registration with its registration access token', async () => {
    const c = await registered();
    const res = await call(c.registration_client_uri, c.registration_access_token, 'GET');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const { client_secret, client_secret_expires_at, ...rest } = c;
    expect(res.body).toEqual(rest);
  });

  it('RFC 7592 §2.1 (RFC 6750 §3.1): no token, a wrong one, another client\'s, or an unknown client is 401 invalid_token with a Bearer challenge', async () => {
    const a = await registered();
    const b = await registered();
    for (const method of ['GET', 'PUT', 'DELETE']) {
      expectBearerChallenge(await call(a.registration_client_uri, undefined, method));
      expectBearerChallenge(await call(a.registration_client_uri, 'tsg_wrong', method));
      expectBearerChallenge(await call(a.registration_client_uri, b.registration_access_token, method));
      expectBearerChallenge(await call(`${h.server.url}/register/nosuchclient`, a.registration_access_token, method));
    }
    // A client made by the CLI has no registration access token: nothing opens it.
    const cli = await h.client();
    expectBearerChallenge(await call(`${h.server.url}/register/${cli.id}`, a.registration_access_token, 'GET'));
  });

  it('RFC 7592 §2.2: PUT replaces the metadata in place (same client_id, same secret, same registration access token, tokens still live)', async () => {
    const c = await registered();
    const issued = await h.post('/token', { grant_type: 'client_credentials' }, { authorization: `Basic ${btoa(`${c.client_id}:${c.client_secret}`)}` });
    expect(issued.status).toBe(200);
    const res = await call(c.registration_client_uri, c.registration_access_token, 'PUT', { client_id: c.client_id, client_secret: c.client_secret, client_name: 'Renamed', grant_types: ['client_credentials'], scope: 'read write' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ client_id: c.client_id, client_name: 'Renamed', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'read write', registration_access_token: c.registration_access_token });
    const introspected = await h.post('/introspect', { token: issued.body.access_token }, { authorization: `Basic ${btoa(`${c.client_id}:${c.client_secret}`)}` });
    expect(introspected.body.active).toBe(true);
    expect((await call(c.registration_client_uri, c.registration_access_token, 'GET')).body.client_name).toBe('Renamed');
  });

  it('OpenID Connect RP-Initiated Logout §3.1: post_logout_redirect_uris are registered, read back, replaced by PUT, and checked like redirect URIs', async () => {
    const res = await register(h, { redirect_uris: [REDIRECT], post_logout_redirect_uris: ['https://app.example/bye'] }, await initialToken(h));
    expect(res.status).toBe(201);
    expect(res.body.post_logout_redirect_uris).toEqual(['https://app.example/bye']);
    expect((await h.store.getClient(res.body.client_id))?.postLogoutRedirectUris).toEqual(['https://app.example/bye']);
    const put = await call(res.body.registration_client_uri, res.body.registration_access_token, 'PUT', {
      client_id: res.body.client_id, redirect_uris: [REDIRECT], post_logout_redirect_uris: ['https://app.example/signed-out'],
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body.post_logout_redirect_uris).toEqual(['https://app.example/signed-out']);
    expectError(await register(h, { redirect_uris: [REDIRECT], post_logout_redirect_uris: ['https://app.example/bye#frag'] }, await initialToken(h)), 400, 'invalid_client_metadata');
  });

  it('OpenID Connect Registration §2: id_token_signed_response_alg ES256 is registered and read back; a PUT without it goes back to RS256, one with an unknown value is refused', async () => {
    const c = await registered({ redirect_uris: [REDIRECT], id_token_signed_response_alg: 'ES256' });
    expect(c.id_token_signed_response_alg).toBe('ES256');
    expect((await h.store.getClient(c.client_id as string))?.idTokenSignedResponseAlg).toBe('ES256');
    expect((await call(c.registration_client_uri, c.registration_access_token, 'GET')).body.id_token_signed_response_alg).toBe('ES256');
    // RFC 7592 §2.2: the metadata sent replaces the registration; an omitted field takes its default.
    const put = await call(c.registration_client_uri, c.registration_access_token, 'PUT', { client_id: c.client_id, redirect_uris: [REDIRECT] });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body.id_token_signed_response_alg).toBe('RS256');
    expect((await h.store.getClient(c.client_id as string))?.idTokenSignedResponseAlg).toBe('RS256');
    const bad = await call(c.registration_client_uri, c.registration_access_token, 'PUT', { client_id: c.client_id, redirect_uris: [REDIRECT], id_token_signed_response_alg: 'RS512' });
    expectError(bad, 400, 'invalid_client_metadata');
    expect(bad.body.error_description).toBe('id_token_signed_response_alg must be one of RS256, ES256');
  });

  it('RFC 7592 §2.2: PUT without this client_id, with server-assigned fields, a wrong secret, a new auth method or bad metadata is refused', async () => {
    const c = await registered();
    const put = (body: unknown) => call(c.registration_client_uri, c.registration_access_token, 'PUT', body);
    const base = { client_id: c.client_id, grant_types: ['client_credentials'] };
    expectError(await put({ grant_types: ['client_credentials'] }), 400, 'invalid_request');
    expectError(await put({ ...base, client_id: 'other' }), 400, 'invalid_request');
    expectError(await put({ ...base, registration_access_token: c.registration_access_token }), 400, 'invalid_request');
    expectError(await put({ ...base, client_secret: 'tss_wrong' }), 400, 'invalid_request');
    expectError(await put({ ...base, token_endpoint_auth_method: 'client_secret_post' }), 400, 'invalid_client_metadata');
    expectError(await put({ ...base, scope: 'admin' }), 400, 'invalid_client_metadata');
    expectError(await put({ client_id: c.client_id, redirect_uris: ['http://app.example/cb'] }), 400, 'invalid_redirect_uri');
    const bad = await h.request(new URL(c.registration_client_uri).pathname, { method: 'PUT', headers: { authorization: `Bearer ${c.registration_access_token}`, 'content-type': 'application/json' }, body: '{' });
    expectError(bad, 400, 'invalid_client_metadata');
    expect((await call(c.registration_client_uri, c.registration_access_token, 'POST', base)).status).toBe(405);
  });

  it('RFC 7592 §2.3: DELETE answers 204, deletes the client and revokes its tokens; the registration access token then opens nothing', async () => {
    const c = await registered();
    const auth = { authorization: `Basic ${btoa(`${c.client_id}:${c.client_secret}`)}` };
    const issued = await h.post('/token', { grant_type: 'client_credentials' }, auth);
    const res = await call(c.registration_client_uri, c.registration_access_token, 'DELETE');
    expect(res.status).toBe(204);
    expect(res.body).toBe('');
    expect((await h.engine.getClient(c.client_id))).toBeUndefined();
    expect(issued.status).toBe(200);
    const tokens = await h.server.tessera.store.listTokens({ clientId: c.client_id });
    expect(tokens.length).toBeGreaterThan(0);
    for (const t of tokens) expect(t.revokedAt).not.toBeNull();
    expectBearerChallenge(await call(c.registration_client_uri, c.registration_access_token, 'GET'));
    expectError(await h.post('/token', { grant_type: 'client_credentials' }, auth), 401, 'invalid_client');
  });

  it('PUT and DELETE are audited, never with the registration access token', async () => {
    const c = await registered();
    const before = (await h.server.tessera.store.auditHeads()).reduce((n, x) => Math.max(n, x.seq), 0);
    await call(c.registration_client_uri, c.registration_access_token, 'PUT', { client_id: c.client_id, grant_types: ['client_credentials'] });
    await call(c.registration_client_uri, c.registration_access_token, 'DELETE');
    const records = await h.server.tessera.store.readAudit(before, 100);
    expect(records.map((r) => r.event)).toEqual(expect.arrayContaining(['client.updated', 'client.deleted']));
    expect(records.find((r) => r.event === 'client.updated')?.actor).toBe(`client:${c.client_id}`);
    expect(JSON.stringify(records)).not.toContain(c.registration_access_token);
  });
});

describe('--registration open', () => {
  const h = useServer({ ...CONFIG, registration: 'open' });

  it('RFC 7591 §3: anyone may register without an initial access token', async () => {
    const res = await register(h, { grant_types: ['client_credentials'] });
    expect(res.status).toBe(201);
    expect((await h.request('/.well-known/oauth-authorization-server')).body.registration_endpoint).toBe(`${h.server.url}/register`);
  });
});

describe('--registration off', () => {
  const h = useServer({ ...CONFIG, registration: 'off' });

  it('/register and /register/{id} are 404 and the metadata names no registration_endpoint', async () => {
    expect((await register(h, { grant_types: ['client_credentials'] })).status).toBe(404);
    expect((await h.request('/register/abc', { headers: { authorization: 'Bearer x' } })).status).toBe(404);
    expect((await h.request('/.well-known/oauth-authorization-server')).body.registration_endpoint).toBeUndefined();
  });
});

describe('dynamic client registration never hands out the legacy grants', () => {
  const h = useServer({ ...CONFIG, registration: 'open', legacyGrants: ['password', 'implicit'] });

  it('RFC 9700 §2.4, §2.1.2: password and implicit are refused at /register even when the server enables them', async () => {
    expectError(await register(h, { grant_types: ['password'] }), 400, 'invalid_client_metadata');
    expectError(await register(h, { grant_types: ['implicit'], response_types: ['token'], redirect_uris: [REDIRECT] }), 400, 'invalid_client_metadata');
    expect((await register(h, { redirect_uris: [REDIRECT] })).status).toBe(201);
  });
});
