/**
 * The CLI on PostgreSQL (issue 10): `--db postgres://…` (or TESSERA_DB) selects it for every
 * command; `tessera migrate` prepares the schema and a server or command refuses a database it
 * has not prepared; a URL's password is never printed.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestDatabase, type TestDatabase, TEST_PG } from '@tessera/test-utils';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientToken, serve, tessera } from './cli-kit.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('tessera_cli');
});
afterAll(() => db?.drop());

const onDb = (args: string[], input = '') => tessera(args, { input, env: { TESSERA_DB: db.url } });
async function ok(args: string[], input = ''): Promise<string> {
  const run = await onDb(args, input);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return run.stdout;
}
const json = async (args: string[], input = '') => JSON.parse(await ok([...args, '--json'], input));

describe('tessera on PostgreSQL', () => {
  it('every command group works on a postgres:// database: clients, users, tokens, keys, audit verify', async () => {
    const client = await json(['client', 'create', '--name', 'svc', '--grant-type', 'client_credentials', '--scope', 'read']);
    expect((await json(['client', 'list'])).map((c: { client_id: string }) => c.client_id)).toContain(client.client_id);
    await ok(['user', 'create', 'alice', '--password-stdin'], 'correct horse battery staple\n');
    expect((await json(['user', 'list'])).map((u: { username: string }) => u.username)).toEqual(['alice']);
    await ok(['keys', 'rotate']);
    // An RS256 and an ES256 key at the first start, and a new one of each.
    expect((await json(['keys', 'list'])).length).toBe(4);

    const server = await serve(['--db', db.url]);
    try {
      const issued = await clientToken(server.url, client);
      expect(issued.status).toBe(200);
      const listed = await json(['token', 'list', '--client', client.client_id, '--active']);
      expect(listed).toHaveLength(1);
      await ok(['token', 'revoke', '--client', client.client_id]);
      expect(await json(['token', 'list', '--client', client.client_id, '--active'])).toEqual([]);
      await ok(['client', 'delete', client.client_id]);
      // Gone for the running server too (its client cache hears of it).
      await expect.poll(async () => (await clientToken(server.url, client)).status, { timeout: 5000 }).toBe(401);
    } finally {
      await server.stop();
    }
    const verified = await json(['audit', 'verify']);
    expect(verified).toMatchObject({ ok: true });
    expect(verified.records).toBeGreaterThan(5);
  });

  it('migrate brings a new database to the current schema once; serve and commands refuse it before, naming the command to run', async () => {
    const name = `tessera_cli_fresh_${process.pid}`;
    const admin = postgres(TEST_PG, { max: 1, onnotice: () => {} });
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name}`);
    await admin.unsafe(`CREATE DATABASE ${name}`);
    const url = new URL(TEST_PG);
    url.pathname = `/${name}`;
    try {
      const refused = await tessera(['serve', '--port', '0', '--db', url.href]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/schema is at version 0 of \d+: run `tessera migrate --db URL` first/);
      const command = await tessera(['client', 'list', '--db', url.href]);
      expect(command.code).toBe(1);
      expect(command.stderr).toMatch(/tessera migrate/);

      const first = await tessera(['migrate', '--db', url.href, '--json']);
      expect(first.code).toBe(0);
      const applied = JSON.parse(first.stdout);
      expect(applied.from).toBe(0);
      expect(applied.to).toBeGreaterThan(0);
      const again = JSON.parse((await tessera(['migrate', '--db', url.href, '--json'])).stdout);
      expect(again).toEqual({ ...applied, from: applied.to });

      // A schema from a newer Tessera: refused, not used.
      const own = postgres(url.href, { max: 1, onnotice: () => {} });
      await own`UPDATE tessera_schema SET version = version + 1`;
      await own.end();
      const newer = await tessera(['client', 'list', '--db', url.href]);
      expect(newer.code).toBe(1);
      expect(newer.stderr).toMatch(/written by a newer Tessera.*upgrade tessera/);
      expect((await tessera(['migrate', '--db', url.href])).code).toBe(1);
    } finally {
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  });

  it('a password in the URL is never printed: not in errors, not in what migrate prints', async () => {
    const url = new URL(db.url);
    url.username = 'nobody';
    url.password = 'pw-s3cret-value';
    const refused = await tessera(['client', 'list', '--db', url.href]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/PostgreSQL/);
    expect(refused.stderr + refused.stdout).not.toContain('pw-s3cret-value');

    // trust auth: the password is ignored, so the server starts and prints where it serves from.
    const withPassword = new URL(db.url);
    withPassword.password = 'pw-s3cret-value';
    const started = await tessera(['migrate', '--db', withPassword.href]);
    expect(started.code).toBe(0);
    expect(started.stdout).toContain('***');
    expect(started.stdout + started.stderr).not.toContain('pw-s3cret-value');
  });

  it("libpq's Unix-socket URIs reach the server over its socket: the directory as a host parameter or percent-encoded as the host (PostgreSQL docs 34.1.1.2)", async () => {
    const admin = postgres(TEST_PG, { max: 1, onnotice: () => {} });
    try {
      const [shown] = await admin.unsafe('SHOW unix_socket_directories');
      const dir = String(shown?.unix_socket_directories).split(',')[0]?.trim() ?? '';
      expect(dir).toMatch(/^\//);
      const name = new URL(db.url).pathname.slice(1);
      const user = new URL(db.url).username;
      const forms = [`postgres://${user}@/${name}?host=${dir}`, `postgresql://${user}@${encodeURIComponent(dir)}/${name}`];
      for (const url of forms) {
        const client = JSON.parse((await tessera(['client', 'create', '--db', url, '--json', '--name', 'via-socket', '--grant-type', 'client_credentials', '--scope', 'read'])).stdout);
        const server = await serve(['--db', url]);
        try {
          expect((await clientToken(server.url, client)).status).toBe(200);
          // Over a Unix-domain socket a session has no client address.
          const sessions = await admin`SELECT client_addr FROM pg_stat_activity WHERE datname = ${name} AND application_name = 'tessera'`;
          expect(sessions.length).toBeGreaterThan(0);
          expect(sessions.map((s) => s.client_addr)).toEqual(sessions.map(() => null));
        } finally {
          await server.stop();
        }
      }
    } finally {
      await admin.end({ timeout: 5 });
    }
  });

  it('an unreachable server is one line saying so, exit 1', async () => {
    const run = await tessera(['client', 'list', '--db', 'postgres://postgres@127.0.0.1:1/none']);
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/cannot connect to PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:1\/none: connection refused/);
  });

  it('a host and port where something else answers (an HTTP server) is one line saying so, exit 1, for migrate and the other commands: never a hang', async () => {
    const http = createServer((_req, res) => res.end('not PostgreSQL'));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const url = `postgres://postgres@127.0.0.1:${(http.address() as AddressInfo).port}/none`;
    try {
      const runs = await Promise.all([tessera(['migrate', '--db', url]), tessera(['client', 'list', '--db', url])]);
      for (const run of runs) {
        expect(run.code, run.stderr).toBe(1);
        expect(run.stderr.trim().split('\n')).toHaveLength(1);
        expect(run.stderr).toContain(`cannot connect to PostgreSQL at ${url}: no PostgreSQL answered within 10 s`);
      }
    } finally {
      http.closeAllConnections();
      http.close();
    }
  }, 60_000);
});
