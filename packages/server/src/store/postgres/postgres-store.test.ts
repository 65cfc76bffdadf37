import { createTestDatabase, storageSuite, type TestDatabase } from '@tessera/test-utils';
import { afterAll, beforeAll } from 'vitest';
import { PostgresStore } from './postgres-store.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.drop());

const open = () => PostgresStore.open({ url: db.url, poolSize: 4 });

storageSuite(
  'PostgresStore',
  async () => {
    await db.reset();
    return open();
  },
  // Another pool on the same database: what a second instance or the CLI sees.
  { connect: open },
);
