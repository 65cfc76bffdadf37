/**
 * Server settings from flags, environment and a JSON config file, in that order of precedence,
 * then the defaults: one table (config.ts `settings`, plus serve's own rows) drives parsing,
 * validation and `serve --help`.
 */
import { readFileSync } from 'node:fs';
import { defaults, metricsDefaults, settings, type ServerConfig, type SettingTypes } from '../config.js';
import { resourceProblem } from '../rfc8707/resource.js';
import { MAX_WORKERS } from '../cluster.js';
import { env, UsageError } from './args.js';

/** The types of serve's own settings, next to the server's. */
interface AllTypes extends SettingTypes {
  port: number;
  sync: 'full' | 'normal';
  workers: number;
}

export interface Row {
  type: keyof AllTypes;
  /** What --help shows for the value, when not the type's name. */
  metavar?: string;
  doc: string;
  flag?: string;
  shownDefault?: string;
}

type Table = Readonly<Record<string, Row>>;
type Raw = string | number | boolean | readonly unknown[] | null | object;

const LEGACY = ['implicit', 'password'] as const;
const SYNC = ['full', 'normal'] as const;

/** The longest delay a Node timer takes (2^31 - 1 ms): a longer one fires after 1 ms, so a huge timeout would time out everything at once and a huge interval spin. */
const TIMER_MAX_MS = 2 ** 31 - 1;

const integer = (min: number, what: string, max = Number.MAX_SAFE_INTEGER / 1000) => (raw: Raw): number => {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new Error(`must be ${what}${min === 0 ? ', 0 for off' : ', at least 1'}${max === TIMER_MAX_MS ? `, at most ${max}` : ''}`);
  }
  return n;
};

const text = (raw: Raw): string => {
  if (typeof raw !== 'string' || raw.trim() === '') throw new Error('must be a non-empty string');
  return raw;
};

/** Parsers by type: a flag or env value arrives as a string, a config file value as JSON. */
const PARSE: { [T in keyof AllTypes]: (raw: Raw) => AllTypes[T] } = {
  seconds: integer(1, 'a whole number of seconds'),
  'seconds-or-off': integer(0, 'a whole number of seconds'),
  ms: integer(1, 'a whole number of milliseconds', TIMER_MAX_MS),
  'ms-or-off': integer(0, 'a whole number of milliseconds', TIMER_MAX_MS),
  count: integer(1, 'a whole number'),
  'count-or-off': integer(0, 'a whole number'),
  bytes: integer(1, 'a whole number of bytes'),
  number: (raw) => {
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+(?:\.\d+)?$/.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isFinite(n) || n < 0) throw new Error('must be a number, 0 or more');
    return n;
  },
  port: (raw) => {
    const n = integer(0, 'a port number from 0 to 65535')(raw);
    if (n > 65535) throw new Error('must be a port number from 0 to 65535');
    return n;
  },
  boolean: (raw) => {
    if (typeof raw === 'boolean') return raw;
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    throw new Error('must be true or false');
  },
  url: issuerUrl,
  text,
  sync: (raw) => oneOf(raw, SYNC),
  workers: (raw) => {
    const n = integer(1, 'a whole number of processes')(raw);
    if (n > MAX_WORKERS) throw new Error(`must be at most ${MAX_WORKERS}`);
    return n;
  },
  registration: (raw) => oneOf(raw, ['off', 'token', 'open'] as const),
  'signing-alg': (raw) => oneOf(raw, ['ES256', 'RS256'] as const),
  uris: (raw) => {
    // A flag or env var takes a comma-separated list; the file an array.
    const items = typeof raw === 'string' ? raw.split(',').map((s) => s.trim()).filter((s) => s !== '') : raw;
    if (!Array.isArray(items) || items.some((u) => typeof u !== 'string')) throw new Error('must be a list of absolute URIs');
    for (const uri of items as string[]) {
      const problem = resourceProblem(uri);
      if (problem !== undefined) throw new Error(`each ${problem}; got '${uri}'`);
    }
    return [...new Set(items as string[])];
  },
  'legacy-grants': (raw) => {
    // A flag or env var takes a comma-separated list; the file an array.
    const items = typeof raw === 'string' ? raw.split(',').map((s) => s.trim()).filter((s) => s !== '') : raw;
    if (!Array.isArray(items)) throw new Error(`must be a list of ${LEGACY.join(', ')}`);
    return [...new Set(items.map((g) => {
      try {
        return oneOf(g, LEGACY);
      } catch (err) {
        throw new Error(`${(err as Error).message}; got '${g}'`);
      }
    }))];
  },
};

function oneOf<const T extends string>(raw: unknown, allowed: readonly T[]): T {
  if (!(allowed as readonly unknown[]).includes(raw)) throw new Error(`must be one of ${allowed.join(', ')}`);
  return raw as T;
}

/** RFC 8414 §2: the issuer is an http(s) URL with a host, and no query or fragment. */
function issuerUrl(raw: Raw): string {
  const value = text(raw);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error('must be an absolute URL such as https://auth.example.com');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('must be an http(s) URL');
  if (url.search !== '' || url.hash !== '' || value.includes('?') || value.includes('#')) {
    throw new Error('must not have a query or fragment (RFC 8414 §2)');
  }
  return value;
}

