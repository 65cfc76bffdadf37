/**
 * The data file holds the private signing keys and the password hashes: Tessera creates it for
 * its owner only and refuses one that others can read; and what is at --db (a directory, another
 * program's SQLite file, a file in the way) gets a message naming the file and what to do.
 */
import { chmodSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { clientToken, serve, tempDir, tessera } from './cli-kit.js';

const dirs: string[] = [];
const fresh = () => {
  const dir = tempDir();
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);
const cc = ['client', 'create', '--name', 'x', '--grant-type', 'client_credentials', '--scope', 'read', '--json'];
const asRoot = process.getuid?.() === 0;

describe('file modes (issue 9, defect 1)', () => {
  it('a new data file is 0600 in new 0700 directories, and the -wal and -shm files SQLite adds are 0600, under umask 022', async () => {
    const db = join(fresh(), 'new', 'data', 'tessera.db');
    const created = await tessera([...cc, '--db', db]);
    expect(created.code).toBe(0);
    expect([mode(join(db, '..', '..')), mode(join(db, '..')), mode(db)]).toEqual(['700', '700', '600']);
    const server = await serve(['--db', db]);
    try {
      // A write while the server holds the file open: WAL mode keeps -wal and -shm beside it.
      expect((await clientToken(server.url, JSON.parse(created.stdout))).status).toBe(200);
      expect([mode(`${db}-wal`), mode(`${db}-shm`)]).toEqual(['600', '600']);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  }, 60_000);

  it('every command and serve refuse a data file others can read, naming the chmod that fixes it', async () => {
    const dir = fresh();
    const db = join(dir, 'tessera.db');
    expect((await tessera([...cc, '--db', db])).code).toBe(0);
    chmodSync(db, 0o644);
    const [list, served] = await Promise.all([tessera(['client', 'list', '--db', db]), tessera(['serve', '--port', '0', '--db', db])]);
    for (const run of [list, served]) {
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`${db} is open to other users (mode 0644)`);
      expect(run.stderr).toContain(`chmod 600 ${db}`);
      expect(run.stderr).toMatch(/private signing keys and password hashes/);
    }
    expect(served.stdout).not.toMatch(/serving/);
    chmodSync(db, 0o600);
    chmodSync(dir, 0o755);
    const open = await tessera(['keys', 'list', '--db', db]);
    expect(open.code).toBe(1);
    expect(open.stderr).toContain(`its directory ${dir} is open to other users (mode 0755)`);
    expect(open.stderr).toContain(`chmod 700 ${dir}`);
  }, 30_000);

  it('--allow-insecure-permissions or TESSERA_ALLOW_INSECURE_PERMISSIONS=1 opens such a file, with a warning', async () => {
    const dir = fresh();
    const db = join(dir, 'tessera.db');
    expect((await tessera([...cc, '--db', db])).code).toBe(0);
    chmodSync(db, 0o640);
    const [flag, env, bad] = await Promise.all([
      tessera(['client', 'list', '--db', db, '--allow-insecure-permissions']),
      tessera(['client', 'list', '--db', db], { env: { TESSERA_ALLOW_INSECURE_PERMISSIONS: '1' } }),
      tessera(['client', 'list', '--db', db], { env: { TESSERA_ALLOW_INSECURE_PERMISSIONS: 'maybe' } }),
    ]);
    for (const run of [flag, env]) {
      expect(run.code).toBe(0);
      expect(run.stderr).toMatch(/^tessera: warning: .* is open to other users \(mode 0640\)/);
    }
    // The warning names what allowed it: a variable set long ago is not a flag no one passed.
    expect(flag.stderr).toContain('(allowed by --allow-insecure-permissions)');
    expect(env.stderr).toContain('(allowed by TESSERA_ALLOW_INSECURE_PERMISSIONS)');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/TESSERA_ALLOW_INSECURE_PERMISSIONS must be 1 or 0/);
  }, 30_000);
});

describe('what is at --db (issue 9, defect 18)', () => {
  it('a directory, a file in the way of the path, another program\'s SQLite file and a non-SQLite file each get a message naming the file', async () => {
    const dir = fresh();
    const plain = join(dir, 'notes.txt');
    writeFileSync(plain, 'not a database\n', { mode: 0o600 });
    const foreign = join(dir, 'other.db');
    const other = new Database(foreign);
    other.exec('CREATE TABLE clients (id TEXT); CREATE TABLE orders (id INTEGER)');
    other.close();
    chmodSync(foreign, 0o600);
    const [directory, inTheWay, foreignRun, notSqlite] = await Promise.all([
      tessera([...cc, '--db', dir]),
      tessera([...cc, '--db', join(plain, 'tessera.db')]),
      tessera([...cc, '--db', foreign]),
      tessera(['client', 'list', '--db', plain]),
    ]);
    const runs = [directory, inTheWay, foreignRun, notSqlite];
    expect(runs.map((r) => r.code)).toEqual([1, 1, 1, 1]);
    expect(directory.stderr).toBe(`tessera: ${dir} is a directory; --db takes the path of a file, e.g. --db ${dir}/tessera.db\n`);
    expect(inTheWay.stderr).toContain(`${plain} is not a directory; choose another --db`);
    expect(foreignRun.stderr).toContain(`${foreign} is a SQLite database of another program`);
    expect(notSqlite.stderr).toContain(`${plain} is not a SQLite database`);
    for (const run of runs) expect(run.stderr.trim().split('\n')).toHaveLength(1);
    // The foreign file was left as it was.
    const check = new Database(foreign, { readonly: true });
    expect(check.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all()).toEqual(['clients', 'orders']);
    check.close();
  }, 30_000);

  it('a data file another process holds locked (an open write transaction) past the busy timeout: one line naming the file, exit 1, nothing changed', async () => {
    const dir = fresh();
    const db = join(dir, 'tessera.db');
    expect((await tessera([...cc, '--db', db])).code).toBe(0);
    const holder = new Database(db);
    holder.exec('BEGIN EXCLUSIVE');
    try {
      const run = await tessera([...cc, '--db', db]);
      expect(run.code).toBe(1);
      expect(run.stderr).toBe(`tessera: the database ${db} is locked by another process (a transaction left open, an sqlite3 shell?); nothing was changed: try again once it lets go\n`);
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    expect(JSON.parse((await tessera(['client', 'list', '--json', '--db', db])).stdout)).toHaveLength(1);
  }, 30_000);

  it.skipIf(asRoot)('a data file in a directory the user may not enter: permission denied, naming the file', async () => {
    const dir = fresh();
    const locked = join(dir, 'locked');
    mkdirSync(locked, { mode: 0o700 });
    expect((await tessera([...cc, '--db', join(locked, 'tessera.db')])).code).toBe(0);
    chmodSync(locked, 0o000);
    try {
      const run = await tessera(['client', 'list', '--db', join(locked, 'tessera.db')]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`cannot open the database ${join(locked, 'tessera.db')}: permission denied`);
    } finally {
      chmodSync(locked, 0o700);
    }
  });
});
