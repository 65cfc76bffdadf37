/**
 * The CLI as an operator uses it: --version, one argument style, pages of tokens and audit
 * records, secrets kept off the command line, redirect URIs taken whole, no cutoff in the future.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { openTessera } from '@tessera/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientToken, type Run, serve, type Served, tempDir, tessera } from './cli-kit.js';

const dir = tempDir();
const db = join(dir, 'tessera.db');
let server: Served;
const run = (args: string[], input?: string): Promise<Run> => tessera([...args, '--db', db], input === undefined ? {} : { input });
async function json(args: string[], input?: string): Promise<any> {
  const r = await run([...args, '--json'], input);
  expect(r, `tessera ${args.join(' ')}`).toMatchObject({ code: 0 });
  return JSON.parse(r.stdout);
}
const cc = () => json(['client', 'create', '--name', 'cc', '--grant-type', 'client_credentials', '--scope', 'read']);

beforeAll(async () => {
  await cc();
  server = await serve(['--db', db]);
}, 30_000);
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('issue 9, defect 18: operations basics', () => {
  it('tessera --version and -V print the version of @tessera/server', async () => {
    const { version } = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'packages', 'server', 'package.json'), 'utf8'));
    const [long, short] = await Promise.all([tessera(['--version']), tessera(['-V'])]);
    expect(long).toEqual({ code: 0, stdout: `tessera ${version}\n`, stderr: '' });
    expect(short).toEqual(long);
  });

  it('every command names the user it acts on as an argument: user create USERNAME like set-password and delete', async () => {
    expect(await json(['user', 'create', 'grace', '--password-stdin'], 'grace passphrase\n')).toMatchObject({ username: 'grace' });
    expect(await json(['user', 'set-password', 'grace', '--password-stdin'], 'new passphrase\n')).toMatchObject({ password_changed: true });
    // --username is the spelling issue 11 fixes for outside tests: it works, quietly; both at once is a usage error.
    const old = await run(['user', 'create', '--username', 'heidi', '--password-stdin'], 'heidi passphrase');
    expect(old).toMatchObject({ code: 0, stderr: '' });
    const both = await run(['user', 'create', 'ivan', '--username', 'ivan', '--password-stdin'], 'ivan passphrase');
    expect(both.code).toBe(2);
    expect(await json(['user', 'delete', 'heidi'])).toMatchObject({ deleted: true });
    const help = await tessera(['user', 'create', '--help']);
    expect(help.stdout).toMatch(/^Usage: tessera user create USERNAME\|--username USERNAME --password-stdin/);
  }, 30_000);

  it('token list shows a page (--limit) and says how to get the next (--after), until every token was shown once', async () => {
    const c = await cc();
    for (let i = 0; i < 5; i++) expect((await clientToken(server.url, c)).status).toBe(200);
    const seen: string[] = [];
    let after: string[] = [];
    for (let page = 0; page < 5; page++) {
      const r = await run(['token', 'list', '--client', c.client_id, '--limit', '2', '--json', ...after]);
      expect(r.code).toBe(0);
      const tokens = JSON.parse(r.stdout) as Array<{ id: string; cursor: string }>;
      seen.push(...tokens.map((t) => t.id));
      const next = /there are more: add --after (\S+)/.exec(r.stderr)?.[1];
      if (next === undefined) break;
      expect(next).toBe(tokens.at(-1)?.cursor);
      after = ['--after', next];
    }
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);
    const bad = await run(['token', 'list', '--limit', '0']);
    expect(bad.code).toBe(2);
  }, 30_000);

  it('audit --limit N --after SEQ pages through the log', async () => {
    const first = await run(['audit', '--limit', '3', '--json']);
    expect(JSON.parse(first.stdout).map((r: { seq: number }) => r.seq)).toEqual([1, 2, 3]);
    expect(first.stderr).toContain('there are more: add --after 3');
    const second = await json(['audit', '--limit', '2', '--after', '3']);
    expect(second.map((r: { seq: number }) => r.seq)).toEqual([4, 5]);
  }, 30_000);
});

describe('issue 9, defect 12: tokens stay off the command line', () => {
  it('token revoke --token-stdin reads the token from stdin; --token still works but warns that ps shows it', async () => {
    const c = await cc();
    const [a, b] = [(await clientToken(server.url, c)).body.access_token, (await clientToken(server.url, c)).body.access_token];
    const piped = await run(['token', 'revoke', '--token-stdin', '--json'], `${a}\n`);
    expect(piped).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(piped.stdout)).toMatchObject({ revoked_tokens: 1 });
    const argv = await run(['token', 'revoke', '--token', b]);
    expect(argv.code).toBe(0);
    expect(argv.stderr).toMatch(/warning: --token puts the token on the command line, where ps and shell history show it; pipe it to --token-stdin/);
    expect(argv.stderr).not.toContain(b);
    const empty = await run(['token', 'revoke', '--token-stdin'], '');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/--token-stdin read an empty token/);
  }, 30_000);
});

describe('token revoke --reason is text a person reads in the audit log', () => {
  it('a reason with a control character (ESC), a bidirectional override or nothing at all exits 2 and revokes nothing, as the admin API refuses it', async () => {
    const c = await cc();
    await clientToken(server.url, c);
    for (const reason of ['\u001b[31mred', 'a\u202eb', '']) {
      const r = await run(['token', 'revoke', '--client', c.client_id, '--reason', reason]);
      expect(r.code, reason).toBe(2);
      expect(r.stderr).toContain('--reason must be printable text');
    }
    expect((await json(['token', 'list', '--client', c.client_id])).map((t: { status: string }) => t.status)).toEqual(['active']);
    expect((await run(['token', 'revoke', '--client', c.client_id, '--reason', 'rotated ✓'])).code).toBe(0);
  }, 30_000);
});

describe('issue 9, defect 9: no revocation cutoff in the future', () => {
  it('token revoke --issued-before a future time exits 2 and revokes nothing; the engine refuses one too', async () => {
    const c = await cc();
    const { access_token } = (await clientToken(server.url, c)).body;
    const future = new Date(Date.now() + 3600_000).toISOString();
    const r = await run(['token', 'revoke', '--issued-before', future]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--issued-before .* is in the future/);
    const listed = await json(['token', 'list', '--client', c.client_id]);
    expect(listed.map((t: { status: string }) => t.status)).toEqual(['active']);
    const introspected = await (await fetch(`${server.url}/introspect`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString('base64')}` },
      body: new URLSearchParams({ token: access_token }),
    })).json() as { active: boolean };
    expect(introspected.active).toBe(true);
    // Through the engine: the same rule for every caller.
    const other = join(dir, 'engine.db');
    const tessera = await openTessera({ db: other });
    try {
      await expect(tessera.engine.revoke({ issuedBefore: Date.now() + 60_000 }, { actor: 'test' })).rejects.toThrow(/in the future/);
      await expect(tessera.engine.revoke({ issuedBefore: Date.now() }, { actor: 'test' })).resolves.toMatchObject({ tokens: 0 });
    } finally {
      await tessera.close();
    }
  }, 30_000);
});

describe('issue 9, defect 10: redirect URIs are taken whole (RFC 6749 §3.1.2)', () => {
  const create = (...uris: string[]) => run(['client', 'create', '--name', 'web', '--grant-type', 'authorization_code', '--scope', 'read', '--json', ...uris.flatMap((u) => ['--redirect-uri', u])]);

  it('a comma inside a redirect URI stays in it: no second URI is registered', async () => {
    const uri = 'https://app.example/cb?next=x,https://evil.example/';
    const r = await create(uri);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).redirect_uris).toEqual([uri]);
    const two = await create('https://app.example/a', 'https://app.example/b');
    expect(JSON.parse(two.stdout).redirect_uris).toEqual(['https://app.example/a', 'https://app.example/b']);
  }, 30_000);

  it.each([
    ['a fragment', 'https://app.example/cb#top', /fragment/],
    ['a relative reference', 'app.example/cb', /absolute URI/],
    ['a space', 'https://app.example/c b', /absolute URI/],
    ['the javascript: scheme', 'javascript:alert(1)', /javascript: scheme/],
  ])('a redirect URI with %s is refused with exit 2', async (_, uri, message) => {
    const r = await create(uri);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
