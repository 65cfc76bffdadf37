/**
 * `tessera serve --workers N` (issue 14, change 5): N processes serve the same listeners and act
 * as one server. On SQLite the workers' writes all go to the primary's one writer thread; the
 * primary alone runs the admin API, the metrics listener (summing its workers'), the sweeper and
 * the webhook deliveries, replaces a worker that dies, and drains them all on SIGTERM.
 *
 * Every request here opens a connection of its own (node:cluster hands each new connection to the
 * next worker), so the workers take turns; the request log, which names the worker, shows that
 * both answered.
 */
import { createGuard, type Guard } from '@tessera/guard';
import { createTestDatabase, type TestDatabase } from '@tessera/test-utils';
import { once } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runTessera, type Served, serve, tempDir, tessera } from './cli-kit.js';
import { type Reply, send } from './from-address.js';
import { GUARD_SCOPE } from './guard-kit.js';
import { readmeSection } from './readme-kit.js';
import { Agent, authorizationCode, signIn } from './http-flows.js';
import { type CliClient, createClient, createUser } from './instances.js';

const REDIRECT = ['--redirect-uri', 'https://app.example/cb'];

/**
 * One request on a connection of its own (no keep-alive): the primary gives it to the next worker.
 * Given up after 3 s: a connection handed to a worker as it dies is never answered.
 */
const fresh = (url: string, form: Record<string, string>, auth?: string): Promise<Reply> =>
  send(url, '127.0.0.1', { form, headers: auth ? { authorization: auth } : {}, fresh: 3000 });

/** The workers (by number) and their PIDs that logged a request for `path`. */
function workersThatServed(stderr: string, path: string): Map<number, Set<number>> {
  const seen = new Map<number, Set<number>>();
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { worker?: number; pid: number; path?: string; msg: string };
    if (entry.msg !== 'request' || entry.path !== path || entry.worker === undefined) continue;
    const pids = seen.get(entry.worker) ?? new Set<number>();
    pids.add(entry.pid);
    seen.set(entry.worker, pids);
  }
  return seen;
}

/** Socket directories of writer threads (cluster.ts) left in the temporary directory. */
const socketDirs = () => new Set(readdirSync(tmpdir()).filter((name) => name.startsWith('tessera-') && existsSync(join(tmpdir(), name, 'writer.sock'))));