export const flagOf = (key: string, row: Row): string => row.flag ?? key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
export const envOf = (key: string): string => `TESSERA_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;

/** The parseArgs options for a table's flags. */
export function flags(table: Table): Record<string, { type: 'string' | 'boolean' }> {
  return Object.fromEntries(Object.entries(table).map(([key, row]) => [flagOf(key, row), { type: row.type === 'boolean' ? 'boolean' : 'string' }]));
}

/**
 * Each setting of the table from its flag, else its env var, else the config file; unset ones
 * are left out (the defaults apply). A bad value is a usage error naming where it came from.
 */
export function resolve(table: Table, flagValues: Record<string, unknown>, file: ConfigFile | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, row] of Object.entries(table)) {
    const flag = flagOf(key, row);
    const name = envOf(key);
    const [label, raw] =
      flagValues[flag] !== undefined ? [`--${flag}`, flagValues[flag] as Raw]
      : env(name) !== undefined ? [name, env(name) as Raw]
      : file?.values[key] !== undefined ? [`${key} in ${file.path}`, file.values[key] as Raw]
      : [undefined, undefined];
    if (label === undefined) continue;
    try {
      out[key] = PARSE[row.type](raw as Raw);
    } catch (err) {
      const message = (err as Error).message;
      const got = typeof raw === 'string' ? `'${raw}'` : JSON.stringify(raw);
      throw new UsageError(`${label} ${message}${message.includes('; got ') ? '' : `; got ${got}`}`);
    }
  }
  return out;
}

export interface ConfigFile {
  path: string;
  values: Record<string, unknown>;
}

/** Settings of `tessera serve` itself, outside ServerConfig; the file may hold them too. */
const served = new URL(defaults.issuer);
export const serveSettings = {
  port: { type: 'port', doc: 'port to listen on, 0 for any free one', shownDefault: served.port },
  host: { type: 'text', doc: 'address to listen on', shownDefault: served.hostname },
  sync: { type: 'sync', doc: 'SQLite synchronous: full fsyncs every commit; normal survives a crash of the process, not a power loss', shownDefault: 'full' },
  metricsPort: { type: 'port', doc: 'serve GET /metrics (Prometheus) on a listener of its own on this port, 0 for any free one; unset, nothing is measured', shownDefault: 'off' },
  metricsHost: { type: 'text', doc: 'address the metrics listener binds (the metrics name clients: keep it private)', shownDefault: metricsDefaults.host },
  metricsTokenCountInterval: {
    type: 'seconds-or-off', doc: 'seconds a count of the tokens by state (tessera_tokens, a read of the whole table) is reused; 0 = count at every scrape',
    shownDefault: String(metricsDefaults.tokenCountInterval),
  },
  adminPort: { type: 'port', doc: 'serve the admin API (/admin/api/v1, admin tokens from `tessera admin token create`) on a listener of its own at this port; never on the public one', shownDefault: 'off' },
  adminHost: { type: 'text', doc: 'address of the admin listener', shownDefault: '127.0.0.1' },
  workers: {
    type: 'workers', metavar: 'COUNT', doc: `processes serving the listeners (node:cluster), 1 to ${MAX_WORKERS}; with more than 1, a primary runs them, and on SQLite their writes all go through its one writer thread`,
    shownDefault: '1',
  },
} as const satisfies Table;

/** The data file: `--db`, TESSERA_DB or `db` in the config file, for every command. */
export const dbSetting = { db: { type: 'text', doc: 'SQLite data file, or a postgres:// URL', shownDefault: './data/tessera.db' } } as const satisfies Table;

/** Every key a config file may hold. */
export const FILE_KEYS: ReadonlySet<string> = new Set([...Object.keys(settings), ...Object.keys(serveSettings), ...Object.keys(dbSetting)]);

/** Reads a JSON config file; an unknown key is an error naming it. */
export function readConfigFile(path: string): ConfigFile {
  let values: unknown;
  try {
    values = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : `not valid JSON (${(err as Error).message})`;
    throw new UsageError(`cannot read the config file ${path}: ${why}`);
  }
  if (typeof values !== 'object' || values === null || Array.isArray(values)) {
    throw new UsageError(`the config file ${path} must hold one JSON object of settings`);
  }
  for (const key of Object.keys(values)) {
    if (!FILE_KEYS.has(key)) throw new UsageError(`unknown setting '${key}' in the config file ${path} (see 'tessera serve --help')`);
  }
  return { path, values: values as Record<string, unknown> };
}

/** The server settings from env and file (and flags, for serve). */
export function serverConfig(flagValues: Record<string, unknown>, file: ConfigFile | undefined): Partial<ServerConfig> {
  return resolve(settings, flagValues, file) as Partial<ServerConfig>;
}

/** `--flag TYPE  doc (env NAME, file key K; default D)` lines for --help, one per setting. */
export function settingsHelp(): string {
  const shown: Record<string, unknown> = defaults;
  const lines = Object.entries({ ...serveSettings, ...settings } as Table).map(([key, row]) => {
    const left = `  --${flagOf(key, row)}${row.type === 'boolean' ? '' : ` ${row.metavar ?? row.type.toUpperCase()}`}`;
    const value = shown[key];
    const fallback = row.shownDefault ?? (Array.isArray(value) ? value.join(',') || 'none' : String(value));
    return { left, right: `${row.doc} (env ${envOf(key)}, file key ${key}; default ${fallback})` };
  });
  const width = Math.max(...lines.map((l) => l.left.length)) + 2;
  return lines.map((l) => `${l.left.padEnd(width)}${l.right}`).join('\n');
}
