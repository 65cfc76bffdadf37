/**
 * The README's "Dynamic client registration" commands, run by bash as written against a running
 * `tessera serve` (its URL in place of http://127.0.0.1:9000): initial-token, /register, and the
 * RFC 7592 GET, PUT and DELETE.
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
  dir = mkdtempSync(join(tmpdir(), 'tessera-readme-registration-'));
  db = join(dir, 'tessera.db');
  served = await serve(['--registration-scopes', 'openid profile email offline_access reports'], { env: { TESSERA_DB: db } });
});

afterAll(async () => {
  await served?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('README: client initial-token, /register and /register/{client_id} run as written', async () => {
  const script = `set -euo pipefail\n${readmeSection('registration').replaceAll('http://127.0.0.1:9000', served.url)}`;
  const env: NodeJS.ProcessEnv = { ...process.env, TESSERA_DB: db, TESSERA_LOG_LEVEL: 'warn' };
  for (const key of Object.keys(env)) if (key.startsWith('TESSERA_') && !['TESSERA_DB', 'TESSERA_LOG_LEVEL'].includes(key)) delete env[key];
  const { stdout } = await run('bash', ['-c', script], { cwd: root, env, timeout: 90_000 });
  expect(stdout.split('\n').filter(Boolean)).toEqual(['reports', 'reports', 'monthly reports', '204']);
}, 120_000);
