/**
 * Argument parsing for `tessera`: node:util parseArgs in strict mode, the options every command
 * shares, value checks, and the two errors that decide the exit code (usage → 2, operational → 1).
 */
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ServerConfig } from '../config.js';
import { isPostgresUrl } from '../store/postgres/connection.js';
import { type ConfigFile, dbSetting, readConfigFile, resolve as resolveSettings, serverConfig } from './settings.js';

/** Exit codes: 0 ok, 1 operational failure, 2 usage error. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** Bad command line: exit 2 with a hint to use --help. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The command was well-formed but could not be carried out (not found, port in use…): exit 1. */
export class CommandError extends Error {
  override name = 'CommandError';
}

export interface Command {
  /** The words after `tessera`, e.g. `client create`. */
  name: string;
  /** Options and arguments, for the usage line. */
  synopsis: string;
  /** One line for the command list. */
  summary: string;
  /** Details for `--help`: one option per line. */
  help?: string;
  run(argv: string[]): Promise<number>;
}

export const DEFAULT_DB = './data/tessera.db';

/** Options every command takes. */
const COMMON = {
  db: { type: 'string' },
  config: { type: 'string' },
  'allow-insecure-permissions': { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const COMMON_HELP = `  --db PATH      SQLite data file, or a postgres:// URL for PostgreSQL (env TESSERA_DB, config file
                 key db; default ${DEFAULT_DB})
  --config FILE  JSON file of settings, e.g. {"db": "/var/lib/tessera/tessera.db", "accessTokenTtl": 600}
                 (env TESSERA_CONFIG); flags beat env vars, which beat the file
  --allow-insecure-permissions
                 open a data file or directory that other users can read (env
                 TESSERA_ALLOW_INSECURE_PERMISSIONS=1); without it Tessera refuses, because the
                 file holds the private signing keys and the password hashes
  --json         machine-readable output: one JSON document on stdout
  -h, --help     show this help`;

/** The data file a command works on, and the settings that apply to it. */
export interface DataFile {
  /** Absolute path of the SQLite file, or the postgres:// URL as given. */
  path: string;
  /** Whether `path` is a PostgreSQL URL. */
  postgres: boolean;
  /** Server settings from the environment and the config file (serve adds its flags). */
  config: Partial<ServerConfig>;
  file: ConfigFile | undefined;
  /** --allow-insecure-permissions or TESSERA_ALLOW_INSECURE_PERMISSIONS=1: which one, for the warning; false for neither. */
  allowInsecure: false | '--allow-insecure-permissions' | 'TESSERA_ALLOW_INSECURE_PERMISSIONS';
}

type Options = Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>;
type Config<O extends Options> = { args: string[]; options: typeof COMMON & O; strict: true; allowPositionals: true; tokens: true };
export type Values<O extends Options> = ReturnType<typeof parseArgs<Config<O>>>['values'];

/**
 * Parses argv strictly against the command's options plus the common ones. `positionals` names
 * the arguments the command requires, in order, `optional` those that may follow; they come
 * back by name.
 */
export function parse<const O extends Options, const P extends readonly string[] = [], const Q extends readonly string[] = []>(
  argv: string[],
  options: O,
  positionals: P = [] as unknown as P,
  optional: Q = [] as unknown as Q,
): { values: Values<O>; args: Record<P[number], string> & Partial<Record<Q[number], string>>; db: DataFile } {
  const config: Config<O> = { args: argv, options: { ...COMMON, ...options }, strict: true, allowPositionals: true, tokens: true };
  let parsed: ReturnType<typeof parseArgs<Config<O>>>;
  try {
    parsed = parseArgs(config);
  } catch (err) {
    throw new UsageError(parseErrorMessage(err));
  }
  // parseArgs keeps the last of a repeated single-valued option; a repeat is more likely a mistake.
  const seen = new Set<string>();
  for (const token of parsed.tokens) {
    if (token.kind !== 'option' || config.options[token.name]?.multiple) continue;
    if (seen.has(token.name)) throw new UsageError(`option '--${token.name}' given more than once`);
    seen.add(token.name);
  }
  const extra = parsed.positionals[positionals.length + optional.length];
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  const args = {} as Record<P[number], string> & Partial<Record<Q[number], string>>;
  positionals.forEach((name: P[number], i) => {
    const value = parsed.positionals[i];
    if (value === undefined) throw new UsageError(`missing argument ${name}`);
    (args as Record<string, string>)[name] = value;
  });
  optional.forEach((name: Q[number], i) => {
    const value = parsed.positionals[positionals.length + i];
    if (value !== undefined) (args as Record<string, string>)[name] = value;
  });
  const common = parsed.values as { db?: string; config?: string; 'allow-insecure-permissions'?: boolean };
  const configPath = common.config ?? env('TESSERA_CONFIG');
  const file = configPath === undefined ? undefined : readConfigFile(resolve(configPath));
  const { db = DEFAULT_DB } = resolveSettings(dbSetting, common, file) as { db?: string };
  const allowInsecure: DataFile['allowInsecure'] = common['allow-insecure-permissions'] === true
    ? '--allow-insecure-permissions'
    : flagEnv('TESSERA_ALLOW_INSECURE_PERMISSIONS') && 'TESSERA_ALLOW_INSECURE_PERMISSIONS';
  // A relative path in the config file is relative to the file, not to wherever the command runs.
  const fromFile = common.db === undefined && env('TESSERA_DB') === undefined && file?.values.db !== undefined;
  const postgres = isPostgresUrl(db);
  const path = postgres ? db : fromFile && file ? resolve(dirname(file.path), db) : resolve(db);
  const dataFile = { path, postgres, config: serverConfig({}, file), file, allowInsecure };
  return { values: parsed.values as Values<O>, args, db: dataFile };
}

/** node's parseArgs messages, cut to their first sentence (the rest is about positionals). */
function parseErrorMessage(err: unknown): string {
  const code = (err as { code?: string }).code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const option = /'([^']+)'/.exec(message)?.[1];
    if (option) return `unknown option '${option}'`;
  }
  // "argument is ambiguous": a string option followed by another option, e.g. `--name --json`.
  const ambiguous = /^Option '([^']+)' argument is ambiguous/.exec(message)?.[1];
  if (ambiguous) return `option '${ambiguous}' needs a value (for one starting with '-', write ${ambiguous}=-…)`;
  const first = message.split(/\.(?:\s|$)/)[0] ?? message;
  return first.charAt(0).toLowerCase() + first.slice(1);
}