describe('tessera serve --workers 2 on SQLite: two processes, one writer, one server', () => {
  let dir: string;
  let db: string;
  let server: Served;
  let app: CliClient;
  let rs: CliClient;
  let codeApp: CliClient;
  let user: { id: string; username: string; password: string };
  let url: string;

  beforeAll(async () => {
    dir = tempDir();
    db = join(dir, 'tessera.db');
    server = await serve(['--db', db, '--workers', '2', '--enable-legacy', 'password'], { env: { TESSERA_LOG_LEVEL: 'info' } });
    url = server.url;
    [app, rs, codeApp, user] = await Promise.all([
      createClient(db, ['--grant-type', 'client_credentials', '--scope', 'read']),
      createClient(db, ['--grant-type', 'client_credentials', '--scope', GUARD_SCOPE]),
      createClient(db, ['--grant-type', 'authorization_code,refresh_token', ...REDIRECT, '--scope', 'read write']),
      createUser(db, 'alice'),
    ]);
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  const token = async () => {
    const res = await fresh(`${url}/token`, { grant_type: 'client_credentials', scope: 'read' }, app.basic);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.access_token as string;
  };
  const active = async (t: string) => {
    const res = await fresh(`${url}/introspect`, { token: t }, rs.basic);
    expect(res.status).toBe(200);
    return res.body.active as boolean;
  };

  it('both workers serve; a token issued by either is active on both, and RFC 7009: revoked on one, inactive on both at once', async () => {
    const tokens = await Promise.all(Array.from({ length: 6 }, () => token()));
    for (const t of tokens) for (let i = 0; i < 2; i++) expect(await active(t)).toBe(true);
    for (const t of tokens) {
      expect((await fresh(`${url}/revoke`, { token: t }, app.basic)).status).toBe(200);
      // The next two connections go to the two workers: neither may answer active (RFC 7662 §2.2).
      expect([await active(t), await active(t)]).toEqual([false, false]);
    }
    const served = workersThatServed(server.stderr(), '/introspect');
    expect([...served.keys()].sort()).toEqual([1, 2]);
    expect(workersThatServed(server.stderr(), '/token').size).toBe(2);
  });

  it('RFC 9700 §4.14.2: one refresh token sent to both workers at once rotates once; the rest is reuse, the family revoked', async () => {
    const agent = new Agent(url);
    await signIn(agent, user);
    for (let round = 0; round < 4; round++) {
      const { code, verifier } = await authorizationCode(agent, user, codeApp);
      const first = await fresh(`${url}/token`, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: 'https://app.example/cb' }, codeApp.basic);
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      const answers = await Promise.all(Array.from({ length: 6 }, () => fresh(`${url}/token`, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token }, codeApp.basic)));
      const won = answers.filter((r) => r.status === 200);
      expect(won).toHaveLength(1);
      for (const r of answers) if (r.status !== 200) expect(r.body.error).toBe('invalid_grant');
      expect(await active((won[0] as { body: { refresh_token: string } }).body.refresh_token)).toBe(false);
    }
  });

  it('a client deleted by the CLI stops authenticating on both workers (README bound 100 ms; asserted 2 s)', async () => {
    const doomed = await createClient(db, ['--grant-type', 'client_credentials', '--scope', 'read']);
    for (let i = 0; i < 2; i++) expect((await fresh(`${url}/token`, { grant_type: 'client_credentials' }, doomed.basic)).status).toBe(200);
    const run = await runTessera(db, ['client', 'delete', doomed.id]);
    expect(run.code, run.stderr).toBe(0);
    const since = performance.now();
    await vi.waitFor(async () => {
      const [x, y] = [await fresh(`${url}/token`, { grant_type: 'client_credentials' }, doomed.basic), await fresh(`${url}/token`, { grant_type: 'client_credentials' }, doomed.basic)];
      expect([x.status, y.status]).toEqual([401, 401]);
    }, { timeout: 2000, interval: 5 });
    console.log(`client deleted by the CLI, refused by both workers after ${(performance.now() - since).toFixed(0)} ms`);
  });

  it('a guard streaming the feed from one worker refuses JWTs revoked through the other at once (delays logged)', async () => {
    const jwtApp = await createClient(db, ['--grant-type', 'client_credentials', '--scope', 'read', '--token-format', 'jwt']);
    const applied = new Map<string, number>();
    const guard: Guard = createGuard({
      issuer: url,
      audience: url,
      client: { id: rs.id, secret: rs.secret },
      reconnectMin: 20,
      reconnectMax: 200,
      onFeedEvent: (e) => {
        if (e.type === 'token') applied.set(String(e.value), performance.now());
      },
    });
    try {
      await guard.ready();
      const delays: number[] = [];
      for (let i = 0; i < 20; i++) {
        const jwt = (await fresh(`${url}/token`, { grant_type: 'client_credentials', scope: 'read' }, jwtApp.basic)).body.access_token as string;
        const jti = JSON.parse(Buffer.from(jwt.split('.')[1] as string, 'base64url').toString()).jti as string;
        expect((await guard.verifyToken(jwt)).ok).toBe(true);
        // Fresh connections alternate between the workers: half of these revocations are made on the
        // worker whose stream the guard does not read.
        expect((await fresh(`${url}/revoke`, { token: jwt }, jwtApp.basic)).status).toBe(200);
        const at200 = performance.now();
        await vi.waitFor(() => expect(applied.has(jti)).toBe(true), { timeout: 5000, interval: 1 });
        delays.push(Math.max(0, (applied.get(jti) as number) - at200));
        expect((await guard.verifyToken(jwt)).ok).toBe(false);
      }
      delays.sort((a, b) => a - b);
      console.log(`guard on one worker, revocations on both: /revoke 200 → guard refuses: p50 ${delays[10]?.toFixed(1)} ms, max ${delays.at(-1)?.toFixed(1)} ms (n=20)`);
      // Not the poll's 100 ms: each commit wakes every worker's streams.
      expect(delays[10]).toBeLessThan(50);
    } finally {
      await guard.close();
    }
  });

  it('the sign-in throttle is one for both workers: the free failures (5) are counted over both, then both answer 429', async () => {
    const pw = await createClient(db, ['--grant-type', 'password', '--scope', 'read']);
    await createUser(db, 'bob');
    const guess = (i: number) => fresh(`${url}/token`, { grant_type: 'password', username: 'bob', password: `guess-${i}` }, pw.basic);
    // One at a time: attempts in flight count as failures.
    for (let i = 0; i < 5; i++) expect((await guess(i)).status).toBe(400);
    // Each worker saw two or three of them; a throttle per process would let both guess again.
    const [x, y] = [await guess(5), await guess(6)];
    expect([x.status, y.status]).toEqual([429, 429]);
    expect(workersThatServed(server.stderr(), '/token').size).toBe(2);
  });

  it('the writer\'s socket drops a connection that sends anything but a batch of writes, and keeps writing for the workers', async () => {
    const dirs = [...socketDirs()];
    expect(dirs.length).toBeGreaterThan(0);
    for (const garbage of ['5', 'null', '{}', '[null]', '[{"id":1,"name":"constructor","args":[]}]', '[{"id":1,"name":"transaction","args":[]}]', 'not json']) {
      for (const dir of dirs) {
        const socket = createConnection(join(tmpdir(), dir, 'writer.sock'));
        socket.on('error', () => {});
        socket.end(`${garbage}\n`);
        await once(socket, 'close');
      }
      expect(await active(await token())).toBe(true);
    }
  });

  it('a worker that dies is replaced; the other serves meanwhile; what was written stays and the audit chain verifies', async () => {
    for (let i = 0; i < 4; i++) await token();
    const before = workersThatServed(server.stderr(), '/token');
    const victim = [...(before.get(1) ?? [])][0] as number;
    process.kill(victim, 'SIGKILL');
    // A connection the primary handed to the worker as it died goes unanswered (node:cluster);
    // the other worker answers the rest until the new one serves.
    let served = 0;
    await vi.waitFor(async () => {
      const res = await fresh(`${url}/token`, { grant_type: 'client_credentials', scope: 'read' }, app.basic).catch(() => undefined);
      if (res?.status === 200) served++;
      const pids = workersThatServed(server.stderr(), '/token').get(1) ?? new Set();
      expect([...pids].some((pid) => pid !== victim)).toBe(true);
    }, { timeout: 15_000, interval: 50 });
    expect(served).toBeGreaterThan(0);
    expect(server.stderr()).toMatch(/a worker exited; starting another/);
    // SIGTERM to one worker alone: it drains and exits, and the primary starts another.
    const second = [...(workersThatServed(server.stderr(), '/token').get(2) ?? [])][0] as number;
    process.kill(second, 'SIGTERM');
    await vi.waitFor(async () => {
      await fresh(`${url}/token`, { grant_type: 'client_credentials', scope: 'read' }, app.basic).catch(() => undefined);
      expect([...(workersThatServed(server.stderr(), '/token').get(2) ?? [])].some((pid) => pid !== second)).toBe(true);
    }, { timeout: 15_000, interval: 50 });
    const verified = await runTessera(db, ['audit', 'verify']);
    expect(verified.code, verified.stderr).toBe(0);
  });
});

