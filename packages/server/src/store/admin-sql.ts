/**
 * The admin API's page queries as SQL both stores run (SQLite and PostgreSQL read the same text,
 * with their own placeholders): each query a list of conditions with their arguments, ordered by
 * the table's primary key so no index beyond it is needed to page (types.ts TokenQuery).
 */
import type { AuditQuery, GrantQuery, PrincipalQuery, TokenQuery, TokenState } from './types.js';

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
  if (q.state !== undefined) out.push({ sql: STATE[q.state], args: STATE[q.state].includes('?') ? [q.at] : [] });
  if (q.issuedFrom !== undefined) out.push({ sql: 'issued_at >= ?', args: [q.issuedFrom] });
  if (q.issuedTo !== undefined) out.push({ sql: 'issued_at < ?', args: [q.issuedTo] });
  if (q.afterId !== undefined) out.push({ sql: 'id > ?', args: [q.afterId] });
  return out;
}

export const principalConditions = (q: PrincipalQuery): Condition[] => (q.afterId === undefined ? [] : [{ sql: 'id > ?', args: [q.afterId] }]);

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

/** Token counts by state at `at` (one argument, twice), then by client (once). */
export const COUNTS_SQL = `SELECT
  count(*) FILTER (WHERE revoked_at IS NOT NULL) AS revoked,
  count(*) FILTER (WHERE revoked_at IS NULL AND consumed_at IS NOT NULL) AS rotated,
  count(*) FILTER (WHERE revoked_at IS NULL AND consumed_at IS NULL AND expires_at > ?) AS active,
  count(*) FILTER (WHERE revoked_at IS NULL AND consumed_at IS NULL AND expires_at <= ?) AS expired
  FROM tokens`;
export const BY_CLIENT_SQL = `SELECT client_id, count(*) AS total,
  count(*) FILTER (WHERE revoked_at IS NULL AND consumed_at IS NULL AND expires_at > ?) AS active
  FROM tokens GROUP BY client_id ORDER BY client_id`;
/** Audit records per minute from `since` (ms) on, through the index on `at`. */
export const PER_MINUTE_SQL = 'SELECT (at / 60000) * 60000 AS minute, count(*) AS events FROM audit WHERE at >= ? GROUP BY 1 ORDER BY 1';
