/** Starts the authorization server on node:http with the expiry sweeper; `close()` drains and closes. */
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { createHandler } from './app.js';
import { defaults, type ServerConfig } from './config.js';
import { startSweeper } from './lifecycle/sweeper.js';
import { createNodeServer, drain } from './http/node-server.js';
import type { Handler } from './http/types.js';
import { openTessera, type Tessera } from './open.js';

export interface StartOptions {
  db: string;
  port: number;
  host: string;
  config?: Partial<ServerConfig>;
  synchronous?: 'full' | 'normal';
  logger?: Logger;
}

export interface RunningServer {
  url: string;
  tessera: Tessera;
  close(): Promise<void>;
}

export async function startServer(options: StartOptions): Promise<RunningServer> {
  const log = options.logger ?? pino({ level: process.env.TESSERA_LOG_LEVEL ?? 'info' });
  let handler: Handler | undefined;
  // Never log request bodies or Authorization headers: they carry secrets and tokens.
  const server = createNodeServer((req) => (handler as Handler)(req), {
    maxBodyBytes: options.config?.maxBodyBytes ?? defaults.maxBodyBytes,
    onError: (err, req) => log.error({ err, method: req?.method, path: req?.url.pathname }, 'request failed'),
  });
  // Listen first, so that port 0 resolves before the issuer (the default is the URL we serve on).
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  let tessera: Tessera;
  try {
    // Commits run on a writer thread: the event loop that serves HTTP does not wait for them.
    tessera = await openTessera({ db: options.db, config: { issuer: url, ...options.config }, synchronous: options.synchronous ?? 'full', writer: 'thread' });
  } catch (err) {
    server.close();
    throw err;
  }
  handler = createHandler(tessera.engine);
  const sweeper = startSweeper(tessera.store, {
    batch: tessera.config.sweepBatch,
    interval: tessera.config.sweepInterval,
    retention: tessera.config.sweepRetention,
    onError: (err) => log.error({ err }, 'expiry sweep failed'),
  });
  let closing: Promise<void> | undefined;
  return {
    url,
    tessera,
    close() {
      closing ??= (async () => {
        sweeper.stop();
        await drain(server);
        await tessera.close();
      })();
      return closing;
    },
  };
}
