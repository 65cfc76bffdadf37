/**
 * Checks on the data file before a command opens it: what is at the path (nothing, a directory,
 * another program's SQLite file, something else), and who else can read it. Every refusal names
 * the file and says what to do.
 */
import { closeSync, openSync, readSync, type Stats, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { describeFailure } from '../store/postgres/connection.js';
import { SchemaMismatch } from '../store/postgres/migrate.js';
import { createPrivately, exposedToOthers } from '../store/sqlite/connection.js';
import { migrations } from '../store/sqlite/schema.js';
import { CommandError, type DataFile } from './args.js';
import { note } from './io.js';

/**
 * Makes sure `db.path` is a Tessera data file only its owner can read: creates it (mode 0600,
 * in a new directory 0700) when `mode` is 'create', refuses otherwise.
 */
export function prepareDataFile(db: DataFile, mode: 'create' | 'existing'): void {
  const { path } = db;
  const found = stat(path);
  if (found === undefined) {
    if (mode === 'existing') throw new CommandError(`no database at ${path} (pass --db PATH or set TESSERA_DB)`);
    try {
      createPrivately(path);
    } catch (err) {
      throw fileError(err, path, 'create');
    }
  } else if (found.isDirectory()) {
    throw new CommandError(`${path} is a directory; --db takes the path of a file, e.g. --db ${path}/tessera.db`);
  } else if (!found.isFile()) {
    throw new CommandError(`${path} is not a regular file; --db takes the path of a SQLite file`);
  }
  // A SQLite open of a WAL-mode file adds -wal and -shm files with the file's mode: check the
  // modes first there. Other files are checked for what they are first, so that the message about
  // another program's file does not come with advice to chmod it.
  const wal = header(path);
  if (!wal) checkContents(path);
  checkModes(db);
  if (wal) checkContents(path);
}

const MAGIC = Buffer.from('SQLite format 3\0');

/** Whether the file is in WAL mode; refuses one that is not SQLite (https://sqlite.org/fileformat.html §1.3). */
function header(path: string): boolean {
  const bytes = Buffer.alloc(100);
  let n: number;
  try {
    const fd = openSync(path, 'r');
    try {
      n = readSync(fd, bytes, 0, 100, 0);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    throw fileError(err, path, 'open');
  }
  // An empty file is an empty database, which Tessera fills.
  if (n === 0) return false;
  if (n < 100 || !bytes.subarray(0, 16).equals(MAGIC)) throw new CommandError(`${path} is not a SQLite database (is --db pointing at the wrong file?)`);
  // Offsets 18 and 19: file format write and read versions, 2 for WAL.
  return bytes[18] === 2;
}

function stat(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fileError(err, path, 'open');
  }
}

/** The file holds the private signing keys and password hashes: nobody but its owner may read it. */
function checkModes(db: DataFile): void {
  const dir = dirname(db.path);
  const problems: string[] = [];
  const fixes: string[] = [];
  const files = [db.path, `${db.path}-wal`, `${db.path}-shm`].filter((f) => stat(f) !== undefined);
  const exposed = exposedToOthers(db.path);
  const open = exposed.files;
  if (open.length > 0) {
    problems.push(open.map((f) => `${f} is open to other users (mode ${modeOf(f)})`).join(', '));
    fixes.push(`chmod 600 ${files.map(quote).join(' ')}`);
  }
  if (exposed.dir !== undefined) {
    problems.push(`its directory ${dir} is open to other users (mode ${modeOf(dir)})`);
    // A shared directory such as /tmp or /etc is not to be chmodded: then move the file instead.
    fixes.push(`chmod 700 ${quote(dir)} if the directory is Tessera's alone, else move the database into a directory of its own (mode 700)`);
  }
  if (problems.length === 0) return;
  const what = `the database ${db.path} holds the private signing keys and password hashes, but ${problems.join(' and ')}`;
  if (db.allowInsecure) {
    note(`warning: ${what} (allowed by ${db.allowInsecure})`);
    return;
  }
  throw new CommandError(`${what}. Fix: ${fixes.join(' && ')} (or pass --allow-insecure-permissions to accept the risk)`);
}

/** The nearest existing ancestor of `path`, which is in the way when it is not a directory. */
function notADirectory(path: string): string {
  for (let dir = dirname(path); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      if (!statSync(dir).isDirectory()) return dir;
    } catch {}
  }
  return 'a part of the path';
}

const modeOf = (path: string): string => ((stat(path)?.mode ?? 0) & 0o777).toString(8).padStart(4, '0');
const quote = (value: string): string => (/^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`);

/** A Tessera file, an empty one, or a refusal: another program's SQLite file, not SQLite, too new. */
function checkContents(path: string): void {
  let sqlite: Database.Database | undefined;
  try {
    sqlite = new Database(path, { readonly: true, fileMustExist: true });
    const version = sqlite.pragma('user_version', { simple: true }) as number;
    const tables = sqlite.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table'").pluck().get() as number;
    if (version === 0 && tables > 0) {
      throw new CommandError(`${path} is a SQLite database of another program (it has tables but no Tessera schema); pass --db with a new file path`);
    }
    if (version > migrations.length) {
      throw new CommandError(`${path} was written by a newer version of Tessera (schema ${version}; this one knows up to ${migrations.length}); upgrade tessera`);
    }
  } catch (err) {
    throw fileError(err, path, 'open');
  } finally {
    sqlite?.close();
  }
}

/** An error opening the database (a SQLite file or PostgreSQL), as a message naming it and what to do. */
export function databaseError(err: unknown, db: DataFile): Error {
  if (err instanceof CommandError) return err;
  if (!db.postgres) return fileError(err, db.path, 'open');
  if (err instanceof SchemaMismatch) return new CommandError(err.message);
  return new CommandError(describeFailure(err, db.path));
}

/** An error from the file system or SQLite, as a message naming the file and what to do. */
export function fileError(err: unknown, path: string, doing: 'create' | 'open'): Error {
  if (err instanceof CommandError) return err;
  const e = err as NodeJS.ErrnoException;
  const at = e.path && e.path !== path ? ` (at ${e.path})` : '';
  switch (e.code) {
    case 'EACCES':
    case 'EPERM':
      return new CommandError(`cannot ${doing} the database ${path}: permission denied${at}; run as the user that owns it, or choose another --db`);
    case 'ENOTDIR':
    case 'EEXIST':
      return new CommandError(`cannot ${doing} the database ${path}: ${notADirectory(path)} is not a directory; choose another --db`);
    case 'EROFS':
      return new CommandError(`cannot ${doing} the database ${path}: read-only file system; choose another --db`);
    case 'SQLITE_NOTADB':
      return new CommandError(`${path} is not a SQLite database (is --db pointing at the wrong file?)`);
    case 'SQLITE_CANTOPEN':
      return new CommandError(`cannot open the database ${path}: check that the file and its directory exist and that you may read and write them`);
    case 'SQLITE_READONLY':
      return new CommandError(`cannot write the database ${path}: it or its directory is read-only for you`);
    case 'SQLITE_BUSY':
      return new CommandError(`the database ${path} is locked by another process (a transaction left open, an sqlite3 shell?); nothing was changed: try again once it lets go`);
    case 'SQLITE_CORRUPT':
      return new CommandError(`the database ${path} is damaged (SQLITE_CORRUPT); restore it from a backup`);
    default:
      return e instanceof Error ? e : new Error(String(err));
  }
}
