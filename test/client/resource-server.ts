/**
 * A resource server for session.fetch tests (RFC 6750): it asks Tessera whether each presented
 * token is active (introspection by a resource-server client) and answers 200 with what it saw,
 * or 401 with `WWW-Authenticate: Bearer error="invalid_token"`.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { Harness } from '../flows.js';

export interface Seen {
  token: string | undefined;
  method: string;
  body: string;
}

export interface ResourceServer {
  url: string;
  /** Every request, in arrival order. */
  seen: Seen[];
  /** Called as each request arrives, before the answer; a test's extra check. */
  onRequest: ((seen: Seen) => void) | undefined;
  /** Answer every request with this 401 challenge, whatever the token. */
  rejectAll: string | undefined;
  close(): Promise<void>;
}

export async function startResourceServer(h: Harness): Promise<ResourceServer> {
  const rs: ResourceServer = {
    url: '',
    seen: [],
    onRequest: undefined,
    rejectAll: undefined,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const seen = { token, method: req.method ?? 'GET', body };
    rs.seen.push(seen);
    rs.onRequest?.(seen);
    const challenge = rs.rejectAll ?? (token !== undefined && (await h.active(token)) ? undefined : 'Bearer realm="api", error="invalid_token"');
    if (challenge !== undefined) {
      res.writeHead(401, { 'www-authenticate': challenge, 'content-type': 'application/json' }).end('{"error":"invalid_token"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, body }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  rs.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return rs;
}
