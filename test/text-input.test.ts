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

  it('a client name with a lone surrogate is refused by the admin API (400), also with a webhook that would carry it', async () => {
    await h.engine.addWebhook('https://hooks.example/tessera', ['*'], { actor: 'test' });
    const token = (await h.engine.createAdminToken({ name: `text-${store}`, readOnly: false, expiresAt: null }, { actor: 'test' }))?.value as string;
    const create = (body: string) => fetch(`${h.server.adminUrl}/admin/api/v1/clients`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
    for (const name of ['"\\ud800"', '"a\\udc00"']) {
      expect((await create(`{"name":${name},"grant_types":["client_credentials"],"scope":"read"}`)).status).toBe(400);
    }
    expect((await create('{"name":"Reports ✓","grant_types":["client_credentials"],"scope":"read"}')).status).toBe(201);
  });
});
