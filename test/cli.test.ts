/**
 * The `tessera` CLI end to end: every case spawns `node packages/server/bin/tessera.js` as a real
 * process on a real SQLite file in a temporary directory, next to a `tessera serve` child on the
 * same file, and checks the outcome over HTTP (token, introspection, JWKS).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request, type ClientRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { type Run, tessera as run } from './cli-kit.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

const bin = join(import.meta.dirname, '..', 'packages', 'server', 'bin', 'tessera.js');

let dir: string;
let db: string;
let server: Served;
/** A resource server: registered with `tessera:introspect`, so it may introspect any token. */
let rs: { client_id: string; client_secret: string };

function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TESSERA_DB: db, TESSERA_LOG_LEVEL: 'warn', ...extra };
  for (const name of Object.keys(env)) {
    if (name.startsWith('TESSERA_') && name !== 'TESSERA_DB' && name !== 'TESSERA_LOG_LEVEL' && !(name in extra)) delete env[name];
  }
  return env;
}

/** Runs `tessera …args` on this suite's data file to completion, with `input` on stdin. */
function tessera(args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return run(args, { ...options, env: { TESSERA_DB: db, ...options.env } });
}

async function ok(args: string[], input?: string): Promise<string> {
  const run = await tessera(args, input === undefined ? {} : { input });
  expect(run, `tessera ${args.join(' ')}`).toMatchObject({ code: 0 });
  return run.stdout;
}

const json = async (args: string[], input?: string) => JSON.parse(await ok([...args, '--json'], input));

interface Served {
  child: ChildProcess;
  url: string;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
}

