/**
 * Clients that must use DPoP (RFC 9449 §5.2 dpop_bound_access_tokens): registered by the CLI
 * (`client create --require-dpop`, `client update --require-dpop | --no-require-dpop`) against a
 * running `tessera serve`, and by dynamic registration (RFC 7591, read and replaced per RFC 7592).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runTessera, type Served, serve, tempDir } from './cli-kit.js';
import { dpopKey, proof } from './dpop-kit.js';
import { expectError, useServer } from './flows.js';
import { basic } from './instances.js';

describe('tessera client create|update --require-dpop', () => {
  let dir: string;
  let db: string;
  let served: Served;
  beforeAll(async () => {
    dir = tempDir();
    db = join(dir, 'tessera.db');
    served = await serve(['--db', db]);
  });
  afterAll(async () => {
    await served?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const token = async (c: { client_id: string; client_secret: string }, withProof: boolean) => {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(c.client_id, c.client_secret) };
    if (withProof) headers.dpop = proof(await dpopKey(), { htm: 'POST', htu: `${served.url}/token` });
    const res = await fetch(`${served.url}/token`, { method: 'POST', headers, body: 'grant_type=client_credentials' });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  };

  it('RFC 9449 §5.2: a client created with --require-dpop gets invalid_dpop_proof without a proof and DPoP tokens with one; --no-require-dpop lifts it, --require-dpop sets it again', async () => {
    const created = await runTessera(db, ['client', 'create', '--name', 'api', '--grant-type', 'client_credentials', '--scope', 'read', '--require-dpop', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const c = JSON.parse(created.stdout);
    expect(c.dpop_bound_access_tokens).toBe(true);
    expectError(await token(c, false), 400, 'invalid_dpop_proof');
    expect((await token(c, true)).body.token_type).toBe('DPoP');

    const lifted = await runTessera(db, ['client', 'update', c.client_id, '--no-require-dpop', '--json']);
    expect(lifted.code, lifted.stderr).toBe(0);
    expect(JSON.parse(lifted.stdout).dpop_bound_access_tokens).toBe(false);
    // The running server sees the change within its client cache's bound.
    await vi.waitFor(async () => expect((await token(c, false)).body.token_type).toBe('Bearer'), { timeout: 5000, interval: 50 });

    const again = await runTessera(db, ['client', 'update', c.client_id, '--require-dpop']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/dpop_bound_access_tokens\s+yes/);
    await vi.waitFor(async () => expectError(await token(c, false), 400, 'invalid_dpop_proof'), { timeout: 5000, interval: 50 });
  });

  it('client update refuses --require-dpop with --no-require-dpop (exit 2); a client made without the flag does not require DPoP', async () => {
    const created = await runTessera(db, ['client', 'create', '--name', 'plain', '--grant-type', 'client_credentials', '--scope', 'read', '--json']);
    const c = JSON.parse(created.stdout);
    expect(c.dpop_bound_access_tokens).toBe(false);
    const both = await runTessera(db, ['client', 'update', c.client_id, '--require-dpop', '--no-require-dpop']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--require-dpop or --no-require-dpop, not both/);
    expect((await token(c, false)).body.token_type).toBe('Bearer');
  });
});

describe('dpop_bound_access_tokens in dynamic registration (RFC 7591 §2, RFC 7592)', () => {
  const h = useServer({ registration: 'open', registrationScopes: 'read' });
  const register = (metadata: unknown) => h.request('/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(metadata) });

  it('RFC 9449 §5.2: a client registered with dpop_bound_access_tokens true has it shown back (GET), must send proofs, and a PUT without it turns it off', async () => {
    const reg = await register({ grant_types: ['client_credentials'], scope: 'read', dpop_bound_access_tokens: true });
    expect(reg.status, JSON.stringify(reg.body)).toBe(201);
    expect(reg.body.dpop_bound_access_tokens).toBe(true);
    const { client_id, client_secret, registration_access_token: rat, registration_client_uri: uri } = reg.body;
    const auth = { authorization: basic(client_id, client_secret) };
    expectError(await h.post('/token', { grant_type: 'client_credentials' }, auth), 400, 'invalid_dpop_proof');
    const bound = await h.post('/token', { grant_type: 'client_credentials' }, { ...auth, dpop: proof(await dpopKey(), { htm: 'POST', htu: `${h.server.url}/token` }) });
    expect(bound.body.token_type).toBe('DPoP');

    const read = await h.request(new URL(uri).pathname, { headers: { authorization: `Bearer ${rat}` } });
    expect(read.body.dpop_bound_access_tokens).toBe(true);
    const put = await h.request(new URL(uri).pathname, {
      method: 'PUT', headers: { authorization: `Bearer ${rat}`, 'content-type': 'application/json' }, body: JSON.stringify({ client_id, grant_types: ['client_credentials'], scope: 'read' }),
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    // RFC 7591 §2: false, the default, goes unsaid.
    expect(put.body.dpop_bound_access_tokens).toBeUndefined();
    expect((await h.post('/token', { grant_type: 'client_credentials' }, auth)).body.token_type).toBe('Bearer');
  });

  it('RFC 7591 §3.2.2: dpop_bound_access_tokens that is not a boolean is invalid_client_metadata', async () => {
    expectError(await register({ grant_types: ['client_credentials'], scope: 'read', dpop_bound_access_tokens: 'yes' }), 400, 'invalid_client_metadata');
  });
});
