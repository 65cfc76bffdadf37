/** `tessera serve`: the authorization server on node:http until SIGTERM or SIGINT. */
import { defaults, type ServerConfig } from '../../config.js';
import { createLogger, LOG_LEVELS } from '../../log.js';
import { PATHS } from '../../rfc8414/metadata.js';
import { startServer, type RunningServer } from '../../server.js';
import { CommandError, EXIT, env, list, oneOf, parse, port, UsageError, type Command } from '../args.js';
import { note, print, printJson } from '../io.js';

/** Host and port default to those of the default issuer, so the two never disagree. */
const DEFAULT = new URL(defaults.issuer);
const LEGACY = ['implicit', 'password'] as const;
const SYNC = ['full', 'normal'] as const;

const serve: Command = {
  name: 'serve',
  synopsis: '[--port 9000] [--host 127.0.0.1] [--issuer URL] [--enable-legacy implicit,password] [--sync full|normal]',
  summary: 'serve the authorization server; SIGTERM or SIGINT drains requests and closes the database',
  help: `  --port N              port to listen on, 0 for any free one (env TESSERA_PORT; default ${DEFAULT.port})
  --host HOST           address to listen on (env TESSERA_HOST; default ${DEFAULT.hostname})
  --issuer URL          issuer identifier, RFC 8414 §2 (env TESSERA_ISSUER; default the URL served)
  --enable-legacy LIST  legacy grants to allow, comma-separated: ${LEGACY.join(', ')} (env TESSERA_LEGACY_GRANTS;
                        default none; RFC 9700 says not to use them). A client must also be registered with them.
  --sync full|normal    SQLite synchronous: full fsyncs every commit, normal survives a process crash
                        but not a power loss (env TESSERA_SYNC; default full)
Logs go to stderr as JSON lines, one per request (env TESSERA_LOG_LEVEL: ${LOG_LEVELS.join(', ')}; default info).`,
  async run(argv) {
    const { values, db } = parse(argv, {
      port: { type: 'string' },
      host: { type: 'string' },
      issuer: { type: 'string' },
      'enable-legacy': { type: 'string' },
      sync: { type: 'string' },
    });
    const portNumber = values.port !== undefined ? port('--port', values.port) : port('TESSERA_PORT', env('TESSERA_PORT') ?? DEFAULT.port);
    const host = values.host ?? env('TESSERA_HOST') ?? DEFAULT.hostname;
    const issuer = values.issuer !== undefined ? issuerUrl('--issuer', values.issuer) : issuerOrUndefined();
    const legacyGrants = legacy(values['enable-legacy'] !== undefined ? '--enable-legacy' : 'TESSERA_LEGACY_GRANTS', values['enable-legacy'] ?? env('TESSERA_LEGACY_GRANTS'));
    const synchronous = oneOf(values.sync !== undefined ? '--sync' : 'TESSERA_SYNC', values.sync ?? env('TESSERA_SYNC') ?? 'full', SYNC);

    const config: Partial<ServerConfig> = { legacyGrants, ...(issuer === undefined ? {} : { issuer }) };
    const logger = createLogger(oneOf('TESSERA_LOG_LEVEL', env('TESSERA_LOG_LEVEL') ?? 'info', LOG_LEVELS));
    let running: RunningServer;
    try {
      running = await startServer({ db, port: portNumber, host, config, synchronous, logger });
    } catch (err) {
      throw listenError(err, host, portNumber);
    }

    const url = running.url;
    const issued = running.tessera.config.issuer;
    if (legacyGrants.length > 0) note(`warning: legacy grants enabled: ${legacyGrants.join(', ')} (RFC 9700 §2.1.2, §2.4 say not to use them)`);
    if (issued.startsWith('http:') && !isLoopback(new URL(issued).hostname)) {
      note(`warning: the issuer ${issued} is plain HTTP on a non-loopback address; serve it behind TLS and pass --issuer https://…`);
    }
    if (values.json) {
      printJson({ url, issuer: issued, metadata: issued + PATHS.metadata, jwks: issued + PATHS.jwks, db, pid: process.pid });
    } else {
      print(startupMessage(url, issued, db, values.db !== undefined));
    }

    const signal = await nextSignal();
    // A second signal while draining means "now".
    const force = () => {
      note(`${signal} again: exiting without draining`);
      process.exit(EXIT.failed);
    };
    process.once('SIGTERM', force).once('SIGINT', force);
    note(`${signal}: draining in-flight requests and closing the database`);
    await running.close();
    process.off('SIGTERM', force).off('SIGINT', force);
    note('stopped');
    return EXIT.ok;
  },
};

export const serveCommands: readonly Command[] = [serve];

function startupMessage(url: string, issuer: string, db: string, dbFlag: boolean): string {
  const dbArg = dbFlag ? ` --db ${shellQuote(db)}` : '';
  return `Tessera is serving ${url}
  issuer    ${issuer}
  metadata  ${issuer}${PATHS.metadata}
  database  ${db}

Next, register a client:
  npx tessera client create --name demo --grant-type client_credentials --scope "read write" --json${dbArg}
then get a token with the client_id and client_secret it prints:
  curl -u CLIENT_ID:CLIENT_SECRET -d grant_type=client_credentials ${url}${PATHS.token}
Stop with Ctrl-C (or SIGTERM): in-flight requests finish, then the database is closed.`;
}

function nextSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', on).off('SIGINT', on);
      resolve(signal);
    };
    process.on('SIGTERM', on).on('SIGINT', on);
  });
}

function issuerOrUndefined(): string | undefined {
  const value = env('TESSERA_ISSUER');
  return value === undefined ? undefined : issuerUrl('TESSERA_ISSUER', value);
}

/** RFC 8414 §2: the issuer is a URL with a scheme and host, and no query or fragment. */
function issuerUrl(label: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${label} must be an absolute URL such as https://auth.example.com; got '${value}'`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError(`${label} must be an http(s) URL; got '${value}'`);
  if (url.search !== '' || url.hash !== '' || value.includes('?') || value.includes('#')) {
    throw new UsageError(`${label} must not have a query or fragment (RFC 8414 §2); got '${value}'`);
  }
  return value;
}

function legacy(label: string, value: string | undefined): ServerConfig['legacyGrants'] {
  return list(value).map((grant) => oneOf(label, grant, LEGACY));
}

function listenError(err: unknown, host: string, portNumber: number): Error {
  const code = (err as { code?: string }).code;
  const where = `${host}:${portNumber}`;
  if (code === 'EADDRINUSE') return new CommandError(`cannot listen on ${where}: the port is already in use (is another server running? try --port)`);
  if (code === 'EACCES') return new CommandError(`cannot listen on ${where}: permission denied (ports below 1024 need privileges; try --port)`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return new CommandError(`cannot listen on ${where}: no such local address (check --host)`);
  return err instanceof Error ? err : new Error(String(err));
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || hostname.startsWith('127.');
}

function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`;
}
