/**
 * Where the SQLite store's writes run (writes.ts), grouped into one transaction per turn of the
 * event loop (group-commit.ts):
 *
 *   inline  on the store's own connection, on the calling thread (the CLI, tests, :memory:);
 *   thread  on a worker thread with a connection of its own (tessera serve): the page writes,
 *           WAL appends and fsync of each commit no longer hold up the event loop that serves
 *           HTTP; reads stay on the main connection, which WAL lets read while the writer writes.
 *
 * Either way a write's promise settles only after its transaction committed, and it settles with
 * what the write method returned, or rejects with what it threw.
 */
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { GroupCommit } from './group-commit.js';
import { SqliteWrites, type WriteArgs, type WriteName, type WriteResult } from './writes.js';

export interface Writer {
  write<K extends WriteName>(name: K, ...args: WriteArgs<K>): Promise<WriteResult<K>>;
  /** Commits what is queued and releases the writer's resources. */
  close(): Promise<void>;
}

type AnyWrite = (...args: unknown[]) => unknown;

export class InlineWriter implements Writer {
  private readonly writes: SqliteWrites;
  private readonly group: GroupCommit;

  constructor(db: Database.Database) {
    this.writes = new SqliteWrites(db);
    this.group = new GroupCommit(db, this.writes.transaction);
  }

  write<K extends WriteName>(name: K, ...args: WriteArgs<K>): Promise<WriteResult<K>> {
    return this.group.run(() => (this.writes[name] as AnyWrite).apply(this.writes, args) as WriteResult<K>);
  }

  async close(): Promise<void> {
    this.group.flush();
  }
}

/** One write sent to the writer thread, and its answer. */
export interface Call {
  id: number;
  name: WriteName;
  args: unknown[];
}
export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: { name: string; message: string; code?: unknown } };

export interface ThreadOptions {
  path: string;
  synchronous: 'full' | 'normal';
}

/** Writes queued in one turn that cross to the thread without waiting for the turn's end (issue 14, change 2). */
const POST_EVERY = 8;

export class ThreadWriter implements Writer {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>();
  private queue: Call[] = [];
  private scheduled = false;
  private next = 1;
  private failure: Error | undefined;
  private readonly exited: Promise<void>;

  constructor(options: ThreadOptions) {
    // A small young generation: the thread's garbage is short-lived JSON, and the default (up to
    // 16 MiB per semi-space) cost ~30 MB of peak RSS for nothing.
    this.worker = new Worker(new URL('./writer-thread.js', import.meta.url), { workerData: options, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
    this.worker.unref();
    this.worker.on('message', (replies: Reply[]) => {
      for (const reply of replies) {
        const call = this.pending.get(reply.id);
        if (!call) continue;
        this.pending.delete(reply.id);
        if (reply.ok) call.resolve(reply.value);
        else call.reject(Object.assign(new Error(reply.error.message), reply.error));
      }
      if (this.pending.size === 0) this.worker.unref();
    });
    this.worker.on('error', (error) => this.fail(error));
    this.exited = new Promise((resolve) => {
      this.worker.once('exit', (code) => {
        this.fail(new Error(`the SQLite writer thread exited (code ${code})`));
        resolve();
      });
    });
  }

  write<K extends WriteName>(name: K, ...args: WriteArgs<K>): Promise<WriteResult<K>> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const id = this.next++;
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.queue.push({ id, name, args });
      // A pending write keeps the process alive until it is answered.
      this.worker.ref();
      // Every POST_EVERY writes cross at once, so the thread starts committing while this turn
      // reads more; the rest of the turn's cross at its end. The thread commits what it has received
      // together.
      if (this.queue.length >= POST_EVERY) this.send();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.send();
        });
      }
    });
  }

  private send(): void {
    if (this.queue.length === 0 || this.failure) return;
    // As JSON text: structured cloning of the records cost this thread more than stringifying
    // them (the records are plain data; an undefined argument arrives as null).
    this.worker.postMessage(JSON.stringify(this.queue));
    this.queue = [];
  }

  async close(): Promise<void> {
    if (this.failure) return;
    this.send();
    this.worker.ref();
    this.worker.postMessage('close');
    await this.exited;
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const call of this.pending.values()) call.reject(this.failure);
    this.pending.clear();
    this.queue = [];
  }
}
