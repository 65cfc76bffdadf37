/**
 * The README's "Lifecycle webhooks" examples: its commands run by bash as written, and its
 * verification function, imported as written, accepts a real delivery and refuses a tampered one.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers.js';
import { readmeCode, root } from './readme-kit.js';
import { type Receiver, startReceiver } from './webhook-receiver.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'tessera-readme-webhooks-'));
symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
let server: TestServer | undefined;
let receiver: Receiver | undefined;

afterAll(async () => {
  await receiver?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('README: webhook add, list and deliveries run as written', async () => {
  const env: NodeJS.ProcessEnv = { ...process.env, TESSERA_DB: join(dir, 'data', 'tessera.db'), TESSERA_LOG_LEVEL: 'warn' };
  for (const key of Object.keys(env)) if (key.startsWith('TESSERA_') && !['TESSERA_DB', 'TESSERA_LOG_LEVEL'].includes(key)) delete env[key];
  const { stdout } = await run('bash', ['-c', `set -euo pipefail\n${readmeCode('webhooks', 'sh')}`], { cwd: dir, env, timeout: 60_000 });
  expect(stdout).toMatch(/Added webhook \w+ → https:\/\/hooks\.example\.com\/tessera/);
  expect(stdout).toMatch(/secret {2}whsec_/);
  expect(stdout).toMatch(/token\.issued,token\.rotated,.*user\.deleted/);
  expect(stdout).toContain('No deliveries.');
}, 90_000);

it('README: verifyWebhook accepts a real delivery, and refuses it altered or checked with another secret', async () => {
  const keyFile = join(dir, 'server.key');
  writeFileSync(keyFile, randomBytes(32).toString('base64'), { mode: 0o600 });
  server = await startTestServer({ clientSecretKeyFile: keyFile, webhookPollInterval: 20 });
  let secret = '';
  receiver = await startReceiver(() => secret);
  secret = (await server.tessera.engine.addWebhook(receiver.url, ['client.created'], { actor: 'test' })).secret;
  await server.createClient();
  await expect.poll(() => receiver?.received.length, { timeout: 20_000 }).toBe(1);

  writeFileSync(join(dir, 'verify.mjs'), readmeCode('webhooks', 'js'));
  const { verifyWebhook } = (await import(join(dir, 'verify.mjs'))) as { verifyWebhook: (s: string, h: Record<string, string>, b: string) => boolean };
  const { headers, body } = receiver.received[0] as { headers: Record<string, string>; body: string };
  expect(verifyWebhook(secret, headers, body)).toBe(true);
  expect(verifyWebhook(secret, headers, body.replace('client.created', 'client.deleted'))).toBe(false);
  expect(verifyWebhook(`whsec_${randomBytes(32).toString('base64')}`, headers, body)).toBe(false);
  expect(verifyWebhook(secret, { ...headers, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) - 3600) }, body)).toBe(false);
});
