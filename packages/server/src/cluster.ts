/**
 * `tessera serve --workers N` (issue 14, change 5): N worker processes serve the same listeners
 * (node:cluster's primary accepts each connection and hands it to a worker in turn), so parsing
 * HTTP, reading, signing and hashing use N event loops.
 *
 * On SQLite every write still goes to one writer: the primary's writer thread, which also listens
 * on a Unix socket in a directory of the primary's own (mode 0700). Each worker sends it its
 * writes there (SocketWriter, store/sqlite/writer.ts) without the primary's event loop in the way;
 * after each commit the thread sends every worker the answers that are its own, which also tells
 * it that something committed, so its revocation streams and client cache look at once rather
 * than at the next poll. On PostgreSQL each worker is an instance of its own, which the store's
 * LISTEN/NOTIFY already joins.
 *
 * The primary alone runs the expiry sweeper, the webhook deliveries, the admin API (console
 * sign-ins live in its memory) and the metrics listener, whose GET /metrics sums the workers'
 * registries with its own (prom-client's AggregatorRegistry). It also keeps the guessing
 * throttles (sign-in-throttle.ts) that the workers ask over IPC, so failures counted by one worker
 * slow the others and a pair known to one is known to all.
 * A worker that dies is replaced; SIGTERM or SIGINT to the primary drains every worker, then
 * closes the database.
 */
import cluster, { type Worker } from 'node:cluster';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { listenOn } from './http/listener.js';
import { drain } from './http/node-server.js';
import type { ThrottleSource } from './lifecycle/engine.js';
import { type Attempt, type Begun, type Ended, SignInThrottle, type Throttle, type ThrottleKind, throttleSettings } from './lifecycle/sign-in-throttle.js';
import { METRICS_PATH, type MetricsSource } from './metrics/endpoint.js';
import { tokenCensus } from './metrics/token-census.js';
import { openTessera, type Tessera } from './open.js';
import { resolveConfig } from './config.js';
import { adminServer, listenMetrics, serverMetrics, startHousekeeping, type StartOptions, warnAddressThrottled, warnAdminHost } from './server.js';
import { isPostgresUrl } from './store/postgres/connection.js';
import type { SqliteStore } from './store/sqlite/sqlite-store.js';

/** The environment variables that tell a worker its number and, on SQLite, the writer's socket. */
const WORKER_ENV = 'TESSERA_WORKER';
const SOCKET_ENV = 'TESSERA_WRITER_SOCKET';
/** Most workers a primary runs. */
export const MAX_WORKERS = 64;
/** A worker that dies is replaced after this long (a worker failing at once does not spin the CPU). */
const RESPAWN_MS = 1000;
/** How long the primary waits for its workers to drain and exit before it kills them. */
const STOP_WAIT_MS = 30_000;
/** How long a scrape waits for a worker's metrics; one that does not answer is left out. */
const METRICS_WAIT_MS = 2000;

/** What a worker and the primary say to each other over the cluster's IPC channel. */
type ControlMessage =
  | { tessera: 'listening'; url: string; issuer: string }
  | { tessera: 'shutdown' }
  | { tessera: 'metrics'; id: number; metrics?: unknown }
  /** A worker's call of the primary's throttle; `id` when it wants the answer (begin, end). */
  | { tessera: 'throttle'; id?: number; kind: ThrottleKind; op: 'begin' | 'cancel' | 'end'; args: unknown[] }
  | { tessera: 'throttled'; id: number; result: Begun | Ended };

/**
 * When this process is a worker of `tessera serve --workers`: its number, the writer's socket
 * (SQLite) and the primary's throttles.
 */
export function clusterWorker(): { index: number; writerSocket?: string; throttle: ThrottleSource } | undefined {
  if (!cluster.isWorker) return undefined;
  const index = Number(process.env[WORKER_ENV]);
  if (!Number.isInteger(index) || index < 1) return undefined;
  const writerSocket = process.env[SOCKET_ENV];
  const throttle: ThrottleSource = (kind) => new PrimaryThrottle(kind);
  return writerSocket ? { index, writerSocket, throttle } : { index, throttle };
}

/** A throttle kept by the primary: each call is one IPC round trip (a sign-in then hashes for tens of ms). */
class PrimaryThrottle implements Throttle {
  private static next = 0;
  private static readonly waiting = new Map<number, { resolve: (result: Begun | Ended) => void; reject: (err: Error) => void }>();
  private static listening = false;

