/**
 * Store invariants, checked on the SQLite file itself (read-only, beside a running or a killed
 * server) and through the `tessera` CLI. Shared by the fuzz, chaos and soak suites: each returns
 * a list of violations, empty when the store is sound.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { hashSecret } from '@tessera/server';
import Database from 'better-sqlite3';
import postgres from 'postgres';

export const TESSERA_BIN = fileURLToPath(new URL('../packages/server/bin/tessera.js', import.meta.url));

interface TokenRow {
  id: string;
  kind: string;
  grant_id: string;
  family_id: string;
  client_id: string;
  user_id: string | null;
  issued_at: number;
  expires_at: number;
  revoked_at: number | null;
}

interface FeedRow {
  at: number;
  kind: string;
  value: string;
  until: number;
}

/** Opens the file read-only for one check; a WAL written by a live or killed server is read as it stands. */
function withDb<T>(path: string, read: (db: Database.Database) => T): T {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

/**
 * The invariants of the token tables:
 * - no token is both active and revoked: a revoked grant has no unrevoked token (a revocation
 *   marks the grant and its tokens in one transaction, writes.ts);
 * - every token has a grant;
 * - at most one live (unrevoked, unconsumed, unexpired) refresh token per family (RFC 9700 §4.14.2
 *   rotation);
 * - every revoked, unexpired access token is covered by a revocation feed event (by jti, family,
 *   grant, user or client issued before the event, or issued_before) whose `until` reaches its
 *   expiry, so a guard following the feed refuses it for its whole life.
 */
export function storeViolations(path: string, now = Date.now()): string[] {
  return withDb(path, (db) => {
    const out: string[] = [];
    const ids = (sql: string) => (db.prepare(sql).all() as { id: string }[]).map((r) => r.id);
    const show = (list: string[]) => `${list.slice(0, 5).join(', ')}${list.length > 5 ? ` … (${list.length})` : ''}`;

    const activeOfRevokedGrant = ids(`SELECT t.id FROM tokens t JOIN grants g ON g.id = t.grant_id
      WHERE t.revoked_at IS NULL AND g.revoked_at IS NOT NULL AND t.expires_at > ${now}`);
    if (activeOfRevokedGrant.length) out.push(`unrevoked tokens of a revoked grant: ${show(activeOfRevokedGrant)}`);

    const orphans = ids('SELECT t.id FROM tokens t LEFT JOIN grants g ON g.id = t.grant_id WHERE g.id IS NULL');
    if (orphans.length) out.push(`tokens without a grant: ${show(orphans)}`);

    const families = (db.prepare(`SELECT family_id AS id, count(*) AS n FROM tokens
      WHERE kind = 'refresh' AND revoked_at IS NULL AND consumed_at IS NULL AND expires_at > ?
      GROUP BY family_id HAVING n > 1`).all(now) as { id: string; n: number }[]).map((r) => `${r.id} (${r.n})`);
    if (families.length) out.push(`families with more than one live refresh token: ${show(families)}`);

    const revoked = db.prepare(`SELECT id, kind, grant_id, family_id, client_id, user_id, issued_at, expires_at, revoked_at
      FROM tokens WHERE kind = 'access' AND revoked_at IS NOT NULL AND expires_at > ?`).all(now) as TokenRow[];
    const events = db.prepare('SELECT at, kind, value, until FROM revocation_feed').all() as FeedRow[];
    const uncovered = revoked.filter((t) => !events.some((e) => covers(e, t) && e.until >= t.expires_at)).map((t) => t.id);
    if (uncovered.length) out.push(`revoked access tokens no feed event covers until their expiry: ${show(uncovered)}`);
    return out;
  });
}

/**
 * storeViolations' invariants on a PostgreSQL database (the same tables), and rotation's: each
 * consumed refresh token has exactly its successors (one access and one refresh token, with no
 * grace period) and every successor's parent was consumed, so each rotation happened whole or
 * not at all.
 */
export async function postgresViolations(url: string, now = Date.now()): Promise<string[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, types: { bigint: postgres.BigInt } });
  const num = (v: unknown) => Number(v);
  try {
    const out: string[] = [];
    const ids = (rows: readonly { id: string }[]) => rows.map((r) => r.id);
    const show = (list: string[]) => `${list.slice(0, 5).join(', ')}${list.length > 5 ? ` … (${list.length})` : ''}`;
    const check = (what: string, list: string[]) => list.length && out.push(`${what}: ${show(list)}`);

    check('unrevoked tokens of a revoked grant', ids(await sql`SELECT t.id FROM tokens t JOIN grants g ON g.id = t.grant_id
      WHERE t.revoked_at IS NULL AND g.revoked_at IS NOT NULL AND t.expires_at > ${now}`));
    check('tokens without a grant', ids(await sql`SELECT t.id FROM tokens t LEFT JOIN grants g ON g.id = t.grant_id WHERE g.id IS NULL`));
    check('families with more than one live refresh token', ids(await sql`SELECT family_id AS id FROM tokens
      WHERE kind = 'refresh' AND revoked_at IS NULL AND consumed_at IS NULL AND expires_at > ${now} GROUP BY family_id HAVING count(*) > 1`));
    check('consumed refresh tokens without exactly one access and one refresh successor', ids(await sql`SELECT p.id FROM tokens p
      WHERE p.kind = 'refresh' AND p.consumed_at IS NOT NULL AND (
        (SELECT count(*) FROM tokens c WHERE c.parent_id = p.id AND c.kind = 'access') <> 1 OR
        (SELECT count(*) FROM tokens c WHERE c.parent_id = p.id AND c.kind = 'refresh') <> 1)`));
    check('successors of a refresh token that was not consumed', ids(await sql`SELECT c.id FROM tokens c JOIN tokens p ON p.id = c.parent_id
      WHERE p.consumed_at IS NULL`));
    check('more than one live grant of a (client, user)', ids(await sql`SELECT client_id || ' ' || coalesce(user_id, '') AS id FROM grants
      WHERE revoked_at IS NULL GROUP BY client_id, user_id HAVING count(*) > 1`));

    const revoked = (await sql`SELECT id, kind, grant_id, family_id, client_id, user_id, issued_at, expires_at, revoked_at
      FROM tokens WHERE kind = 'access' AND revoked_at IS NOT NULL AND expires_at > ${now}`).map((t) => ({ ...t, issued_at: num(t.issued_at), expires_at: num(t.expires_at) })) as unknown as TokenRow[];
    const events = (await sql`SELECT at, kind, value, until FROM revocation_feed`).map((e) => ({ ...e, at: num(e.at), until: num(e.until) })) as unknown as FeedRow[];
    check('revoked access tokens no feed event covers until their expiry', revoked.filter((t) => !events.some((e) => covers(e, t) && e.until >= t.expires_at)).map((t) => t.id));
    return out;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Of the token values, those not stored (`stored`: whatever their state) or not revoked (`revoked`). */
export async function postgresTokens(url: string, values: string[], want: 'stored' | 'revoked'): Promise<string[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const hashes = values.map(hashSecret);
    const rows = await sql`SELECT hash FROM tokens WHERE hash = ANY(${hashes}) ${want === 'revoked' ? sql`AND revoked_at IS NOT NULL` : sql``}`;
    const found = new Set(rows.map((r) => r.hash as string));
    return values.filter((_, i) => !found.has(hashes[i] as string));
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Whether a feed event covers the token (README "The revocation feed"). */
function covers(e: FeedRow, t: TokenRow): boolean {
  switch (e.kind) {
    case 'token':
      return e.value === t.id;
    case 'family':
      return e.value === t.family_id;
    case 'grant':
      return e.value === t.grant_id;
    case 'user':
      return e.value === t.user_id && t.issued_at < e.at;
    case 'client':
      return e.value === t.client_id && t.issued_at < e.at;
    case 'issuedBefore':
      return t.issued_at < Number(e.value);
    default:
      return false;
  }
}

/** `tessera audit verify` on the file (or PostgreSQL URL): a violation unless it exits 0. */
export function auditViolations(path: string): string[] {
  const run = spawnSync(process.execPath, [TESSERA_BIN, 'audit', 'verify', '--db', path, '--json'], { encoding: 'utf8', timeout: 60_000 });
  return run.status === 0 ? [] : [`tessera audit verify exited ${run.status}: ${(run.stdout + run.stderr).trim().slice(0, 500)}`];
}

/** Every invariant: the token tables' and the audit chain's. */
export function invariantViolations(path: string, now = Date.now()): string[] {
  return [...storeViolations(path, now), ...auditViolations(path)];
}

/**
 * Durability: the tokens the server acknowledged (answered 200 with) that are not in the file.
 * A token that is there, active or revoked, counts as kept; one swept after expiry would not, so
 * callers pass only tokens that have not expired.
 */
export function missingTokens(path: string, values: Iterable<string>): string[] {
  const stored = withDb(path, (db) => new Set((db.prepare('SELECT hash FROM tokens').all() as { hash: string }[]).map((r) => r.hash)));
  return [...values].filter((v) => !stored.has(hashSecret(v)));
}

/** Acknowledged revocations that did not hold: tokens among `values` whose row is not revoked. */
export function unrevokedTokens(path: string, values: Iterable<string>): string[] {
  const live = withDb(path, (db) => new Set((db.prepare('SELECT hash FROM tokens WHERE revoked_at IS NULL').all() as { hash: string }[]).map((r) => r.hash)));
  return [...values].filter((v) => live.has(hashSecret(v)));
}

/** Ids of a user's unrevoked, unexpired tokens issued before `before` (ms): none after `token revoke --user` succeeded. */
export function liveTokensOfUser(path: string, userId: string, before: number, now = Date.now()): string[] {
  return withDb(path, (db) =>
    (db.prepare('SELECT id FROM tokens WHERE user_id = ? AND issued_at < ? AND revoked_at IS NULL AND expires_at > ?').all(userId, before, now) as { id: string }[]).map((r) => r.id),
  );
}
