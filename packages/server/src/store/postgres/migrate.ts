/**
 * Versioned migrations for PostgreSQL. `tessera migrate` applies them; a server never does
 * (several instances upgrading one database at once is how schemas get torn), it checks the
 * version and refuses to start on one it does not match, saying what to run.
 */
import { connect, firstAnswer, type PostgresOptions, type Sql } from './connection.js';
import { migrations } from './schema.js';

/** Key of the advisory lock that one migrating process holds (any other waits). */
const MIGRATE_LOCK = 7_346_201;

export interface SchemaVersion {
  /** Migrations applied (0: none, a fresh database). */
  current: number;
  /** Migrations this version of Tessera knows. */
  latest: number;
}

export async function schemaVersion(sql: Sql): Promise<SchemaVersion> {
  const [table] = await sql`SELECT to_regclass('tessera_schema') IS NOT NULL AS present`;
  if (!table?.present) return { current: 0, latest: migrations.length };
  const [row] = await sql`SELECT version FROM tessera_schema`;
  return { current: (row?.version as number | undefined) ?? 0, latest: migrations.length };
}

/** Applies the migrations the database lacks, each in its own transaction; returns the versions before and after. */
export async function migrate(options: PostgresOptions): Promise<{ from: number; to: number }> {
  const sql = connect(options, 1);
  try {
    // A server that answers at all, before migrations that may take long on a big database.
    await firstAnswer(sql`SELECT 1`);
    return await sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${MIGRATE_LOCK})`;
      await tx`CREATE TABLE IF NOT EXISTS tessera_schema (version integer NOT NULL)`;
      const [row] = await tx`SELECT version FROM tessera_schema`;
      if (!row) await tx`INSERT INTO tessera_schema (version) VALUES (0)`;
      const from = (row?.version as number | undefined) ?? 0;
      if (from > migrations.length) throw new SchemaMismatch({ current: from, latest: migrations.length });
      for (let v = from; v < migrations.length; v++) {
        await tx.unsafe(migrations[v] as string);
        await tx`UPDATE tessera_schema SET version = ${v + 1}`;
      }
      return { from, to: migrations.length };
    });
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** The database's schema is not the one this Tessera knows. */
export class SchemaMismatch extends Error {
  constructor(readonly version: SchemaVersion) {
    super(
      version.current < version.latest
        ? `the database schema is at version ${version.current} of ${version.latest}: run \`tessera migrate --db URL\` first`
        : `the database schema (version ${version.current}) was written by a newer Tessera (this one knows up to ${version.latest}); upgrade tessera`,
    );
    this.name = 'SchemaMismatch';
  }
}
