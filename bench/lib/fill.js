/**
 * Pre-filling a stopped server's tokens table with SQL, fast, and following the expiry sweep.
 *
 * Rows are shaped like the ones Tessera writes (store/*\/schema.ts, secrets.ts): the id is 12 hex
 * digits of the issue time in milliseconds then 20 random hex digits (randomId), so rows issued
 * earlier sort first, as they do in a real store, and today's tokens go to the right of every
 * index; a 43-character random hash; opaque tokens of FILL_GRANTS grants (one client, one user
 * each), every fourth one a refresh token. Live rows were issued in the last 50 minutes and expire
 * in the next 10 minutes to 14 days; expired rows expired one to two hours ago, so a sweep with
 * --sweep-retention 0 deletes them all. Only tokens and grants are written: no audit records.
 *
 * Rows go in in batches of FILL_BATCH, in id order (one statement and transaction each: the
 * indexes grow at their right edge), then the tables are analysed (PostgreSQL: VACUUM ANALYZE and
 * a CHECKPOINT, so the run does not pay for the fill's WAL; SQLite: a WAL checkpoint).
 */
import { randomBytes } from 'node:crypto';

const FILL_GRANTS = 8;
const FILL_BATCH = 1_000_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const rowId = (ms) => ms.toString(16).padStart(12, '0') + randomBytes(10).toString('hex');

/** Issue times and lifetimes of the rows: row i of n was issued at start + i × span / n. */
function shape(expired, now) {
  return expired
    ? { start: now - 3 * HOUR, span: HOUR, accessTtl: HOUR, refreshTtl: HOUR }
    : { start: now - 50 * 60_000, span: 50 * 60_000 - 1000, accessTtl: HOUR, refreshTtl: 14 * DAY };
}

/**
 * Adds `n` tokens (live, or `expired`) to the database of `database` (databases.js); no server may
 * be running on a SQLite file. `log(line)` reports progress. Resolves with the seconds it took.
 */
export async function fillTokens(database, n, { expired = false, log = () => {} } = {}) {
  if (n === 0) return 0;
  const t0 = performance.now();
  const s = shape(expired, Date.now());
  const grants = Array.from({ length: FILL_GRANTS }, (_, k) => ({ id: rowId(s.start - 60_000), user: `fill-user-${k}` }));
  const fill = database.store === 'postgres' ? fillPostgres : fillSqlite;
  await fill(database, n, s, grants, (done) => {
    const seconds = (performance.now() - t0) / 1000;
    log(`    ${done.toLocaleString('en-US')} of ${n.toLocaleString('en-US')} ${expired ? 'expired' : 'live'} tokens written, ${seconds.toFixed(0)} s`);
  });
  return Math.round((performance.now() - t0) / 100) / 10;
}

async function fillPostgres(database, n, s, grants, progress) {
  const sql = database.sql();
  await sql`INSERT INTO grants ${sql(grants.map((g) => ({ id: g.id, client_id: 'fill-client', user_id: g.user, scope: 'read', created_at: s.start - 60_000, revoked_at: null })))}`;
  const ids = grants.map((g) => g.id);
  const users = grants.map((g) => g.user);
  for (let from = 0; from < n; from += FILL_BATCH) {
    const to = Math.min(n, from + FILL_BATCH);
    await sql`
      INSERT INTO tokens (id, hash, kind, format, grant_id, family_id, parent_id, client_id, user_id, scope, issued_at, expires_at, revoked_at, consumed_at)
      SELECT id, hash, kind, 'opaque', (${ids}::text[])[1 + i % ${FILL_GRANTS}], id, NULL, 'fill-client', (${users}::text[])[1 + i % ${FILL_GRANTS}], 'read',
             issued, issued + CASE kind WHEN 'refresh' THEN ${s.refreshTtl}::bigint ELSE ${s.accessTtl}::bigint END, NULL, NULL
      FROM (
        SELECT i, issued, lpad(to_hex(issued), 12, '0') || substr(md5(random()::text), 1, 20) AS id,
               substr(md5(random()::text) || md5(random()::text), 1, 43) AS hash,
               CASE WHEN i % 4 = 3 THEN 'refresh' ELSE 'access' END AS kind
        FROM (SELECT i, ${s.start}::bigint + i * ${s.span}::bigint / ${n}::bigint AS issued FROM generate_series(${from}::bigint, ${to - 1}::bigint) AS i) AS t
        ORDER BY id
      ) AS r`;
    progress(to);
  }
  await sql`VACUUM (ANALYZE) tokens`;
  await sql`VACUUM (ANALYZE) grants`;
  await sql`CHECKPOINT`;
}

