/**
 * A listener of its own for operators' routes (/metrics; later the admin API), apart from the
 * public one: a route table as a Handler, served by the same node:http adapter.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createNodeServer } from './node-server.js';
import { json } from './respond.js';
import type { Handler } from './types.js';

/** Answers the routes given, by exact path; 404 for any other. */
export function routeTable(routes: ReadonlyMap<string, Handler>): Handler {
  return (req) => (routes.get(req.path) ?? notFound)(req);
}

const notFound: Handler = async () => json(404, { error: 'not_found' });

/** Serves `handler` on host:port (0: any free port); resolves once listening, with its URL. */
export async function listen(handler: Handler, port: number, host: string, maxBodyBytes: number): Promise<{ server: Server; url: string }> {
  const server = createNodeServer(handler, { maxBodyBytes });
  return { server, url: await listenOn(server, port, host) };
}

/** Starts `server` listening on host:port (0: any free port); resolves once listening, with its URL. */
export async function listenOn(server: Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
}