  constructor(private readonly kind: ThrottleKind) {
    if (PrimaryThrottle.listening) return;
    PrimaryThrottle.listening = true;
    process.on('message', (message: unknown) => {
      if (!isControl(message) || message.tessera !== 'throttled') return;
      PrimaryThrottle.waiting.get(message.id)?.resolve(message.result);
      PrimaryThrottle.waiting.delete(message.id);
    });
    process.once('disconnect', () => {
      for (const call of PrimaryThrottle.waiting.values()) call.reject(new Error('the cluster primary, which keeps the sign-in throttle, is gone'));
      PrimaryThrottle.waiting.clear();
    });
  }

  private ask<T extends Begun | Ended>(op: 'begin' | 'end', args: unknown[]): Promise<T> {
    if (!process.connected) return Promise.reject(new Error('the cluster primary, which keeps the sign-in throttle, is gone'));
    const id = ++PrimaryThrottle.next;
    return new Promise((resolve, reject) => {
      PrimaryThrottle.waiting.set(id, { resolve: resolve as (result: Begun | Ended) => void, reject });
      process.send?.({ tessera: 'throttle', id, kind: this.kind, op, args } satisfies ControlMessage);
    });
  }

  begin(account: string, address: string): Promise<Begun> {
    return this.ask('begin', [account, address]);
  }

  cancel(attempt: Attempt): void {
    if (process.connected) process.send?.({ tessera: 'throttle', kind: this.kind, op: 'cancel', args: [attempt] } satisfies ControlMessage);
  }

  end(attempt: Attempt, ok: boolean): Promise<Ended> {
    return this.ask('end', [attempt, ok]);
  }
}

export interface RunningCluster {
  url: string;
  issuer: string;
  adminUrl?: string;
  metricsUrl?: string;
  /** The primary's own Tessera: the store the sweeper and webhooks use. */
  tessera: Tessera;
  /** Resolves if the writer thread dies: then nothing can be written, and the server should stop. */
  failed: Promise<Error>;
  close(): Promise<void>;
}

/**
 * The primary: opens (and migrates) the database, starts `workers` workers, each running this
 * same program, and resolves once every one listens. `options.worker` is ignored.
 */
