/**
 * One connection to a Tessera data file, set up the same way for the store and its writer thread.
 * The file holds the private signing keys and the password hashes, so Tessera creates it (and
 * any directory it has to create for it) readable by its owner only; SQLite gives the -wal and
 * -shm files it creates later the mode of the database file.
 */
import { closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/** Mode of the data file; its -wal and -shm files inherit it. */
export const FILE_MODE = 0o600;
/** Mode of a data directory Tessera creates. */
export const DIR_MODE = 0o700;

export function openConnection(path: string, synchronous: 'full' | 'normal'): Database.Database {
  if (path !== ':memory:') createPrivately(path);
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  return db;
}

/**
 * Creates the data file empty (a valid SQLite database) with mode 0600, and the directories
 * missing on its path with mode 0700, before SQLite opens it with the process umask (0644 under
 * the usual 022). An existing file or directory is left as it is.
 */
export function createPrivately(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: DIR_MODE });
  try {
    closeSync(openSync(path, 'wx', FILE_MODE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/** The data file, its -wal and -shm files and its directory, where they exist and group or others may access them. */
export function exposedToOthers(path: string): { files: string[]; dir: string | undefined } {
  const mode = (p: string) => statSync(p, { throwIfNoEntry: false })?.mode;
  const files = [path, `${path}-wal`, `${path}-shm`].filter((f) => ((mode(f) ?? 0) & 0o077) !== 0);
  const dir = dirname(path);
  return { files, dir: ((mode(dir) ?? 0) & 0o077) !== 0 ? dir : undefined };
}
