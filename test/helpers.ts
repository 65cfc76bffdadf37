/**
 * Test fixture: a real Tessera server on a temporary SQLite file, on a free loopback port.
 * Tests talk to it over HTTP; setup (clients, users) goes through the engine's public API.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type ClientRecord, type RunningServer, type ServerConfig, type StartOptions } from '@tessera/server';
import { type Logger, pino } from 'pino';

export interface TestServer extends RunningServer {
  dir: string;
  db: string;
  createClient(options?: Partial<Omit<ClientRecord, 'id' | 'secretHash' | 'createdAt'>>): Promise<TestClient>;
  createUser(username?: string, password?: string): Promise<{ id: string; username: string; password: string }>;
  /** POSTs a form (object or string) with optional headers; returns status, headers and parsed JSON. */
  post(path: string, form: Record<string, string> | string, headers?: Record<string, string>): Promise<TestResponse>;
}

export interface TestClient {
  client: ClientRecord;
  id: string;
  secret: string | undefined;
  /** The Authorization header for client_secret_basic (RFC 6749 §2.3.1). */
  basic: string;
}

export interface TestResponse {
  status: number;
  headers: Headers;
  body: any;
}

let counter = 0;

/**
 * `db`: a postgres:// URL of a migrated database to serve from instead of a new SQLite file;
 * `metrics`: the metrics listener (off by default, as in `tessera serve`).
 */
export async function startTestServer(
  config: Partial<ServerConfig> = {}, options: { logger?: Logger; db?: string; metrics?: StartOptions['metrics']; adminPort?: number } = {},
): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-test-'));
  const db = options.db ?? join(dir, 'tessera.db');
  const running = await startServer({ db, port: 0, host: '127.0.0.1', config, synchronous: 'normal', logger: options.logger ?? silentLogger(), metrics: options.metrics, adminPort: options.adminPort });
  const server: TestServer = {
    ...running,
    dir,
    db,
    async close() {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    },
    async createClient(options = {}) {
      const { client, secret } = await running.tessera.engine.createClient(
        {
          name: options.name ?? `client-${++counter}`,
          authMethod: options.authMethod ?? 'client_secret_basic',
          grantTypes: options.grantTypes ?? ['client_credentials'],
          redirectUris: options.redirectUris ?? [],
          postLogoutRedirectUris: options.postLogoutRedirectUris ?? [],
          scope: options.scope ?? 'read write',
          ...(options.resources === undefined ? {} : { resources: options.resources }),
          ...(options.exchangeAudiences === undefined ? {} : { exchangeAudiences: options.exchangeAudiences }),
          tokenFormat: options.tokenFormat ?? 'opaque',
          ...(options.idTokenSignedResponseAlg === undefined ? {} : { idTokenSignedResponseAlg: options.idTokenSignedResponseAlg }),
          accessTtl: options.accessTtl ?? null,
          refreshTtl: options.refreshTtl ?? null,
          dpopBoundAccessTokens: options.dpopBoundAccessTokens ?? false,
        },
        { actor: 'test' },
      );
      const basic = `Basic ${btoa(`${encodeURIComponent(client.id)}:${encodeURIComponent(secret ?? '')}`)}`;
      return { client, id: client.id, secret, basic };
    },
    async createUser(username = `user${++counter}`, password = 'correct horse battery staple') {
      const user = await running.tessera.engine.createUser(username, password, { actor: 'test' });
      return { id: user.id, username, password };
    },
    async post(path, form, headers = {}) {
      const body = typeof form === 'string' ? form : new URLSearchParams(form).toString();
      const res = await fetch(running.url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body,
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {}
      return { status: res.status, headers: res.headers, body: parsed };
    },
  };
  return server;
}

function silentLogger() {
  // Tests assert on HTTP, not on logs (test/logging.test.ts reads them).
  return pino({ level: 'silent' });
}

/** A TCP port free on 127.0.0.1 a moment ago, for a process that must be told its port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}
