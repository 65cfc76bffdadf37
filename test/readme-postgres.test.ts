/**
 * The README's "Several instances on PostgreSQL" commands, run by bash as written (on a database
 * and ports of this test's own): both instances come up on one database and name one issuer.
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { TEST_PG } from '@tessera/test-utils';
import postgres from 'postgres';
import { afterAll, expect, it } from 'vitest';
import { freePort } from './helpers.js';
import { readmeSection, root } from './readme-kit.js';


const commands = () => readmeSection('postgres');

const name = `tessera_readme_${process.pid}`;
let group: number | undefined;

afterAll(async () => {
  if (group !== undefined) {
    try {
      process.kill(-group, 'SIGTERM');
    } catch {}
    await new Promise((r) => setTimeout(r, 500));
  }
  const admin = postgres(TEST_PG, { max: 1, onnotice: () => {} });
  await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
});

it('README: two tessera serve on one PostgreSQL database, after createdb and tessera migrate, as written', async () => {
  const [a, b] = [await freePort(), await freePort()];
  const script = commands()
    .replace('-U postgres tessera', `-U postgres ${name}`)
    .replace(':5432/tessera', `:5432/${name}`)
    .replace('--port 9001', `--port ${a}`)
    .replace('--port 9002', `--port ${b}`);
  const url = `postgres://postgres@127.0.0.1:5432/${name}`; // as the README's TESSERA_DB, with this name
  expect(script).toContain(name);
  const env: NodeJS.ProcessEnv = { ...process.env, TESSERA_LOG_LEVEL: 'warn' };
  for (const key of Object.keys(env)) if (key.startsWith('TESSERA_') && key !== 'TESSERA_LOG_LEVEL') delete env[key];
  const child = spawn('bash', ['-c', `set -e\n${script}\nwait`], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  group = child.pid;
  let output = '';
  child.stdout?.on('data', (d) => { output += d; });
  child.stderr?.on('data', (d) => { output += d; });
  const up = async (port: number) => {
    for (let i = 0; i < 300; i++) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/.well-known/oauth-authorization-server`);
        if (res.ok) return (await res.json()) as { issuer: string };
      } catch {}
      if (child.exitCode !== null) throw new Error(`the README's commands exited ${child.exitCode}:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`port ${port} did not come up:\n${output}`);
  };
  const [first, second] = await Promise.all([up(a), up(b)]);
  expect(first.issuer).toBe('https://auth.example.com');
  expect(second.issuer).toBe('https://auth.example.com');
  // Started together on a new database, they made one signing key per algorithm between them.
  const keys = spawnSync(process.execPath, [join(root, 'packages/server/bin/tessera.js'), 'keys', 'list', '--json', '--db', url], { env, encoding: 'utf8' });
  expect(keys.status, keys.stderr).toBe(0);
  expect((JSON.parse(keys.stdout) as Array<{ alg: string; status: string }>).map((k) => `${k.alg} ${k.status}`).sort()).toEqual(['ES256 current', 'RS256 current']);
}, 60_000);
