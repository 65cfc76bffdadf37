/**
 * Every server setting by flag, environment variable and `--config` JSON file, in that order of
 * precedence over the defaults; bad values and unknown keys are usage errors naming them.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaults } from '@tessera/server';
import { afterAll, describe, expect, it } from 'vitest';
import { clientToken, serve, tempDir, tessera } from './cli-kit.js';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const snake = (key: string) => `TESSERA_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;

function configFile(name: string, settings: Record<string, unknown>): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(settings));
  return path;
}

describe('server settings (issue 9, defect 18)', () => {
  it('serve --help lists every setting with its flag, environment variable, config key and default', async () => {
    const help = await tessera(['serve', '--help']);
    expect(help.code).toBe(0);
    const keys = [...Object.keys(defaults), 'audience'];
    expect(keys.length).toBeGreaterThanOrEqual(14);
    for (const key of keys) {
      const flag = key === 'legacyGrants' ? 'enable-legacy' : kebab(key);
      const line = help.stdout.split('\n').find((l) => l.startsWith(`  --${flag} `) || l === `  --${flag}` || l.startsWith(`  --${flag}  `));
      expect(line, `--${flag}`).toBeDefined();
      expect(line).toContain(`env ${snake(key)}, file key ${key}; default `);
      const value = (defaults as Record<string, unknown>)[key];
      if (typeof value === 'number' || typeof value === 'boolean') expect(line).toContain(`default ${value})`);
    }
    for (const own of ['--port', '--host', '--sync', '--config']) expect(help.stdout).toContain(own);
  });

  it('a flag beats its environment variable, which beats the config file, which beats the default', async () => {
    const file = configFile('ttl.json', { accessTokenTtl: 100, allowPlainPkce: true });
    const env = { TESSERA_CONFIG: file, TESSERA_ACCESS_TOKEN_TTL: '200' };
    const cases: Array<{ args: string[]; env: Record<string, string>; ttl: number }> = [
      { args: ['--access-token-ttl', '300'], env, ttl: 300 },
      { args: [], env, ttl: 200 },
      { args: [], env: { TESSERA_CONFIG: file }, ttl: 100 },
      { args: [], env: {}, ttl: defaults.accessTokenTtl },
    ];
    const results = await Promise.all(cases.map(async (c, i) => {
      const db = join(dir, `precedence-${i}.db`);
      const client = await tessera(['client', 'create', '--name', 'c', '--grant-type', 'client_credentials', '--scope', 'read', '--json', '--db', db]);
      const server = await serve([...c.args, '--db', db], { env: c.env });
      try {
        const token = await clientToken(server.url, JSON.parse(client.stdout));
        const meta = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as { code_challenge_methods_supported: string[] };
        return { ttl: token.body.expires_in, plain: meta.code_challenge_methods_supported.includes('plain') };
      } finally {
        await server.stop();
      }
    }));
    expect(results).toEqual(cases.map((c) => ({ ttl: c.ttl, plain: c.env.TESSERA_CONFIG !== undefined })));
  }, 90_000);

  it('the config file applies to every command: its db, and the settings keys rotate relies on', async () => {
    const file = configFile('rotate.json', { db: 'from-config.db', accessTokenTtl: 7200 });
    const startedAt = Date.now();
    const rotated = await tessera(['keys', 'rotate', '--json', '--config', file]);
    expect(rotated.code).toBe(0);
    // The old key stays published as long as a token it signed may live: 7200 s, not the default.
    expect(Date.parse(JSON.parse(rotated.stdout).previous_keys_retire_at)).toBeGreaterThanOrEqual(startedAt + 7200 * 1000);
    // A relative db path is relative to the config file.
    const listed = await tessera(['keys', 'list', '--json', '--db', join(dir, 'from-config.db')]);
    // An RS256 and an ES256 key at creation, and a new one of each.
    expect(JSON.parse(listed.stdout)).toHaveLength(4);
  }, 30_000);

  it('bad values and unknown keys are usage errors (exit 2) naming the flag, variable or key', async () => {
    const unknown = configFile('unknown.json', { accessTokenTTL: 60 });
    const badValue = configFile('bad.json', { refreshReuseGrace: 'soon' });
    const notJson = join(dir, 'broken.json');
    writeFileSync(notJson, '{ "codeTtl": 30, }');
    const runs = await Promise.all([
      tessera(['serve', '--config', unknown]),
      tessera(['serve', '--config', badValue]),
      tessera(['serve', '--config', notJson]),
      tessera(['serve', '--config', join(dir, 'missing.json')]),
      tessera(['serve'], { env: { TESSERA_FEED_HEARTBEAT: '0' } }),
      tessera(['serve', '--session-ttl', '-5']),
      tessera(['serve', '--issuer', 'https://auth.example/?x=1']),
      tessera(['client', 'list'], { env: { TESSERA_CONFIG: unknown } }),
      // Past the longest Node timer a timeout would fire after 1 ms: every webhook delivery failed at once.
      tessera(['serve', '--webhook-timeout', '3000000000']),
      tessera(['serve'], { env: { TESSERA_FEED_HEARTBEAT: '2147483648' } }),
    ]);
    expect(runs.map((r) => r.code)).toEqual([2, 2, 2, 2, 2, 2, 2, 2, 2, 2]);
    const [u, b, j, m, e, f, i, c, w, h] = runs.map((r) => r.stderr);
    expect(u).toContain(`unknown setting 'accessTokenTTL' in the config file ${unknown}`);
    expect(b).toContain(`refreshReuseGrace in ${badValue} must be a whole number of seconds, 0 for off; got 'soon'`);
    expect(j).toContain(`cannot read the config file ${notJson}: not valid JSON`);
    expect(m).toContain('no such file');
    expect(e).toContain("TESSERA_FEED_HEARTBEAT must be a whole number of milliseconds, at least 1, at most 2147483647; got '0'");
    expect(f).toMatch(/option '--session-ttl' needs a value|--session-ttl must be a whole number/);
    expect(i).toContain('--issuer must not have a query or fragment (RFC 8414 §2)');
    expect(c).toContain('accessTokenTTL');
    // One pointer to help, the one that lists the settings, also from another command.
    for (const stderr of [u, c]) expect(stderr?.match(/\(see '/g), stderr).toHaveLength(1);
    expect(c).toContain("(see 'tessera serve --help')");
    expect(w).toContain("--webhook-timeout must be a whole number of milliseconds, at least 1, at most 2147483647; got '3000000000'");
    expect(h).toContain('TESSERA_FEED_HEARTBEAT must be a whole number of milliseconds, at least 1, at most 2147483647');
  }, 60_000);
});
