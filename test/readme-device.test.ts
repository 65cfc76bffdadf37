/**
 * The README's device flow (RFC 8628) runs as written: its first block (client, device
 * authorization, a pending poll) verbatim by bash against `tessera serve`, then the user's part on
 * the /device page, then its second block, which gets the tokens.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Agent, field } from './agent.js';
import { decide } from './device-kit.js';
import { runTessera } from './cli-kit.js';
import { sleep } from './flows.js';
import { type ServeProcess, serve } from './server-process.js';

const root = join(import.meta.dirname, '..');
const run = promisify(execFile);

/** The sh blocks of the README's device walkthrough, in order. */
function blocks(): string[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = /<!-- device-walkthrough:start -->([\s\S]*?)<!-- device-walkthrough:end -->/.exec(readme)?.[1];
  if (!section) throw new Error('README has no device walkthrough section');
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] as string);
}

let dir: string;
let db: string;
let server: ServeProcess;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-readme-device-'));
  db = join(dir, 'tessera.db');
  // A 1 s interval, so the second block's poll is not too soon (the README's default is 5 s).
  server = await serve(db, ['--device-code-interval', '1']);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('the README device walkthrough runs as written: pending, then the user allows on /device, then tokens', async () => {
  const [first, second] = blocks();
  expect(second).toBeDefined();
  const env = { ...process.env, TESSERA_DB: db };
  const script = (block: string) => `set -euo pipefail\n${block.replaceAll('http://127.0.0.1:9000', server.url)}`;
  // The test reads the variables the first block set, to hand them to the second, as one shell would.
  const one = await run('bash', ['-c', `${script(first as string)}\necho "VARS $CLIENT_ID $DEVICE_CODE"`], { cwd: root, env, timeout: 60_000 });
  const lines = one.stdout.trim().split('\n');
  const started = JSON.parse(lines.find((l) => l.startsWith('{"device_code"')) as string);
  expect(started).toMatchObject({ user_code: expect.stringMatching(/^[A-Z]{4}-[A-Z]{4}$/), verification_uri: `${server.url}/device`, expires_in: 600, interval: 1 });
  expect(JSON.parse(lines.find((l) => l.includes('"error"')) as string)).toMatchObject({ error: 'authorization_pending' });
  const [, clientId, deviceCode] = (lines.at(-1) as string).split(' ');

  // The user's part: an account, a sign-in, the code typed on /device, Allow.
  const password = 'a readme device passphrase';
  expect((await runTessera(db, ['user', 'create', 'carol', '--password-stdin'], password)).code).toBe(0);
  const agent = new Agent(server.url);
  const login = await agent.get(`/login?return_to=${encodeURIComponent('/device?')}`);
  expect((await agent.post('/login', { username: 'carol', password, csrf: field(login.body, 'csrf'), return_to: field(login.body, 'return_to') })).status).toBe(303);
  await decide(agent, started.user_code, 'allow');

  await sleep(1100);
  const two = await run('bash', ['-c', script(second as string)], { cwd: root, env: { ...env, CLIENT_ID: clientId, DEVICE_CODE: deviceCode }, timeout: 60_000 });
  expect(JSON.parse(two.stdout.trim())).toMatchObject({ token_type: 'Bearer', scope: 'read', access_token: expect.any(String), refresh_token: expect.any(String) });
}, 120_000);
