/**
 * The registration gate through the CLI (issue 11's fixed names): `tessera serve --registration
 * off|token|open` and `tessera client initial-token [--expires-in S]`.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTessera, serve, tempDir, tessera } from './cli-kit.js';
import { startTestServer, type TestServer } from './helpers.js';

const registerAt = (url: string, token?: string) =>
  fetch(`${url}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    body: JSON.stringify({ grant_types: ['client_credentials'], scope: 'openid' }),
  });

describe('tessera client initial-token', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.close());

  it('prints a token (once, stored hashed) that registers one client at /register, then no more', async () => {
    const run = await runTessera(server.db, ['client', 'initial-token', '--expires-in', '600', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const { initial_access_token: token, expires_at } = JSON.parse(run.stdout) as { initial_access_token: string; expires_at: string };
    expect(token).toMatch(/^tsi_[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(expires_at) - Date.now()).toBeGreaterThan(590_000);
    expect((await registerAt(server.url, token)).status).toBe(201);
    expect((await registerAt(server.url, token)).status).toBe(401);
    const audit = JSON.stringify(await server.tessera.store.readAudit(0, 100_000));
    expect(audit).toContain('registration.initial_token_created');
    expect(audit).not.toContain(token);
  });

  it('without --json: the token and its expiry as fields, and a note on stderr that it is shown once', async () => {
    const run = await runTessera(server.db, ['client', 'initial-token']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^initial_access_token {2}tsi_\S+\nexpires_at {12}\S+Z\n$/);
    expect(run.stderr).toMatch(/shown only this once/);
  });

  it('a bad --expires-in is a usage error with a clear message and exit 2', async () => {
    for (const value of ['0', 'soon', '1.5']) {
      const run = await runTessera(server.db, ['client', 'initial-token', '--expires-in', value]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/--expires-in must be a positive whole number of seconds/);
    }
  });
});

describe('tessera serve --registration', () => {
  it('open lets anyone register; off answers 404 and the metadata names no registration_endpoint; token (the default) wants an initial access token', async () => {
    const dir = tempDir();
    for (const [mode, unauthenticated, named] of [['open', 201, true], ['off', 404, false], [undefined, 401, true]] as const) {
      const served = await serve(['--db', join(dir, `${mode ?? 'default'}.db`), ...(mode === undefined ? [] : ['--registration', mode])]);
      try {
        expect((await registerAt(served.url)).status, served.stderr()).toBe(unauthenticated);
        const meta = (await (await fetch(`${served.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
        expect(meta.registration_endpoint !== undefined).toBe(named);
      } finally {
        await served.stop();
      }
    }
  });

  it('an unknown mode is refused with the modes named', async () => {
    const run = await tessera(['serve', '--registration', 'sometimes', '--db', join(tempDir(), 't.db')]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/off, token, open/);
  });
});
