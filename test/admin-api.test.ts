/**
 * The admin API (issue 13), through HTTP: its own listener, admin-token authentication, problem
 * details (RFC 9457), clients and users with the CLI's rules, audit by the token's name, and the
 * OpenAPI document against the route table.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { adminRoutes, startServer } from '@tessera/server';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminServer, startAdminServer } from './admin-kit.js';

let s: AdminServer & { closeAll(): Promise<void> };
let token: string;

beforeAll(async () => {
  s = await startAdminServer();
  token = await s.adminToken('ops');
});
afterAll(() => s?.closeAll());

const problem = (res: { status: number; headers: Headers; body: any }, status: number) => {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.body).toMatchObject({ type: 'about:blank', status, title: expect.any(String) });
};

describe('admin API listener', () => {
  it('the admin API is served only on its own listener: the public one answers 404', async () => {
    expect(s.adminUrl).not.toBe(s.url);
    const pub = await fetch(`${s.url}/admin/api/v1/clients`, { headers: { authorization: `Bearer ${token}` } });
    expect(pub.status).toBe(404);
    expect((await s.call(token, 'GET', '/clients')).status).toBe(200);
  });

  it('the OAuth endpoints are not on the admin listener', async () => {
    expect((await fetch(`${s.adminUrl}/token`, { method: 'POST' })).status).toBe(404);
  });
});

describe('admin API authentication (RFC 6750 §3)', () => {
  it('no token: 401 with WWW-Authenticate: Bearer, as a problem', async () => {
    const res = await s.call(undefined, 'GET', '/clients');
    problem(res, 401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
  });

  it('a wrong, a revoked and an expired token: 401 invalid_token', async () => {
    const revoked = await s.adminToken('gone');
    const name = (await s.tessera.store.listAdminTokens()).find((t) => revoked.includes(t.id))?.name as string;
    await s.tessera.engine.revokeAdminToken(name, { actor: 'test' });
    const expired = await s.adminToken('old', { expiresAt: Date.now() - 1 });
    for (const bad of ['tsadm_nope', `${token.slice(0, -2)}xx`, revoked, expired]) {
      const res = await s.call(bad, 'GET', '/clients');
      problem(res, 401);
      expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    }
  });

  it('a read-only token reads, and gets 403 on every write', async () => {
    const ro = await s.adminToken('viewer', { readOnly: true });
    expect((await s.call(ro, 'GET', '/users')).status).toBe(200);
    problem(await s.call(ro, 'POST', '/users', { username: 'x', password: 'correct horse battery staple' }), 403);
    expect(await s.tessera.store.getUserByName('x')).toBeUndefined();
  });

  it('every admin response is Cache-Control: no-store', async () => {
    for (const path of ['/clients', '/users', '/openapi.json', '/nope']) {
      expect((await s.call(token, 'GET', path)).headers.get('cache-control')).toBe('no-store');
    }
  });
});

describe('problem details on bad input (never 500)', () => {
  it('400 with errors for invalid fields, unknown fields, bad JSON and bad query values', async () => {
    const invalid = await s.call(token, 'POST', '/clients', { name: '', grant_types: ['nope'], scope: 'read' });
    problem(invalid, 400);
    expect(invalid.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual(expect.arrayContaining(['/body/name', '/body/grant_types/0']));
    problem(await s.call(token, 'POST', '/clients', { name: 'a', grant_types: ['client_credentials'], scope: 'read', secret: 'x' }), 400);
    problem(await s.call(token, 'POST', '/clients', '{not json'), 400);
    problem(await s.call(token, 'GET', '/clients?limit=0'), 400);
    problem(await s.call(token, 'GET', '/clients?limit=1&limit=2'), 400);
    // The OpenAPI document says integer: decimal digits only, not whatever Number() reads as one.
    for (const limit of ['0x2', '0b11', '1e1', '5.0', '%20%204%20', '']) {
      const res = await s.call(token, 'GET', `/clients?limit=${limit}`);
      problem(res, 400);
      expect(res.body.errors, limit).toEqual([expect.objectContaining({ pointer: '/query/limit' })]);
    }
    expect((await s.call(token, 'GET', '/clients?limit=2')).status).toBe(200);
    problem(await s.call(token, 'GET', '/clients?cursor=%%%'), 400);
  });

  it('415 for a body that is not JSON, 404 for unknown ids and paths, 405 with Allow for a wrong method', async () => {
    const form = await fetch(`${s.adminUrl}/admin/api/v1/clients`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=b' });
    expect(form.status).toBe(415);
    expect(form.headers.get('content-type')).toBe('application/problem+json');
    problem(await s.call(token, 'GET', '/clients/nope'), 404);
    // An unknown id is quoted cut to 128 characters, as webhooks' are.
    const long = await s.call(token, 'GET', `/clients/${'x'.repeat(5000)}`);
    problem(long, 404);
    expect(long.body.detail).toBe(`no client with id '${'x'.repeat(128)}'`);
    expect((await s.call(token, 'GET', `/users/${'y'.repeat(5000)}`)).body.detail).toBe(`no user with id '${'y'.repeat(128)}'`);
    problem(await s.call(token, 'GET', '/nothing'), 404);
    const wrong = await s.call(token, 'PUT', '/clients');
    problem(wrong, 405);
    expect(wrong.headers.get('allow')).toBe('GET, HEAD, POST');
  });

  it('422 for a registration the CLI refuses too (shared rules), 409 for a taken username', async () => {
    const res = await s.call(token, 'POST', '/clients', { name: 'web', grant_types: ['authorization_code'], scope: 'read' });
    problem(res, 422);
    expect(res.body.detail).toMatch(/authorization_code needs at least one redirect_uris/);
    problem(await s.call(token, 'POST', '/clients', { name: 'pub', grant_types: ['client_credentials'], scope: 'read', token_endpoint_auth_method: 'none' }), 422);
    expect((await s.call(token, 'POST', '/users', { username: 'dup', password: 'correct horse battery staple' })).status).toBe(201);
    problem(await s.call(token, 'POST', '/users', { username: 'dup', password: 'correct horse battery staple' }), 409);
    problem(await s.call(token, 'POST', '/users', { username: 'weak', password: 'password' }), 422);
  });
});

describe('clients and users', () => {
  it('a client: create (secret once), list, show, update, delete; audited as admin:NAME, never with the token', async () => {
    const made = await s.call(token, 'POST', '/clients', { name: 'svc', grant_types: ['client_credentials'], scope: 'write read' });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ name: 'svc', scope: 'read write', client_secret: expect.stringMatching(/^tss_/) });
    const id = made.body.client_id as string;
    const shown = await s.call(token, 'GET', `/clients/${id}`);
    expect(shown.body.client_secret).toBeUndefined();
    expect(JSON.stringify(shown.body)).not.toContain(made.body.client_secret);
    const listed = await s.call(token, 'GET', '/clients?limit=500');
    expect(listed.body.items.map((c: { client_id: string }) => c.client_id)).toContain(id);
    const updated = await s.call(token, 'PATCH', `/clients/${id}`, { name: 'svc2', access_ttl: 60 });
    expect(updated.body).toMatchObject({ name: 'svc2', access_ttl: 60 });
    const deleted = await s.call(token, 'DELETE', `/clients/${id}`);
    expect(deleted.body).toMatchObject({ client_id: id, deleted: true });
    problem(await s.call(token, 'GET', `/clients/${id}`), 404);
    const audit = await s.tessera.store.readAudit(0, 10_000);
    const mine = audit.filter((r) => r.clientId === id);
    expect(mine.map((r) => r.event)).toEqual(expect.arrayContaining(['client.created', 'client.updated', 'client.deleted']));
    const name = (await s.tessera.store.listAdminTokens()).find((t) => token.includes(t.id))?.name;
    for (const r of mine) expect(r.actor).toBe(`admin:${name}`);
    expect(JSON.stringify(audit)).not.toContain(token);
    expect(JSON.stringify(audit)).not.toContain(token.slice(-43));
  });

  it('a user: create, show, update the profile, change the password (revokes), delete', async () => {
    const made = await s.call(token, 'POST', '/users', { username: 'alice', password: 'correct horse battery staple', email: 'alice@example.com' });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ username: 'alice', email: 'alice@example.com', email_verified: false });
    expect(JSON.stringify(made.body)).not.toContain('scrypt');
    const id = made.body.id as string;
    expect((await s.call(token, 'GET', `/users/${id}`)).body.username).toBe('alice');
    expect((await s.call(token, 'PATCH', `/users/${id}`, { name: 'Alice', email_verified: true })).body).toMatchObject({ name: 'Alice', email_verified: true });
    expect((await s.call(token, 'PATCH', `/users/${id}`, { password: 'another long passphrase here' })).body).toMatchObject({ revoked_tokens: 0 });
    problem(await s.call(token, 'PATCH', `/users/${id}`, { email: 'not an address' }), 400);
    expect((await s.call(token, 'DELETE', `/users/${id}`)).body).toMatchObject({ id, deleted: true });
    problem(await s.call(token, 'DELETE', `/users/${id}`), 404);
  });
});

describe('client secret rotation: POST /clients/{id}/secret (as `tessera client rotate-secret`)', () => {
  /** A client_credentials token request authenticated with HTTP Basic (RFC 6749 §2.3.1): its status. */
  const tokenStatus = async (clientId: string, secret: string) =>
    (await fetch(`${s.url}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${btoa(`${clientId}:${secret}`)}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&scope=read',
    })).status;
  const confidential = async (name: string) => (await s.call(token, 'POST', '/clients', { name, grant_types: ['client_credentials'], scope: 'read' })).body as { client_id: string; client_secret: string };

  it('answers the new client_secret once (no-store); the old secret is refused at /token at once, the new one works; audited as admin:NAME without either secret', async () => {
    const c = await confidential('rotated');
    expect(await tokenStatus(c.client_id, c.client_secret)).toBe(200);
    const res = await s.call(token, 'POST', `/clients/${c.client_id}/secret`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toEqual({ client_id: c.client_id, client_secret: expect.stringMatching(/^tss_/), previous_secret_expires_at: null });
    const fresh = res.body.client_secret as string;
    expect(fresh).not.toBe(c.client_secret);
    expect(await tokenStatus(c.client_id, c.client_secret)).toBe(401);
    expect(await tokenStatus(c.client_id, fresh)).toBe(200);
    expect(JSON.stringify((await s.call(token, 'GET', `/clients/${c.client_id}`)).body)).not.toContain(fresh);
    const audit = await s.tessera.store.readAudit(0, 10_000);
    const rotation = audit.filter((r) => r.clientId === c.client_id && r.event === 'client.secret_rotated');
    const name = (await s.tessera.store.listAdminTokens()).find((t) => token.includes(t.id))?.name;
    expect(rotation).toEqual([expect.objectContaining({ actor: `admin:${name}`, data: { grace_seconds: 0 } })]);
    for (const secret of [fresh, c.client_secret]) expect(JSON.stringify(audit)).not.toContain(secret.slice(4));
  });

  it('grace: the old secret keeps working until previous_secret_expires_at; revoke: the tokens issued before are revoked', async () => {
    const c = await confidential('graced');
    const issued = await fetch(`${s.url}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${btoa(`${c.client_id}:${c.client_secret}`)}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&scope=read',
    });
    expect(issued.status).toBe(200);
    const before = Date.now();
    const res = await s.call(token, 'POST', `/clients/${c.client_id}/secret`, { grace: 600, revoke: true });
    expect(res.status).toBe(200);
    expect(Date.parse(res.body.previous_secret_expires_at)).toBeGreaterThanOrEqual(before + 600_000);
    expect(res.body).toMatchObject({ revoked_tokens: 1, revoked_grants: 1 });
    expect(await tokenStatus(c.client_id, c.client_secret)).toBe(200);
    expect(await tokenStatus(c.client_id, res.body.client_secret)).toBe(200);
  });

  it('404 for an unknown client; 409 for a public or private_key_jwt client (no secret to rotate); 400 for a bad grace or an unknown field', async () => {
    problem(await s.call(token, 'POST', '/clients/nobody/secret'), 404);
    const pub = await s.call(token, 'POST', '/clients', { name: 'spa', grant_types: ['authorization_code'], redirect_uris: ['https://app.example/cb'], scope: 'read', token_endpoint_auth_method: 'none' });
    const keyed = await s.call(token, 'POST', '/clients', { name: 'keyed', grant_types: ['client_credentials'], scope: 'read', token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://keys.example/jwks.json' });
    expect([pub.status, keyed.status]).toEqual([201, 201]);
    const publicRefused = await s.call(token, 'POST', `/clients/${pub.body.client_id}/secret`, {});
    problem(publicRefused, 409);
    expect(publicRefused.body.detail).toMatch(/public .*no secret to rotate/);
    const keyedRefused = await s.call(token, 'POST', `/clients/${keyed.body.client_id}/secret`, { grace: 60 });
    problem(keyedRefused, 409);
    expect(keyedRefused.body.detail).toMatch(/private_key_jwt: it has no secret to rotate/);
    expect(JSON.stringify([publicRefused.body, keyedRefused.body])).not.toMatch(/tss_/);
    const c = await confidential('bad-input');
    for (const body of [{ grace: -1 }, { grace: 1.5 }, { grace: '60' }, { grace: 1e12 }, { revoke: 'yes' }, { secret: 'mine' }]) {
      problem(await s.call(token, 'POST', `/clients/${c.client_id}/secret`, body), 400);
    }
    expect(await tokenStatus(c.client_id, c.client_secret)).toBe(200);
  });

  it('a read-only admin token gets 403 and the secret stays', async () => {
    const c = await confidential('kept');
    problem(await s.call(await s.adminToken('viewer', { readOnly: true }), 'POST', `/clients/${c.client_id}/secret`), 403);
    expect(await tokenStatus(c.client_id, c.client_secret)).toBe(200);
    expect((await s.tessera.store.readAudit(0, 10_000)).filter((r) => r.clientId === c.client_id && r.event === 'client.secret_rotated')).toEqual([]);
  });

  it('client_secret_jwt: a grace period is refused (422: its sealed secret is one at a time); without one the secret rotates', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-admin-sealing-'));
    const keyFile = join(dir, 'client-secret.key');
    writeFileSync(keyFile, `${crypto.getRandomValues(Buffer.alloc(32)).toString('base64')}\n`, { mode: 0o600 });
    const sealed = await startAdminServer(undefined, { clientSecretKeyFile: keyFile });
    try {
      const admin = await sealed.adminToken('ops');
      const c = await sealed.call(admin, 'POST', '/clients', { name: 'hmac', grant_types: ['client_credentials'], scope: 'read', token_endpoint_auth_method: 'client_secret_jwt' });
      expect(c.status).toBe(201);
      const graced = await sealed.call(admin, 'POST', `/clients/${c.body.client_id}/secret`, { grace: 60 });
      problem(graced, 422);
      expect(graced.body.errors).toEqual([{ pointer: '/body/grace', detail: expect.stringMatching(/not available for client_secret_jwt/) }]);
      const rotated = await sealed.call(admin, 'POST', `/clients/${c.body.client_id}/secret`, { grace: 0 });
      expect(rotated.status).toBe(200);
      expect(rotated.body.client_secret).not.toBe(c.body.client_secret);
    } finally {
      await sealed.closeAll();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('OpenAPI document', () => {
  it('every registered route is in /admin/api/v1/openapi.json with its method, and every documented operation is a route', async () => {
    const res = await fetch(`${s.adminUrl}/admin/api/v1/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)).sort();
    const registered = adminRoutes.map((r) => `${r.method} /admin/api/v1${r.path}`).sort();
    expect(documented).toEqual(registered);
    // A body the operation can do without (secret rotation's options) is documented as optional.
    const bodyRequired = (path: string, method: string) => (doc.paths[`/admin/api/v1${path}`]?.[method] as { requestBody?: { required: boolean } } | undefined)?.requestBody?.required;
    expect(bodyRequired('/clients/{id}/secret', 'post')).toBe(false);
    expect(bodyRequired('/clients/{id}', 'patch')).toBe(true);
    // And each one answers on the admin listener (never 404/405 for its path and method).
    for (const r of adminRoutes) {
      // An event stream stays open: its headers are the answer (HEAD).
      const answer = await s.call(token, r.eventStream ? 'HEAD' : r.method, r.path.replace(/\{\w+\}/g, 'none'), r.body ? {} : undefined);
      expect([404, 405].includes(answer.status) && answer.body.detail?.startsWith('no such admin API resource'), `${r.method} ${r.path}`).toBe(false);
      expect(answer.status, `${r.method} ${r.path}`).not.toBe(405);
    }
  });
});

describe('the access log of the admin listener', () => {
  it('names the admin token that made each call (admin:NAME), never its value', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const dir = mkdtempSync(join(tmpdir(), 'tessera-admin-log-'));
    const running = await startServer({ db: join(dir, 'tessera.db'), port: 0, host: '127.0.0.1', adminPort: 0, synchronous: 'normal', logger: pino({ level: 'info' }, sink) });
    try {
      const made = await running.tessera.engine.createAdminToken({ name: 'auditor', readOnly: true, expiresAt: null }, { actor: 'test' });
      const value = made?.value as string;
      const call = (method: string, path: string) => fetch(`${running.adminUrl}/admin/api/v1${path}`, { method, headers: { authorization: `Bearer ${value}` } });
      expect((await call('GET', '/clients')).status).toBe(200);
      // A refused write is logged with its actor too.
      expect((await call('DELETE', '/clients/nope')).status).toBe(403);
      const entries = lines.map((l) => JSON.parse(l)).filter((e) => e.msg === 'request' && e.listener === 'admin');
      expect(entries.map((e) => [e.method, e.status, e.actor])).toEqual([['GET', 200, 'admin:auditor'], ['DELETE', 403, 'admin:auditor']]);
      expect(lines.join('')).not.toContain(value.slice(6));
    } finally {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
