/**
 * A loopback HTTP proxy in front of a real server whose revocation feed can be cut (connections
 * reset) or silenced (connections stay up, no bytes pass): real network faults, not mocks. Every
 * other path passes through untouched. It records the cursor each feed request resumed from.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

type Mode = 'open' | 'cut' | 'silent';

export class FeedProxy {
  url = '';
  /** Feed requests seen: path and the cursor they resumed from (`after` or Last-Event-ID). */
  readonly feedRequests: { path: string; cursor: string | null }[] = [];
  private mode: Mode = 'open';
  private readonly server: Server;
  /** Open feed responses and the upstream responses feeding them. */
  private readonly streams = new Map<ServerResponse, IncomingMessage>();
  private readonly held = new Set<IncomingMessage>();

  private constructor(private readonly target: URL) {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  static async start(target: string): Promise<FeedProxy> {
    const proxy = new FeedProxy(new URL(target));
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    proxy.url = `http://127.0.0.1:${(proxy.server.address() as AddressInfo).port}`;
    return proxy;
  }

  /** The guard's endpoint overrides: the feed through the proxy, the rest straight to the server. */
  endpoints() {
    return { feed: `${this.url}/revocations`, stream: `${this.url}/revocations/stream` };
  }

  /** Resets every feed connection, and each new one. */
  cut(): void {
    this.mode = 'cut';
    for (const res of this.streams.keys()) res.destroy();
  }

  /** Keeps connections up but lets no byte through (as a stalled link: nothing is lost); new feed requests are never answered. */
  silence(): void {
    this.mode = 'silent';
    for (const up of this.streams.values()) up.pause();
  }

  restore(): void {
    this.mode = 'open';
    for (const up of this.streams.values()) up.resume();
    for (const req of this.held) req.socket.destroy();
    this.held.clear();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    const feed = url.pathname.startsWith('/revocations');
    if (feed) this.feedRequests.push({ path: url.pathname, cursor: (req.headers['last-event-id'] as string | undefined) ?? url.searchParams.get('after') });
    if (feed && this.mode === 'cut') return void req.socket.destroy();
    if (feed && this.mode === 'silent') return void this.held.add(req);
    const upstream = request(new URL(req.url ?? '/', this.target), { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      if (feed) this.streams.set(res, up);
      up.on('data', (chunk: Buffer) => res.write(chunk));
      up.on('end', () => res.end());
      res.on('close', () => {
        this.streams.delete(res);
        up.destroy();
      });
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  }

  async close(): Promise<void> {
    this.restore();
    for (const res of this.streams.keys()) res.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
