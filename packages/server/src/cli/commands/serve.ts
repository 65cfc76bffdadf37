/** `tessera serve`: the authorization server on node:http until SIGTERM or SIGINT. */
import { defaults, settings, type ServerConfig } from '../../config.js';
import { clusterWorker, leaveCluster, serveAsWorker, startPrimary } from '../../cluster.js';
import type { Logger } from 'pino';
import { createLogger, LOG_LEVELS } from '../../log.js';
import { PATHS } from '../../http/routes.js';
import { METRICS_PATH } from '../../metrics/endpoint.js';
import { startServer } from '../../server.js';
import { CommandError, type DataFile, EXIT, env, oneOf, parse, UsageError, type Command } from '../args.js';
import { redactUrl } from '../../store/postgres/connection.js';
import { databaseError, prepareDataFile } from '../database.js';
import { needSealingKey } from './client-fields.js';
import { print, printJson } from '../io.js';
import { flags, resolve, serveSettings, serverConfig, settingsHelp } from '../settings.js';

/** Milliseconds within which the same stop signal again is the same request (npm passing it on). */
const REPEATED_SIGNAL_MS = 500;

/** Host and port default to those of the default issuer, so the two never disagree. */
const DEFAULT = new URL(defaults.issuer);

const serve: Command = {
  name: 'serve',
  synopsis: '[--port 9000] [--host 127.0.0.1] [--workers 1] [--admin-port P [--admin-host 127.0.0.1]] [--metrics-port P] [--issuer URL] [--config FILE] [--SETTING VALUE …]',
  summary: 'serve the authorization server; SIGTERM or SIGINT drains requests and closes the database',
  get help() {
    return `${settingsHelp()}
Each setting comes from its flag, else its environment variable, else the --config file, else
the default. Logs go to stderr as JSON lines (env TESSERA_LOG_LEVEL: ${LOG_LEVELS.join(', ')};
default info).`;
  },
  async run(argv) {
    const { values, db } = parse(argv, { ...flags(serveSettings), ...flags(settings) });
    const own = resolve(serveSettings, values, db.file) as {
      port?: number; host?: string; sync?: 'full' | 'normal'; metricsPort?: number; metricsHost?: string; metricsTokenCountInterval?: number; adminPort?: number; adminHost?: string;
      workers?: number;
    };
    if (own.adminHost !== undefined && own.adminPort === undefined) throw new UsageError('--admin-host needs --admin-port (the admin API is off without it)');
    const workers = own.workers ?? 1;
    const portNumber = own.port ?? Number(DEFAULT.port);
    const host = own.host ?? DEFAULT.hostname;
    const synchronous = own.sync ?? 'full';
    const config: Partial<ServerConfig> = serverConfig(values, db.file);
    // A key file set but unusable (missing, its mode too wide) is said at start, not as 500s on the
    // first client_secret_jwt client or webhook and failed deliveries later.
    if (config.clientSecretKeyFile !== undefined && config.clientSecretKeyFile !== '') needSealingKey(config);
    const legacyGrants = config.legacyGrants ?? [];

    const metricsOptions = own.metricsPort === undefined ? undefined : { port: own.metricsPort, host: own.metricsHost, tokenCountInterval: own.metricsTokenCountInterval };
    const logger = createLogger(oneOf('TESSERA_LOG_LEVEL', env('TESSERA_LOG_LEVEL') ?? 'info', LOG_LEVELS));
    const worker = clusterWorker();
    if (worker !== undefined) {
      // One worker of a primary's (cluster.ts): the limits of one process are shared among them.
      const share = (key: 'maxConnections' | 'passwordHashConcurrency' | 'passwordHashQueue' | 'dbPoolSize') => Math.ceil((config[key] ?? defaults[key]) / workers);
      const shared: Partial<ServerConfig> = {
        ...config,
        maxConnections: share('maxConnections'),
        passwordHashConcurrency: share('passwordHashConcurrency'),
        passwordHashQueue: share('passwordHashQueue'),
        dbPoolSize: share('dbPoolSize'),
      };
      const workerLog = logger.child({ worker: worker.index });
      let lost!: (error: Error) => void;
      const writerLost = new Promise<Error>((resolve) => {
        lost = resolve;
      });
      // The admin listener (console sessions live in its process) and the metrics listener are the primary's.
      const running = await startServer({ db: db.path, port: portNumber, host, config: shared, synchronous, logger: workerLog, metrics: metricsOptions, worker: { ...worker, onWriterLost: lost } });
      const failure = await Promise.race([serveAsWorker({ url: running.url, issuer: running.tessera.config.issuer }, running.metricsRegistry).then(() => undefined), writerLost]);
      // Without its writer a worker can only fail: it stops, and the primary starts another.
      if (failure) workerLog.error({ err: failure }, 'the SQLite writer is lost: this worker stops');
      await running.close();
      leaveCluster();
      return failure ? EXIT.failed : EXIT.ok;
    }

    if (!db.postgres) prepareDataFile(db, 'create');
    let running: { url: string; issuer: string; metricsUrl?: string; adminUrl?: string; failed?: Promise<Error>; close(): Promise<void> };
    try {
      const options = { db: db.path, port: portNumber, host, config, synchronous, logger, metrics: metricsOptions, adminPort: own.adminPort, adminHost: own.adminHost };
      if (workers > 1) running = await startPrimary({ ...options, workers });
      else {
        const server = await startServer(options);
        running = Object.assign(server, { issuer: server.tessera.config.issuer });
      }
    } catch (err) {
      throw listenError(err, host, portNumber, db, own.metricsPort, own.adminPort);
    }

    const url = running.url;
    const issued = running.issuer;
    // Once serving, stderr carries only the JSON log: the server's own notes go through the logger.
    if (legacyGrants.length > 0) logger.warn({ legacyGrants }, 'legacy grants enabled (RFC 9700 §2.1.2, §2.4 say not to use them)');
    if (issued.startsWith('http:') && !isLoopback(new URL(issued).hostname)) {
      logger.warn({ issuer: issued }, 'the issuer is plain HTTP on a non-loopback address; serve it behind TLS and pass --issuer https://…');
    }
    // A PostgreSQL URL may carry a password: never printed.
    const shownDb = db.postgres ? redactUrl(db.path) : db.path;
    const metrics = running.metricsUrl === undefined ? undefined : running.metricsUrl + METRICS_PATH;
    if (values.json) {
      printJson({
        url, issuer: issued, metadata: issued + PATHS.metadata, jwks: issued + PATHS.jwks, db: shownDb, ...(metrics ? { metrics } : {}), pid: process.pid,
        admin: running.adminUrl ? running.adminUrl + PATHS.admin : null, console: running.adminUrl ? running.adminUrl + PATHS.console : null,
      });
    } else {
      print(startupMessage(url, issued, shownDb, values.db !== undefined, metrics, running.adminUrl));
    }

    const signal = await Promise.race([stopSignals(logger), running.failed ?? new Promise<never>(() => {})]);
    if (signal instanceof Error) {
      // The primary's writer thread died: no worker can write, so the server stops rather than fail every write.
      logger.error({ err: signal }, 'the SQLite writer thread is lost: stopping');
      await running.close();
      return EXIT.failed;
    }
    logger.info({ signal }, 'draining in-flight requests and closing the database');
    await running.close();
    return EXIT.ok;
  },
};

