/** Test fixture for the admin API: a server with its admin listener, admin tokens made through the engine. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningServer, type ServerConfig, startServer } from '@tessera/server';
import { pino } from 'pino';

export interface AdminServer extends RunningServer {
  adminUrl: string;
  /** Its database: a SQLite file path or a postgres:// URL (another process may open it). */
  db: string;
  /** A new admin token's value. */
  adminToken(name: string, options?: { readOnly?: boolean; expiresAt?: number | null }): Promise<string>;
  /** A request to /admin/api/v1 + path with the token; the answer with its JSON body. */
  call(token: string | undefined, method: string, path: string, body?: unknown): Promise<{ status: number; headers: Headers; body: any }>;
}

let counter = 0;

/** `db`: a postgres:// URL of a migrated database instead of a new SQLite file; `config`: settings. */
export async function startAdminServer(db?: string, config?: Partial<ServerConfig>): Promise<AdminServer & { closeAll(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-admin-'));
  const file = db ?? join(dir, 'tessera.db');
  const running = await startServer({
    db: file, port: 0, host: '127.0.0.1', adminPort: 0, synchronous: 'normal', logger: pino({ level: 'silent' }), ...(config ? { config } : {}),
  });
  const adminUrl = running.adminUrl as string;
  return {
    ...running,
    adminUrl,
    db: file,
    async adminToken(name, options = {}) {
      const made = await running.tessera.engine.createAdminToken({ name: `${name}-${++counter}`, readOnly: options.readOnly ?? false, expiresAt: options.expiresAt ?? null }, { actor: 'test' });
      if (!made) throw new Error('name taken');
      return made.value;
    },
    async call(token, method, path, body) {
      const res = await fetch(`${adminUrl}/admin/api/v1${path}`, {
        method,
        headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {}
      return { status: res.status, headers: res.headers, body: parsed };
    },
    async closeAll() {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