async function fillSqlite(database, n, s, grants, progress) {
  const db = database.sql();
  db.pragma('synchronous = off');
  db.pragma('cache_size = -262144');
  const grant = db.prepare("INSERT INTO grants (id, client_id, user_id, scope, created_at, revoked_at) VALUES (?, 'fill-client', ?, 'read', ?, NULL)");
  db.transaction(() => {
    for (const g of grants) grant.run(g.id, g.user, s.start - 60_000);
  })();
  const insert = db.prepare(`
    WITH RECURSIVE seq(i) AS (SELECT @from UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < @to)
    INSERT INTO tokens (id, hash, kind, format, grant_id, family_id, parent_id, client_id, user_id, scope, issued_at, expires_at, revoked_at, consumed_at)
    SELECT id, hash, kind, 'opaque', json_extract(@grants, printf('$[%d]', i % ${FILL_GRANTS})), id, NULL, 'fill-client',
           json_extract(@users, printf('$[%d]', i % ${FILL_GRANTS})), 'read',
           issued, issued + CASE kind WHEN 'refresh' THEN @refreshTtl ELSE @accessTtl END, NULL, NULL
    FROM (
      SELECT i, issued, printf('%012x', issued) || lower(hex(randomblob(10))) AS id, substr(lower(hex(randomblob(22))), 1, 43) AS hash,
             CASE WHEN i % 4 = 3 THEN 'refresh' ELSE 'access' END AS kind
      FROM (SELECT i, @start + i * @span / @n AS issued FROM seq)
      ORDER BY id
    )`);
  // BigInt: better-sqlite3 binds a number as REAL, and `/` must divide integers.
  const int = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, BigInt(v)]));
  const params = { grants: JSON.stringify(grants.map((g) => g.id)), users: JSON.stringify(grants.map((g) => g.user)), ...int({ ...s, n }) };
  for (let from = 0; from < n; from += FILL_BATCH) {
    const to = Math.min(n, from + FILL_BATCH);
    db.transaction(() => insert.run({ ...params, ...int({ from, to }) }))();
    progress(to);
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  await database.closeSql();
}

/**
 * Follows the sweep of the expired rows while a server runs: `sample()` the ids of the k rows that
 * expired first (a sweep deletes those first: in expiry order through tokens_expires, or in
 * insertion order, which is the same here), `left(ids)` how many of them remain, and
 * `anyExpired(before)` whether any token that expired before `before` is left. Each is one
 * indexed query.
 */
export function sweepProbe(database) {
  if (database.store === 'postgres') {
    const sql = database.sql();
    return {
      sample: async (k) => (await sql`SELECT id FROM tokens WHERE expires_at < ${Date.now()} ORDER BY expires_at LIMIT ${k}`).map((r) => r.id),
      left: async (ids) => (await sql`SELECT count(*)::int AS n FROM tokens WHERE id = ANY(${ids})`)[0].n,
      anyExpired: async (before) => (await sql`SELECT EXISTS (SELECT 1 FROM tokens WHERE expires_at < ${before}) AS any`)[0].any,
    };
  }
  const db = () => database.sql({ readonly: true });
  return {
    sample: async (k) => db().prepare('SELECT id FROM tokens WHERE expires_at < ? ORDER BY expires_at LIMIT ?').pluck().all(Date.now(), k),
    left: async (ids) => db().prepare('SELECT count(*) FROM tokens WHERE id IN (SELECT value FROM json_each(?))').pluck().get(JSON.stringify(ids)),
    anyExpired: async (before) => db().prepare('SELECT EXISTS (SELECT 1 FROM tokens WHERE expires_at < ?)').pluck().get(before) === 1,
  };
}
