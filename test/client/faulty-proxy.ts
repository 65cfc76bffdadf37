/**
 * A proxy in front of Tessera's token endpoint that fails on purpose, the ways networks and
 * servers do: it breaks the connection before or after forwarding, or answers 503 or 500 itself
 * or after forwarding. Each request takes the next fault from `faults` (then forwards normally).
 */
import { once } from 'node:events';
import { createServer } from 'node:http';

export type Fault =
  /** Closes the connection without forwarding: the server never saw the request. */
  | 'drop-before'
  /** Forwards (the server acts on it), then closes the connection without answering. */
  | 'drop-after'
  /** Answers 503 temporarily_unavailable with Retry-After: 1, without forwarding. */
  | '503'
  /** Forwards, then answers 500 instead of the server's answer. */
  | '500-after';

export interface FaultyProxy {
  url: string;
  faults: Fault[];
  /** The form of every request received, in order. */
  seen: URLSearchParams[];
  /** Runs before a fault is applied (e.g. another process storing a token meanwhile). */
  beforeFault: (() => Promise<void>) | undefined;
  close(): Promise<void>;
}

export async function startFaultyProxy(target: string): Promise<FaultyProxy> {
  const proxy: FaultyProxy = { url: '', faults: [], seen: [], beforeFault: undefined, close: async () => {} };
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    proxy.seen.push(new URLSearchParams(body));
    const fault = proxy.faults.shift();
    if (fault !== undefined) await proxy.beforeFault?.();
    if (fault === 'drop-before') return void req.socket.destroy();
    if (fault === '503') {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1', 'cache-control': 'no-store' });
      return void res.end('{"error":"temporarily_unavailable"}');
    }
    const headers: Record<string, string> = {};
    for (const name of ['content-type', 'authorization', 'accept']) if (typeof req.headers[name] === 'string') headers[name] = req.headers[name];
    const upstream = await fetch(target + (req.url ?? '/'), { method: req.method, headers, body: req.method === 'POST' ? body : undefined });
    const text = await upstream.text();
    if (fault === 'drop-after') return void req.socket.destroy();
    if (fault === '500-after') {
      res.writeHead(500, { 'content-type': 'application/json' });
      return void res.end('{"error":"server_error"}');
    }
    const answer: Record<string, string> = {};
    for (const name of ['content-type', 'cache-control', 'pragma', 'date', 'www-authenticate']) {
      const value = upstream.headers.get(name);
      if (value !== null) answer[name] = value;
    }
    res.writeHead(upstream.status, answer).end(text);
  });
  server.keepAliveTimeout = 1;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  proxy.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  proxy.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return proxy;
}
