/**
 * A loopback HTTP proxy in front of a real server whose revocation feed can be cut (connections
 * reset) or silenced (connections stay up, no bytes pass): real network faults, not mocks. Any
 * other path can be taken down (connections reset) or held (each request reaches the server,
 * whose answer waits in the proxy until released: an answer delayed in flight). Every other path
 * passes through untouched. It records the cursor each feed request resumed from, and counts
 * requests by path.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

type Mode = 'open' | 'cut' | 'silent';

/** Answers held in the proxy: the server has answered, the client has not heard yet. */
export class Hold {
  /** Answers the server gave that wait here. */
  answered = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly watchers: (() => void)[] = [];
  released = false;

  constructor(readonly path: string) {}

  /** Resolves once `n` answers wait in the proxy. */
  until(n: number): Promise<void> {
    return new Promise((resolve) => {
      const check = () => (this.answered >= n ? resolve() : this.watchers.push(check));
      check();
    });
  }

  /** Sends every held answer on, and lets later ones pass. */
  release(): void {
    this.released = true;
    for (const send of this.waiting.splice(0)) send();
  }

  /** @internal */
  hold(send: () => void): void {
    if (this.released) {
      send();
      return;
    }
    this.waiting.push(send);
    this.answered++;
    for (const w of this.watchers.splice(0)) w();
  }
}

export class FeedProxy {
  url = '';
  /** Feed requests seen: path and the cursor they resumed from (`after` or Last-Event-ID). */
  readonly feedRequests: { path: string; cursor: string | null }[] = [];
  private mode: Mode = 'open';
  private readonly server: Server;
  /** Open feed responses and the upstream responses feeding them. */
  private readonly streams = new Map<ServerResponse, IncomingMessage>();
  private readonly held = new Set<IncomingMessage>();
  private readonly holds: Hold[] = [];
  private readonly down = new Set<string>();
  /** Requests seen, by path. */
  readonly requests = new Map<string, number>();

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

  /** Holds every answer for `path` (e.g. '/introspect') until the returned hold is released. */
  hold(path: string): Hold {
    const hold = new Hold(path);
    this.holds.push(hold);
    return hold;
  }

  /** Resets every connection to `path` until restored (`restore()` brings every path back). */
  takeDown(path: string): void {
    this.down.add(path);
  }

  /** The same server's URL for `path`, through the proxy. */
  at(path: string): string {
    return `${this.url}${path}`;
  }

  restore(): void {
    this.down.clear();
    for (const hold of this.holds.splice(0)) hold.release();
    this.mode = 'open';
    for (const up of this.streams.values()) up.resume();
    for (const req of this.held) req.socket.destroy();
    this.held.clear();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    const feed = url.pathname.startsWith('/revocations');
    if (feed) this.feedRequests.push({ path: url.pathname, cursor: (req.headers['last-event-id'] as string | undefined) ?? url.searchParams.get('after') });
    this.requests.set(url.pathname, (this.requests.get(url.pathname) ?? 0) + 1);
    if (this.down.has(url.pathname)) return void req.socket.destroy();
    const hold = this.holds.find((h) => h.path === url.pathname && !h.released);
    if (feed && this.mode === 'cut') return void req.socket.destroy();
    if (feed && this.mode === 'silent') return void this.held.add(req);
    const upstream = request(new URL(req.url ?? '/', this.target), { method: req.method, headers: req.headers }, (up) => {
      if (hold) {
        const chunks: Buffer[] = [];
        up.on('data', (chunk: Buffer) => chunks.push(chunk));
        up.on('end', () => hold.hold(() => res.writeHead(up.statusCode ?? 502, up.headers).end(Buffer.concat(chunks))));
        return;
      }
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
