/**
 * Several `tessera serve` processes on one PostgreSQL database, as a deployment behind a load
 * balancer runs them: one issuer for all (the first instance's URL), each on its own loopback
 * port. Setup goes through the CLI on the same database, as an operator's would.
 */
import { type Served, runTessera, serve } from './cli-kit.js';
import type { Client } from './http-flows.js';

export interface CliClient extends Client {
  secret: string;
}

/** `tessera client create … --json` on the database; returns the client with its Basic header. */
export async function createClient(db: string, args: string[]): Promise<CliClient> {
  const run = await runTessera(db, ['client', 'create', '--name', 'test', ...args, '--json']);
  if (run.code !== 0) throw new Error(`tessera client create exited ${run.code}: ${run.stderr}`);
  const { client_id: id, client_secret: secret } = JSON.parse(run.stdout) as { client_id: string; client_secret: string };
  return { id, secret, basic: basic(id, secret) };
}

/** RFC 6749 §2.3.1 client_secret_basic. */
export const basic = (id: string, secret: string): string => `Basic ${btoa(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`)}`;

/** `tessera user create` on the database. */
export async function createUser(db: string, username: string, password = 'correct horse battery staple'): Promise<{ id: string; username: string; password: string }> {
  const run = await runTessera(db, ['user', 'create', username, '--password-stdin', '--json'], password);
  if (run.code !== 0) throw new Error(`tessera user create exited ${run.code}: ${run.stderr}`);
  return { id: (JSON.parse(run.stdout) as { id: string }).id, username, password };
}

export interface Instances {
  /** The instances' base URLs (each serves the same issuer, the first one's URL). */
  urls: string[];
  /** Stops every instance started (SIGTERM to each child's PID), also after a failed start. */
  stop(): Promise<void>;
  /** Each instance's stderr, but for its per-request log lines. */
  logs(): string[];
}

/** Starts `count` instances of `tessera serve --db url …args`, one after the other. */
export async function startInstances(db: string, count: number, args: string[] = []): Promise<Instances> {
  const started: Served[] = [];
  const stop = async () => {
    await Promise.all(started.splice(0).map((s) => s.stop()));
  };
  try {
    for (let i = 0; i < count; i++) {
      const issuer = started[0] ? ['--issuer', started[0].url] : [];
      started.push(await serve(['--db', db, '--host', '127.0.0.1', ...issuer, ...args]));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const all = [...started];
  const logs = () => all.map((s) => s.stderr().split('\n').filter((l) => !l.includes('"msg":"request"')).join('\n'));
  return { urls: started.map((s) => s.url), stop, logs };
}
