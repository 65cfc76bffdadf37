/**
 * Issue 9, defect 13: `tessera serve` listens before its store is open (the default issuer is the
 * URL it serves on). Requests that arrive in that window used to get 500 `handler is not a
 * function`; they now wait for the start and get their real answer. A readiness probe or the
 * README's first curl, sent as soon as the port opens, never sees a 5xx.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { freePort } from './helpers.js';

const bin = join(import.meta.dirname, '..', 'packages', 'server', 'bin', 'tessera.js');

/** One request; resolves with its status, or undefined when nothing listened yet. */
function hit(port: number, method: string, path: string, body?: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent: false, headers: body ? { 'content-type': 'application/x-www-form-urlencoded' } : {} }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(undefined));
    req.end(body);
  });
}

it('requests that arrive while `tessera serve` starts on a fresh database get their real answer, never a 5xx', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-startup-'));
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, TESSERA_LOG_LEVEL: 'warn' };
  for (const name of Object.keys(env)) if (name.startsWith('TESSERA_') && name !== 'TESSERA_LOG_LEVEL') delete env[name];
  const child = spawn(process.execPath, [bin, 'serve', '--port', String(port), '--db', join(dir, 'fresh.db')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  try {
    // Poll as readiness probes and impatient users would, every few ms, until the startup message is out.
    const sent: Array<Promise<number | undefined>> = [];
    const deadline = Date.now() + 15_000;
    while (!stdout.includes('Tessera is serving') && Date.now() < deadline) {
      for (const [method, path, body] of [['GET', '/healthz'], ['GET', '/'], ['POST', '/token', 'grant_type=client_credentials']] as const) {
        sent.push(hit(port, method, path, body));
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    const statuses = (await Promise.all(sent)).filter((s) => s !== undefined);
    console.log(`${statuses.length} requests answered that were sent before the startup message; statuses: ${[...new Set(statuses)].join(', ')}`);
    expect(stdout, stderr).toContain('Tessera is serving');
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    expect(await hit(port, 'GET', '/healthz')).toBe(200);
  } finally {
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
});
