/**
 * The CLI's edges: stdout for results (text, or one JSON document with --json), stderr for
 * notes and errors, stdin for passwords, and the data file opened and closed around a command.
 */
import { openTessera, type Tessera } from '../open.js';
import { type DataFile, UsageError } from './args.js';
import { databaseError, fileError, prepareDataFile } from './database.js';

export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A note for the person at the terminal; never mixed into stdout, so --json stays parseable. */
export function note(text: string): void {
  process.stderr.write(`tessera: ${text}\n`);
}

export const iso = (ms: number): string => new Date(ms).toISOString();
/** Seconds precision, for tables. */
export const shortIso = (ms: number): string => iso(ms).replace(/\.\d{3}Z$/, 'Z');

export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** `name  value` lines, aligned. */
export function fields(pairs: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

/** A plain-text table with a header row; `empty` is printed when there are no rows. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>, empty: string): string {
  if (rows.length === 0) return empty;
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/**
 * Reads a secret (a password, a token) from stdin, a pipe or a terminal, minus one trailing
 * newline: secrets never come from argv, where `ps` and shell history show them.
 */
export async function readStdin(flag: string, what: string): Promise<string> {
  if (process.stdin.isTTY) note(`reading the ${what} from stdin; end it with Enter and Ctrl-D`);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const secret = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (secret === '') throw new UsageError(`${flag} read an empty ${what}`);
  return secret;
}

/**
 * Opens the data file for one command and closes it afterwards. Commands that only read or
 * change existing data refuse to create a new, empty file at a mistyped path.
 */
export async function withTessera<T>(db: DataFile, mode: 'create' | 'existing', fn: (t: Tessera) => Promise<T>): Promise<T> {
  if (!db.postgres) prepareDataFile(db, mode);
  let tessera: Tessera;
  try {
    // A command may revoke a client's or a user's every token in one statement: no time limit
    // unless one is set (dbStatementTimeout is for requests).
    tessera = await openTessera({ db: db.path, config: { dbStatementTimeout: 0, ...db.config } });
  } catch (err) {
    throw databaseError(err, db);
  }
  try {
    return await fn(tessera);
  } catch (err) {
    // Another process holds the SQLite file's write lock (a long transaction, an sqlite3 shell) past the busy timeout.
    throw !db.postgres && (err as { code?: unknown }).code === 'SQLITE_BUSY' ? fileError(err, db.path, 'open') : err;
  } finally {
    await tessera.close();
  }
}
