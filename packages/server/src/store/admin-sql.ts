/**
 * The admin API's page queries as SQL both stores run (SQLite and PostgreSQL read the same text,
 * with their own placeholders): each query a list of conditions with their arguments, ordered by
 * the table's primary key so no index beyond it is needed to page (types.ts TokenQuery).
 */
import type { Row } from './rows.js';
import type { AuditQuery, GrantQuery, PrincipalPage, PrincipalQuery, TokenQuery, TokenState } from './types.js';

export interface Condition {
  sql: string;
  args: Array<string | number>;
}

/**
 * A token's state at `at` (the placeholder's argument). `+expires_at` keeps SQLite from ranging
 * over the expiry index and sorting the result: paging walks the primary key.
 */
const STATE: Readonly<Record<TokenState, string>> = {
  active: 'revoked_at IS NULL AND consumed_at IS NULL AND +expires_at > ?',
  expired: 'revoked_at IS NULL AND consumed_at IS NULL AND +expires_at <= ?',
  revoked: 'revoked_at IS NOT NULL',
  rotated: 'revoked_at IS NULL AND consumed_at IS NOT NULL',
};

export function tokenConditions(q: TokenQuery): Condition[] {
  const out: Condition[] = [];
  // Through the grants, indexed by user and client (as Store.listTokens).
  if (q.userId !== undefined) out.push({ sql: 'grant_id IN (SELECT id FROM grants WHERE user_id = ?)', args: [q.userId] });
  if (q.clientId !== undefined) {
    out.push({ sql: '(grant_id IN (SELECT id FROM grants WHERE client_id = ?) OR (exchanged_from IS NOT NULL AND client_id = ?))', args: [q.clientId, q.clientId] });
  }
  // The index on (grant_id, family_id) finds each grant's tokens.
  if (q.grantIds !== undefined) {
    out.push(q.grantIds.length === 0 ? { sql: '1 = 0', args: [] } : { sql: `grant_id IN (${q.grantIds.map(() => '?').join(', ')})`, args: [...q.grantIds] });
  }
  if (q.state !== undefined) out.push({ sql: STATE[q.state], args: STATE[q.state].includes('?') ? [q.at] : [] });
  if (q.issuedFrom !== undefined) out.push({ sql: 'issued_at >= ?', args: [q.issuedFrom] });
  if (q.issuedTo !== undefined) out.push({ sql: 'issued_at < ?', args: [q.issuedTo] });
  if (q.afterId !== undefined) out.push({ sql: 'id > ?', args: [q.afterId] });
  return out;
}

/** The columns a search looks in: a client's name and id; a user's username, name, email and id. */
const SEARCHED = { clients: ['id', 'name'], users: ['id', 'username', 'name', 'email'] } as const;

/** Rows a search reads past its cursor at most (PrincipalQuery.scan): no index serves a substring. */
export const SEARCH_SCAN = 20_000;

/** `q` as a LIKE pattern matching it anywhere, lower-cased, its `%`, `_` and `\` escaped (ESCAPE '\'). */
const containing = (q: string): string => `%${q.toLowerCase().replace(/[\\%_]/g, '\\$&')}%`;

/** The next `scan` ids of a table after the cursor: the part of it one search reads. */
function scanWindow(table: keyof typeof SEARCHED, q: PrincipalQuery, columns: string): Condition {
  const page = pageSql(table, 'id', q.afterId === undefined ? [] : [{ sql: 'id > ?', args: [q.afterId] }], q.scan ?? SEARCH_SCAN);
  return { sql: page.sql.replace('SELECT *', `SELECT ${columns}`), args: page.args };
}

/**
 * A page of clients or users (PrincipalQuery) through `run`, a store's reader: by id after the
 * cursor; with a search, the matching rows among the next `scan` (the inner query bounds what one
 * request reads, walking the primary key), and where a search that read all of them stopped.
 */
export async function principalPage<T>(run: (query: Condition) => Row[] | Promise<Row[]>, table: keyof typeof SEARCHED, q: PrincipalQuery, to: (r: Row) => T): Promise<PrincipalPage<T>> {
  if (q.q === undefined) return { rows: (await run(pageSql(table, 'id', q.afterId === undefined ? [] : [{ sql: 'id > ?', args: [q.afterId] }], q.limit))).map(to), scannedTo: null };
  const pattern = containing(q.q);
  const match = SEARCHED[table].map((c) => `lower(${c}) LIKE ? ESCAPE '\\'`).join(' OR ');
  const window = scanWindow(table, q, '*');
  const rows = (await run({ sql: `SELECT * FROM (${window.sql}) AS scanned WHERE ${match} ORDER BY id LIMIT ?`, args: [...window.args, ...SEARCHED[table].map(() => pattern), q.limit] })).map(to);
  if (rows.length >= q.limit) return { rows, scannedTo: null };
  const ids = scanWindow(table, q, 'id');
  const [scanned] = await run({ sql: `SELECT count(*) AS n, max(id) AS last FROM (${ids.sql}) AS scanned`, args: ids.args });
  return { rows, scannedTo: Number(scanned?.n) >= (q.scan ?? SEARCH_SCAN) ? (scanned?.last as string) : null };
}

export function grantConditions(q: GrantQuery): Condition[] {
  const out: Condition[] = [];
  if (q.userId !== undefined) out.push({ sql: 'user_id = ?', args: [q.userId] });
  if (q.clientId !== undefined) out.push({ sql: 'client_id = ?', args: [q.clientId] });
  if (q.state === 'active') out.push({ sql: 'revoked_at IS NULL', args: [] });
  if (q.state === 'revoked') out.push({ sql: 'revoked_at IS NOT NULL', args: [] });
  if (q.createdFrom !== undefined) out.push({ sql: 'created_at >= ?', args: [q.createdFrom] });
  if (q.createdTo !== undefined) out.push({ sql: 'created_at < ?', args: [q.createdTo] });
  if (q.afterId !== undefined) out.push({ sql: 'id > ?', args: [q.afterId] });
  return out;
}

export function auditConditions(q: AuditQuery): Condition[] {
  const out: Condition[] = [];
  if (q.event !== undefined) out.push({ sql: 'event = ?', args: [q.event] });
  if (q.actor !== undefined) out.push({ sql: 'actor = ?', args: [q.actor] });
  if (q.clientId !== undefined) out.push({ sql: 'client_id = ?', args: [q.clientId] });
  if (q.userId !== undefined) out.push({ sql: 'user_id = ?', args: [q.userId] });
  if (q.from !== undefined) out.push({ sql: 'at >= ?', args: [q.from] });
  if (q.to !== undefined) out.push({ sql: 'at < ?', args: [q.to] });
  if (q.afterSeq !== undefined) out.push({ sql: 'seq > ?', args: [q.afterSeq] });
  return out;
}

/** `SELECT * FROM table [WHERE …] ORDER BY key LIMIT ?`, with its arguments in order. */
export function pageSql(table: string, key: string, conditions: Condition[], limit: number): Condition {
  const where = conditions.length === 0 ? '' : ` WHERE ${conditions.map((c) => c.sql).join(' AND ')}`;
  return { sql: `SELECT * FROM ${table}${where} ORDER BY ${key} LIMIT ?`, args: [...conditions.flatMap((c) => c.args), limit] };
}

/** Audit records per minute from `since` (ms) on, through the index on `at`. */
export const PER_MINUTE_SQL = 'SELECT (at / 60000) * 60000 AS minute, count(*) AS events FROM audit WHERE at >= ? GROUP BY 1 ORDER BY 1';
