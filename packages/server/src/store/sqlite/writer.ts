/**
 * Where the SQLite store's writes run (writes.ts), grouped into one transaction per turn of the
 * event loop (group-commit.ts):
 *
 *   inline  on the store's own connection, on the calling thread (the CLI, tests, :memory:);
 *   thread  on a worker thread with a connection of its own (tessera serve): the page writes,
 *           WAL appends and fsync of each commit no longer hold up the event loop that serves
 *           HTTP; reads stay on the main connection, which WAL lets read while the writer writes;
 *   socket  in a cluster worker (tessera serve --workers N, cluster.ts): sent over a Unix socket
 *           straight to the primary's writer thread, which commits every process's writes
 *           together. One writer per process measured 27 % slower, with 35 ms p99s from SQLite's
 *           lock waits.
 *
 * Whichever it is a write's promise settles only after its transaction committed, and it settles with
 * what the write method returned, or rejects with what it threw.
 */
import { createConnection, type Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { GroupCommit } from './group-commit.js';
import { SqliteWrites, WRITE_NAMES, type WriteArgs, type WriteName, type WriteResult } from './writes.js';

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

/** A batch as another process sends it (SocketWriter): an array of calls, each naming a write. */
export function isBatch(value: unknown): value is Call[] {
  return Array.isArray(value) && value.every((c: Partial<Call> | null) =>
    typeof c === 'object' && c !== null && Number.isSafeInteger(c.id) && typeof c.name === 'string' && WRITE_NAMES.has(c.name) && Array.isArray(c.args));
}

export interface ThreadOptions {
  path: string;
  synchronous: 'full' | 'normal';
  /**
   * Also take writes from other processes on a Unix socket at this path (a cluster primary's
   * thread, cluster.ts), in a directory only this user can enter: whoever connects may write.
   */
  socket?: string;
}

/** Writes queued in one turn that cross to the thread without waiting for the turn's end (issue 14, change 2). */
const POST_EVERY = 8;

/**
 * Queues the writes of a turn and sends them as one JSON batch (to a thread, or over a socket to
 * another process's); settles each write's promise with its answer.
 */
abstract class BatchingWriter implements Writer {
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>();
  private queue: Call[] = [];
  private scheduled = false;
  private next = 1;
  private idle: Array<() => void> = [];
  protected failure: Error | undefined;
  protected closing = false;

  /** `lost`: told once if the writer fails other than by close() (its thread died, its socket closed). */
  constructor(private readonly lost?: (error: Error) => void) {}

  /** Sends one batch: JSON text of Call[]. */
  protected abstract post(batch: string): void;
  /** The first write waiting for an answer, and the last answer: a thread is kept alive meanwhile. */
  protected busy(_busy: boolean): void {}

  write<K extends WriteName>(name: K, ...args: WriteArgs<K>): Promise<WriteResult<K>> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const id = this.next++;
      if (this.pending.size === 0) this.busy(true);
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.queue.push({ id, name, args });
      // Every POST_EVERY writes cross at once, so the writer starts committing while this turn
      // reads more; the rest of the turn's cross at its end. The writer commits what it has received
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

  protected send(): void {
    if (this.queue.length === 0 || this.failure) return;
    // As JSON text: structured cloning of the records cost more than stringifying them (the
    // records are plain data; an undefined argument arrives as null).
    this.post(JSON.stringify(this.queue));
    this.queue = [];
  }

  /** Settles the writes these answers are for. */
  protected settle(replies: readonly Reply[]): void {
    for (const reply of replies) {
      const call = this.pending.get(reply.id);
      if (!call) continue;
      this.pending.delete(reply.id);
      if (reply.ok) call.resolve(reply.value);
      else call.reject(Object.assign(new Error(reply.error.message), reply.error));
    }
    if (this.pending.size === 0) this.becameIdle();
  }

  /** Resolves once no write waits for an answer. */
  protected drained(): Promise<void> {
    return this.pending.size === 0 ? Promise.resolve() : new Promise((resolve) => this.idle.push(resolve));
  }

  private becameIdle(): void {
    this.busy(false);
    for (const resolve of this.idle.splice(0)) resolve();
  }

  protected fail(error: Error): void {
    if (this.failure === undefined && !this.closing) this.lost?.(error);
    this.failure ??= error;
    for (const call of this.pending.values()) call.reject(this.failure);
    this.pending.clear();
    this.queue = [];
    this.becameIdle();
  }

  abstract close(): Promise<void>;
}

export class ThreadWriter extends BatchingWriter {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;
  /** Resolves once the thread takes writes (and listens on its socket, if it has one); rejects if it died first. */
  readonly ready: Promise<void>;

  constructor(options: ThreadOptions, lost?: (error: Error) => void) {
    super(lost);
    // A small young generation: the thread's garbage is short-lived JSON, and the default (up to
    // 16 MiB per semi-space) cost ~30 MB of peak RSS for nothing.
    this.worker = new Worker(new URL('./writer-thread.js', import.meta.url), { workerData: options, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
    this.worker.unref();
    let ready!: () => void;
    let failed!: (error: Error) => void;
    this.ready = new Promise((resolve, reject) => {
      ready = resolve;
      failed = reject;
    });
    this.ready.catch(() => {}); // a thread that dies fails its writes too: nobody need wait for this
    // One message per commit, and 'ready' first.
    this.worker.on('message', (replies: Reply[] | 'ready') => {
      if (replies === 'ready') ready();
      else this.settle(replies);
    });
    this.worker.on('error', (error) => this.fail(error));
    this.exited = new Promise((resolve) => {
      this.worker.once('exit', (code) => {
        this.fail(new Error(`the SQLite writer thread exited (code ${code})`));
        failed(this.failure as Error);
        resolve();
      });
    });
  }

  protected post(batch: string): void {
    this.worker.postMessage(batch);
  }

  protected override busy(busy: boolean): void {
    // A pending write keeps the process alive until it is answered.
    if (busy) this.worker.ref();
    else this.worker.unref();
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.failure) return;
    this.send();
    this.worker.ref();
    this.worker.postMessage('close');
    await this.exited;
  }
}

/**
 * In a cluster worker (`tessera serve --workers N`): writes go over a Unix socket to the
 * primary's writer thread (ThreadOptions.socket), as newline-separated JSON batches. After every
 * commit, whoever's writes it held, the thread sends each connection one line with the answers for
 * its own writes (often none), so `onCommit` runs here at once for changes made by any process.
 */
export class SocketWriter extends BatchingWriter {
  private readonly socket: Socket;
  private readonly closed: Promise<void>;

  constructor(path: string, private readonly onCommit: () => void, lost?: (error: Error) => void) {
    super(lost);
    this.socket = createConnection(path);
    this.socket.unref();
    onLines(this.socket, (line) => {
      this.settle(JSON.parse(line) as Reply[]);
      this.onCommit();
    });
    this.socket.on('error', (error) => this.fail(new Error(`the SQLite writer (the cluster's primary) cannot be reached: ${error.message}`)));
    this.closed = new Promise((resolve) => this.socket.once('close', () => {
      this.fail(new Error('the SQLite writer (the cluster\'s primary) closed the connection'));
      resolve();
    }));
  }

  protected post(batch: string): void {
    this.socket.write(`${batch}\n`);
  }

  protected override busy(busy: boolean): void {
    if (busy) this.socket.ref();
    else this.socket.unref();
  }

  async close(): Promise<void> {
    this.closing = true;
    this.send();
    await this.drained();
    if (!this.socket.destroyed) this.socket.end();
    await this.closed;
  }
}

/** Calls `line` with each newline-terminated line `socket` receives (the socket protocol's framing). */
export function onLines(socket: Socket, line: (text: string) => void): void {
  let buffered = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    let start = 0;
    for (let end = chunk.indexOf('\n'); end !== -1; end = chunk.indexOf('\n', start)) {
      const text = buffered + chunk.slice(start, end);
      buffered = '';
      start = end + 1;
      line(text);
      if (socket.destroyed) return;
    }
    buffered += chunk.slice(start);
  });
}