export async function startPrimary(options: StartOptions & { workers: number; logger: Logger }): Promise<RunningCluster> {
  const log = options.logger;
  const metrics = options.metrics && await serverMetrics(options.metrics);
  // Opened first: migrations and the first signing key happen once, before any worker reads.
  const sqlite = !isPostgresUrl(options.db);
  // Whoever can connect to the socket can write: it lives in a directory only this user enters.
  const socketDir = sqlite ? mkdtempSync(join(tmpdir(), 'tessera-')) : undefined;
  const writerSocket = socketDir && join(socketDir, 'writer.sock');
  const removeSocketDir = () => socketDir && rmSync(socketDir, { recursive: true, force: true });
  // The throttles every worker asks, and the primary's own engine uses.
  const config = resolveConfig(options.config);
  const throttles: Record<ThrottleKind, SignInThrottle> = {
    'sign-in': new SignInThrottle(throttleSettings(config, (address) => warnAddressThrottled(log, config, address))),
    'device-code': new SignInThrottle(throttleSettings(config)),
  };
  // The writer thread dying leaves no worker able to write: the server stops (serve.ts).
  let writerLost!: (error: Error) => void;
  const failed = new Promise<Error>((resolve) => {
    writerLost = resolve;
  });
  let tessera: Tessera | undefined;
  const workers = new Map<number, Worker>();
  let started = false;
  let closing = false;
  let housekeeping: ReturnType<typeof startHousekeeping> | undefined;
  /** A start that failed part way: undoes what was done, then throws `err`. */
  async function abandon(err: unknown): Promise<never> {
    await stopWorkers(5000);
    await housekeeping?.stop();
    await tessera?.close();
    removeSocketDir();
    throw err;
  }
  try {
    tessera = await openTessera({
      db: options.db, config: options.config, synchronous: options.synchronous ?? 'full', writer: 'thread', writerSocket, throttle: (kind) => throttles[kind],
      onWriterLost: writerLost,
    });
    if (sqlite) await (tessera.store as SqliteStore).writerReady();
  } catch (err) {
    return abandon(err);
  }

  const metricsWaiting = new Map<number, { left: number; results: unknown[]; done: () => void }>();
  let metricsId = 0;
  const listening = new Map<number, (message: Extract<ControlMessage, { tessera: 'listening' }>) => void>();

  const fork = (origin: number): Worker => {
    // The attempts this worker has begun and not yet ended: cancelled if it dies with them.
    const attempts = new InFlight();
    let dead = false;
    const worker = cluster.fork({ [WORKER_ENV]: String(origin), ...(writerSocket ? { [SOCKET_ENV]: writerSocket } : {}) });
    workers.set(origin, worker);
    worker.on('message', (message: unknown) => {
      if (!isControl(message)) return;
      if (message.tessera === 'listening') {
        listening.get(origin)?.(message);
        // Started while the primary was stopping: the shutdown sent before it listened went unheard.
        if (closing) worker.send({ tessera: 'shutdown' } satisfies ControlMessage);
      } else if (message.tessera === 'throttle') {
        const { id, kind, op, args } = message;
        if (!Object.hasOwn(throttles, kind)) return;
        const throttle = throttles[kind];
        const attempt = args[0] as Attempt;
        let result: Begun | Ended | undefined;
        try {
          if (op === 'begin') result = throttle.begin(String(args[0]), String(args[1]));
          else if (op === 'end') result = throttle.end(attempt, args[1] === true);
          else throttle.cancel(attempt);
        } catch (err) {
          log.error({ err, worker: origin }, 'a worker\'s throttle call failed');
          return;
        }
        if (result && 'attempt' in result) {
          // Read after the worker's exit (IPC may still hold messages then): no one will end it.
          if (dead) throttle.cancel(result.attempt);
          else attempts.add(result.attempt, kind);
        } else if (op !== 'begin') attempts.delete(attempt, kind);
        if (id !== undefined && result && worker.isConnected()) worker.send({ tessera: 'throttled', id, result } satisfies ControlMessage);
      }
      else if (message.tessera === 'metrics') {
        const { id, metrics: result } = message;
        const waiting = metricsWaiting.get(id);
        if (!waiting) return;
        waiting.results.push(result);
        if (--waiting.left === 0) waiting.done();
      }
    });
    worker.once('exit', (code, signal) => {
      dead = true;
      if (workers.get(origin) === worker) workers.delete(origin);
      for (const [attempt, kind] of attempts.drain()) throttles[kind].cancel(attempt);
      if (closing || !started) return;
      // A worker recycled on purpose (SIGTERM to it) exits 0; anything else is a crash.
      log[code === 0 ? 'warn' : 'error']({ worker: origin, workerPid: worker.process.pid, code, signal }, 'a worker exited; starting another');
      setTimeout(() => {
        if (!closing) fork(origin);
      }, RESPAWN_MS).unref();
    });
    return worker;
  };

  async function stopWorkers(timeout: number): Promise<void> {
    closing = true;
    const exits = [...workers.values()].map((worker) => new Promise<void>((resolve) => {
      if (worker.isDead()) return resolve();
      worker.once('exit', () => resolve());
      if (worker.isConnected()) worker.send({ tessera: 'shutdown' } satisfies ControlMessage);
      else worker.kill();
    }));
    await Promise.race([Promise.all(exits), new Promise((resolve) => setTimeout(resolve, timeout).unref())]);
    for (const worker of workers.values()) if (!worker.isDead()) worker.kill('SIGKILL');
  }

  // Every worker listening, or the first to fail: a worker that exits before it listens has
  // already said why on stderr (a port in use, an unreadable database…).
  let first: Extract<ControlMessage, { tessera: 'listening' }>;
  try {
    const all = await Promise.all(Array.from({ length: options.workers }, (_, i) => {
      const origin = i + 1;
      return new Promise<Extract<ControlMessage, { tessera: 'listening' }>>((resolve, reject) => {
        listening.set(origin, (message) => {
          listening.delete(origin);
          resolve(message);
        });
        fork(origin).once('exit', (code) => reject(new Error(`worker ${origin} of ${options.workers} could not start (exit code ${code}); its error is above`)));
      });
    }));
    first = all[0] as Extract<ControlMessage, { tessera: 'listening' }>;
  } catch (err) {
    return abandon(err);
  }

  started = true;
  housekeeping = startHousekeeping(tessera, log, metrics);
  const census = tokenCensus(tessera.store);
  // The admin API and console here, on the primary's Tessera: console sign-ins live in this process.
  let admin: { server: Server; url: string } | undefined;
  if (options.adminPort !== undefined) {
    const handler = (await import('./admin/api.js')).createAdminHandler(tessera, { census });
    const server = adminServer(options, log, handler);
    try {
      admin = { server, url: await listenOn(server, options.adminPort, options.adminHost ?? '127.0.0.1') };
    } catch (err) {
      return abandon(err);
    }
    warnAdminHost(options, log, admin.url);
  }
  let metricsListener: { server: Server; url: string } | undefined;
  if (options.metrics && metrics) {
    // The primary's own registry (sweeper, token census, webhook deliveries) and every worker's
    // (requests, audit events, revocation streams), summed metric by metric.
    const { AggregatorRegistry } = await import('prom-client');
    const source: MetricsSource = async () => {
      const id = ++metricsId;
      const live = [...workers.values()].filter((w) => w.isConnected());
      const results: unknown[] = [];
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, METRICS_WAIT_MS);
        metricsWaiting.set(id, { left: live.length, results, done: () => { clearTimeout(timer); resolve(); } });
        if (live.length === 0) resolve();
        for (const worker of live) worker.send({ tessera: 'metrics', id } satisfies ControlMessage);
      });
      metricsWaiting.delete(id);
      const own = await metrics.registry.getMetricsAsJSON();
      const registry = AggregatorRegistry.aggregate([own, ...results] as Parameters<typeof AggregatorRegistry.aggregate>[0]);
      return { body: await registry.metrics(), contentType: registry.contentType };
    };
    try {
      metricsListener = await listenMetrics(metrics, options.metrics, census, tessera.store, source);
    } catch (err) {
      if (admin) await drain(admin.server, 1000);
      return abandon(err);
    }
  }
  log.info({
    url: first.url, issuer: first.issuer, workers: options.workers, ...(metricsListener ? { metrics: metricsListener.url + METRICS_PATH } : {}), ...(admin ? { adminUrl: admin.url } : {}),
  }, 'listening');

  let closed: Promise<void> | undefined;
  return {
    url: first.url,
    issuer: first.issuer,
    ...(admin ? { adminUrl: admin.url } : {}),
    ...(metricsListener ? { metricsUrl: metricsListener.url } : {}),
    tessera,
    failed,
    close() {
      closed ??= (async () => {
        housekeeping.stopSweeping();
        // The workers drain their requests (each for at most drain()'s 10 s) and send their last
        // writes; only then does the writer close.
        await Promise.all([stopWorkers(STOP_WAIT_MS), metricsListener && drain(metricsListener.server), admin && drain(admin.server)]);
        await housekeeping.stop();
        await tessera.close();
        removeSocketDir();
        log.info('stopped');
        log.flush();
      })();
      return closed;
    },
  };
}

