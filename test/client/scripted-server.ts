/**
 * A scripted loopback server for the client's timeout and signal tests: node:http on 127.0.0.1
 * (port 0) that reads each request whole, records it, then answers as the test file says (or never,
 * or half). useScriptedServer registers the vitest hooks that start and close it. Also, for the
 * default timeouts no loopback test can wait out, a fetch that never answers on vitest's fake clock.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OAuth2Session, type SessionOptions, clientSecretBasic } from '@tessera/client';
import { afterAll, beforeAll, vi } from 'vitest';

/** A request the server read: its path, its body, and a promise settled when its connection closes. */
export interface ScriptedRequest {
  path: string;
  body: string;
  closed: Promise<void>;
}

export interface ScriptedServer {
  /** `http://127.0.0.1:<port>`, once beforeAll has run. */
  readonly base: string;
  /** Every request the server read, in arrival order. */
  readonly requests: readonly ScriptedRequest[];
  /** The next request the server reads on `path`, once it has read it. */
  nextRequest(path: string): Promise<ScriptedRequest>;
  /**
   * An OAuth2Session against this server: explicit endpoints (the issuer `base`, /authorize, /token,
   * /device and each of `endpoints`, paths here), client 'app' with a client secret, then `options`.
   */
  session(endpoints: Record<string, string>, options?: Partial<SessionOptions>): OAuth2Session;
}

/**
 * The server for this test file, listening from beforeAll to afterAll. `answer` is called once each
 * request has been read; a response it leaves unended holds the request until the client gives up.
 */
export function useScriptedServer(answer: (request: ScriptedRequest, res: ServerResponse) => void): ScriptedServer {
  const requests: ScriptedRequest[] = [];
  let server: Server;
  let base = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
      // A response never ended closes only when the connection does: the client aborted.
      const closed = new Promise<void>((resolve) => res.once('close', () => resolve()));
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        body += chunk;
      });
      req.on('end', () => {
        const request = { path, body, closed };
        requests.push(request);
        answer(request, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return {
    get base() {
      return base;
    },
    requests,
    async nextRequest(path) {
      const seen = requests.length;
      for (;;) {
        const found = requests.slice(seen).find((r) => r.path === path);
        if (found) return found;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    session(endpoints, options = {}) {
      const paths = Object.fromEntries(Object.entries(endpoints).map(([name, path]) => [name, `${base}${path}`]));
      return new OAuth2Session({
        server: { issuer: base, authorization_endpoint: `${base}/authorize`, token_endpoint: `${base}/token`, device_authorization_endpoint: `${base}/device`, ...paths },
        clientId: 'app',
        clientAuth: clientSecretBasic('CLIENT-SECRET-1'),
        redirectUri: 'http://127.0.0.1/callback',
        ...options,
      });
    },
  };
}

/**
 * What `start` comes to once 30 s have passed on vitest's fake clock, given a fetch that never
 * answers (it gives up only when its request is aborted, as fetch does): the default timeout.
 */
export async function afterThirtySeconds(start: (fetch: typeof globalThis.fetch) => Promise<unknown>): Promise<unknown> {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  try {
    let sent!: () => void;
    const reached = new Promise<void>((resolve) => {
      sent = resolve;
    });
    const hanging: typeof fetch = (input, init) => {
      sent();
      // OAuth2Session passes the signal in init, OAuth1Session in a Request.
      const signal = init?.signal ?? (input as Request).signal;
      return new Promise<Response>((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason)));
    };
    const pending = start(hanging).catch((e: unknown) => e);
    await reached;
    await vi.advanceTimersByTimeAsync(30_000);
    return await pending;
  } finally {
    vi.useRealTimers();
  }
}
