/** Starts the authorization server on node:http with the expiry sweeper; `close()` drains and closes. */
import type { Server } from 'node:http';
import { OAuthError } from '@tessera/core';
import type { Logger } from 'pino';
import { toProblemResponse } from './admin/problem.js';
import { createHandler } from './app.js';
import { defaults, metricsDefaults, type ServerConfig } from './config.js';
import { listen, listenOn, routeTable } from './http/listener.js';
import { createNodeServer, drain, STREAM_STALL_MS } from './http/node-server.js';
import type { Handler } from './http/types.js';
import type { ThrottleSource } from './lifecycle/engine.js';
import { startSweeper } from './lifecycle/sweeper.js';
import { METRICS_PATH, metricsEndpoint, type MetricsSource } from './metrics/endpoint.js';
import { tokenCensus } from './metrics/token-census.js';
import { createLogger } from './log.js';
import { openTessera, type Tessera } from './open.js';
import { isPostgresUrl } from './store/postgres/connection.js';
import { exposedToOthers } from './store/sqlite/connection.js';
import { readSealingKey } from './secrets.js';
import { startWebhookWorker } from './webhooks/worker.js';

export interface StartOptions {
  db: string;
  port: number;
  host: string;
  config?: Partial<ServerConfig>;
  synchronous?: 'full' | 'normal';
  /** Where logs go; by default JSON lines on stderr at TESSERA_LOG_LEVEL (default info). */
  logger?: Logger;
  /**
   * GET /metrics (Prometheus) on a listener of its own at host:port (port 0: any free one); off
   * when absent, and then nothing is measured. Defaults: config.ts metricsDefaults.
   */
  metrics?: { port: number; host?: string; tokenCountInterval?: number };
  /** Serve the admin API (admin/api.ts) on a listener of its own at this port (0: any free one); off when absent. */
  adminPort?: number;
  /** The admin listener's address (default 127.0.0.1: the admin API is for the operator's own network). */
  adminHost?: string;
  /**
   * This process is one worker of `tessera serve --workers N` (cluster.ts): on SQLite its writes
   * go to the primary's writer thread on `writerSocket`; the primary runs the sweeper, the webhook
   * deliveries and the metrics listener (`metrics` here only measures).
   */
  worker?: { writerSocket?: string; throttle: ThrottleSource; onWriterLost?: (error: Error) => void };
}

export interface RunningServer {
  url: string;
  /** The metrics listener's URL (GET /metrics there), when one was asked for. */
  metricsUrl?: string;
  /** The admin listener's URL (its API under /admin/api/v1), when adminPort was given. */
  adminUrl?: string;
  tessera: Tessera;
  /** In a cluster worker with metrics: its registry, which the primary sums with the others' (cluster.ts). */
  metricsRegistry?: { getMetricsAsJSON(): Promise<unknown> };
  close(): Promise<void>;
}

/** Connections refused at maxConnections are logged at most this often, with their count. */
const DROP_LOG_MS = 10_000;

