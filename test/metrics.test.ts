/**
 * Server observability (issue 13): GET /metrics in the Prometheus text format on a listener of its
 * own (off unless asked for, never on the public listener), lifecycle counters that move by exactly
 * what the audit log gained, request latency by route name, tokens by state, sweeper progress and
 * the revocation streams; GET /readyz (database, schema, writer) beside /healthz. On SQLite and
 * PostgreSQL.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Harness, sleep, useServer } from './flows.js';
import { GUARD_SCOPE } from './guard-kit.js';
import { startTestServer, type TestServer } from './helpers.js';
import { openStream } from './sse-client.mjs';

/** A scrape as `name{labels}` → value, the lines exactly as prom-client prints them. */
type Scrape = Map<string, number>;

async function scrape(metricsUrl: string | undefined): Promise<Scrape> {
  const res = await fetch(`${metricsUrl}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const out: Scrape = new Map();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

const value = (s: Scrape, key: string): number => s.get(key) ?? 0;
const event = (name: string) => `tessera_lifecycle_events_total{event="${name}"}`;
const tokens = (kind: string, state: string) => `tessera_tokens{kind="${kind}",state="${state}"}`;

describe.each(['sqlite', 'postgres'] as const)('metrics and readiness on %s', (store) => {
  const h: Harness = useServer({ feedHeartbeat: 100 }, { store, metrics: { port: 0, tokenCountInterval: 0 } });
  const metrics = () => scrape(h.server.metricsUrl);

  it('the metrics listener is its own (loopback by default); /metrics on the public listener is 404', async () => {
    expect(new URL(h.server.metricsUrl as string).hostname).toBe('127.0.0.1');
    expect(h.server.metricsUrl).not.toBe(h.server.url);
    expect((await fetch(`${h.server.url}/metrics`)).status).toBe(404);
    const s = await metrics();
    // prom-client's default process metrics are there too.
    expect(s.has('process_cpu_user_seconds_total')).toBe(true);
    expect([...s.keys()].some((k) => k.startsWith('nodejs_eventloop_lag_seconds'))).toBe(true);
  });

  it('lifecycle counters move by exactly the audit records committed: issued, rotated, revoked, reuse detected, codes', async () => {
    const before = await metrics();
    const service = await h.client();
    for (let i = 0; i < 3; i++) expect((await h.token(service, { grant_type: 'client_credentials' })).status).toBe(200);
    const app = await h.codeClient();
    const first = await h.userTokens(app);
    const refreshed = await h.refresh(app, first.refresh_token as string);
    expect(refreshed.status).toBe(200);
    expect((await h.revoke(app, refreshed.body.access_token)).status).toBe(200);
    // The first refresh token again: reuse, its family revoked.
    expect((await h.refresh(app, first.refresh_token as string)).status).toBe(400);
    // A refused request commits nothing and counts nothing.
    expect((await h.token(service, { grant_type: 'refresh_token', refresh_token: 'tsr_nonsense' })).status).toBe(400);
    const after = await metrics();
    const moved = (name: string) => value(after, event(name)) - value(before, event(name));
    expect({
      issued: moved('token.issued'), rotated: moved('token.rotated'), revoked: moved('token.revoked'), reuse: moved('token.reuse_detected'),
      codeIssued: moved('code.issued'), codeRedeemed: moved('code.redeemed'), grants: moved('grant.created'), clients: moved('client.created'),
    }).toEqual({
      // 3 client credentials and the code's pair; the rotation's pair is its one token.rotated (issue 14).
      issued: 5, rotated: 1, revoked: 2, reuse: 1, codeIssued: 1, codeRedeemed: 1, grants: 1, clients: 2,
    });
  });

  it('request latency is a histogram by route name, never by raw path', async () => {
    const before = await metrics();
    const service = await h.client();
    await h.token(service, { grant_type: 'client_credentials' });
    await h.token(service, { grant_type: 'client_credentials' });
    await fetch(`${h.server.url}/no/such/path?x=1`);
    await fetch(`${h.server.url}/register/some-client-id`);
    await fetch(`${h.server.url}/healthz`);
    const after = await metrics();
    const count = (route: string) => value(after, `tessera_http_request_duration_seconds_count{route="${route}"}`) - value(before, `tessera_http_request_duration_seconds_count{route="${route}"}`);
    expect({ token: count('token'), other: count('other'), configuration: count('registrationConfiguration'), health: count('health') })
      .toEqual({ token: 2, other: 1, configuration: 1, health: 1 });
    expect(after.get('tessera_http_request_duration_seconds_bucket{le="+Inf",route="token"}')).toBe(after.get('tessera_http_request_duration_seconds_count{route="token"}'));
    const routes = [...after.keys()].flatMap((k) => /route="([^"]*)"/.exec(k)?.[1] ?? []);
    expect(routes.length).toBeGreaterThan(0);
    for (const route of routes) expect(route).toMatch(/^[A-Za-z]+$/);
  });

  it('tessera_tokens counts the stored tokens by kind and state', async () => {
    const before = await metrics();
    const service = await h.client({ accessTtl: 1 });
    const app = await h.codeClient();
    const a = await h.token(service, { grant_type: 'client_credentials' });
    await h.token(service, { grant_type: 'client_credentials' });
    const first = await h.userTokens(app);
    await h.refresh(app, first.refresh_token as string);
    expect((await h.revoke(service, a.body.access_token)).status).toBe(200);
    const moved = (s: Scrape, kind: string, state: string) => value(s, tokens(kind, state)) - value(before, tokens(kind, state));
    const now = await metrics();
    expect({
      access: { active: moved(now, 'access', 'active'), revoked: moved(now, 'access', 'revoked'), expired: moved(now, 'access', 'expired') },
      refresh: { active: moved(now, 'refresh', 'active'), rotated: moved(now, 'refresh', 'rotated') },
    }).toEqual({ access: { active: 3, revoked: 1, expired: 0 }, refresh: { active: 1, rotated: 1 } });
    // The service's tokens expire (1 s) and are kept, expired, until swept (sweepRetention): the
    // live one counts as expired from then on, the revoked one stays revoked.
    await sleep(1100);
    const later = await metrics();
    expect([moved(later, 'access', 'active'), moved(later, 'access', 'revoked'), moved(later, 'access', 'expired')]).toEqual([2, 1, 1]);
  });

  it('feed subscribers and their lag: a connected SSE client counts while open, caught up with the head', async () => {
    const reader = await h.client({ scope: GUARD_SCOPE });
    const stream = await openStream(h.server.url, reader.basic, 0);
    expect(stream.status).toBe(200);
    await vi.waitFor(() => expect(stream.comments).toContain('connected'), { timeout: 5000, interval: 10 });
    const app = await h.codeClient();
    const issued = await h.userTokens(app);
    await h.revoke(app, issued.refresh_token as string);
    await vi.waitFor(async () => {
      const s = await metrics();
      expect(value(s, 'tessera_feed_subscribers')).toBe(1);
      expect(stream.ids.length).toBeGreaterThan(0);
      expect(value(s, 'tessera_feed_subscriber_lag_events')).toBe(0);
    }, { timeout: 5000, interval: 50 });
    stream.close();
    await vi.waitFor(async () => expect(value(await metrics(), 'tessera_feed_subscribers')).toBe(0), { timeout: 5000, interval: 50 });
  });

  /** /readyz once it answers `status`: an answer is reused for a second, so a change shows within one. */
  const readyz = async (status: number): Promise<Response> => {
    let res: Response | undefined;
    await vi.waitFor(async () => {
      res = await fetch(`${h.server.url}/readyz`);
      if (res.status !== status) await res.body?.cancel();
      expect(res.status).toBe(status);
    }, { timeout: 5000, interval: 100 });
    return res as Response;
  };

  it('/readyz: 200 when ready; 503 naming the schema check while the schema is not the current version; /healthz stays live', async () => {
    const ok = await fetch(`${h.server.url}/readyz`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('cache-control')).toBe('no-store');
    expect(await ok.json()).toEqual({ status: 'ready' });
    const setVersion = await schemaVersionSetter(h.server);
    try {
      await setVersion(-1);
      const down = await readyz(503);
      expect(down.headers.get('retry-after')).toBe('5');
      expect(await down.json()).toMatchObject({ status: 'unavailable', check: 'schema', reason: expect.stringMatching(/schema is at version \d+/) });
      // Liveness is only that the store answers a read.
      expect((await fetch(`${h.server.url}/healthz`)).status).toBe(200);
    } finally {
      await setVersion(0);
    }
    await readyz(200);
  });

  it('/readyz: 503 naming the database check once the database is closed (last: the server is done after it)', async () => {
    await h.server.tessera.store.close();
    const down = await readyz(503);
    expect(await down.json()).toEqual({ status: 'unavailable', check: 'database', reason: 'the database does not answer a read' });
    expect((await fetch(`${h.server.url}/healthz`)).status).toBe(503);
  });
});

/** Moves the database's schema version by `delta` from the current one (0: back to it), as another program would. */
async function schemaVersionSetter(server: TestServer): Promise<(delta: number) => Promise<void>> {
  if (server.db.startsWith('postgres')) {
    const sql = postgres(server.db, { max: 1, onnotice: () => {} });
    const [row] = await sql`SELECT version FROM tessera_schema`;
    const current = row?.version as number;
    return async (delta) => {
      await sql`UPDATE tessera_schema SET version = ${current + delta}`;
      if (delta === 0) await sql.end();
    };
  }
  const db = new Database(server.db);
  const current = db.pragma('user_version', { simple: true }) as number;
  return async (delta) => {
    db.pragma(`user_version = ${current + delta}`);
    if (delta === 0) db.close();
  };
}

describe('metrics off by default', () => {
  it('without a metrics listener nothing is served and /metrics on the public listener is 404', async () => {
    const server = await startTestServer();
    try {
      expect(server.metricsUrl).toBeUndefined();
      expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('metrics: the sweeper and the tokens count interval', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ sweepInterval: 100, sweepRetention: 0 }, { metrics: { port: 0 } });
  });
  afterAll(() => server.close());

  it('tessera_sweep_rows_total counts the rows swept and tessera_sweep_last_run_timestamp_seconds says when the last sweep ended', async () => {
    const service = await server.createClient({ accessTtl: 1 });
    const before = await scrape(server.metricsUrl);
    for (let i = 0; i < 3; i++) expect((await server.post('/token', { grant_type: 'client_credentials' }, { authorization: service.basic })).status).toBe(200);
    await vi.waitFor(async () => {
      const s = await scrape(server.metricsUrl);
      expect(value(s, 'tessera_sweep_rows_total') - value(before, 'tessera_sweep_rows_total')).toBe(3);
    }, { timeout: 5000, interval: 100 });
    const last = value(await scrape(server.metricsUrl), 'tessera_sweep_last_run_timestamp_seconds');
    expect(Date.now() / 1000 - last).toBeLessThan(5);
  });

  it('the tokens are counted at most once per tokenCountInterval (30 s by default): a scrape in between reuses the count', async () => {
    const service = await server.createClient();
    const first = value(await scrape(server.metricsUrl), tokens('access', 'active'));
    expect((await server.post('/token', { grant_type: 'client_credentials' }, { authorization: service.basic })).status).toBe(200);
    expect(value(await scrape(server.metricsUrl), tokens('access', 'active'))).toBe(first);
  });
});

describe('metrics and the admin API\'s /stats: one count of the tokens', () => {
  /** A server with both listeners; `stats()`: /stats' active tokens; `gauge()`: the scraped tessera_tokens active ones. */
  async function start() {
    const server = await startTestServer({}, { metrics: { port: 0 }, adminPort: 0 });
    const admin = (await server.tessera.engine.createAdminToken({ name: `stats-${randomBytes(4).toString('hex')}`, readOnly: true, expiresAt: null }, { actor: 'test' }))?.value;
    const service = await server.createClient();
    return {
      server,
      issue: async () => expect((await server.post('/token', { grant_type: 'client_credentials' }, { authorization: service.basic })).status).toBe(200),
      stats: async () => {
        const res = await fetch(`${server.adminUrl}/admin/api/v1/stats`, { headers: { authorization: `Bearer ${admin}` } });
        expect(res.status).toBe(200);
        return ((await res.json()) as { tokens: { active: number } }).tokens.active;
      },
      gauge: async () => {
        const s = await scrape(server.metricsUrl);
        return value(s, tokens('access', 'active')) + value(s, tokens('refresh', 'active'));
      },
    };
  }

  it('a count /stats made is the one the next scrape shows, and a count a scrape made is the one /stats answers', async () => {
    const a = await start();
    try {
      await a.issue();
      const counted = await a.stats();
      expect(counted).toBe(1);
      await a.issue();
      // The metrics count at most once per tokenCountInterval (30 s): the census /stats just took serves them.
      expect(await a.gauge()).toBe(counted);
    } finally {
      await a.server.close();
    }
    const b = await start();
    try {
      await b.issue();
      const scraped = await b.gauge();
      expect(scraped).toBe(1);
      await b.issue();
      // /stats answers a count younger than 30 s at once: the one the scrape took.
      expect(await b.stats()).toBe(scraped);
    } finally {
      await b.server.close();
    }
  });
});

describe('`tessera serve --metrics-port`', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-metrics-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves /metrics on its own port, named in the --json startup line; --help lists the settings', async () => {
    const bin = join(import.meta.dirname, '..', 'packages', 'server', 'bin', 'tessera.js');
    const env: NodeJS.ProcessEnv = { ...process.env, TESSERA_LOG_LEVEL: 'warn' };
    for (const name of Object.keys(env)) if (name.startsWith('TESSERA_') && name !== 'TESSERA_LOG_LEVEL') delete env[name];
    const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--metrics-port', '0', '--db', join(dir, 't.db'), '--sync', 'normal', '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let stdout = '';
      child.stdout.on('data', (d) => { stdout += d; });
      await vi.waitFor(() => expect(stdout).toContain('\n'), { timeout: 10_000, interval: 20 });
      const started = JSON.parse(stdout) as { url: string; metrics: string };
      expect(started.metrics).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      expect(new URL(started.metrics).port).not.toBe(new URL(started.url).port);
      const res = await fetch(started.metrics);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('# TYPE tessera_lifecycle_events_total counter');
    } finally {
      child.kill('SIGTERM');
    }
    const help = spawn(process.execPath, [bin, 'serve', '--help'], { env });
    let text = '';
    help.stdout.on('data', (d) => { text += d; });
    await new Promise((resolve) => help.on('exit', resolve));
    expect(text).toMatch(/--metrics-port PORT +serve GET \/metrics/);
    expect(text).toContain('--metrics-host TEXT');
    expect(text).toContain('env TESSERA_METRICS_PORT');
  });
});

describe('metrics: the webhook backlog', () => {
  let server: TestServer;
  const dir = mkdtempSync(join(tmpdir(), 'tessera-metrics-webhooks-'));
  beforeAll(async () => {
    const keyFile = join(dir, 'seal.key');
    writeFileSync(keyFile, randomBytes(32).toString('base64'), { mode: 0o600 });
    // A receiver that never answers (nothing listens on port 9) and retries far apart: deliveries stay pending.
    server = await startTestServer({ clientSecretKeyFile: keyFile, webhookBackoff: 600_000, webhookBackoffMax: 600_000, webhookPollInterval: 20 }, { metrics: { port: 0 } });
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('tessera_webhook_backlog counts the deliveries not yet delivered nor given up', async () => {
    expect(value(await scrape(server.metricsUrl), 'tessera_webhook_backlog')).toBe(0);
    await server.tessera.engine.addWebhook('http://127.0.0.1:9/hook', ['token.issued'], { actor: 'test' });
    const service = await server.createClient();
    for (let i = 0; i < 2; i++) expect((await server.post('/token', { grant_type: 'client_credentials' }, { authorization: service.basic })).status).toBe(200);
    expect(value(await scrape(server.metricsUrl), 'tessera_webhook_backlog')).toBe(2);
  });
});
