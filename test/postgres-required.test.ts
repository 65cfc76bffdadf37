/**
 * `npm test` without PostgreSQL fails at once with one line naming what is missing and how to
 * start it (test/global-setup.ts), never by skipping the PostgreSQL suites silently. Played by
 * running vitest, with the suite's own config, on a one-test file in a temporary directory.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'tessera-pg-required-'));
mkdirSync(join(dir, 'test'));
writeFileSync(join(dir, 'test', 'tiny.test.ts'), "import { it } from 'vitest';\nit('ran', () => {});\n");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function vitest(env: Record<string, string>) {
  const run = spawnSync(process.execPath, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--config', join(root, 'vitest.config.ts'), '--root', dir, '--dir', dir], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...env },
    timeout: 60_000,
  });
  return { code: run.status, output: run.stdout + run.stderr };
}

it('without PostgreSQL the test run fails with one line naming it and how to start it (no silent skip)', () => {
  const bad = 'postgres://postgres@127.0.0.1:1/none';
  const run = vitest({ TESSERA_TEST_PG: bad });
  expect(run.code).not.toBe(0);
  const line = run.output.split('\n').find((l) => l.includes(`PostgreSQL is not reachable at ${bad}`));
  expect(line, run.output).toBeDefined();
  expect(line).toMatch(/pg_ctlcluster --skip-systemctl-redirect .* main start/);
  expect(line).toMatch(/DEVELOPERS\.md/);
  expect(run.output).not.toMatch(/1 passed/);
});

it('PostgreSQL up but without the database: the line says to create it, not to start a server that is running', () => {
  const url = new URL(process.env.TESSERA_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test');
  url.pathname = `/tessera_no_such_db_${process.pid}`;
  const run = vitest({ TESSERA_TEST_PG: url.href });
  expect(run.code).not.toBe(0);
  const line = run.output.split('\n').find((l) => l.includes(`PostgreSQL at ${url.href} has no database tessera_no_such_db_${process.pid}`));
  expect(line, run.output).toBeDefined();
  expect(line).toContain(`createdb -h ${url.hostname} -p ${url.port || 5432} -U ${url.username} tessera_no_such_db_${process.pid}`);
  expect(line).not.toMatch(/pg_ctlcluster/);
  expect(run.output).not.toMatch(/1 passed/);
});

it('with PostgreSQL up the same run passes: the failure above is the missing database, nothing else', () => {
  const run = vitest({});
  expect(run.code, run.output).toBe(0);
  expect(run.output).toMatch(/1 passed/);
});