/** An environment variable, with empty meaning unset. */
export function env(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** A yes/no environment variable: 1 or true is yes, unset, 0 or false no, anything else an error. */
function flagEnv(name: string): boolean {
  const value = env(name);
  if (value === undefined || value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true') return true;
  throw new UsageError(`${name} must be 1 or 0; got '${value}'`);
}

/** A required option: missing is a usage error. */
export function need<T>(value: T | undefined, flag: string): T {
  if (value === undefined) throw new UsageError(`missing required option ${flag}`);
  return value;
}

export function oneOf<const T extends string>(label: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`${label} must be one of ${allowed.join(', ')}; got '${value}'`);
  }
  return value as T;
}

/** A repeatable option, each value taken whole: `--x a --x b,c` → [a, 'b,c']. */
export function repeated(values: string | string[] | undefined): string[] {
  return values === undefined ? [] : Array.isArray(values) ? values : [values];
}

/**
 * A repeatable option whose values may also be comma-separated: `--x a --x b,c` → [a, b, c].
 * Only for values that cannot contain a comma (names from a fixed set), never for URIs.
 */
export function list(values: string | string[] | undefined): string[] {
  return [...new Set(repeated(values).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== ''))];
}

/** A whole number of seconds, at least 1. */
export function positiveInt(label: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n * 1000) || n < 1) {
    throw new UsageError(`${label} must be a positive whole number of seconds; got '${value}'`);
  }
  return n;
}

/** A whole number from 1 to `max`. */
export function count(label: string, value: string, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > max) throw new UsageError(`${label} must be a whole number from 1 to ${max}; got '${value}'`);
  return n;
}

export function port(label: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new UsageError(`${label} must be a port number from 0 to 65535; got '${value}'`);
  return n;
}

const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

/** An ISO 8601 date or date-time, as milliseconds since the epoch. */
export function isoTime(label: string, value: string): number {
  const ms = Date.parse(value);
  if (!ISO_8601.test(value) || Number.isNaN(ms)) {
    throw new UsageError(`${label} must be an ISO 8601 date or time such as 2026-01-31T12:00:00Z; got '${value}'`);
  }
  return ms;
}
