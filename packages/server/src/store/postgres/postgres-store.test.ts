import { createTestDatabase, storageSuite, type TestDatabase } from '@tessera/test-utils';
import { afterAll, beforeAll } from 'vitest';
import { PostgresStore } from './postgres-store.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.drop());

storageSuite('PostgresStore', async () => {
  await db.reset();
  return PostgresStore.open({ url: db.url, poolSize: 4 });
});
