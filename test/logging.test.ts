/**
 * Logs and health (issue 9, defect 18): one access line per request with a request id that the
 * response repeats in X-Request-Id; JSON lines on stderr only; TESSERA_LOG_LEVEL works and a
 * wrong one is a usage error; no token, code, secret or password in any line, even at trace
 * level; /healthz says whether the store answers.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, field } from './agent.js';
import { decide, deviceClient, enterCode, poll, startDevice } from './device-kit.js';
import { forms, Harness, pkce, REDIRECT_URI } from './flows.js';
import { startTestServer } from './helpers.js';

const bin = join(import.meta.dirname, '..', 'packages', 'server', 'bin', 'tessera.js');

interface AccessLine {
  level: number;
  msg: string;
  reqId: string;
  method?: string;
  path?: string;
  status: number;
  ms?: number;
}

describe('the server log, captured at trace level during every flow', () => {
  const h = new Harness();
  const lines: string[] = [];
  /** Every credential the flows below use or receive. */
  const secrets: string[] = [];
  const keep = (...values: Array<string | undefined>) => {
    for (const v of values) if (v) secrets.push(...forms(v), encodeURIComponent(v), new URLSearchParams({ v }).toString().slice(2));
  };

  beforeAll(async () => {
    const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) });
    h.server = await startTestServer({ legacyGrants: ['password'] }, { logger });
  });
  afterAll(() => h.server?.close());

  const access = () => lines.map((l) => JSON.parse(l) as AccessLine).filter((l) => l.msg === 'request');

  it('no token, code, secret, password, cookie or Authorization value appears in any log line', async () => {
    // client_credentials, with Basic and with client_secret_post
    const basic = await h.client();
    const post = await h.client({ authMethod: 'client_secret_post' });
    keep(basic.secret, basic.basic, post.secret);
    for (const c of [basic, post]) keep((await h.token(c, { grant_type: 'client_credentials' })).body.access_token);
    // The authorization code flow through the real login page, with PKCE, then refresh, introspect, revoke.
    const app = await h.codeClient({ tokenFormat: 'jwt' });
    keep(app.secret, app.basic);
    const user = await h.user();
    keep(user.password);
    const agent = new Agent(h.server.url);
    const p = pkce();
    keep(p.verifier, p.challenge);
    const query = new URLSearchParams({ response_type: 'code', client_id: app.id, redirect_uri: REDIRECT_URI, state: 'state-secret-1', code_challenge: p.challenge, code_challenge_method: 'S256' });
    keep('state-secret-1');
    const login = await agent.get((await agent.get(`/authorize?${query}`)).location!);
    // A wrong password first, then the right one.
    await agent.post('/login', { username: user.username, password: 'wrong-password-42', csrf: field(login.body, 'csrf'), return_to: field(login.body, 'return_to') });
    keep('wrong-password-42');
    const back = await agent.post('/login', { username: user.username, password: user.password, csrf: field(login.body, 'csrf'), return_to: field(login.body, 'return_to') });
    const consent = await agent.get(back.location!);
    const done = await agent.post('/consent', { csrf: field(consent.body, 'csrf'), request: field(consent.body, 'request'), decision: 'allow' });
    const code = new URL(done.location!).searchParams.get('code')!;
    keep(code, ...agent.cookies.values());
    const tokens = (await h.exchange(app, code, { verifier: p.verifier })).body;
    expect(tokens.access_token).toBeDefined();
    const refreshed = (await h.refresh(app, tokens.refresh_token)).body;
    keep(tokens.access_token, tokens.refresh_token, refreshed.access_token, refreshed.refresh_token);
    expect(await h.active(refreshed.access_token)).toBe(true);
    await h.revoke(app, refreshed.refresh_token);
    // The reuse of a rotated refresh token, and the password grant (legacy, enabled here).
    await h.refresh(app, tokens.refresh_token);
    const legacy = await h.client({ grantTypes: ['password', 'refresh_token'] });
    keep(legacy.secret, legacy.basic);
    const pw = (await h.token(legacy, { grant_type: 'password', username: user.username, password: user.password })).body;
    keep(pw.access_token, pw.refresh_token);
    await h.token(legacy, { grant_type: 'password', username: user.username, password: 'another-wrong-one' });
    keep('another-wrong-one');
    // Credentials in places they do not belong: the query string, a bad Authorization header.
    await h.request(`/token?client_secret=${basic.secret}&password=${user.password}`, { method: 'POST' });
    await h.request('/token', { method: 'POST', headers: { authorization: 'Basic not-base64-secret-xyz' } });
    keep('not-base64-secret-xyz');
    // The device flow (RFC 8628): device and user codes, the /device page (the code in its query too), the poll.
    const tv = await deviceClient(h);
    keep(tv.secret, tv.basic);
    const started = await startDevice(h, tv);
    keep(started.device_code, started.user_code, started.user_code.replace('-', ''), started.verification_uri_complete);
    await poll(h, tv, started.device_code);
    await agent.get(started.verification_uri_complete);
    await enterCode(agent, 'wrong-code-typed');
    keep('wrong-code-typed');
    await decide(agent, started.user_code, 'allow');
    const viaDevice = (await poll(h, tv, started.device_code)).body;
    expect(viaDevice.access_token).toBeDefined();
    keep(viaDevice.access_token, viaDevice.refresh_token);
    // Dynamic client registration (RFC 7591, RFC 7592): the initial access token, the secret and
    // the registration access token it answers, then a read, a replacement and a deletion.
    const initial = (await h.engine.mintInitialAccessToken(600, { actor: 'test' })).value;
    keep(initial);
    const json = (token: string, method: string, body?: unknown): RequestInit => ({
      method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const reg = (await h.request('/register', json(initial, 'POST', { grant_types: ['client_credentials'], scope: 'openid' }))).body;
    keep(reg.client_secret, reg.registration_access_token);
    const configPath = new URL(reg.registration_client_uri).pathname;
    await h.request(configPath, json(reg.registration_access_token, 'GET'));
    await h.request(configPath, json(reg.registration_access_token, 'PUT', { client_id: reg.client_id, client_secret: reg.client_secret, grant_types: ['client_credentials'] }));
    await h.request(configPath, json('tsg_wrong-registration-token', 'GET'));
    keep('tsg_wrong-registration-token');
    expect((await h.request(configPath, json(reg.registration_access_token, 'DELETE'))).status).toBe(204);

    await h.server.close();
    const text = lines.join('');
    expect(access().length).toBeGreaterThan(15);
    for (const secret of new Set(secrets)) expect(text.includes(secret), `a log line holds ${secret.slice(0, 12)}…`).toBe(false);
    expect(h.serverErrors).toEqual([]);
  });

  it('one JSON access line per request: method, path without query, status, duration and the id sent back as X-Request-Id', () => {
    const all = access();
    for (const line of all) {
      expect(Object.keys(line).sort()).toEqual(expect.arrayContaining(['method', 'ms', 'path', 'reqId', 'status']));
      expect(line.path).not.toContain('?');
    }
    expect(all.some((l) => l.method === 'POST' && l.path === '/token' && l.status === 200)).toBe(true);
    expect(all.some((l) => l.method === 'GET' && l.path === '/authorize' && l.status === 302)).toBe(true);
    expect(all.some((l) => l.method === 'POST' && l.path === '/login' && l.status === 303)).toBe(true);
  });
});

