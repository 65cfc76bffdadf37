/**
 * The README's "DPoP (RFC 9449)" example, run by bash as written against a running `tessera
 * serve` (its URL in place of http://127.0.0.1:9000): a client created with --require-dpop,
 * refused without a proof, a DPoP token with one, and @tessera/guard accepting it with a proof
 * (and refusing it as a bearer token).
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
  dir = mkdtempSync(join(tmpdir(), 'tessera-readme-dpop-'));
  db = join(dir, 'tessera.db');
  served = await serve([], { env: { TESSERA_DB: db } });
});

afterAll(async () => {
  await served?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A README section run by bash against the served instance; its output lines. */
async function runSection(name: string, prelude = ''): Promise<string[]> {
  const script = `set -euo pipefail\n${prelude}${readmeSection(name).replaceAll('http://127.0.0.1:9000', served.url)}`;
  const env: NodeJS.ProcessEnv = { ...process.env, TESSERA_DB: db, TESSERA_LOG_LEVEL: 'warn' };
  for (const key of Object.keys(env)) if (key.startsWith('TESSERA_') && !['TESSERA_DB', 'TESSERA_LOG_LEVEL'].includes(key)) delete env[key];
  const { stdout } = await run('bash', ['-c', script], { cwd: root, env, timeout: 90_000 });
  return stdout.split('\n').filter(Boolean);
}

it('README: DPoP with --require-dpop, a proof at /token and the guard runs as written', async () => {
  expect(await runSection('dpop')).toEqual(['invalid_dpop_proof', 'DPoP', 'true', '401 invalid_token']);
}, 120_000);

it('README: @tessera/client with dpop: true gets a DPoP-bound token from a --require-dpop client, as written', async () => {
  // The section uses the json() helper the section before it defines.
  const json = `json() { node -pe "JSON.parse(require('fs').readFileSync(0))$1"; }\n`;
  expect(await runSection('dpop-client', json)).toEqual(['DPoP', '43']);
}, 120_000);
