/**
 * `tessera migrate`: brings a database's schema to this version of Tessera. On PostgreSQL a server
 * never migrates by itself (instances starting together must not race to change the schema); it
 * refuses to start until this has run. A SQLite file is migrated when it is opened, so here it is
 * only created or brought up to date.
 */
import { describeFailure, redactUrl } from '../../store/postgres/connection.js';
import { migrate, SchemaMismatch } from '../../store/postgres/migrate.js';
import { migrations as sqliteMigrations } from '../../store/sqlite/schema.js';
import { CommandError, EXIT, parse, type Command } from '../args.js';
import { print, printJson, withTessera } from '../io.js';

const migrateCommand: Command = {
  name: 'migrate',
  synopsis: '[--json]',
  summary: 'apply the schema migrations this version needs (PostgreSQL: required before serve; SQLite: done on open)',
  async run(argv) {
    const { values, db } = parse(argv, {});
    let result: { from: number | null; to: number };
    let where: string;
    if (db.postgres) {
      where = redactUrl(db.path);
      try {
        result = await migrate({ url: db.path, statementTimeout: 0 });
      } catch (err) {
        if (err instanceof SchemaMismatch) throw new CommandError(err.message);
        throw new CommandError(describeFailure(err, db.path));
      }
    } else {
      where = db.path;
      // Opening a SQLite file creates it if needed and applies what it lacks.
      await withTessera(db, 'create', async () => undefined);
      result = { from: null, to: sqliteMigrations.length };
    }
    if (values.json) {
      printJson({ db: where, from: result.from, to: result.to });
    } else if (result.from === result.to) {
      print(`${where}: schema already at version ${result.to}.`);
    } else {
      print(`${where}: schema at version ${result.to}${result.from === null ? '' : ` (was ${result.from})`}.`);
    }
    return EXIT.ok;
  },
};

export const migrateCommands: readonly Command[] = [migrateCommand];
