/**
 * `tessera serve` as a child process, for the suites that kill it (chaos) or watch its memory
 * (soak): started on a free loopback port, ready once it printed its URL, stopped by its PID.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { openTessera } from '@tessera/server';
import { TESSERA_BIN } from './invariants.js';

export const REDIRECT = 'https://app.example/cb';

export interface ServeProcess {
  url: string;
  pid: number;
  child: ChildProcess;
  /** stderr so far (JSON log lines), for failure messages. */
  log(): string;
  /** SIGKILL, then wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM (drain, close the database), then wait for the exit. */
  stop(): Promise<number | null>;
}

export async function serve(db: string, args: string[] = []): Promise<ServeProcess> {
  const child = spawn(process.execPath, [TESSERA_BIN, 'serve', '--db', db, '--port', '0', '--host', '127.0.0.1', '--json', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TESSERA_LOG_LEVEL: process.env.TESSERA_LOG_LEVEL ?? 'warn' },
  });
  let out = '';
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-20_000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tessera serve printed no URL within 60 s:\n${err}`)), 60_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const end = out.lastIndexOf('}');
      if (end < 0) return;
      try {
        const info = JSON.parse(out.slice(out.indexOf('{'), end + 1)) as { url: string };
        clearTimeout(timer);
        resolve(info.url);
      } catch {}
    });
    child.once('exit', (code) => reject(new Error(`tessera serve exited ${code} before it was ready:\n${err}`)));
  });
  return {
    url,
    pid: child.pid as number,
    child,
    log: () => err,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid as number, 'SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid as number, 'SIGTERM');
      return exited;
    },
  };
}

export interface Fixture {
  db: string;
  /** A confidential client for the code flow with refresh tokens (opaque tokens). */
  code: { id: string; secret: string; basic: string };
  /** The same with JWT access tokens. */
  codeJwt: { id: string; secret: string; basic: string };
  /** client_credentials only. */
  machine: { id: string; secret: string; basic: string };
  /** A resource server that may read the feed and introspect any token. */
  resource: { id: string; secret: string; basic: string };
  users: { id: string; username: string; password: string }[];
}

/** Registers the suites' clients and users through the engine's API, before any server runs. */
export async function createFixture(db: string, userCount = 4): Promise<Fixture> {
  const t = await openTessera({ db });
  try {
    const client = async (name: string, grantTypes: string[], scope: string, tokenFormat: 'opaque' | 'jwt' = 'opaque') => {
      const { client, secret } = await t.engine.createClient(
        { name, authMethod: 'client_secret_basic', grantTypes: grantTypes as never, redirectUris: grantTypes.includes('authorization_code') ? [REDIRECT] : [], scope, tokenFormat, accessTtl: null, refreshTtl: null },
        { actor: 'test' },
      );
      return { id: client.id, secret: secret as string, basic: `Basic ${btoa(`${encodeURIComponent(client.id)}:${encodeURIComponent(secret as string)}`)}` };
    };
    const code = await client('web', ['authorization_code', 'refresh_token'], 'read write');
    const codeJwt = await client('web-jwt', ['authorization_code', 'refresh_token'], 'read write', 'jwt');
    const machine = await client('batch', ['client_credentials'], 'read write');
    const resource = await client('api', ['client_credentials'], 'tessera:revocations tessera:introspect');
    const users = [];
    for (let i = 0; i < userCount; i++) {
      const password = randomBytes(12).toString('base64url');
      const user = await t.engine.createUser(`user${i}-${randomBytes(3).toString('hex')}`, password, { actor: 'test' });
      users.push({ id: user.id, username: user.username, password });
    }
    return { db, code, codeJwt, machine, resource, users };
  } finally {
    await t.close();
  }
}

/**
 * Resident set size of a process in KiB (VmRSS in /proc/PID/status), and its anonymous part
 * (RssAnon: heaps, not mapped files), or undefined once the process is gone.
 */
export function rssKiB(pid: number): { kib: number; anonKib: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
    const kib = field('VmRSS');
    return Number.isNaN(kib) ? undefined : { kib, anonKib: field('RssAnon') };
  } catch {
    return undefined;
  }
}
