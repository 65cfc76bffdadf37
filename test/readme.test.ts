/**
 * The README is a contract: `npm start` serves the server, and the walkthrough's commands,
 * run verbatim by bash against it, do what the README says.
 */
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from './helpers.js';
import { readmeSection, root } from './readme-kit.js';

const run = promisify(execFile);

const walkthrough = () => readmeSection('walkthrough');

let dir: string;
let env: NodeJS.ProcessEnv;
let url: string;
let server: ReturnType<typeof spawn>;
let serverOutput = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-readme-'));
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  env = { ...process.env, TESSERA_DB: join(dir, 'tessera.db'), TESSERA_PORT: String(port), TESSERA_LOG_LEVEL: 'warn' };
  server = spawn('npm', ['start'], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout?.on('data', (d) => { serverOutput += d; });
  server.stderr?.on('data', (d) => { serverOutput += d; });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {}
    if (i > 300) throw new Error(`npm start did not come up:\n${serverOutput}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}, 60_000);

afterAll(async () => {
  if (server?.pid && server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', r));
    process.kill(-server.pid, 'SIGTERM');
    await exited;
  }
  // Whatever npm left behind in its process group (the last test failing, say).
  try {
    if (server?.pid) process.kill(-server.pid, 'SIGKILL');
  } catch {}
  rmSync(dir, { recursive: true, force: true });
});

it('npm start serves RFC 8414 metadata for the issuer it listens on', async () => {
  const meta = (await (await fetch(`${url}/.well-known/oauth-authorization-server`)).json()) as { issuer: string; token_endpoint: string };
  expect(meta.issuer).toBe(url);
  expect(meta.token_endpoint).toBe(`${url}/token`);
  expect(serverOutput).toContain('tessera client create');
});

it('the README walkthrough runs verbatim: token active, revoked, inactive, audited', async () => {
  const script = `set -euo pipefail\n${walkthrough().replaceAll('http://127.0.0.1:9000', url)}`;
  const { stdout } = await run('bash', ['-c', script], { cwd: root, env, timeout: 60_000 });
  const lines = stdout.split('\n');
  const introspections = lines.filter((l) => l.startsWith('{"active"'));
  expect(JSON.parse(introspections[0] as string)).toMatchObject({ active: true, scope: 'read', token_type: 'Bearer' });
  expect(lines).toContain('{}');
  expect(JSON.parse(introspections[1] as string)).toEqual({ active: false });
  expect(stdout).toMatch(/token\.issued/);
  expect(stdout).toMatch(/token\.revoked/);
  expect(stdout).toMatch(/OK/);
}, 90_000);

it('the README pushed authorization request (RFC 9126) runs verbatim: a request_uri and its lifetime', async () => {
  const script = `set -euo pipefail\n${readmeSection('par').replaceAll('http://127.0.0.1:9000', url)}`;
  const { stdout } = await run('bash', ['-c', script], { cwd: root, env, timeout: 60_000 });
  const body = JSON.parse(stdout.trim().split('\n').at(-1) as string);
  expect(body).toEqual({ request_uri: expect.stringMatching(/^urn:ietf:params:oauth:request_uri:/), expires_in: 300 });
}, 60_000);

// Last: it stops the server. A supervisor signals the process it started, npm, not its group.
it('SIGTERM to npm start (not to its process group) stops the server itself: the port closes, nothing is left serving', async () => {
  const exited = new Promise((r) => server.once('exit', r));
  process.kill(server.pid as number, 'SIGTERM');
  await exited;
  await expect.poll(async () => fetch(`${url}/healthz`).then(() => 'serving', () => 'closed'), { timeout: 15_000, interval: 200 }).toBe('closed');
}, 30_000);
