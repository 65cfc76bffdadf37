/** Per-test store lifecycle and small helpers shared by the storage suite's sections. */
import { type AuditInput, auditRecords, type ClientRecord, type GrantRecord, type Store, type UserRecord } from '@tessera/server';
import { afterEach, beforeEach, expect } from 'vitest';
import { clientRecord, grantRecord, userRecord } from '../fixtures.js';

export type StoreFactory = () => Promise<Store>;

export interface StorageSuiteOptions {
  /**
   * Opens another store on the database of `store` (another connection, as another process would
   * have): the concurrency section races writes across such stores. The suite closes each one
   * after its test, before `store`. Without it (one connection only, as SQLite ':memory:'), the
   * section races on the one store.
   */
  connect?: (store: Store) => Promise<Store>;
}

/** The store under test: a fresh one from the factory before each test, closed after it. */
export interface StoreRef {
  readonly store: Store;
  /** Another store on the same database (the store itself when the suite has no `connect`). */
  connect(): Promise<Store>;
}

export function useStore(factory: StoreFactory, options: StorageSuiteOptions = {}): StoreRef {
  let current: Store | undefined;
  let others: Store[] = [];
  beforeEach(async () => {
    current = await factory();
  });
  afterEach(async () => {
    await Promise.all(others.map((s) => s.close()));
    others = [];
    await current?.close();
    current = undefined;
  });
  const ref: StoreRef = {
    get store(): Store {
      if (!current) throw new Error('the store is only available inside a test');
      return current;
    },
    async connect(): Promise<Store> {
      const { store } = ref;
      if (!options.connect) return store;
      const other = await options.connect(store);
      others.push(other);
      return other;
    },
  };
  return ref;
}

/** The store under test and `n - 1` other connections to its database. */
export async function connections(ref: StoreRef, n: number): Promise<Store[]> {
  return [ref.store, ...(await Promise.all(Array.from({ length: n - 1 }, () => ref.connect())))];
}

export const audit = (event: string, extra: Partial<AuditInput> = {}): AuditInput => ({ event, actor: 'test', ...extra });

/** How many audit records the store holds, by its chains' heads. */
export const auditCount = async (store: Store): Promise<number> => auditRecords(await store.auditHeads());

/** The seq of the newest audit record (0: none): readAudit after it returns what is appended later. */
export const lastAuditSeq = async (store: Store): Promise<number> => Math.max(0, ...(await store.auditHeads()).map((h) => h.seq));

/** Runs `fn` and asserts it appended exactly `n` audit records. */
export async function appends<T>(store: Store, n: number, fn: () => Promise<T>): Promise<T> {
  const before = await auditCount(store);
  const result = await fn();
  expect((await auditCount(store)) - before).toBe(n);
  return result;
}

/** Runs `fn`, expects it to reject, and asserts the audit log did not move. */
export async function rejectsAndAppendsNothing(store: Store, fn: () => Promise<unknown>): Promise<void> {
  const before = await store.auditHeads();
  await expect(fn()).rejects.toThrow();
  expect(await store.auditHeads()).toEqual(before);
}

/** A stored client and user. */
export async function storedClientAndUser(store: Store): Promise<{ client: ClientRecord; user: UserRecord }> {
  const client = clientRecord();
  const user = userRecord();
  await store.createClient(client, audit('client.created'));
  await store.createUser(user, audit('user.created'));
  return { client, user };
}

/** A stored grant of a stored client to a stored user. */
export async function storedGrant(store: Store): Promise<{ client: ClientRecord; user: UserRecord; grant: GrantRecord }> {
  const { client, user } = await storedClientAndUser(store);
  const grant = grantRecord(client.id, user.id);
  await store.saveGrant(grant, []);
  return { client, user, grant };
}
