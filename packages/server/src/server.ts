/** Starts the authorization server on node:http with the expiry sweeper; `close()` drains and closes. */
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { createHandler } from './app.js';
import type { ServerConfig } from './config.js';
import { startSweeper } from './lifecycle/sweeper.js';
import { createNodeServer, drain } from './http/node-server.js';
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
  const config = { issuer: `http://${options.host}:${options.port}`, ...options.config };
  const tessera = await openTessera({ db: options.db, config, synchronous: options.synchronous ?? 'full' });
  const sweeper = startSweeper(tessera.store, {
    batch: tessera.config.sweepBatch,
    interval: tessera.config.sweepInterval,
    retention: tessera.config.sweepRetention,
    onError: (err) => log.error({ err }, 'expiry sweep failed'),
  });
  // Never log request bodies or Authorization headers: they carry secrets and tokens.
  const server = createNodeServer(createHandler(tessera.engine), {
    maxBodyBytes: tessera.config.maxBodyBytes,
    onError: (err, req) => log.error({ err, method: req?.method, path: req?.url.pathname }, 'request failed'),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
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
