/**
 * `npm test` works on a fresh Debian machine with nothing installed beforehand: its pretest step,
 * scripts/system-deps.sh, installs the system packages the tests need (Chromium, the Python
 * clients, curl), and .ci/run calls the same step. When it cannot install them it fails with one
 * line that names them. That case is played in a mount namespace that hides them, as a user
 * without root or sudo (needs root and unshare; skipped elsewhere).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const script = join(root, 'scripts', 'system-deps.sh');

function canUnshare(): boolean {
  if (process.getuid?.() !== 0) return false;
  return spawnSync('unshare', ['--mount', 'true']).status === 0 && spawnSync('setpriv', ['--version']).status === 0;
}

it('npm test installs what it needs first: its pretest step is scripts/system-deps.sh, which .ci/run calls too', () => {
  const { scripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  expect(scripts.pretest).toBe('bash scripts/system-deps.sh');
  expect(existsSync(script)).toBe(true);
  const ci = readFileSync(join(root, '.ci', 'run'), 'utf8');
  expect(ci).toMatch(/^bash scripts\/system-deps\.sh$/m);
  // The step is called, not copied: no other apt-get in .ci/run.
  expect(ci).not.toMatch(/apt-get install/);
});

it('with every system package present the step succeeds and says nothing', () => {
  const out = execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  expect(out).toBe('');
});

it.skipIf(!canUnshare())('with packages missing and no root or sudo, the step fails with one line naming each and how to install them', () => {
  // Hidden in a private mount namespace: the Python modules, and chromium and curl (by an
  // unexecutable file over them). Then the step runs as nobody, who cannot install anything.
  const hide = ['/usr/bin/chromium', '/usr/bin/curl'].filter(existsSync).map((f) => `mount --bind /dev/null ${f}`);
  const setup = ['mount -t tmpfs none /usr/lib/python3/dist-packages', ...hide, 'exec setpriv --reuid=65534 --regid=65534 --clear-groups bash -s'].join(' && ');
  const res = spawnSync('unshare', ['--mount', '--propagation', 'private', 'bash', '-c', setup], {
    cwd: '/',
    input: readFileSync(script),
    encoding: 'utf8',
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/nonexistent' },
  });
  expect(res.stdout).toBe('');
  const lines = res.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  for (const p of ['chromium', 'python3-requests-oauthlib', 'python3-authlib', 'python3-oauthlib', 'curl']) expect(lines[0]).toContain(p);
  expect(lines[0]).toContain('apt-get install');
  expect(res.status).toBe(1);
});
