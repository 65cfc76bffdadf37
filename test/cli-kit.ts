/**
 * Test fixture for the `tessera` CLI: runs `node packages/server/bin/tessera.js` as a real
 * process (under umask 022, the usual default, unless told otherwise), with no TESSERA_*
 * variable from the test's own environment.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const bin = join(import.meta.dirname, '..', 'packages', 'server', 'bin', 'tessera.js');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  env?: Record<string, string>;
  umask?: string;
}

export const tempDir = (): string => mkdtempSync(join(tmpdir(), 'tessera-cli-'));

function start(args: string[], options: RunOptions): ChildProcess {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('TESSERA_')) delete env[name];
  Object.assign(env, { TESSERA_LOG_LEVEL: 'warn', ...options.env });
  // Through sh, so the child starts with a known umask whatever the test runner's is.
  return spawn('/bin/sh', ['-c', `umask ${options.umask ?? '022'} && exec "$0" "$@"`, process.execPath, bin, ...args], {
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Runs `tessera …args` to completion, with `input` on stdin. */
export function tessera(args: string[], options: RunOptions = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = start(args, options);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => { stdout += d; });
    child.stderr?.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin?.end(options.input ?? '');
  });
}

/** `tessera …args` on a test server's data file `db` (the server created it 0600). */
export const runTessera = (db: string, args: string[], input = ''): Promise<Run> => tessera(args, { input, env: { TESSERA_DB: db } });

export interface Served {
  url: string;
  /** The admin API's base URL (…/admin/api/v1) when serve was given an admin port. */
  adminApi?: string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
  /** What the process wrote to stderr so far (JSON log lines, a crash's stack), for failure messages. */
  stderr(): string;
  /** What it wrote to stdout: the startup message. */
  stdout(): string;
}

/** Starts `tessera serve …args` and waits for the URL in its startup message. */
export function serve(args: string[], options: RunOptions = {}): Promise<Served> {
  const child = start(['serve', '--port', '0', '--sync', 'normal', ...args], options);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (d) => { stderr += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${stdout}\n${stderr}`)), 20_000);
    child.stdout?.on('data', (d) => {
      stdout += d;
      const url = /serving (http:\/\/\S+)/.exec(stdout)?.[1];
      if (url && stdout.includes('Stop with')) {
        clearTimeout(timer);
        const stop = () => {
          child.kill('SIGTERM');
          return exited;
        };
        const adminApi = /admin API (http:\/\/\S+)/.exec(stdout)?.[1];
        resolve({ url, ...(adminApi ? { adminApi } : {}), stop, stderr: () => stderr, stdout: () => stdout });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}:\n${stdout}\n${stderr}`));
    });
  });
}

/** A client_credentials token from a running server. */
export async function clientToken(url: string, client: { client_id: string; client_secret: string }, scope?: string): Promise<any> {
  const res = await fetch(`${url}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...(scope ? { scope } : {}) }),
  });
  return { status: res.status, body: await res.json() };
}
