/**
 * Connecting to PostgreSQL (postgres.js): the pool, the types, and which failures mean "the
 * database is away" (a 503 the client may retry, RFC 6749 §5.2 temporarily_unavailable) rather
 * than a bug.
 */
import { OAuthError } from '@tessera/core';
import postgres from 'postgres';

export type Sql = postgres.Sql;
export type Tx = postgres.TransactionSql;

export interface PostgresOptions {
  /** postgres:// or postgresql:// URL. */
  url: string;
  /** Connections in the pool (config.dbPoolSize). */
  poolSize?: number;
  /** Milliseconds a statement may run before PostgreSQL cancels it (config.dbStatementTimeout); 0 = no limit. */
  statementTimeout?: number;
}

/**
 * Whether PostgreSQL text can hold `value`: not a NUL character. No stored row has one, so a
 * lookup by such a value (a client_id, a username, a token from a request) finds nothing, as
 * on SQLite, instead of failing with 22021.
 */
export const storable = (value: string): boolean => !value.includes('\u0000');

/** Whether `value` names a PostgreSQL database rather than a SQLite file. */
export const isPostgresUrl = (value: string): boolean => /^postgres(ql)?:\/\//i.test(value);

/** A text[] literal: every element quoted, backslashes and quotes escaped. */
const textArray = (xs: readonly string[]): string => `{${xs.map((x) => `"${String(x).replace(/[\\"]/g, '\\$&')}"`).join(',')}}`;

/** libpq's URI parameters that postgres.js would send to the server as settings, and its option for each. */
const LIBPQ_PARAMETERS = { host: 'host', port: 'port', user: 'user', dbname: 'database', password: 'password' } as const;
interface LibpqOptions {
  host?: string;
  port?: number;
  user?: string;
  database?: string;
  password?: string;
}

/**
 * What libpq takes in a URI that postgres.js does not (PostgreSQL 15 docs §34.1.1.2): the
 * connection parameters host, port, user, dbname and password in the query, which override the
 * URI's parts (postgres.js would send them to the server as settings, which it refuses), and a
 * Unix-domain socket's directory in place of a host name, percent-encoded
 * (postgresql://user@%2Fvar%2Frun%2Fpostgresql/db) or as the host parameter
 * (postgresql://user@/db?host=/var/run/postgresql). They become postgres.js options (a directory
 * as `host` means its socket), and the URL keeps the rest, with a placeholder host when the URI
 * has none that postgres.js could parse.
 */
export function libpqOptions(url: string): { url: string; options: LibpqOptions } {
  const parts = /^(postgres(?:ql)?:\/\/)([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/i.exec(url);
  if (!parts) return { url, options: {} };
  const [, scheme, authority = '', path = '', query = '', fragment = ''] = parts;
  const at = authority.lastIndexOf('@');
  const userinfo = authority.slice(0, at + 1);
  const [, name = '', port = ''] = /^(.*?)(:\d*)?$/.exec(authority.slice(at + 1)) ?? [];
  const params = new URLSearchParams(query.slice(1));
  const options: LibpqOptions = {};
  let found = false;
  for (const [param, option] of Object.entries(LIBPQ_PARAMETERS)) {
    if (!params.has(param)) continue;
    found = true;
    // An empty parameter is libpq's default: the URI's own part.
    const value = params.get(param);
    if (option === 'port') {
      // Not a port: left for PostgreSQL to refuse by name.
      if (value && !/^\d{1,5}$/.test(value)) continue;
      if (value) options.port = Number(value);
    } else if (value) {
      options[option] = value;
    }
    params.delete(param);
  }
  if (options.host === undefined) {
    try {
      const decoded = decodeURIComponent(name);
      if (decoded.startsWith('/')) options.host = decoded;
    } catch {
      // Not percent-encoding, so not a directory either: postgres.js reports the URL.
    }
  }
  if (!found && options.host === undefined) return { url, options };
  const rest = params.size > 0 ? `?${params}` : '';
  return { url: `${scheme}${userinfo}${options.host === undefined ? name : 'localhost'}${port}${path}${rest}${fragment}`, options };
}

export function connect(options: PostgresOptions, max = options.poolSize ?? 10): Sql {
  const libpq = libpqOptions(options.url);
  return postgres(libpq.url, {
    ...libpq.options,
    max,
    // Times are bigint milliseconds: numbers, not strings (all fit in 2^53).
    types: {
      bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) },
      textArray: { to: 1009, from: [1009], serialize: textArray, parse: (x: string) => x },
    },
    connection: { statement_timeout: options.statementTimeout ?? 5000, application_name: 'tessera' },
    // postgres.js (3.4.9) fetches the array types on each new connection from an unawaited
    // promise: a connection cut then is an unhandled rejection that ends the process. The one
    // array the store sends (text[], for = ANY(…)) is declared in `types` instead; it reads none.
    fetch_types: false,
    onnotice: () => {},
    connect_timeout: 5,
    // Seconds before a closed connection connects again. postgres.js's default grows with every
    // failed attempt up to 20 s, so after a restart of the database requests queued for 20 s
    // more; capped at 0.5 s, the pool is back within that of the database.
    backoff: (retries: number) => Math.min(0.01 * 2 ** retries, 0.5),
    idle_timeout: 60,
  }) as unknown as Sql;
}

