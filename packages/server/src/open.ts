/** Opens a Tessera database: store, keys and engine, wired the same way for the server and the CLI. */
import { resolveConfig, type ServerConfig } from './config.js';
import { LifecycleEngine, type ThrottleSource } from './lifecycle/engine.js';
import { KeyRing } from './lifecycle/keys.js';
import { countingAuditEvents } from './metrics/audit-events.js';
import { isPostgresUrl } from './store/postgres/connection.js';
import { PostgresStore } from './store/postgres/postgres-store.js';
import { SqliteStore, type SqliteStoreOptions } from './store/sqlite/sqlite-store.js';
import type { Store } from './store/types.js';

export interface Tessera {
  store: Store;
  keys: KeyRing;
  engine: LifecycleEngine;
  config: ServerConfig;
  close(): Promise<void>;
}

export async function openTessera(options: {
  /** A SQLite file path (created and migrated when needed), or a postgres:// URL of a database `tessera migrate` prepared. */
  db: string;
  config?: Partial<ServerConfig>;
  synchronous?: SqliteStoreOptions['synchronous'];
  writer?: SqliteStoreOptions['writer'];
  writerSocket?: SqliteStoreOptions['writerSocket'];
  onWriterLost?: SqliteStoreOptions['onWriterLost'];
  now?: () => number;
  /** Called with the event of each audit record the engine's writes commit (the metrics' counter). */
  audited?: (event: string) => void;
  /** The guessing throttles, when not the engine's own (a cluster worker's are its primary's, cluster.ts). */
  throttle?: ThrottleSource;
}): Promise<Tessera> {
  const config = resolveConfig(options.config);
  const store: Store = isPostgresUrl(options.db)
    ? await PostgresStore.open({ url: options.db, poolSize: config.dbPoolSize, statementTimeout: config.dbStatementTimeout })
    : new SqliteStore({ path: options.db, synchronous: options.synchronous ?? 'full', writer: options.writer, writerSocket: options.writerSocket, onWriterLost: options.onWriterLost });
  try {
    return await tesseraOnStore(store, config, options.now, options.audited, options.throttle);
  } catch (err) {
    await store.close();
    throw err;
  }
}

/**
 * The one wiring of a Tessera around a Store (SQLite, PostgreSQL, or a test's wrapper of one):
 * resolves the settings, loads or creates the signing keys in the store, and builds the engine on
 * both. openTessera uses it; `close()` closes the store. With `audited`, the engine's writes go
 * through countingAuditEvents (metrics/audit-events.ts); without, straight to the store.
 */
export async function tesseraOnStore(
  store: Store, config?: Partial<ServerConfig>, now: () => number = Date.now, audited?: (event: string) => void, throttle?: ThrottleSource,
): Promise<Tessera> {
  const resolved = resolveConfig(config);
  const written = audited ? countingAuditEvents(store, audited) : store;
  const keys = new KeyRing(written, now);
  await keys.init();
  const engine = new LifecycleEngine(written, resolved, keys, now, throttle);
  return { store, keys, engine, config: resolved, close: () => store.close() };
}