export const serveCommands: readonly Command[] = [serve];

function startupMessage(url: string, issuer: string, db: string, dbFlag: boolean, metrics: string | undefined, adminUrl: string | undefined): string {
  const dbArg = dbFlag ? ` --db ${shellQuote(db)}` : '';
  return `Tessera is serving ${url}
  issuer    ${issuer}
  metadata  ${issuer}${PATHS.metadata}
  database  ${db}${metrics ? `\n  metrics   ${metrics}` : ''}${adminUrl ? `\n  admin API ${adminUrl}${PATHS.admin}\n  console   ${adminUrl}${PATHS.console}` : ''}

Next, register a client:
  npx tessera client create --name demo --grant-type client_credentials --scope "read write" --json${dbArg}
then get a token with the client_id and client_secret it prints:
  curl -u CLIENT_ID:CLIENT_SECRET -d grant_type=client_credentials ${url}${PATHS.token}
Stop with Ctrl-C (or SIGTERM): in-flight requests finish, then the database is closed.`;
}

/**
 * The first SIGTERM or SIGINT: drain and stop. A second one means "now", except the same signal
 * again within a moment: Ctrl-C under `npm start` reaches the server from the terminal and from
 * npm passing its own on. The listener stays to the end (signal handlers do not keep the process
 * alive): without one, a late repeat would meet the default action and end the process mid-drain.
 */
function stopSignals(logger: Logger): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let first: { signal: NodeJS.Signals; at: number } | undefined;
    const on = (signal: NodeJS.Signals) => {
      if (first === undefined) {
        first = { signal, at: performance.now() };
        resolve(signal);
      } else if (signal !== first.signal || performance.now() - first.at >= REPEATED_SIGNAL_MS) {
        logger.warn({ signal }, 'second signal: exiting without draining');
        process.exit(EXIT.failed);
      }
    };
    process.on('SIGTERM', on).on('SIGINT', on);
  });
}

/** A listen error names the listener that failed (the public one, the metrics one or the admin one) and its flags. */
function listenError(err: unknown, host: string, portNumber: number, db: DataFile, metricsPort: number | undefined, adminPort: number | undefined): Error {
  const { code, address, port } = err as { code?: string; address?: string; port?: number };
  // Node's listen errors carry the address and port tried; the public listener starts first.
  const other = port !== portNumber || address !== host;
  const metrics = metricsPort !== undefined && port === metricsPort && other;
  const admin = !metrics && adminPort !== undefined && port === adminPort && other;
  const where = address !== undefined && port !== undefined ? `${address}:${port}` : `${host}:${portNumber}`;
  const [portFlag, hostFlag] = metrics ? ['--metrics-port', '--metrics-host'] : admin ? ['--admin-port', '--admin-host'] : ['--port', '--host'];
  if (code === 'EADDRINUSE') return new CommandError(`cannot listen on ${where}: the port is already in use (is another server running? try ${portFlag})`);
  if (code === 'EACCES') return new CommandError(`cannot listen on ${where}: permission denied (ports below 1024 need privileges; try ${portFlag})`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return new CommandError(`cannot listen on ${where}: no such local address (check ${hostFlag})`);
  return databaseError(err, db);
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || hostname.startsWith('127.');
}

function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`;
}