export async function startServer(options: StartOptions): Promise<RunningServer> {
  const log = options.logger ?? createLogger(process.env.TESSERA_LOG_LEVEL || undefined);
  // The server listens before the store is open (port 0 must resolve first: the default issuer is
  // the URL we serve on). Requests that arrive meanwhile wait for the handler, never a 500.
  let handler: Handler | undefined;
  let ready!: (handler: Handler) => void;
  let failed!: (err: unknown) => void;
  const starting = new Promise<Handler>((resolve, reject) => {
    ready = resolve;
    failed = reject;
  });
  starting.catch(() => {});
  // Loaded only with a metrics listener: without one, prom-client is never imported and nothing is measured.
  const metrics = options.metrics && await serverMetrics(options.metrics);
  const worker = options.worker;
  const logRequests = log.isLevelEnabled('info');
  let drops = 0;
  let dropLogged = 0;
  // Never log request bodies, query strings or headers: they carry secrets and tokens.
  const server = createNodeServer((req) => (handler !== undefined ? handler(req) : starting.then((h) => h(req))), {
    maxBodyBytes: options.config?.maxBodyBytes ?? defaults.maxBodyBytes,
    // The node:http adapter takes each of these from config.ts's defaults when absent.
    headersTimeout: options.config?.headersTimeout,
    requestTimeout: options.config?.requestTimeout,
    keepAliveTimeout: options.config?.keepAliveTimeout,
    maxConnections: options.config?.maxConnections,
    streamStallTimeout: streamStallTimeout(options),
    onError: (err, req, reqId) => log.error({ err, reqId, method: req?.method, path: req?.path }, 'request failed'),
    // One plain call per response: no child logger per request, nothing built when info is off
    // and there are no metrics.
    onResponse: metrics
      ? (entry) => {
          if (entry.path !== undefined && entry.ms !== undefined) metrics.observeRequest(entry.path, entry.ms);
          if (logRequests) log.info(entry, 'request');
        }
      : logRequests ? (entry) => log.info(entry, 'request') : undefined,
    onDrop: () => {
      drops++;
      const now = Date.now();
      if (now - dropLogged < DROP_LOG_MS) return;
      log.warn({ refused: drops, maxConnections: server.maxConnections }, 'connection limit reached: new connections refused');
      dropLogged = now;
      drops = 0;
    },
  });
  const url = await listenOn(server, options.port, options.host);
  // The admin API on its own listener, never the public one; it too waits for the store.
  const admin = options.adminPort === undefined ? undefined : adminServer(options, log, (req) => starting.then(() => adminHandler(req)));
  let adminHandler: Handler = async () => {
    throw new OAuthError('temporarily_unavailable', 'the server is starting');
  };
  let adminUrl: string | undefined;
  if (admin) {
    try {
      adminUrl = await listenOn(admin, options.adminPort as number, options.adminHost ?? '127.0.0.1');
    } catch (err) {
      await drain(server, 1000);
      throw err;
    }
  }
  let tessera: Tessera;
  try {
    // Commits run on a writer thread: the event loop that serves HTTP does not wait for them.
    tessera = await openTessera({
      db: options.db, config: { issuer: url, ...options.config }, synchronous: options.synchronous ?? 'full', writer: worker?.writerSocket ? { socket: worker.writerSocket } : 'thread', audited: metrics?.audited,
      throttle: worker?.throttle, onWriterLost: worker?.onWriterLost,
    });
  } catch (err) {
    // Requests that waited for the start hear that it failed, then the server closes.
    failed(new OAuthError('temporarily_unavailable', 'the server could not start', { headers: { 'retry-after': '5' } }));
    await Promise.all([drain(server, 1000), admin && drain(admin, 1000)]);
    throw err;
  }
  // A worker's throttle is the primary's, which says so itself (cluster.ts).
  if (!worker) tessera.engine.on('signInAddressThrottled', ({ address }) => warnAddressThrottled(log, tessera.config, address));
  handler = createHandler(tessera, { metrics });
  // One count of the tokens for the metrics gauge and the admin API's /stats: each takes the other's when fresh enough.
  const census = tokenCensus(tessera.store);
  // Loaded only with an admin listener: without one, the admin API (and zod) is never imported.
  if (admin) adminHandler = (await import('./admin/api.js')).createAdminHandler(tessera, { census });
  ready(handler);
  let metricsListener: { server: Server; url: string } | undefined;
  if (options.metrics && metrics && !worker) {
    try {
      metricsListener = await listenMetrics(metrics, options.metrics, census, tessera.store);
    } catch (err) {
      await Promise.all([drain(server, 1000), admin && drain(admin, 1000)]);
      await tessera.close();
      throw err;
    }
  }
  // The CLI refuses such a file; a program embedding the server is told, loudly.
  const exposed = isPostgresUrl(options.db) ? { files: [], dir: undefined } : exposedToOthers(options.db);
  if (!worker && (exposed.files.length > 0 || exposed.dir !== undefined)) {
    log.warn({ db: options.db, ...exposed }, 'the data file holds the private signing keys and password hashes, and other users can read it: chmod 600 the files and chmod 700 the directory');
  }
  const housekeeping = worker ? undefined : startHousekeeping(tessera, log, metrics);
  if (adminUrl) warnAdminHost(options, log, adminUrl);
  if (!worker) log.info({ url, issuer: tessera.config.issuer, ...(metricsListener ? { metrics: metricsListener.url + METRICS_PATH } : {}), ...(adminUrl ? { adminUrl } : {}) }, 'listening');
  // Settings hold no secrets; at debug they show what the server actually runs with.
  log.debug({ config: tessera.config }, 'settings');
  let closing: Promise<void> | undefined;
  return {
    url,
    ...(metricsListener ? { metricsUrl: metricsListener.url } : {}),
    ...(adminUrl ? { adminUrl } : {}),
    ...(worker && metrics ? { metricsRegistry: metrics.registry } : {}),
    tessera,
    close() {
      closing ??= (async () => {
        housekeeping?.stopSweeping();
        await Promise.all([drain(server), metricsListener && drain(metricsListener.server), admin && drain(admin)]);
        await housekeeping?.stop();
        await tessera.close();
        log.info('stopped');
        log.flush();
      })();
      return closing;
    },
  };
}