/**
 * A worker's side, once its server listens: tells the primary where, answers its metrics
 * requests, and resolves when the primary says to stop (or is gone), or on SIGTERM to this worker
 * alone (the primary then starts another). SIGINT is the primary's to act on: a terminal's Ctrl-C
 * reaches every process of the group.
 */
export function serveAsWorker(listening: { url: string; issuer: string }, registry?: { getMetricsAsJSON(): Promise<unknown> }): Promise<void> {
  process.on('SIGINT', () => {});
  if (!process.connected) return Promise.resolve();
  process.send?.({ tessera: 'listening', ...listening } satisfies ControlMessage);
  return new Promise((resolve) => {
    const onMessage = (message: unknown) => {
      if (!isControl(message)) return;
      if (message.tessera === 'shutdown') stop();
      else if (message.tessera === 'metrics') {
        const { id } = message;
        void (registry ? registry.getMetricsAsJSON() : Promise.resolve([])).then(
          (metrics) => process.connected && process.send?.({ tessera: 'metrics', id, metrics } satisfies ControlMessage),
          () => process.connected && process.send?.({ tessera: 'metrics', id, metrics: [] } satisfies ControlMessage),
        );
      }
    };
    const stop = () => {
      process.off('message', onMessage).off('disconnect', stop).off('SIGTERM', stop);
      resolve();
    };
    process.on('message', onMessage).once('disconnect', stop).once('SIGTERM', stop);
  });
}

/** After the worker closed: lets go of the primary, so nothing keeps the process alive. */
export function leaveCluster(): void {
  if (process.connected) process.disconnect();
}

/** Throttle attempts a worker has in flight, counted by their keys (the same keys may be in flight twice). */
class InFlight {
  private readonly attempts = new Map<string, { attempt: Attempt; kind: ThrottleKind; n: number }>();
  add(attempt: Attempt, kind: ThrottleKind): void {
    const key = `${kind} ${attempt.keys.join('\n')}`;
    const entry = this.attempts.get(key);
    if (entry) entry.n++;
    else this.attempts.set(key, { attempt, kind, n: 1 });
  }
  delete(attempt: Attempt, kind: ThrottleKind): void {
    const key = `${kind} ${attempt.keys.join('\n')}`;
    const entry = this.attempts.get(key);
    if (entry && --entry.n === 0) this.attempts.delete(key);
  }
  drain(): Array<[Attempt, ThrottleKind]> {
    const all = [...this.attempts.values()].flatMap(({ attempt, kind, n }) => Array.from({ length: n }, (): [Attempt, ThrottleKind] => [attempt, kind]));
    this.attempts.clear();
    return all;
  }
}

function isControl(message: unknown): message is ControlMessage {
  const tag = typeof message === 'object' && message !== null ? (message as { tessera?: unknown }).tessera : undefined;
  return tag === 'listening' || tag === 'shutdown' || tag === 'metrics' || tag === 'throttle' || tag === 'throttled';
}
