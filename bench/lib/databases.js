/**
 * The databases of a scale run (bench/scale.js), each fresh and each removed at the end:
 *   sqlite    a new file in the run's temporary directory (created by the first `tessera` command
 *             on it), deleted by `drop()` and by cleanup;
 *   postgres  a new, migrated database from @tessera/test-utils' createTestDatabase (on
 *             TESSERA_TEST_PG, default postgres://postgres@127.0.0.1:5432/test), dropped by `drop()`,
 *             by cleanup (processes.js) and, as a last resort, by `psql` in the exit handler.
 *
 * `db` is what `tessera --db` takes. `sql()` is the bench's own connection for what it does beside
 * the servers (pre-filling tokens, following a sweep, finding the PostgreSQL backends): postgres.js
 * on PostgreSQL, better-sqlite3 on SQLite (opened on demand; close it before a server writes).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createTestDatabase, TEST_PG } from '@tessera/test-utils';
import Database from 'better-sqlite3';
import postgres from 'postgres';
import { onCleanup } from './processes.js';

export const STORES = ['sqlite', 'postgres'];

export async function newDatabase(store, dir) {
  return store === 'postgres' ? newPostgres() : newSqlite(dir);
}

function newSqlite(dir) {
  const path = join(dir, `scale-${randomBytes(4).toString('hex')}.db`);
  let conn = null;
  const remove = () => {
    conn?.close();
    conn = null;
    for (const f of [path, `${path}-wal`, `${path}-shm`]) rmSync(f, { force: true });
  };
  const release = onCleanup(async () => remove(), remove);
  return {
    store: 'sqlite',
    db: path,
    /** A better-sqlite3 connection; `readonly` while a server has the file. */
    sql({ readonly = false } = {}) {
      conn ??= new Database(path, { readonly, fileMustExist: true });
      return conn;
    },
    async closeSql() {
      conn?.close();
      conn = null;
    },
    drop: release,
  };
}

async function newPostgres() {
  const created = await createTestDatabase('tessera_bench');
  const name = new URL(created.url).pathname.slice(1);
  let conn = null;
  const drop = async () => {
    await conn?.end({ timeout: 5 });
    conn = null;
    await created.drop();
  };
  const dropSync = () => spawnSync('psql', [TEST_PG, '-qc', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`], { stdio: 'ignore', timeout: 10_000 });
  const release = onCleanup(drop, dropSync);
  return {
    store: 'postgres',
    db: created.url,
    name,
    sql() {
      conn ??= postgres(created.url, { max: 1, onnotice: () => {} });
      return conn;
    },
    async closeSql() {
      await conn?.end({ timeout: 5 });
      conn = null;
    },
    drop: release,
  };
}