/**
 * How long opening a store waits for a first answer. Something other than PostgreSQL listening at
 * the host and port (an HTTP server, a proxy) accepts the connection and closes it, and postgres.js
 * then reconnects for ever without failing the query (connect_timeout counts only until the TCP
 * connection is up).
 */
export const FIRST_ANSWER_MS = 10_000;

/** The first query of a new pool, failing with NO_POSTGRES when nothing answers as PostgreSQL within FIRST_ANSWER_MS. */
export async function firstAnswer<T>(query: PromiseLike<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const silent = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`no PostgreSQL answered within ${FIRST_ANSWER_MS / 1000} s`), { code: 'NO_POSTGRES' })), FIRST_ANSWER_MS);
  });
  try {
    return await Promise.race([query, silent]);
  } finally {
    clearTimeout(timer);
  }
}

/** SQLSTATE classes and codes of a database that is away or overloaded, not of a wrong query. */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300', '53400', '57014', '40001', '40P01', '55P03', '25P03']);
// ENOENT: no Unix-domain socket at the path, as while PostgreSQL is stopped or restarting.
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH',
  'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT',
]);

export function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  return UNAVAILABLE_CODES.has(code) || UNAVAILABLE_STATES.has(code) || code.startsWith('08');
}

/** Failures after which the connection is gone: the socket closed, or the server is ending the session. */
const LOST_STATES = new Set(['57P01', '57P02', '57P03']);
const LOST_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED']);
const connectionLost = (err: unknown): boolean => {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (LOST_CODES.has(code) || LOST_STATES.has(code) || code.startsWith('08'));
};

/**
 * A transaction's body for sql.begin(). postgres.js (3.4.9) answers a body that failed by sending
 * ROLLBACK on the transaction's connection even when that connection has just closed: the write,
 * deferred to setImmediate, dereferences the closed socket and throws an uncaught TypeError that
 * ends the process (porsager/postgres#1154, #1208). So a body that failed because the connection
 * is gone is left pending for ever instead of failing: begin() rejects on its own when the
 * connection closes (it races the body against the close), nothing is written to the dead socket,
 * and PostgreSQL rolls back a transaction whose session ended. Failing it later instead would send
 * that ROLLBACK on the connection once it is reconnected and in use by another transaction.
 */
export async function transactionBody<T>(body: Promise<T>): Promise<T> {
  try {
    return await body;
  } catch (err) {
    if (!connectionLost(err)) throw err;
    return new Promise<T>(() => {});
  }
}

/** Serialization failures and deadlocks: the transaction did nothing and may simply run again. */
export const isRetryable = (err: unknown): boolean => ['40001', '40P01'].includes((err as { code?: string } | null)?.code ?? '');

/** The error a request gets while the database is away: 503 with Retry-After, no internals. */
export const unavailable = (cause: unknown): OAuthError =>
  new OAuthError('temporarily_unavailable', 'the database is unavailable; retry shortly', { headers: { 'retry-after': '1' }, cause });

/** Runs `fn`, turning "the database is away" into a 503 and retrying deadlocks a few times. */
export async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (isRetryable(err) && attempt < 4) continue;
      if (isUnavailable(err)) throw unavailable(err);
      throw err;
    }
  }
}

/** The URL with its password (in the user info or a `password` parameter) hidden, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(libpqOptions(url).url);
    if (!u.password && !/[?&]password=/i.test(url)) return url;
    // Up to the authority's last @: a password may hold a raw one.
    return url
      .replace(/^(postgres(?:ql)?:\/\/[^:@/?#]*:)[^/?#]*@/i, '$1***@')
      .replace(/([?&]password=)[^&#]*/gi, '$1***');
  } catch {
    return 'the PostgreSQL URL given';
  }
}

/** What went wrong reaching or using the database, for a person: no stack, no password. */
export function describeFailure(err: unknown, url: string): string {
  const cause = (err as { cause?: unknown }).cause ?? err;
  const e = cause as { code?: string; message?: string };
  const where = redactUrl(url);
  switch (e.code) {
    case 'ECONNREFUSED':
      return `cannot connect to PostgreSQL at ${where}: connection refused (is PostgreSQL running, and listening at that host and port?)`;
    case 'ENOENT':
      return `cannot connect to PostgreSQL at ${where}: no socket in that directory (is PostgreSQL running, with its socket there?)`;
    case 'NO_POSTGRES':
      return `cannot connect to PostgreSQL at ${where}: ${e.message} (is that the host and port of a PostgreSQL server?)`;
    case '3D000':
      return `the PostgreSQL database in ${where} does not exist: create it (createdb) and run \`tessera migrate --db URL\``;
    case '28P01':
    case '28000':
      return `PostgreSQL refused the login for ${where}: check the user and the password (PGPASSWORD or the URL)`;
    default:
      return `PostgreSQL at ${where}: ${(e.message ?? String(cause)).split('\n')[0]}`;
  }
}