/** Starts `tessera serve` and waits for the URL in its startup message. */
function serve(args: string[]): Promise<Served> {
  const child = spawn(process.execPath, [bin, 'serve', ...args], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (d) => { stderr += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${stdout}\n${stderr}`)), 10_000);
    child.stdout?.on('data', (d) => {
      stdout += d;
      const url = /serving (http:\/\/\S+)/.exec(stdout)?.[1];
      if (url && stdout.includes('npx tessera client create')) {
        clearTimeout(timer);
        resolve({ child, url, exited, get stdout() { return stdout; }, get stderr() { return stderr; } });
      }
    });
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`serve exited with ${code}:\n${stdout}\n${stderr}`)); });
  });
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function post(path: string, form: Record<string, string>, authorization?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(server.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(authorization ? { authorization } : {}) },
    body: new URLSearchParams(form),
  });
  return { status: res.status, body: await res.json() };
}

async function clientToken(c: { client_id: string; client_secret: string }): Promise<string> {
  const res = await post('/token', { grant_type: 'client_credentials' }, basic(c.client_id, c.client_secret));
  expect(res.status).toBe(200);
  return res.body.access_token as string;
}

async function passwordTokens(c: { client_id: string; client_secret: string }, username: string, password: string) {
  const res = await post('/token', { grant_type: 'password', username, password }, basic(c.client_id, c.client_secret));
  expect(res.status).toBe(200);
  return res.body as { access_token: string; refresh_token: string };
}

async function active(token: string): Promise<boolean> {
  const res = await post('/introspect', { token }, basic(rs.client_id, rs.client_secret));
  expect(res.status).toBe(200);
  return res.body.active as boolean;
}

let counter = 0;
const name = (prefix: string) => `${prefix}-${++counter}`;
const ccClient = () => json(['client', 'create', '--name', name('cc'), '--grant-type', 'client_credentials', '--scope', 'read write']);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-cli-'));
  db = join(dir, 'tessera.db');
  server = await serve(['--port', '0', '--host', '127.0.0.1', '--enable-legacy', 'password', '--sync', 'normal']);
  rs = await json(['client', 'create', '--name', 'resource-server', '--grant-type', 'client_credentials', '--scope', 'tessera:introspect']);
}, 20_000);

afterAll(async () => {
  if (server && server.child.exitCode === null) {
    server.child.kill('SIGTERM');
    await server.exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('usage', () => {
  it('an unknown flag exits 2 with a one-line message naming it and pointing to --help', async () => {
    const run = await tessera(['client', 'create', '--nme', 'demo']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^tessera: unknown option '--nme'.*'tessera client create --help'.*\n$/);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a bad --token-format exits 2', async () => {
    const run = await tessera(['client', 'create', '--name', 'x', '--grant-type', 'client_credentials', '--scope', 'read', '--token-format', 'xml']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^tessera: --token-format must be one of opaque, jwt; got 'xml'/);
  });

  it.each([
    ['an unknown grant type', ['--grant-type', 'magic'], /--grant-type must be one of/],
    ['authorization_code without a redirect URI', ['--grant-type', 'authorization_code'], /needs at least one --redirect-uri/],
    ['a redirect URI with a fragment (RFC 6749 §3.1.2)', ['--grant-type', 'authorization_code', '--redirect-uri', 'https://app.example/cb#x'], /fragment/],
    ['a relative redirect URI', ['--grant-type', 'implicit', '--redirect-uri', '/cb'], /absolute URI/],
    ['a public client with client_credentials', ['--grant-type', 'client_credentials', '--public'], /public client cannot use client_credentials/],
    ['--public with another --auth-method', ['--grant-type', 'authorization_code', '--redirect-uri', 'https://app.example/cb', '--public', '--auth-method', 'client_secret_post'], /conflicts/],
    ['a zero --access-ttl', ['--grant-type', 'client_credentials', '--access-ttl', '0'], /--access-ttl must be a whole number from 1 to/],
    ['a --refresh-ttl past ten years (a token expiry a Date could not show)', ['--grant-type', 'client_credentials', '--refresh-ttl', '9000000000'], /--refresh-ttl must be a whole number from 1 to 316224000/],
    ['a repeated single-valued option', ['--grant-type', 'client_credentials', '--token-format', 'jwt', '--token-format', 'opaque'], /given more than once/],
  ])('client create refuses %s with exit 2', async (_, args, message) => {
    const run = await tessera(['client', 'create', '--name', 'bad', '--scope', 'read', ...args]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
  });

  it('--help exits 0, overall and per command', async () => {
    const [overall, command] = await Promise.all([tessera(['--help']), tessera(['token', 'revoke', '--help'])]);
    expect(overall).toMatchObject({ code: 0, stderr: '' });
    expect(overall.stdout).toMatch(/client create/);
    expect(command).toMatchObject({ code: 0, stderr: '' });
    expect(command.stdout).toMatch(/^Usage: tessera token revoke/);
    expect(command.stdout).toMatch(/--issued-before/);
  });

  it('an unknown command or a missing subcommand exits 2', async () => {
    const [unknown, missing] = await Promise.all([tessera(['frobnicate']), tessera(['client'])]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/needs a subcommand: create, list, show, update, rotate-secret, delete/);
  });

  it('token revoke takes exactly one target, and an ISO time that parses, else exits 2', async () => {
    const runs = await Promise.all([
      tessera(['token', 'revoke']),
      tessera(['token', 'revoke', '--client', 'a', '--grant', 'b']),
      tessera(['token', 'revoke', '--issued-before', 'last tuesday']),
    ]);
    expect(runs.map((r) => r.code)).toEqual([2, 2, 2]);
    expect(runs[1]?.stderr).toMatch(/exactly one of/);
    expect(runs[2]?.stderr).toMatch(/--issued-before must be an ISO 8601/);
  });

  it('operational failures exit 1 with the reason on stderr', async () => {
    const [show, missingDb] = await Promise.all([
      tessera(['client', 'show', 'no-such-client']),
      tessera(['client', 'list', '--db', join(dir, 'typo.db')]),
    ]);
    expect(show).toMatchObject({ code: 1, stdout: '' });
    expect(show.stderr).toMatch(/^tessera: no client with id 'no-such-client'/);
    expect(missingDb.code).toBe(1);
    expect(missingDb.stderr).toMatch(/no database at/);
  });
});

describe('clients', () => {
  it('output to a reader that went away (`| head -0`): one line on stderr saying the output was cut off and what to do about a secret, exit 1, no EPIPE stack', async () => {
    const child = spawn(process.execPath, [bin, 'client', 'create', '--name', 'piped', '--grant-type', 'client_credentials', '--scope', 'read'], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    // The reading end is gone before the secret is written.
    child.stdout?.destroy();
    let stderr = '';
    child.stderr?.on('data', (d) => { stderr += d; });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain('tessera: the output was cut off (its reader closed the pipe); if it held a secret shown once, rotate that secret');
    expect(stderr).not.toMatch(/EPIPE|\n\s+at /);
  });

  it('client create --json shows the client_secret once; client list and show never show it', async () => {
    const created = await ccClient();
    expect(created).toMatchObject({
      name: expect.stringMatching(/^cc-/), token_endpoint_auth_method: 'client_secret_basic', grant_types: ['client_credentials'],
      redirect_uris: [], scope: 'read write', token_format: 'opaque', id_token_signed_response_alg: 'RS256', access_ttl: null, refresh_ttl: null,
    });
    expect(created.client_secret).toMatch(/^tss_/);
    // Ids are CLI arguments: hex, so one never starts with '-' and reads as an option.
    expect(created.client_id).toMatch(/^[0-9a-f]{32}$/);
    expect(Date.parse(created.created_at)).not.toBeNaN();
    const [list, show, listText, showText] = await Promise.all([
      ok(['client', 'list', '--json']), ok(['client', 'show', created.client_id, '--json']),
      ok(['client', 'list']), ok(['client', 'show', created.client_id]),
    ]);
    for (const out of [list, show, listText, showText]) {
      expect(out).toContain(created.client_id);
      expect(out).not.toContain(created.client_secret);
      expect(out).not.toMatch(/"client_secret"|^client_secret /m);
    }
    const { client_secret, ...settings } = created;
    expect(JSON.parse(show)).toEqual(settings);
  });

  it('--id-token-alg sets the algorithm of the client\'s ID Tokens (RS256 when not given); client show prints it, client update changes it; another value exits 2', async () => {
    const oidc = ['--grant-type', 'authorization_code', '--redirect-uri', 'https://app.example/cb', '--scope', 'openid'];
    const created = await json(['client', 'create', '--name', name('oidc'), ...oidc, '--id-token-alg', 'ES256']);
    expect(created.id_token_signed_response_alg).toBe('ES256');
    expect(await ok(['client', 'show', created.client_id])).toMatch(/^id_token_signed_response_alg +ES256$/m);
    expect(await json(['client', 'update', created.client_id, '--id-token-alg', 'RS256'])).toMatchObject({ id_token_signed_response_alg: 'RS256' });
    expect((await json(['client', 'show', created.client_id])).id_token_signed_response_alg).toBe('RS256');
    for (const args of [['client', 'create', '--name', name('bad'), ...oidc, '--id-token-alg', 'none'], ['client', 'update', created.client_id, '--id-token-alg', 'HS256']]) {
      const bad = await tessera(args);
      expect(bad.code, args.join(' ')).toBe(2);
      expect(bad.stderr).toContain('--id-token-alg must be one of RS256, ES256');
    }
  });

  it('--public creates a client without a secret (auth method none)', async () => {
    const created = await json([
      'client', 'create', '--name', name('spa'), '--grant-type', 'authorization_code,refresh_token',
      '--redirect-uri', 'http://127.0.0.1:8080/callback', '--scope', 'read', '--public',
    ]);
    expect(created.token_endpoint_auth_method).toBe('none');
    expect(created).not.toHaveProperty('client_secret');
    expect(created.grant_types).toEqual(['authorization_code', 'refresh_token']);
  });

  it('--grant-type urn:ietf:params:oauth:grant-type:device_code (RFC 8628) registers a device client without redirect URIs, public or confidential', async () => {
    const device = 'urn:ietf:params:oauth:grant-type:device_code';
    const tv = await json(['client', 'create', '--name', name('tv'), '--grant-type', device, '--grant-type', 'refresh_token', '--scope', 'read', '--public']);
    expect(tv).toMatchObject({ token_endpoint_auth_method: 'none', grant_types: [device, 'refresh_token'] });
    const box = await json(['client', 'create', '--name', name('box'), '--grant-type', `${device},refresh_token`, '--scope', 'read']);
    expect(box.grant_types).toEqual([device, 'refresh_token']);
    expect(box.client_secret).toEqual(expect.any(String));
    const help = await tessera(['client', 'create', '--help']);
    expect(help.stdout).toContain(device);
  });

  it('a client created by the CLI gets a token over HTTP from a running tessera serve', async () => {
    const c = await ccClient();
    const token = await clientToken(c);
    expect(await active(token)).toBe(true);
  });

  it('client delete revokes every token issued to the client, and the running server stops authenticating it', async () => {
    const c = await ccClient();
    const tokens = [await clientToken(c), await clientToken(c)];
    const out = await ok(['client', 'delete', c.client_id]);
    expect(out).toMatch(/revoked 2 tokens/);
    expect(await Promise.all(tokens.map(active))).toEqual([false, false]);
    const gone = await tessera(['client', 'show', c.client_id]);
    expect(gone.code).toBe(1);
    // The server caches clients and learns of another process's deletion by polling (100 ms); it
    // never issues the deleted client a token, not even within that window.
    await vi.waitFor(async () => {
      const res = await post('/token', { grant_type: 'client_credentials' }, basic(c.client_id, c.client_secret));
      expect(res.body.access_token).toBeUndefined();
      expect(res.status).toBe(401);
    }, { timeout: 5000, interval: 20 });
  });
});

describe('users', () => {
  it('user create reads the password from stdin without its trailing newline; a duplicate exits 1', async () => {
    const pw = await json(['client', 'create', '--name', name('pw'), '--grant-type', 'password', '--scope', 'read']);
    const created = await json(['user', 'create', 'carol', '--password-stdin'], 'two words\n');
    expect(created).toMatchObject({ username: 'carol' });
    await passwordTokens(pw, 'carol', 'two words');
    const duplicate = await tessera(['user', 'create', 'carol', '--password-stdin'], { input: 'other\n' });
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toMatch(/already exists/);
    const empty = await tessera(['user', 'create', 'dave', '--password-stdin'], { input: '\n' });
    expect(empty.code).toBe(2);
    const users = await json(['user', 'list']);
    expect(users.map((u: { username: string }) => u.username)).toEqual(['carol']);
    expect(JSON.stringify(users)).not.toMatch(/scrypt|password/);
  });

  it("user set-password revokes that user's tokens", async () => {
    const pw = await json(['client', 'create', '--name', name('pw'), '--grant-type', 'password,refresh_token', '--scope', 'read']);
    await ok(['user', 'create', 'alice', '--password-stdin'], 'old passphrase\n');
    const tokens = await passwordTokens(pw, 'alice', 'old passphrase');
    expect(await active(tokens.access_token)).toBe(true);
    const out = await ok(['user', 'set-password', 'alice', '--password-stdin'], 'new passphrase\n');
    expect(out).toMatch(/revoked 2 tokens/);
    expect(await active(tokens.access_token)).toBe(false);
    expect(await active(tokens.refresh_token)).toBe(false);
    const old = await post('/token', { grant_type: 'password', username: 'alice', password: 'old passphrase' }, basic(pw.client_id, pw.client_secret));
    expect(old.body.error).toBe('invalid_grant');
    await passwordTokens(pw, 'alice', 'new passphrase');
  });

  it("user delete revokes the user's tokens", async () => {
    const pw = await json(['client', 'create', '--name', name('pw'), '--grant-type', 'password', '--scope', 'read']);
    await ok(['user', 'create', 'erin', '--password-stdin'], 'erin passphrase');
    const { access_token } = await passwordTokens(pw, 'erin', 'erin passphrase');
    expect(await ok(['user', 'delete', 'erin'])).toMatch(/revoked 1 token/);
    expect(await active(access_token)).toBe(false);
  });
});

describe('tokens', () => {
  it('token list shows id, kind, client, user, status and never the token value or its hash', async () => {
    const c = await ccClient();
    const token = await clientToken(c);
    const hash = createHash('sha256').update(token).digest('base64url');
    const [listed, text] = await Promise.all([json(['token', 'list', '--client', c.client_id]), ok(['token', 'list', '--client', c.client_id])]);
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ kind: 'access', format: 'opaque', client_id: c.client_id, user_id: null, scope: 'read write', status: 'active' });
    for (const out of [JSON.stringify(listed), text]) {
      expect(out).not.toContain(token);
      expect(out).not.toContain(hash);
    }
  });

  it("token revoke --client makes the client's tokens inactive; --active hides them", async () => {
    const c = await ccClient();
    const token = await clientToken(c);
    expect(await ok(['token', 'revoke', '--client', c.client_id, '--reason', 'compromised'])).toMatch(/Revoked 1 token/);
    expect(await active(token)).toBe(false);
    expect(await json(['token', 'list', '--client', c.client_id])).toMatchObject([{ status: 'revoked' }]);
    expect(await json(['token', 'list', '--client', c.client_id, '--active'])).toEqual([]);
    // The server remembered the client's grant, revoked by another process: the next request
    // gets a live token on a new grant.
    const next = await clientToken(c);
    expect(await active(next)).toBe(true);
    expect(await json(['token', 'list', '--client', c.client_id, '--active'])).toHaveLength(1);
  });

  it('token revoke --issued-before makes earlier tokens inactive and spares later ones', async () => {
    const c = await ccClient();
    const before = await clientToken(c);
    await new Promise((r) => setTimeout(r, 20));
    const cutoff = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    const after = await clientToken(c);
    const result = await json(['token', 'revoke', '--issued-before', cutoff]);
    expect(result.revoked_tokens).toBeGreaterThanOrEqual(1);
    expect(await active(before)).toBe(false);
    expect(await active(after)).toBe(true);
  });

  it('token revoke --token-stdin: a refresh token revokes its grant, an access token only itself', async () => {
    const pw = await json(['client', 'create', '--name', name('pw'), '--grant-type', 'password,refresh_token', '--scope', 'read']);
    await ok(['user', 'create', 'frank', '--password-stdin'], 'frank passphrase');
    const first = await passwordTokens(pw, 'frank', 'frank passphrase');
    const second = await passwordTokens(pw, 'frank', 'frank passphrase');
    expect(await json(['token', 'revoke', '--token-stdin'], `${first.access_token}\n`)).toMatchObject({ revoked_tokens: 1 });
    expect(await active(first.access_token)).toBe(false);
    expect(await active(first.refresh_token)).toBe(true);
    // Both exchanges share the client × user grant: revoking via a refresh token ends all of it.
    expect(await json(['token', 'revoke', '--token-stdin'], first.refresh_token)).toMatchObject({ revoked_tokens: 3, revoked_grants: 1 });
    expect(await Promise.all([first.refresh_token, second.access_token, second.refresh_token].map(active))).toEqual([false, false, false]);
  });
});

describe('audit', () => {
  it('audit --json lists records oldest first, and no token or secret appears in them', async () => {
    const c = await ccClient();
    const token = await clientToken(c);
    const records = await json(['audit']);
    const seqs = records.map((r: { seq: number }) => r.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(seqs[0]).toBe(1);
    expect(records.map((r: { event: string }) => r.event)).toEqual(expect.arrayContaining(['key.created', 'client.created', 'token.issued']));
    const text = JSON.stringify(records);
    expect(text).not.toContain(token);
    expect(text).not.toContain(c.client_secret);
    const since = await json(['audit', '--since', new Date(Date.now() + 60_000).toISOString()]);
    expect(since).toEqual([]);
  });

  it('audit verify passes; an edited row or a deleted last row makes it exit 1 naming the record', async () => {
    const file = join(dir, 'audit.db');
    await ok(['client', 'create', '--name', 'a', '--grant-type', 'client_credentials', '--scope', 'read', '--db', file]);
    await ok(['client', 'create', '--name', 'b', '--grant-type', 'client_credentials', '--scope', 'read', '--db', file]);
    // A key.created record for each signing key (RS256, ES256), then the two clients.
    expect(await ok(['audit', 'verify', '--db', file])).toMatch(/^OK: 4 audit records/);

    const sqlite = new Database(file);
    try {
      sqlite.prepare("UPDATE audit SET reason = 'nothing to see' WHERE seq = 2").run();
      let run = await tessera(['audit', 'verify', '--db', file]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/FAILED at record 2 \(chain 0\): record content altered/);

      sqlite.prepare('UPDATE audit SET reason = NULL WHERE seq = 2').run();
      expect(await ok(['audit', 'verify', '--db', file])).toMatch(/^OK/);

      sqlite.prepare('DELETE FROM audit WHERE seq = (SELECT max(seq) FROM audit)').run();
      run = await tessera(['audit', 'verify', '--db', file, '--json']);
      expect(run.code).toBe(1);
      expect(JSON.parse(run.stdout)).toEqual({ ok: false, records: 3, problem: { seq: 4, chain: 0, reason: 'records missing at the end of the log' } });
    } finally {
      sqlite.close();
    }
  });
});

describe('keys', () => {
  type Jwk = { kid: string; alg: string };
  const jwks = async () => ((await (await fetch(`${server.url}/jwks.json`)).json()) as { keys: Jwk[] }).keys;
  /** The server re-reads keys every 2 s: polls /jwks.json until it publishes `n` keys. */
  async function published(n: number): Promise<Jwk[]> {
    let keys: Jwk[] = [];
    for (let i = 0; i < 50 && keys.length !== n; i++) {
      keys = await jwks();
      if (keys.length !== n) await new Promise((r) => setTimeout(r, 100));
    }
    return keys;
  }
  const kidsByAlg = (keys: Jwk[]) => keys.map((k) => `${k.alg} ${k.kid}`).sort();

  it('keys rotate: a new key for each algorithm; the JWKS lists old and new keys, the old ones until the longest access-token lifetime has passed', async () => {
    await json(['client', 'create', '--name', name('long'), '--grant-type', 'client_credentials', '--scope', 'read', '--access-ttl', '7200']);
    const old = await jwks();
    expect(old.map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
    const startedAt = Date.now();
    const rotated = await json(['keys', 'rotate']);
    expect(rotated.keys.map((k: Jwk) => k.alg)).toEqual(['RS256', 'ES256']);
    expect(Date.parse(rotated.previous_keys_retire_at)).toBeGreaterThanOrEqual(startedAt + 7200 * 1000);
    expect(kidsByAlg(await published(4))).toEqual(kidsByAlg([...old, ...rotated.keys]));
    const keys: Array<Jwk & { status: string; retire_at: string | null }> = await json(['keys', 'list']);
    for (const k of old) {
      const listed = keys.find((l) => l.kid === k.kid);
      expect(listed).toMatchObject({ alg: k.alg, status: 'published' });
      expect(Date.parse(listed?.retire_at ?? '')).toBeGreaterThanOrEqual(startedAt + 7200 * 1000);
    }
    for (const k of rotated.keys as Jwk[]) expect(keys.find((l) => l.kid === k.kid)).toMatchObject({ alg: k.alg, status: 'current', retire_at: null });
  });

  it('keys rotate --alg RS256 rotates that algorithm\'s key only: the ES256 key stays current; a bad --alg exits 2', async () => {
    const before: Array<Jwk & { status: string }> = await json(['keys', 'list']);
    const rotated = await json(['keys', 'rotate', '--alg', 'RS256']);
    expect(rotated.keys).toEqual([expect.objectContaining({ alg: 'RS256' })]);
    const after: Array<Jwk & { status: string }> = await json(['keys', 'list']);
    const current = (keys: typeof after) => keys.filter((k) => k.status === 'current').map((k) => `${k.alg} ${k.kid}`).sort();
    const esBefore = current(before).filter((k) => k.startsWith('ES256'));
    expect(current(after)).toEqual([...esBefore, `RS256 ${rotated.keys[0].kid}`].sort());
    const text = await ok(['keys', 'rotate', '--alg', 'ES256']);
    expect(text).toMatch(/^New signing key \S+ \(ES256\)\.$/m);
    expect(text).toMatch(/Previous ES256 keys stay published in the JWKS until/);
    const bad = await tessera(['keys', 'rotate', '--alg', 'HS256']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--alg must be one of RS256, ES256');
  });
});

describe('serve', () => {
  it('serve prints its URL, the metadata URL, the database path and the next command to try', async () => {
    expect(server.stdout).toContain(`${server.url}/.well-known/oauth-authorization-server`);
    expect(server.stdout).toContain(db);
    expect(server.stdout).toContain('npx tessera client create --name demo --grant-type client_credentials --scope "read write" --json');
    const meta = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as { issuer: string; grant_types_supported: string[] };
    expect(meta.issuer).toBe(server.url);
    expect(meta.grant_types_supported).toContain('password');
  });

  it('serve on a port in use exits 1 with a clear message', async () => {
    const run = await tessera(['serve', '--port', new URL(server.url).port, '--host', '127.0.0.1']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^tessera: cannot listen on 127\.0\.0\.1:\d+: the port is already in use/);
  });

  it('serve refuses bad settings from flags and environment with exit 2', async () => {
    const runs = await Promise.all([
      tessera(['serve', '--enable-legacy', 'implicit,hybrid']),
      tessera(['serve', '--sync', 'sometimes']),
      tessera(['serve'], { env: { TESSERA_PORT: '99999' } }),
    ]);
    expect(runs.map((r) => r.code)).toEqual([2, 2, 2]);
    expect(runs[0]?.stderr).toMatch(/--enable-legacy must be one of implicit, password; got 'hybrid'/);
    expect(runs[2]?.stderr).toMatch(/TESSERA_PORT must be a port number/);
  });

  it('SIGTERM lets an in-flight request finish, closes the database and exits 0', async () => {
    const second = await serve(['--port', '0']);
    const c = await ccClient();
    const body = new URLSearchParams({ grant_type: 'client_credentials', scope: 'read' }).toString();
    // A keep-alive client, as most are: its connection must not hold the shutdown open.
    const agent = new Agent({ keepAlive: true });
    const tokenRequest = (send: (req: ClientRequest) => void) => new Promise<{ status: number; connection: string | undefined; body: any }>((resolve, reject) => {
      const req = request(`${second.url}/token`, {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(body),
          authorization: basic(c.client_id, c.client_secret),
        },
      }, (res) => {
        let text = '';
        res.on('data', (d) => { text += d; });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      send(req);
    });
    try {
      expect((await tokenRequest((req) => req.end(body))).connection).toBe('keep-alive');
      let signalledAt = 0;
      const inFlight = await tokenRequest((req) => {
        // Half the body now, the rest after SIGTERM: the request is in flight when the signal lands.
        req.write(body.slice(0, 10));
        setTimeout(() => {
          signalledAt = Date.now();
          second.child.kill('SIGTERM');
          setTimeout(() => req.end(body.slice(10)), 200);
        }, 200);
      });
      expect(inFlight.status).toBe(200);
      expect(inFlight.body.access_token).toMatch(/^tsa_/);
      expect(inFlight.connection).toBe('close');
      expect(await second.exited).toBe(0);
      // Regression: the drain used to wait out the 5 s keep-alive timeout of idle connections.
      expect(Date.now() - signalledAt).toBeLessThan(2500);
      // The token was stored before the database closed.
      expect(await active(inFlight.body.access_token)).toBe(true);
    } finally {
      agent.destroy();
    }
  });

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  /** A token request whose body is half sent: in flight until `finish`. */
  async function heldRequest(url: string) {
    const c = await ccClient();
    const body = new URLSearchParams({ grant_type: 'client_credentials', scope: 'read' }).toString();
    let finish = () => {};
    const answered = new Promise<number>((resolve, reject) => {
      const req = request(`${url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), authorization: basic(c.client_id, c.client_secret) },
      }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.write(body.slice(0, 10));
      finish = () => req.end(body.slice(10));
    });
    await sleep(100);
    return { answered, finish };
  }

  it('Ctrl-C under npm start (SIGINT from the terminal, then npm passing its own on, ms apart) drains like one signal; a second signal later exits at once, code 1', async () => {
    const twice = await serve(['--port', '0']);
    const held = await heldRequest(twice.url);
    twice.child.kill('SIGINT');
    await sleep(5);
    twice.child.kill('SIGINT');
    await sleep(200);
    held.finish();
    expect(await held.answered).toBe(200);
    expect(await twice.exited).toBe(0);
    expect(twice.stderr).not.toContain('second signal');

    const impatient = await serve(['--port', '0']);
    const stuck = await heldRequest(impatient.url);
    // Cut off when the server exits: that is the point.
    const cut = stuck.answered.catch(() => 'cut');
    impatient.child.kill('SIGINT');
    await sleep(800);
    impatient.child.kill('SIGINT');
    expect(await impatient.exited).toBe(1);
    expect(impatient.stderr).toContain('second signal: exiting without draining');
    stuck.finish();
    expect(await cut).toBe('cut');
  });
});
