/**
 * `tessera admin token create|list|revoke` and `serve --admin-port` (issue 13): the token is
 * printed once and stored hashed, listed and revoked by name or id; bad --expires values are usage
 * errors; the admin listener is off unless asked for.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { serve, tempDir, tessera } from './cli-kit.js';

const dir = tempDir();
const db = join(dir, 'tessera.db');
const run = (args: string[], env: Record<string, string> = {}) => tessera(args, { env: { TESSERA_DB: db, ...env } });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tessera admin token', () => {
  it('create prints the token once; list shows its name and never its value; the data file holds only its hash', async () => {
    const made = await run(['admin', 'token', 'create', '--name', 'ops', '--expires', '30d']);
    expect(made.code).toBe(0);
    const value = made.stdout.trim();
    expect(value).toMatch(/^tsadm_[0-9a-f]{32}[\w-]{43}$/);
    const listed = await run(['admin', 'token', 'list', '--json']);
    const [token] = JSON.parse(listed.stdout);
    expect(token).toMatchObject({ name: 'ops', read_only: false, status: 'active', revoked_at: null });
    expect(Date.parse(token.expires_at) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    expect(listed.stdout).not.toContain(value.slice(-43));
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(db).includes(Buffer.from(value.slice(-43)))).toBe(false);
  });

  it('a name is never reused (exit 1); --name and --expires are checked (exit 2)', async () => {
    expect((await run(['admin', 'token', 'create', '--name', 'ops'])).code).toBe(1);
    for (const args of [['--name', 'has space'], ['--name', 'x', '--expires', '5q'], ['--name', 'y', '--expires', '2001-01-01T00:00:00Z'], ['--name', 'z', '--expires', '0s'], []]) {
      const bad = await run(['admin', 'token', 'create', ...args]);
      expect(bad.code, args.join(' ')).toBe(2);
      expect(bad.stderr).toMatch(/^tessera: /);
    }
    const iso = await run(['admin', 'token', 'create', '--name', 'dated', '--expires', new Date(Date.now() + 3_600_000).toISOString(), '--read-only', '--json']);
    expect(JSON.parse(iso.stdout)).toMatchObject({ name: 'dated', read_only: true });
  });

  it('revoke by name or id; revoking again is exit 1; every step is audited by name, never by value', async () => {
    const made = JSON.parse((await run(['admin', 'token', 'create', '--name', 'temp', '--json'])).stdout);
    expect((await run(['admin', 'token', 'revoke', made.id])).code).toBe(0);
    expect((await run(['admin', 'token', 'revoke', 'temp'])).code).toBe(1);
    expect((await run(['admin', 'token', 'revoke', 'dated'])).code).toBe(0);
    const audit = (await run(['audit', '--json'])).stdout;
    expect(audit).toContain('admin_token.created');
    expect(audit).toContain('admin_token.revoked');
    expect(audit).not.toContain(made.token.slice(-43));
  });
});

describe('tessera serve --admin-port', () => {
  it('serves the admin API on its own listener (env and flag); without it there is none', async () => {
    const value = (await run(['admin', 'token', 'create', '--name', 'served'])).stdout.trim();
    const off = await serve([], { env: { TESSERA_DB: db } });
    try {
      expect((await fetch(`${off.url}/admin/api/v1/clients`, { headers: { authorization: `Bearer ${value}` } })).status).toBe(404);
    } finally {
      await off.stop();
    }
    for (const [args, env] of [[['--admin-port', '0', '--admin-host', '127.0.0.1'], {}], [[], { TESSERA_ADMIN_PORT: '0' }]] as const) {
      const served = await serve([...args], { env: { TESSERA_DB: db, ...env } });
      try {
        expect(served.adminApi).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/admin\/api\/v1$/);
        const res = await fetch(`${served.adminApi}/clients`, { headers: { authorization: `Bearer ${value}` } });
        expect(res.status).toBe(200);
        expect((await fetch(`${served.url}/admin/api/v1/clients`, { headers: { authorization: `Bearer ${value}` } })).status).toBe(404);
      } finally {
        await served.stop();
      }
    }
  }, 60_000);

  it('--admin-host without --admin-port is a usage error', async () => {
    const bad = await run(['serve', '--admin-host', '127.0.0.1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--admin-host needs --admin-port/);
  });
});
