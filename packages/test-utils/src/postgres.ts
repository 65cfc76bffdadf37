/**
 * PostgreSQL for tests: each test file gets a database of its own, created on the server named
 * by TESSERA_TEST_PG (default: the local one, trust auth) and dropped at the end, so runs never
 * see each other's data. `reset()` empties it between tests (much faster than a new database).
 */
import { randomBytes } from 'node:crypto';
import { migrate } from '@tessera/server';
import postgres from 'postgres';

export const TEST_PG = process.env.TESSERA_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

/** One line naming what is missing and how to start it, or undefined when PostgreSQL answers. */
export async function postgresMissing(): Promise<string | undefined> {
  const sql = postgres(TEST_PG, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`SELECT 1`;
    return undefined;
  } catch (err) {
    // 3D000 invalid_catalog_name: the server answers; starting it again would not help.
    if ((err as { code?: string }).code === '3D000') {
      const url = new URL(TEST_PG);
      const name = decodeURIComponent(url.pathname.slice(1));
      return `PostgreSQL at ${TEST_PG} has no database ${name}; the tests connect to it: create it with \`createdb -h ${url.hostname} -p ${url.port || 5432} -U ${decodeURIComponent(url.username) || 'postgres'} ${name}\` (see DEVELOPERS.md) or set TESSERA_TEST_PG`;
    }
    return `PostgreSQL is not reachable at ${TEST_PG} (${(err as Error).message}); the tests need it: start it with \`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\` (see DEVELOPERS.md) or set TESSERA_TEST_PG`;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

export interface TestDatabase {
  /** URL of the new database. */
  url: string;
  /** Empties every table and restarts the sequences, keeping the schema. */
  reset(): Promise<void>;
  drop(): Promise<void>;
}

/** A new, migrated database on the test server. */
export async function createTestDatabase(prefix = 'tessera_test'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = postgres(TEST_PG, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const url = new URL(TEST_PG);
  url.pathname = `/${name}`;
  await migrate({ url: url.href });
  const own = postgres(url.href, { max: 1, onnotice: () => {} });
  return {
    url: url.href,
    async reset() {
      await own.unsafe(`
        TRUNCATE clients, users, grants, tokens, codes, pushed_requests, device_codes, client_assertions, dpop_proofs, server_secrets, initial_access_tokens, sessions, keys, audit, revocation_feed, webhooks, webhook_deliveries;
        UPDATE audit_chains SET records = 0, seq = 0, hash = 'genesis';
        ALTER SEQUENCE audit_seq RESTART; ALTER SEQUENCE revocation_feed_seq RESTART;`);
    },
    async drop() {
      await own.end({ timeout: 5 });
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end({ timeout: 5 });
    },
  };
}
