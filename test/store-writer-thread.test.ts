/**
 * The SQLite store with its writes on a writer thread (what `tessera serve` runs): the same storage
 * contract as inline writes, plus what only a thread can get wrong. Runs the built package, whose
 * worker entry is compiled JavaScript.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@tessera/server';
import { storageSuite } from '@tessera/test-utils';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'tessera-thread-'));
let files = 0;
const threaded = () => new SqliteStore({ path: join(dir, `store-${++files}.db`), synchronous: 'normal', writer: 'thread' });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Stores with a writer thread each, on one file: their writers really run at the same time.
storageSuite('SqliteStore (file, writer thread)', async () => threaded(), {
  connect: async (store) => new SqliteStore({ path: (store as SqliteStore).db.name, synchronous: 'normal', writer: 'thread' }),
});

describe('SqliteStore writer thread', () => {
  it('readiness fails the writer check once the writer thread is gone, the database still answering reads', async () => {
    const store = threaded();
    expect(await store.readiness()).toEqual({ ready: true });
    // The thread dies (as a crash would end it): reads still answer, writes cannot commit.
    await (store as unknown as { writer: { worker: { terminate(): Promise<number> } } }).writer.worker.terminate();
    expect(await store.readiness()).toEqual({ ready: false, check: 'writer', reason: 'the writer does not commit' });
    expect(await store.auditHeads()).toHaveLength(1);
    await store.close();
  });

  it('a write that fails in the thread rejects with its SQLite error and code, alone', async () => {
    const store = threaded();
    const user = { id: 'u1', username: 'ada', passwordHash: 'x', name: null, email: null, emailVerified: false, createdAt: 1 };
    const [first, again, other] = await Promise.allSettled([
      store.createUser(user, { event: 'user.created', actor: 'test' }),
      store.createUser(user, { event: 'user.created', actor: 'test' }),
      store.appendAudit([{ event: 'other', actor: 'test' }]),
    ]);
    expect(first.status).toBe('fulfilled');
    expect(other.status).toBe('fulfilled');
    expect(again).toMatchObject({ status: 'rejected', reason: { name: 'SqliteError', code: expect.stringMatching(/^SQLITE_CONSTRAINT/) } });
    expect((await store.readAudit(0, 10)).map((r) => r.event)).toEqual(['user.created', 'other']);
    await store.close();
  });

  it('close() commits the writes still queued, then a write is refused', async () => {
    const path = join(dir, 'close.db');
    const store = new SqliteStore({ path, writer: 'thread' });
    const pending = store.appendAudit([{ event: 'last', actor: 'test' }]);
    await store.close();
    await pending;
    await expect(store.appendAudit([{ event: 'late', actor: 'test' }])).rejects.toThrow(/writer thread/);
    const reopened = new SqliteStore({ path });
    expect((await reopened.readAudit(0, 10)).map((r) => r.event)).toEqual(['last']);
    await reopened.close();
  });

  it('an in-memory database cannot have a writer thread', () => {
    expect(() => new SqliteStore({ path: ':memory:', writer: 'thread' })).toThrow(/needs a file/);
  });
});
