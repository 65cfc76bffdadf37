/**
 * Users' OpenID Connect profile through the CLI (issue 11): `user create --username U --email E
 * --name N --password-stdin` and `user update`, audited without the values, refused clearly; and
 * `client create --post-logout-redirect-uri` for RP-initiated logout; client names held to the
 * users' rule (no control characters or bidi overrides).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Run, tempDir, tessera } from './cli-kit.js';

const dir = tempDir();
const db = join(dir, 'tessera.db');
const run = (args: string[], input?: string): Promise<Run> => tessera([...args, '--db', db], input === undefined ? {} : { input });
async function json(args: string[], input?: string): Promise<any> {
  const r = await run([...args, '--json'], input);
  expect(r, `tessera ${args.join(' ')}: ${r.stderr}`).toMatchObject({ code: 0 });
  return JSON.parse(r.stdout);
}
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tessera user create / update: name, email, email_verified', () => {
  it('issue 11 fixed names: user create --username U --email E --name "N" --password-stdin; email and name optional', async () => {
    const ada = await json(['user', 'create', '--username', 'ada', '--email', 'ada@example.com', '--name', 'Ada Lovelace', '--password-stdin'], 'correct horse battery\n');
    expect(ada).toMatchObject({ username: 'ada', name: 'Ada Lovelace', email: 'ada@example.com', email_verified: false });
    const bob = await json(['user', 'create', 'bob', '--password-stdin'], 'correct horse battery\n');
    expect(bob).toMatchObject({ username: 'bob', name: null, email: null, email_verified: false });
    const cy = await json(['user', 'create', 'cy', '--email', 'cy@example.com', '--email-verified', '--password-stdin'], 'correct horse battery\n');
    expect(cy).toMatchObject({ email: 'cy@example.com', email_verified: true });
    const list = await json(['user', 'list']);
    expect(list.find((u: { username: string }) => u.username === 'ada')).toMatchObject({ name: 'Ada Lovelace', email: 'ada@example.com' });
  }, 30_000);

  it('user update changes name and email; a new email is unverified unless --email-verified; empty removes a claim', async () => {
    await json(['user', 'create', 'dora', '--email', 'dora@example.com', '--email-verified', '--password-stdin'], 'correct horse battery\n');
    expect(await json(['user', 'update', 'dora', '--name', 'Dora M.'])).toMatchObject({ name: 'Dora M.', email: 'dora@example.com', email_verified: true });
    expect(await json(['user', 'update', 'dora', '--email', 'dora@new.example'])).toMatchObject({ email: 'dora@new.example', email_verified: false });
    expect(await json(['user', 'update', 'dora', '--email-verified'])).toMatchObject({ email_verified: true });
    expect(await json(['user', 'update', 'dora', '--email-unverified'])).toMatchObject({ email_verified: false });
    expect(await json(['user', 'update', 'dora', '--name', '', '--email', ''])).toMatchObject({ name: null, email: null, email_verified: false });
    const text = await run(['user', 'update', 'dora', '--name', 'Dora']);
    expect(text).toMatchObject({ code: 0, stdout: "Updated user 'dora': name 'Dora', email (none).\n" });
  }, 30_000);

  it('every change is audited (user.created, user.updated) with the names of the fields changed, never their values', async () => {
    await json(['user', 'create', 'eve', '--name', 'Eve Secretname', '--password-stdin'], 'correct horse battery\n');
    await json(['user', 'update', 'eve', '--email', 'eve@hidden.example']);
    const records = await json(['audit']);
    const eve = records.filter((r: { event: string; data: unknown }) => ['user.created', 'user.updated'].includes(r.event)).slice(-2);
    expect(eve.map((r: { event: string; data: unknown }) => [r.event, r.data])).toEqual([
      ['user.created', { changed: ['name'] }],
      ['user.updated', { changed: ['email'] }],
    ]);
    expect(JSON.stringify(records)).not.toMatch(/Secretname|hidden\.example/);
  }, 30_000);

  it('bad values are usage errors (exit 2) naming the option; an unknown user is exit 1; nothing to change is exit 2', async () => {
    await json(['user', 'create', 'fay', '--password-stdin'], 'correct horse battery\n');
    for (const [args, message] of [
      [['--email', 'not-an-address'], /--email must be an email address/],
      [['--email', 'a b@example.com'], /--email must be an email address/],
      [['--name', ' padded '], /--name must be/],
      [['--name', 'bell\u0007'], /--name must be/],
      [['--email-verified'], /--email-verified needs an email address/],
      [['--email-verified', '--email-unverified'], /not both/],
      [[], /nothing to change/],
    ] as const) {
      const r = await run(['user', 'update', 'fay', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    const create = await run(['user', 'create', 'gil', '--email', '@', '--password-stdin'], 'correct horse battery\n');
    expect(create.code).toBe(2);
    expect(await json(['user', 'list'])).not.toContainEqual(expect.objectContaining({ username: 'gil' }));
    const unknown = await run(['user', 'update', 'nobody', '--name', 'X']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no user named 'nobody'/);
  }, 30_000);

  it('issue 11 fixed name: client create --post-logout-redirect-uri URI (repeatable, each taken whole, absolute, no fragment)', async () => {
    const c = await json(['client', 'create', '--name', 'rp', '--grant-type', 'authorization_code', '--redirect-uri', 'https://rp.example/cb', '--scope', 'openid',
      '--post-logout-redirect-uri', 'https://rp.example/bye', '--post-logout-redirect-uri', 'https://rp.example/bye?x=1,y']);
    expect(c.post_logout_redirect_uris).toEqual(['https://rp.example/bye', 'https://rp.example/bye?x=1,y']);
    expect((await json(['client', 'show', c.client_id])).post_logout_redirect_uris).toEqual(c.post_logout_redirect_uris);
    for (const bad of ['/relative', 'https://rp.example/bye#frag', 'javascript:alert(1)']) {
      const r = await run(['client', 'create', '--name', 'rp', '--grant-type', 'authorization_code', '--redirect-uri', 'https://rp.example/cb', '--scope', 'openid', '--post-logout-redirect-uri', bad]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toMatch(/--post-logout-redirect-uri must/);
    }
  }, 30_000);

  it('client create and update refuse a --name with a control character or a bidi override (U+202E), as the admin API and user names do (exit 2)', async () => {
    const c = await json(['client', 'create', '--name', 'svc', '--grant-type', 'client_credentials', '--scope', 'read']);
    for (const name of ['a\u001b[31mb', 'a\u0085b', 'invoice\u202Egpj.exe', '   ']) {
      const made = await run(['client', 'create', '--name', name, '--grant-type', 'client_credentials', '--scope', 'read']);
      expect(made.code, JSON.stringify(name)).toBe(2);
      expect(made.stderr).toMatch(/--name must be 1 to 200 characters/);
      const changed = await run(['client', 'update', c.client_id, '--name', name]);
      expect(changed.code, JSON.stringify(name)).toBe(2);
    }
    expect((await json(['client', 'show', c.client_id])).name).toBe('svc');
  }, 30_000);
});
