/**
 * The README's "Admin API" commands, run by bash as written against a running `tessera serve
 * --admin-port` (its URLs in place of http://127.0.0.1:9000 and :9001).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Served, serve } from './cli-kit.js';
import { readmeSection, root } from './readme-kit.js';

const run = promisify(execFile);

let dir: string;
let served: Served;
let db: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-readme-admin-'));
  db = join(dir, 'tessera.db');
  served = await serve(['--admin-port', '0'], { env: { TESSERA_DB: db } });
});

afterAll(async () => {
  await served?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('README: admin token create and the admin API curl examples run as written', async () => {
  const admin = (served.adminApi as string).replace(/\/admin\/api\/v1$/, '');
  const script = `set -euo pipefail\n${readmeSection('admin-api').replaceAll('http://127.0.0.1:9001', admin).replaceAll('http://127.0.0.1:9000', served.url)}`;
  const env: NodeJS.ProcessEnv = { ...process.env, TESSERA_DB: db, TESSERA_LOG_LEVEL: 'warn' };
  for (const key of Object.keys(env)) if (key.startsWith('TESSERA_') && !['TESSERA_DB', 'TESSERA_LOG_LEVEL'].includes(key)) delete env[key];
  const { stdout } = await run('bash', ['-c', script], { cwd: root, env, timeout: 90_000 });
  const [tokens, revoked, audit, verify] = stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line));
  expect(tokens).toEqual({ items: [], next_cursor: null });
  expect(revoked).toMatchObject({ revoked_tokens: 0, revoked_grants: 0 });
  expect(audit.items.map((r: { event: string; actor: string }) => [r.event, r.actor])).toEqual([['client.created', 'admin:ops'], ['token.revoked', 'admin:ops']]);
  expect(audit.items[1].reason).toBe('decommissioned');
  expect(verify).toMatchObject({ ok: true });
}, 120_000);
