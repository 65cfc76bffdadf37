/**
 * `tessera client update` and `tessera client rotate-secret --grace` (issue 11), through the CLI
 * on a running server's data file and over HTTP: the client_id never changes, tokens stay valid
 * unless --revoke, new requests follow the new registration, and the audit log never holds a secret.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runTessera } from './cli-kit.js';
import { REDIRECT_URI } from './flows.js';
import { startTestServer, type TestClient, type TestServer } from './helpers.js';

const basicOf = (id: string, secret: string) => `Basic ${btoa(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`)}`;

describe('client update and rotate-secret (issue 11)', () => {
  let server: TestServer;
  let rs: TestClient;

  beforeAll(async () => {
    server = await startTestServer({ legacyGrants: ['password'] });
    rs = await server.createClient({ scope: 'tessera:introspect' });
  });
  afterAll(() => server?.close());

  const active = async (token: string) => (await server.post('/introspect', { token }, { authorization: rs.basic })).body.active as boolean;
  const cc = (authorization: string, scope?: string) =>
    server.post('/token', { grant_type: 'client_credentials', ...(scope ? { scope } : {}) }, { authorization });
  const auditText = async () => JSON.stringify(await server.tessera.store.readAudit(0, 100_000));

  it('client update changes the registration in place: same client_id, tokens stay active, new requests follow it', async () => {
    const c = await server.createClient({ grantTypes: ['client_credentials'], scope: 'read write' });
    const before = await cc(c.basic, 'write');
    expect(before.status).toBe(200);
    const run = await runTessera(server.db, ['client', 'update', c.id, '--name', 'renamed', '--scope', 'read', '--access-ttl', '120', '--token-format', 'jwt', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ client_id: c.id, name: 'renamed', scope: 'read', access_ttl: 120, token_format: 'jwt' });
    // The server hears of the change made by another process within its cache bound.
    await vi.waitFor(async () => expect((await cc(c.basic, 'write')).body.error).toBe('invalid_scope'), { timeout: 5000 });
    // The old secret still works; the token issued before keeps its scope until it expires.
    const after = await cc(c.basic, 'read');
    expect(after.status).toBe(200);
    expect(after.body.expires_in).toBe(120);
    expect(after.body.access_token.split('.')).toHaveLength(3);
    expect(await active(before.body.access_token)).toBe(true);
    expect(await auditText()).toMatch(/"event":"client.updated".*"fields":\["accessTtl","name","scope","tokenFormat"\]/);
    // `default` gives a lifetime back to the server.
    const back = await runTessera(server.db, ['client', 'update', c.id, '--access-ttl', 'default', '--json']);
    expect(JSON.parse(back.stdout).access_ttl).toBeNull();
  });

  it('narrowed scopes: a refresh keeps working and issues access tokens within the scopes registered now', async () => {
    const c = await server.createClient({ grantTypes: ['password', 'refresh_token'], scope: 'read write' });
    const user = await server.createUser();
    const first = await server.post('/token', { grant_type: 'password', username: user.username, password: user.password, scope: 'read write' }, { authorization: c.basic });
    expect(first.status).toBe(200);
    expect((await runTessera(server.db, ['client', 'update', c.id, '--scope', 'read'])).code).toBe(0);
    // Once the server has heard of the change (a refresh before would rotate the token under the old registration).
    await vi.waitFor(async () => {
      const res = await server.post('/token', { grant_type: 'password', username: user.username, password: user.password, scope: 'write' }, { authorization: c.basic });
      expect(res.body.error).toBe('invalid_scope');
    }, { timeout: 5000 });
    const refreshed = await server.post('/token', { grant_type: 'refresh_token', refresh_token: first.body.refresh_token }, { authorization: c.basic });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.scope).toBe('read');
  });

  it('narrowed grant types: the grant taken away is unauthorized_client; tokens already issued stay active', async () => {
    const c = await server.createClient({ grantTypes: ['password', 'refresh_token'], scope: 'read' });
    const user = await server.createUser();
    const first = await server.post('/token', { grant_type: 'password', username: user.username, password: user.password }, { authorization: c.basic });
    expect((await runTessera(server.db, ['client', 'update', c.id, '--grant-type', 'password'])).code).toBe(0);
    // Wait for the server to see the change with a refresh token that is no one's: a real one sent
    // before it did would rotate (and the next try would be reuse, revoking the family).
    await vi.waitFor(async () => {
      const probe = await server.post('/token', { grant_type: 'refresh_token', refresh_token: 'tsr_not-a-token' }, { authorization: c.basic });
      expect(probe.body.error).toBe('unauthorized_client');
    }, { timeout: 5000 });
    const refreshed = await server.post('/token', { grant_type: 'refresh_token', refresh_token: first.body.refresh_token }, { authorization: c.basic });
    expect(refreshed.body.error).toBe('unauthorized_client');
    expect(await active(first.body.access_token)).toBe(true);
  });

  it('client update --post-logout-redirect-uri replaces the URIs /end_session may send the browser to', async () => {
    const c = await server.createClient({ grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI] });
    const run = await runTessera(server.db, ['client', 'update', c.id, '--post-logout-redirect-uri', 'https://app.example/bye', '--post-logout-redirect-uri', 'https://app.example/later', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).post_logout_redirect_uris).toEqual(['https://app.example/bye', 'https://app.example/later']);
    const bad = await runTessera(server.db, ['client', 'update', c.id, '--post-logout-redirect-uri', 'https://app.example/#x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--post-logout-redirect-uri must not have a fragment');
  });

  it('client update --revoke revokes every grant and token of the client, audited', async () => {
    const c = await server.createClient({ grantTypes: ['client_credentials'] });
    const token = (await cc(c.basic)).body.access_token;
    const run = await runTessera(server.db, ['client', 'update', c.id, '--revoke', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ client_id: c.id, revoked_tokens: 1, revoked_grants: 1 });
    expect(await active(token)).toBe(false);
  });

  it('client update refuses bad input with exit 2 (nothing to change, bad values, a registration left inconsistent) and an unknown id with exit 1', async () => {
    const c = await server.createClient({ grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI] });
    const runs = await Promise.all([
      runTessera(server.db, ['client', 'update', c.id]),
      runTessera(server.db, ['client', 'update', c.id, '--access-ttl', 'soon']),
      runTessera(server.db, ['client', 'update', c.id, '--grant-type', 'telepathy']),
      runTessera(server.db, ['client', 'update', c.id, '--redirect-uri', 'https://app.example/cb#frag']),
      runTessera(server.db, ['client', 'update', c.id, '--scope', '']),
    ]);
    expect(runs.map((r) => r.code)).toEqual([2, 2, 2, 2, 2]);
    expect(runs[0]?.stderr).toMatch(/nothing to change/);
    const pub = await server.createClient({ authMethod: 'none', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI] });
    const inconsistent = await runTessera(server.db, ['client', 'update', pub.id, '--grant-type', 'client_credentials']);
    expect(inconsistent.code).toBe(2);
    expect(inconsistent.stderr).toMatch(/public client cannot use client_credentials/);
    expect((await runTessera(server.db, ['client', 'update', 'nobody', '--name', 'x'])).code).toBe(1);
    expect((await server.tessera.store.getClient(c.id))?.grantTypes).toEqual(['authorization_code']);
  });

  it('rotate-secret --grace: the old secret keeps working for the grace period, then stops; the new one works', async () => {
    const c = await server.createClient({ grantTypes: ['client_credentials'] });
    const run = await runTessera(server.db, ['client', 'rotate-secret', c.id, '--grace', '2', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const rotated = JSON.parse(run.stdout) as { client_id: string; client_secret: string; previous_secret_expires_at: string };
    expect(rotated.client_id).toBe(c.id);
    expect(Date.parse(rotated.previous_secret_expires_at)).toBeGreaterThan(Date.now());
    const fresh = basicOf(c.id, rotated.client_secret);
    await vi.waitFor(async () => expect((await cc(fresh)).status).toBe(200), { timeout: 5000 });
    expect((await cc(c.basic)).status).toBe(200);
    // Also at the revocation and introspection endpoints, which authenticate the same way.
    expect((await server.post('/revoke', { token: 'unknown' }, { authorization: c.basic })).status).toBe(200);
    await vi.waitFor(async () => expect((await cc(c.basic)).status).toBe(401), { timeout: 5000, interval: 200 });
    expect((await cc(fresh)).status).toBe(200);
    const audit = await auditText();
    expect(audit).toMatch(/"event":"client.secret_rotated"[^}]*"grace_seconds":2/);
    expect(audit).not.toContain(rotated.client_secret);
    expect(audit).not.toContain(c.secret);
  });

  it('rotate-secret twice within a grace period: the secret before the last stops at once', async () => {
    const c = await server.createClient({ grantTypes: ['client_credentials'] });
    const first = JSON.parse((await runTessera(server.db, ['client', 'rotate-secret', c.id, '--grace', '600', '--json'])).stdout);
    const second = JSON.parse((await runTessera(server.db, ['client', 'rotate-secret', c.id, '--grace', '600', '--json'])).stdout);
    await vi.waitFor(async () => expect((await cc(c.basic)).status).toBe(401), { timeout: 5000 });
    expect((await cc(basicOf(c.id, first.client_secret))).status).toBe(200);
    expect((await cc(basicOf(c.id, second.client_secret))).status).toBe(200);
  });

  it('rotate-secret --revoke ends the tokens issued before; a bad --grace (not whole seconds, past ten years) exits 2', async () => {
    const c = await server.createClient({ grantTypes: ['client_credentials'] });
    const token = (await cc(c.basic)).body.access_token;
    const run = await runTessera(server.db, ['client', 'rotate-secret', c.id, '--revoke', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ revoked_tokens: 1, previous_secret_expires_at: null });
    expect(await active(token)).toBe(false);
    for (const grace of ['-5', '1.5', '9000000000000']) {
      const bad = await runTessera(server.db, ['client', 'rotate-secret', c.id, '--grace', grace]);
      expect(bad.code, grace).toBe(2);
      expect(bad.stdout).toBe('');
    }
  });
});