describe('request ids', () => {
  const lines: string[] = [];
  let h: Awaited<ReturnType<typeof startTestServer>>;
  beforeAll(async () => {
    h = await startTestServer({}, { logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }) });
  });
  afterAll(() => h?.close());

  it('each response carries a fresh X-Request-Id, the one in its access line; a well-formed incoming one is kept, a malformed one replaced', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const id = (await fetch(`${h.url}/healthz`)).headers.get('x-request-id');
      expect(id).toMatch(/^[\w-]{8}-[0-9a-z]+$/);
      ids.add(id as string);
    }
    expect(ids.size).toBe(3);
    expect((await fetch(`${h.url}/nope`, { headers: { 'x-request-id': 'lb-7f3a.42' } })).headers.get('x-request-id')).toBe('lb-7f3a.42');
    const replaced = (await fetch(`${h.url}/healthz`, { headers: { 'x-request-id': 'has space"and<quote>' } })).headers.get('x-request-id');
    expect(replaced).toMatch(/^[\w-]{8}-[0-9a-z]+$/);
    await h.close();
    const logged = lines.map((l) => JSON.parse(l) as AccessLine).filter((l) => l.msg === 'request');
    for (const id of [...ids, 'lb-7f3a.42', replaced]) expect(logged.filter((l) => l.reqId === id), id ?? '').toHaveLength(1);
    expect(logged.find((l) => l.reqId === 'lb-7f3a.42')).toMatchObject({ method: 'GET', path: '/nope', status: 404 });
  });
});