describe('tessera serve --workers: the primary\'s listeners and its lifecycle', () => {
  it('the README\'s command: the admin API answers on the primary, GET /metrics sums both workers\' requests, SIGTERM stops every process and removes the writer\'s socket', async () => {
    const dir = tempDir();
    const db = join(dir, 'tessera.db');
    const dirsBefore = socketDirs();
    const made = await tessera(['admin', 'token', 'create', '--name', 'ops', '--db', db]);
    expect(made.code, made.stderr).toBe(0);
    const adminToken = made.stdout.trim();
    // `npx tessera serve --workers 2 --admin-port 9001 --metrics-port 9464`, on free ports.
    const [npx, bin, command, ...args] = readmeSection('workers').trim().split(/\s+/);
    expect([npx, bin, command]).toEqual(['npx', 'tessera', 'serve']);
    expect(args).toContain('--workers');
    const server = await serve(['--db', db, ...args.map((a) => (/^\d{4,5}$/.test(a) ? '0' : a))]);
    try {
      expect(socketDirs().size).toBe(dirsBefore.size + 1);
      const app = await createClient(db, ['--grant-type', 'client_credentials', '--scope', 'read']);
      for (let i = 0; i < 10; i++) expect((await fresh(`${server.url}/token`, { grant_type: 'client_credentials' }, app.basic)).status).toBe(200);
      const metricsUrl = /metrics\s+(http:\S+)/.exec(server.stdout())?.[1] as string;
      const text = await (await fetch(metricsUrl)).text();
      expect(text).toMatch(/^tessera_http_request_duration_seconds_count\{route="token"\} 10$/m);
      expect(text).toMatch(/^tessera_tokens\{kind="access",state="active"\} 10$/m);
      // The admin API reads and writes on the primary's own store; both workers see the change.
      const deleted = await fetch(`${server.adminApi}/clients/${app.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${adminToken}` } });
      expect(deleted.status, await deleted.text()).toBe(200);
      await vi.waitFor(async () => {
        const [x, y] = [await fresh(`${server.url}/token`, { grant_type: 'client_credentials' }, app.basic), await fresh(`${server.url}/token`, { grant_type: 'client_credentials' }, app.basic)];
        expect([x.status, y.status]).toEqual([401, 401]);
      }, { timeout: 2000, interval: 5 });
    } finally {
      expect(await server.stop()).toBe(0);
    }
    expect(socketDirs()).toEqual(dirsBefore);
  });

  it('--workers takes 1 to 64; anything else is a usage error', async () => {
    for (const n of ['0', '65', 'two']) {
      const run = await tessera(['serve', '--workers', n, '--db', join(tempDir(), 't.db')]);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(/--workers/);
    }
    // A value from the environment is named as such.
    const fromEnv = await tessera(['serve', '--db', join(tempDir(), 't.db')], { env: { TESSERA_WORKERS: '100' } });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toMatch(/TESSERA_WORKERS must be at most 64; got '100'/);
    const help = await tessera(['serve', '--help']);
    expect(help.stdout).toMatch(/--workers COUNT +processes serving the listeners \(node:cluster\), 1 to 64/);
  });
});

describe('tessera serve --workers 2 on PostgreSQL: each worker an instance, the primary the housekeeper', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('tessera_workers');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('serves; RFC 7009: a token revoked through one worker is inactive on both', async () => {
    const server = await serve(['--db', db.url, '--workers', '2'], { env: { TESSERA_LOG_LEVEL: 'info' } });
    try {
      const app = await createClient(db.url, ['--grant-type', 'client_credentials', '--scope', 'read']);
      const rs = await createClient(db.url, ['--grant-type', 'client_credentials', '--scope', GUARD_SCOPE]);
      for (let i = 0; i < 4; i++) {
        const t = (await fresh(`${server.url}/token`, { grant_type: 'client_credentials' }, app.basic)).body.access_token as string;
        expect((await fresh(`${server.url}/revoke`, { token: t }, app.basic)).status).toBe(200);
        for (let j = 0; j < 2; j++) expect((await fresh(`${server.url}/introspect`, { token: t }, rs.basic)).body).toEqual({ active: false });
      }
      expect(workersThatServed(server.stderr(), '/introspect').size).toBe(2);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
