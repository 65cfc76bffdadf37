/**
 * The README's resource indicator (RFC 8707) and token exchange (RFC 8693) examples run verbatim
 * by bash against `tessera serve`, with the CLI on its data file.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runTessera } from './cli-kit.js';
import { readmeSection, root } from './readme-kit.js';
import { type ServeProcess, serve } from './server-process.js';

const run = promisify(execFile);

let dir: string;
let db: string;
let server: ServeProcess;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-readme-resources-'));
  db = join(dir, 'tessera.db');
  env = { ...process.env, TESSERA_DB: db };
  server = await serve(db);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const script = (name: string) => `set -euo pipefail\n${readmeSection(name).replaceAll('http://127.0.0.1:9000', server.url)}`;
/** The JSON objects the script printed, one a line. */
const printed = (stdout: string) => stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));

it('the README resource indicators example runs verbatim: aud is the resource; another resource is invalid_target', async () => {
  const { stdout } = await run('bash', ['-c', script('resources')], { cwd: root, env, timeout: 60_000 });
  const [introspection, refused] = printed(stdout);
  expect(introspection).toMatchObject({ active: true, aud: 'https://calendar.example/' });
  expect(refused).toMatchObject({ error: 'invalid_target' });
}, 90_000);

it('the README token exchange example runs verbatim: orders, which may exchange the tokens sent to it (--exchange-audience) and call billing (--resource), gets a read-only token for billing, whose subject is the caller', async () => {
  const { stdout } = await run('bash', ['-c', `${script('token-exchange')}\necho "VARS $SHOP_ID $ORDERS_ID $ORDERS_SECRET"`], { cwd: root, env, timeout: 60_000 });
  const [exchanged] = printed(stdout);
  expect(exchanged).toMatchObject({ token_type: 'Bearer', scope: 'read', issued_token_type: 'urn:ietf:params:oauth:token-type:access_token' });
  // No later than the subject token, issued a moment before with the default hour.
  expect(exchanged.expires_in).toBeGreaterThan(3500);
  expect(exchanged.expires_in).toBeLessThanOrEqual(3600);
  expect(exchanged.refresh_token).toBeUndefined();
  const [, shop, orders, secret] = (stdout.trim().split('\n').at(-1) as string).split(' ');
  const res = await fetch(`${server.url}/introspect`, {
    method: 'POST',
    headers: { authorization: `Basic ${btoa(`${orders}:${secret}`)}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: exchanged.access_token }),
  });
  expect(await res.json()).toMatchObject({ active: true, sub: shop, client_id: orders, aud: 'https://billing.example/', scope: 'read' });
  const shown = await runTessera(db, ['client', 'show', orders as string, '--json']);
  expect(JSON.parse(shown.stdout)).toMatchObject({ resources: ['https://billing.example/'], exchange_audiences: ['https://orders.example/'] });
}, 90_000);