describe('/healthz', () => {
  it('answers 200 while the store answers and 503 once it does not', async () => {
    const h = await startTestServer();
    try {
      const ok = await fetch(`${h.url}/healthz`);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ status: 'ok' });
      expect(ok.headers.get('cache-control')).toBe('no-store');
      await h.tessera.store.close();
      const down = await fetch(`${h.url}/healthz`);
      expect(down.status).toBe(503);
      expect(await down.json()).toEqual({ status: 'unavailable' });
    } finally {
      await h.close();
    }
  });
});

describe('`tessera serve` logs', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-log-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs serve with the level, sends `requests` once it is up, stops it; returns its output. */
  function serve(level: string, requests: (url: string) => Promise<void> = async () => {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const env: NodeJS.ProcessEnv = { ...process.env, TESSERA_LOG_LEVEL: level };
    for (const name of Object.keys(env)) if (name.startsWith('TESSERA_') && name !== 'TESSERA_LOG_LEVEL') delete env[name];
    const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--db', join(dir, `${level}.db`), '--sync', 'normal'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    return new Promise((resolve, reject) => {
      let started = false;
      child.stdout.on('data', (d) => {
        stdout += d;
        const url = /serving (http:\/\/\S+)/.exec(stdout)?.[1];
        if (!url || started) return;
        started = true;
        requests(url).then(() => child.kill('SIGTERM'), reject);
      });
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
  }

  it('at info: JSON lines on stderr, one access line per request with its X-Request-Id, nothing on stdout but the startup message', async () => {
    const ids: string[] = [];
    const run = await serve('info', async (url) => {
      for (const path of ['/healthz', '/.well-known/oauth-authorization-server?x=secret-in-query', '/nope']) {
        ids.push((await fetch(url + path)).headers.get('x-request-id') as string);
      }
    });
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain('"level"');
    // Every line on stderr is JSON, the server's own notes (draining, stopped) included.
    const json = run.stderr.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as AccessLine);
    expect(json.map((l) => l.msg)).toEqual(expect.arrayContaining(['draining in-flight requests and closing the database', 'stopped']));
    // Once: the server says it, not the CLI a second time.
    expect(json.filter((l) => l.msg === 'stopped')).toHaveLength(1);
    expect(json.length).toBeGreaterThan(ids.length);
    for (const id of ids) expect(json.filter((l) => l.msg === 'request' && l.reqId === id)).toHaveLength(1);
    expect(run.stderr).not.toContain('secret-in-query');
    expect(json.find((l) => l.reqId === ids[1])).toMatchObject({ method: 'GET', path: '/.well-known/oauth-authorization-server', status: 200 });
    expect(json.filter((l) => l.level < 30)).toEqual([]);
  });

  it('levels filter: at warn no access lines; at debug the settings too, and only at debug', async () => {
    const warn = await serve('warn', async (url) => {
      await fetch(`${url}/healthz`);
    });
    expect(warn.code).toBe(0);
    expect(warn.stderr).not.toContain('"msg":"request"');
    expect(warn.stderr).not.toContain('"msg":"settings"');
    const debug = await serve('debug', async (url) => {
      await fetch(`${url}/healthz`);
    });
    expect(debug.stderr).toContain('"msg":"request"');
    expect(debug.stderr).toMatch(/"level":20,.*"headersTimeout":10000.*"msg":"settings"/);
  });

  it('an invalid TESSERA_LOG_LEVEL is a usage error (exit 2) naming the levels, not a stack trace', async () => {
    const run = await serve('loud');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^tessera: TESSERA_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent; got 'loud'/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});
