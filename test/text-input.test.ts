/**
 * Text a database cannot hold is bad input, not a 500, on both stores: PostgreSQL's text refuses
 * NUL (22021) and its jsonb a lone surrogate (22P02), where SQLite stores either. Found by a fuzz
 * of the server on PostgreSQL: an OIDC nonce (stored with the code), a registered client_name,
 * and a client name that reaches a webhook delivery's JSON.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { expectError, pkce, useServer } from './flows.js';

/** Webhooks seal their signing secrets under this key (clientSecretKeyFile). */
const keyFile = join(mkdtempSync(join(tmpdir(), 'tessera-text-input-')), 'seal.key');
writeFileSync(keyFile, randomBytes(32).toString('base64'), { mode: 0o600 });

describe.each(['sqlite', 'postgres'] as const)('text a store cannot hold, on %s', (store) => {
  const h = useServer({ registration: 'open', clientSecretKeyFile: keyFile }, { store, adminPort: 0 });

  it('OIDC Core §3.1.2.1: a nonce with a control character (NUL included) is invalid_request at the redirect URI', async () => {
    const c = await h.codeClient({ scope: 'openid' });
    const agent = await h.signedIn(await h.alice());
    const p = pkce();
    const query = new URLSearchParams({ response_type: 'code', client_id: c.id, redirect_uri: c.client.redirectUris[0] as string, scope: 'openid', code_challenge: p.challenge, code_challenge_method: 'S256' });
    for (const nonce of ['a%00b', 'a%01b']) {
      const res = await agent.get(`/authorize?${query}&nonce=${nonce}`);
      expect(res.status).toBe(302);
      expect(new URL(res.location as string).searchParams.get('error')).toBe('invalid_request');
    }
    // Any other text goes on to the consent page, to be echoed into the id_token as sent.
    const ok = await agent.get(`/authorize?${query}&nonce=${encodeURIComponent('n-0S6 é ✓')}`);
    expect(ok.status).toBe(200);
  });

  it('RFC 7591 §3.2.2: a client_name with NUL, another control character, a bidirectional override or a lone surrogate is invalid_client_metadata, on create and on update (RFC 7592)', async () => {
    const register = (method: string, path: string, body: string, token?: string) =>
      h.request(path, { method, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body });
    const base = { redirect_uris: ['https://app.example.com/cb'] };
    for (const name of ['"a\\u0000b"', '"a\\u0001b"', '"a\\u202eb"', '"\\ud800"', '"x\\udfffy"']) {
      expectError(await register('POST', '/register', `{"client_name":${name},"redirect_uris":["https://app.example.com/cb"]}`), 400, 'invalid_client_metadata');
    }
    const made = await register('POST', '/register', JSON.stringify({ ...base, client_name: 'Notes ✓' }));
    expect(made.status).toBe(201);
    const path = new URL(made.body.registration_client_uri).pathname;
    const update = await register('PUT', path, `{"client_id":"${made.body.client_id}","client_name":"a\\u0000b","redirect_uris":["https://app.example.com/cb"]}`, made.body.registration_access_token);
    expectError(update, 400, 'invalid_client_metadata');
  });

  it('RFC 8259 §8.2: redirect_uris and post_logout_redirect_uris with a lone surrogate are refused (400) on registration and on update (RFC 7592), never a 500', async () => {
    const register = (method: string, path: string, body: string, token?: string) =>
      h.request(path, { method, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body });
    expectError(await register('POST', '/register', '{"redirect_uris":["https://a.example/\\ud800"]}'), 400, 'invalid_client_metadata');
    expectError(await register('POST', '/register', '{"redirect_uris":["https://a.example/cb"],"post_logout_redirect_uris":["https://a.example/\\udc00"]}'), 400, 'invalid_client_metadata');
    const made = await register('POST', '/register', JSON.stringify({ redirect_uris: ['https://a.example/cb'] }));
    expect(made.status).toBe(201);
    const path = new URL(made.body.registration_client_uri).pathname;
    for (const member of ['redirect_uris', 'post_logout_redirect_uris']) {
      const update = await register('PUT', path, `{"client_id":"${made.body.client_id}","redirect_uris":["https://a.example/cb"],"${member}":["https://a.example/\\ud800x"]}`, made.body.registration_access_token);
      expectError(update, 400, 'invalid_client_metadata');
    }
    // The client is as registered.
    const read = await h.request(path, { headers: { authorization: `Bearer ${made.body.registration_access_token}` } });
    expect(read.body.redirect_uris).toEqual(['https://a.example/cb']);
  });

  it('RFC 7523 §3: a client assertion whose jti holds a lone surrogate is invalid_client; one whose exp has a fraction (RFC 7519 §2 NumericDate) is accepted', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
    const made = await h.request('/register', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token_endpoint_auth_method: 'private_key_jwt', grant_types: ['client_credentials'], jwks: { keys: [jwk] } }),
    });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const id = made.body.client_id as string;
    const token = async (claims: Record<string, unknown>) => {
      const now = Math.floor(Date.now() / 1000);
      const assertion = await new SignJWT({ iss: id, sub: id, aud: h.server.url, jti: crypto.randomUUID(), iat: now, exp: now + 60, ...claims })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(privateKey);
      return h.request('/token', {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion }).toString(),
      });
    };
    for (const jti of ['x\ud800', 'x\ud801', 'x\udfff']) expectError(await token({ jti }), 401, 'invalid_client');
    const fraction = await token({ exp: Math.floor(Date.now() / 1000) + 60.0001234 });
    expect(fraction.status, JSON.stringify(fraction.body)).toBe(200);
  });

  it('a client name with a lone surrogate is refused by the admin API (400), also with a webhook that would carry it', async () => {
    await h.engine.addWebhook('https://hooks.example/tessera', ['*'], { actor: 'test' });
    const token = (await h.engine.createAdminToken({ name: `text-${store}`, readOnly: false, expiresAt: null }, { actor: 'test' }))?.value as string;
    const create = (body: string) => fetch(`${h.server.adminUrl}/admin/api/v1/clients`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
    for (const name of ['"\\ud800"', '"a\\udc00"']) {
      expect((await create(`{"name":${name},"grant_types":["client_credentials"],"scope":"read"}`)).status).toBe(400);
    }
    expect((await create('{"name":"Reports ✓","grant_types":["client_credentials"],"scope":"read"}')).status).toBe(201);
  });

  it('a JSON body with NUL in any member is refused (400) by the admin API, the same on both stores: resources, exchange audiences, a webhook URL; a revocation reason refuses control characters and bidirectional overrides', async () => {
    const token = (await h.engine.createAdminToken({ name: `nul-${store}`, readOnly: false, expiresAt: null }, { actor: 'test' }))?.value as string;
    const call = (method: string, path: string, body: string) =>
      fetch(`${h.server.adminUrl}/admin/api/v1${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
    const client = (extra: string) => `{"name":"nul","grant_types":["client_credentials"],"scope":"read"${extra}}`;
    const cases = [[',"resources":["https://a.example/\\u0000"]', '/body/resources/0'], [',"exchange_audiences":["x","https://a.example/\\u0000"]', '/body/exchange_audiences/1'], [',"\\u0000":1', '/body']];
    for (const [extra, pointer] of cases) {
      const res = await call('POST', '/clients', client(extra as string));
      expect(res.status, extra).toBe(400);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(((await res.json()) as { errors: { pointer: string }[] }).errors).toEqual([expect.objectContaining({ pointer })]);
    }
    const made = await call('POST', '/clients', client(',"resources":["https://a.example/api"]'));
    expect(made.status).toBe(201);
    const id = ((await made.json()) as { client_id: string }).client_id;
    expect((await call('PATCH', `/clients/${id}`, '{"resources":["https://a.example/\\u0000"]}')).status).toBe(400);
    expect((await call('POST', '/webhooks', '{"url":"https://hooks.example/x\\u0000","events":["*"]}')).status).toBe(400);
    for (const reason of ['a\\u0000b', 'a\\u001bb', 'a\\u202eb', '']) {
      expect((await call('POST', '/revocations', `{"type":"client","value":"${id}","reason":"${reason}"}`)).status, reason).toBe(400);
    }
    expect((await call('POST', '/revocations', `{"type":"client","value":"${id}","reason":"rotated ✓"}`)).status).toBe(200);
  });
});
