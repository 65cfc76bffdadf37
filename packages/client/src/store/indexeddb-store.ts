/**
 * A TokenStore in IndexedDB, for browsers (and workers): shared by every tab of the origin, so
 * that with Web Locks (its default lock) the tabs refresh one at a time and each sees the token
 * another stored. IndexedDB rather than localStorage: a transaction that starts after another
 * committed sees its writes, in every tab, which localStorage does not promise across tabs.
 *
 * What a page's scripts can read, an XSS can read: tokens kept here are exposed to any script
 * injected into the origin (RFC 9700 §4.16; the OAuth 2.0 for Browser-Based Applications BCP).
 */
import type { TokenLock } from '../lock/token-lock.js';
import { WebLocksTokenLock } from '../lock/web-locks.js';
import type { TokenSet } from '../rfc6749/token.js';
import { storedTokenSet, type TokenStore } from './token-store.js';

export interface IndexedDbTokenStoreOptions {
  /** The database's name (default `tessera-tokens`); the object store inside is `tokens`. */
  database?: string;
  /** The lock sessions on this store use (default: a WebLocksTokenLock when `navigator.locks` exists). */
  lock?: TokenLock;
  /** The IDBFactory (default `indexedDB`). */
  indexedDB?: IDBFactory;
}

const OBJECT_STORE = 'tokens';

export class IndexedDbTokenStore implements TokenStore {
  readonly lock: TokenLock | undefined;
  readonly #name: string;
  readonly #factory: IDBFactory | undefined;
  #db: Promise<IDBDatabase> | undefined;

  constructor(options: IndexedDbTokenStoreOptions = {}) {
    this.#name = options.database ?? 'tessera-tokens';
    this.#factory = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
    this.lock = options.lock ?? (WebLocksTokenLock.available() ? new WebLocksTokenLock() : undefined);
  }

  async get(key: string): Promise<TokenSet | undefined> {
    return storedTokenSet(await this.#run('readonly', (s) => s.get(key)), `the IndexedDB entry ${JSON.stringify(key)} of ${this.#name}`, 'delete it');
  }

  async set(key: string, token: TokenSet): Promise<void> {
    await this.#run('readwrite', (s) => s.put(token, key));
  }

  async delete(key: string): Promise<void> {
    await this.#run('readwrite', (s) => s.delete(key));
  }

  /** One request in its own transaction; resolves when the transaction has committed. */
  async #run(mode: IDBTransactionMode, request: (store: IDBObjectStore) => IDBRequest): Promise<unknown> {
    const db = await this.#open();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(OBJECT_STORE, mode, { durability: 'strict' });
      const req = request(tx.objectStore(OBJECT_STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }

  #open(): Promise<IDBDatabase> {
    const factory = this.#factory;
    if (factory === undefined) return Promise.reject(new Error('IndexedDB is not available here'));
    this.#db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const req = factory.open(this.#name, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(OBJECT_STORE);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    }).catch((err) => {
      this.#db = undefined;
      throw err;
    });
    return this.#db;
  }
}
