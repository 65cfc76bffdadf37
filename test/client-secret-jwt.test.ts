/**
 * client_secret_jwt (RFC 7523 §2.2; OpenID Connect Core §9): the client signs its assertion with
 * HMAC keyed by its client_secret. Tessera keeps that secret sealed under a key file outside the
 * database (setting clientSecretKeyFile), never in the clear; without the file the method is off.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Run, tessera } from './cli-kit.js';
import { startTestServer, type TestResponse, type TestServer } from './helpers.js';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

describe('client_secret_jwt with a sealed secret (RFC 7523, OpenID Connect Core §9)', () => {
  let server: TestServer;
  let keyFile: string;
  let dir: string;
  let client: { client_id: string; client_secret: string };

  const cli = (args: string[], env: Record<string, string> = {}): Promise<Run> =>
    tessera(args, { env: { TESSERA_DB: server.db, TESSERA_CLIENT_SECRET_KEY_FILE: keyFile, ...env } });
  const createArgs = ['client', 'create', '--name', 'hmac', '--grant-type', 'client_credentials', '--scope', 'read', '--auth-method', 'client_secret_jwt', '--json'];
  const assertion = (secret: string, id: string, claims: JWTPayload = {}, alg = 'HS256') => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: id, sub: id, aud: server.url, jti: crypto.randomUUID(), exp: now + 60, ...claims })
      .setProtectedHeader({ alg })
      .sign(new TextEncoder().encode(secret));
  };
  const token = (value: string) => server.post('/token', { grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: value });
  const refused = (res: TestResponse) => {
    expect(res.status, JSON.stringify(res.body)).toBe(401);
    expect(res.body.error).toBe('invalid_client');
    expect(res.headers.get('cache-control')).toBe('no-store');
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-sealing-'));
    keyFile = join(dir, 'client-secret.key');
    writeFileSync(keyFile, `${crypto.getRandomValues(Buffer.alloc(32)).toString('base64')}\n`, { mode: 0o600 });
    server = await startTestServer({ clientSecretKeyFile: keyFile });
    const run = await cli(createArgs);
    expect(run.code, run.stderr).toBe(0);
    client = JSON.parse(run.stdout);
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('RFC 8414 §2: metadata lists client_secret_jwt and the HMAC algorithms when the server has its key', async () => {
    const meta = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, string[]>;
    for (const endpoint of ['token', 'revocation', 'introspection']) {
      expect(meta[`${endpoint}_endpoint_auth_methods_supported`]).toContain('client_secret_jwt');
      expect(meta[`${endpoint}_endpoint_auth_signing_alg_values_supported`]).toEqual(expect.arrayContaining(['HS256', 'ES256']));
    }
  });

  it('OpenID Connect Core §9: an assertion signed with HMAC of the client_secret authenticates the client', async () => {
    const res = await token(await assertion(client.client_secret, client.client_id));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect((await token(await assertion(client.client_secret, client.client_id, {}, 'HS512'))).status).toBe(200);
  });

  it('the database never holds the secret in the clear: only its hash and its sealed form', async () => {
    const stored = await server.tessera.store.getClient(client.client_id);
    expect(stored?.sealedSecret).toMatch(/^v1\./);
    expect(stored?.sealedSecret).not.toContain(client.client_secret);
    for (const file of [server.db, `${server.db}-wal`]) {
      let bytes = '';
      try {
        bytes = readFileSync(file).toString('latin1');
      } catch {}
      expect(bytes.includes(client.client_secret)).toBe(false);
    }
  });

  it('refused: a wrong secret, a replayed jti, a non-HMAC alg, the secret sent itself (Basic or post)', async () => {
    refused(await token(await assertion('tss_not-the-secret-at-all-0000000000000000000', client.client_id)));
    const once = await assertion(client.client_secret, client.client_id);
    expect((await token(once)).status).toBe(200);
    refused(await token(once));
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    refused(await token(`${b64({ alg: 'none' })}.${b64({ iss: client.client_id, sub: client.client_id, aud: server.url, jti: 'x', exp: 9e9 })}.`));
    const basic = `Basic ${btoa(`${client.client_id}:${client.client_secret}`)}`;
    refused(await server.post('/token', { grant_type: 'client_credentials' }, { authorization: basic }));
    refused(await server.post('/token', { grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret }));
  });

  it('rotate-secret: the new secret works and the old one stops at once; --grace is refused for client_secret_jwt', async () => {
    const run = await cli(['client', 'create', '--name', 'rot', '--grant-type', 'client_credentials', '--scope', 'read', '--auth-method', 'client_secret_jwt', '--json']);
    const c = JSON.parse(run.stdout) as { client_id: string; client_secret: string };
    const graced = await cli(['client', 'rotate-secret', c.client_id, '--grace', '60']);
    expect(graced.code).toBe(2);
    expect(graced.stderr).toMatch(/not available for client_secret_jwt/);
    const rotated = await cli(['client', 'rotate-secret', c.client_id, '--json']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const fresh = JSON.parse(rotated.stdout).client_secret as string;
    await expect.poll(async () => (await token(await assertion(fresh, c.client_id))).status).toBe(200);
    refused(await token(await assertion(c.client_secret, c.client_id)));
  });

  it('without a usable key file the CLI refuses client_secret_jwt with a clear message, creating nothing', async () => {
    const before = (await server.tessera.store.listClients()).length;
    const unset = await cli(createArgs, { TESSERA_CLIENT_SECRET_KEY_FILE: '' });
    expect(unset.code).toBe(2);
    expect(unset.stderr).toMatch(/TESSERA_CLIENT_SECRET_KEY_FILE/);
    const loose = join(server.dir, 'loose.key');
    writeFileSync(loose, readFileSync(keyFile));
    chmodSync(loose, 0o644);
    const readable = await cli(createArgs, { TESSERA_CLIENT_SECRET_KEY_FILE: loose });
    expect(readable.code).toBe(1);
    expect(readable.stderr).toMatch(/owner only/);
    expect((await server.tessera.store.listClients()).length).toBe(before);
  });
});
