/** One connection to a Tessera data file, set up the same way for the store and its writer thread. */
import Database from 'better-sqlite3';

export function openConnection(path: string, synchronous: 'full' | 'normal'): Database.Database {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  return db;
}