/** Prometheus metrics (prom-client, loaded only when asked for). */
export async function serverMetrics(options: NonNullable<StartOptions['metrics']>) {
  const { ServerMetrics } = await import('./metrics/metrics.js');
  return new ServerMetrics({ tokenCountInterval: options.tokenCountInterval ?? metricsDefaults.tokenCountInterval });
}

type ServerMetrics = Awaited<ReturnType<typeof serverMetrics>>;

/** The metrics listener, told of the token census and the webhook deliveries; `source`: what GET /metrics serves (metricsEndpoint). */
export async function listenMetrics(
  metrics: ServerMetrics, options: NonNullable<StartOptions['metrics']>, census: ReturnType<typeof tokenCensus>, store: Tessera['store'], source?: MetricsSource,
): Promise<{ server: Server; url: string }> {
  metrics.watchTokens(census);
  metrics.watchWebhooks(store);
  return listen(routeTable(new Map([[METRICS_PATH, metricsEndpoint(metrics, source)]])), options.port, options.host ?? metricsDefaults.host, 1024);
}

/**
 * What one process of a deployment runs beside the requests: the expiry sweeper and the webhook
 * deliveries (the primary, with `--workers`). `stopSweeping` first, then `stop` once requests drained.
 */
export function startHousekeeping(tessera: Tessera, log: Logger, metrics?: ServerMetrics): { stopSweeping(): void; stop(): Promise<void> } {
  const sweeper = startSweeper(tessera.store, {
    batch: tessera.config.sweepBatch,
    interval: tessera.config.sweepInterval,
    retention: tessera.config.sweepRetention,
    onError: (err) => log.error({ err }, 'expiry sweep failed'),
    onBatch: metrics?.sweptBatch,
  });
  let sealingKey: Buffer | undefined;
  const webhooks = startWebhookWorker(tessera.store, {
    config: tessera.config,
    sealingKey: () => {
      if (tessera.config.clientSecretKeyFile === '') return undefined;
      sealingKey ??= readSealingKey(tessera.config.clientSecretKeyFile);
      return sealingKey;
    },
    onError: (err) => log.error({ err }, 'webhook delivery failed'),
    // The URL is not logged (an operator's, which may carry a token in its query): the subscription id names it.
    onFailedAttempt: (info) => (info.failed ? log.warn(info, 'webhook delivery given up') : log.debug(info, 'webhook delivery attempt failed; will retry')),
  });
  return {
    stopSweeping: () => sweeper.stop(),
    async stop() {
      sweeper.stop();
      await webhooks.stop();
    },
  };
}

/** One failing client behind a NAT or proxy slows everyone there who never signed in from it. */
export function warnAddressThrottled(log: Logger, config: Pick<ServerConfig, 'signInAddressFreeFailures' | 'trustForwardedFor'>, address: string): void {
  log.warn(
    { address, failures: config.signInAddressFreeFailures, trustForwardedFor: config.trustForwardedFor },
    'sign-in failures from one client address: it is throttled for every account that has not signed in from it (behind a reverse proxy, set trustForwardedFor)',
  );
}

/** The admin API's own listener (not yet listening): its handler is `handler`. */
export function adminServer(options: StartOptions, log: Logger, handler: Handler): Server {
  return createNodeServer(handler, {
    maxBodyBytes: options.config?.maxBodyBytes ?? defaults.maxBodyBytes,
    headersTimeout: options.config?.headersTimeout,
    requestTimeout: options.config?.requestTimeout,
    keepAliveTimeout: options.config?.keepAliveTimeout,
    streamStallTimeout: streamStallTimeout(options),
    onError: (err, req, reqId) => log.error({ err, reqId, method: req?.method, path: req?.path }, 'admin request failed'),
    onResponse: log.isLevelEnabled('info') ? (entry) => log.info({ ...entry, listener: 'admin' }, 'request') : undefined,
    errorResponse: toProblemResponse,
  });
}

export function warnAdminHost(options: StartOptions, log: Logger, adminUrl: string): void {
  const adminHost = options.adminHost ?? '127.0.0.1';
  if (!['127.0.0.1', '::1', 'localhost'].includes(adminHost)) {
    log.warn({ adminUrl }, 'the admin API listens beyond loopback over plain HTTP: admin tokens cross the network in the clear unless a TLS proxy fronts it');
  }
}

/**
 * A stalled stream reader is dropped after STREAM_STALL_MS, or two heartbeats if longer: a
 * stream checks its credential at heartbeats, which a reader that takes nothing holds off.
 */
function streamStallTimeout(options: StartOptions): number {
  return Math.max(STREAM_STALL_MS, 2 * (options.config?.feedHeartbeat ?? defaults.feedHeartbeat));
}
