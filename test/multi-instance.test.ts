/**
 * Several `tessera serve` processes on one PostgreSQL database behave as one server (issue 10):
 * what the single-instance suites prove for one process (credential-race, guard-revocation,
 * lifecycle) holds when the two sides of a race, or a revocation and the next request, land on
 * different instances. Everything goes through HTTP, the CLI and @tessera/guard.
 */
import { createGuard, type Guard } from '@tessera/guard';
import { createTestDatabase, TEST_PG, type TestDatabase } from '@tessera/test-utils';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runTessera, serve, tessera } from './cli-kit.js';
import { decide } from './device-kit.js';
import { sleep } from './flows.js';
import { GUARD_SCOPE } from './guard-kit.js';
import { Agent, authorizationCode, clientCredentials, exchange, introspect, postForm, refresh, revoke, signIn } from './http-flows.js';
import { basic, type CliClient, createClient, createUser, type Instances, startInstances } from './instances.js';

const REDIRECT = ['--redirect-uri', 'https://app.example/cb'];
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
const summary = (ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b);
  return `p50 ${percentile(s, 50).toFixed(1)} ms, p99 ${percentile(s, 99).toFixed(1)} ms, max ${(s.at(-1) ?? Number.NaN).toFixed(1)} ms (n=${s.length})`;
};

describe('tessera migrate: a PostgreSQL database is migrated by the CLI, never by serve', () => {
  const name = `tessera_unmigrated_${process.pid}_${Date.now()}`;
  const url = Object.assign(new URL(TEST_PG), { pathname: `/${name}` }).href;
  const admin = postgres(TEST_PG, { max: 1, onnotice: () => {} });
  beforeAll(async () => {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  });
  afterAll(async () => {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end({ timeout: 5 });
  });

  it('serve refuses an unmigrated database, naming `tessera migrate`; after `tessera migrate` it serves', async () => {
    const refused = await tessera(['serve', '--port', '0', '--db', url]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/run `tessera migrate --db URL` first/);
    expect(refused.stderr).not.toMatch(/\n\s+at /);

    const migrated = await tessera(['migrate', '--db', url, '--json']);
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(JSON.parse(migrated.stdout)).toMatchObject({ from: 0 });
    // Again: nothing left to do.
    const again = await tessera(['migrate', '--db', url, '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).from).toBe(JSON.parse(again.stdout).to);

    const served = await serve(['--db', url]);
    try {
      expect((await fetch(`${served.url}/.well-known/oauth-authorization-server`)).status).toBe(200);
    } finally {
      expect(await served.stop()).toBe(0);
    }
  });
});

describe('several tessera serve instances on one PostgreSQL database act as one server', () => {
  let db: TestDatabase;
  let servers: Instances;
  let A: string;
  let B: string;
  let C: string;
  /** A resource server: introspects any token, reads the feed. */
  let rs: CliClient;
  let codeApp: CliClient;
  let user: { id: string; username: string; password: string };
  let agent: Agent;

  beforeAll(async () => {
    db = await createTestDatabase('tessera_multi');
    servers = await startInstances(db.url, 3, ['--enable-legacy', 'password']);
    [A, B, C] = servers.urls as [string, string, string];
    [rs, codeApp, user] = await Promise.all([
      createClient(db.url, ['--grant-type', 'client_credentials', '--scope', GUARD_SCOPE]),
      createClient(db.url, ['--grant-type', 'authorization_code,refresh_token', ...REDIRECT, '--scope', 'read write']),
      createUser(db.url, 'alice'),
    ]);
    agent = new Agent(A);
    await signIn(agent, user);
  }, 60_000);
  afterAll(async () => {
    await servers?.stop();
    await db?.drop();
  });

  const active = async (at: string, token: string): Promise<boolean> => {
    const res = await introspect(at, rs, token);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.active === true;
  };
  const audit = async (): Promise<{ event: string; client_id: string | null }[]> => {
    const run = await runTessera(db.url, ['audit', '--json']);
    expect(run.code, run.stderr).toBe(0);
    return JSON.parse(run.stdout);
  };
  const tokens = async (): Promise<{ id: string; client_id: string; grant_id: string }[]> => {
    const run = await runTessera(db.url, ['token', 'list', '--json', '--limit', '10000']);
    expect(run.code, run.stderr).toBe(0);
    return JSON.parse(run.stdout);
  };

  it('RFC 9700 §4.14.2: one refresh token sent to two instances at once rotates once; the other is reuse: invalid_grant, the family revoked, audited', async () => {
    const rounds = 6;
    const reusesBefore = (await audit()).filter((r) => r.event === 'token.reuse_detected' && r.client_id === codeApp.id).length;
    for (let i = 0; i < rounds; i++) {
      const { code, verifier } = await authorizationCode(agent, user, codeApp);
      const first = await exchange(A, codeApp, code, verifier);
      expect(first.status).toBe(200);
      const [x, y] = await Promise.all([refresh(i % 2 ? A : B, codeApp, first.body.refresh_token), refresh(i % 2 ? B : A, codeApp, first.body.refresh_token)]);
      const answers = [x, y].sort((p, q) => p.status - q.status);
      expect(answers.map((r) => r.status)).toEqual([200, 400]);
      const [winner, loser] = answers as [typeof x, typeof y];
      expect(loser.body.error).toBe('invalid_grant');
      // The winner's successor belongs to the reused family: revoked with it, on every instance.
      for (const at of [A, B, C]) {
        expect(await active(at, winner.body.refresh_token)).toBe(false);
        expect(await active(at, winner.body.access_token)).toBe(false);
        expect(await active(at, first.body.access_token)).toBe(false);
      }
    }
    const reuses = (await audit()).filter((r) => r.event === 'token.reuse_detected' && r.client_id === codeApp.id).length;
    expect(reuses - reusesBefore).toBe(rounds);
  });

  it('RFC 6749 §4.1.2: a code redeemed on two instances at once gives tokens exactly once', async () => {
    for (let i = 0; i < 6; i++) {
      const { code, verifier } = await authorizationCode(agent, user, codeApp);
      const answers = await Promise.all([exchange(A, codeApp, code, verifier), exchange(B, codeApp, code, verifier), exchange(C, codeApp, code, verifier)]);
      const statuses = answers.map((r) => r.status).sort();
      expect(statuses).toEqual([200, 400, 400]);
      for (const r of answers) if (r.status === 400) expect(r.body.error).toBe('invalid_grant');
      // The replay revoked what the code gave (RFC 6749 §4.1.2 SHOULD), wherever it was redeemed.
      const won = answers.find((r) => r.status === 200);
      expect(await active(C, won?.body.access_token)).toBe(false);
    }
  });

  it('RFC 8628: an approved device code polled on three instances at once gives tokens exactly once', async () => {
    const tv = await createClient(db.url, ['--grant-type', 'urn:ietf:params:oauth:grant-type:device_code', '--grant-type', 'refresh_token', '--scope', 'read']);
    for (let i = 0; i < 4; i++) {
      const started = await postForm(A, '/device_authorization', {}, tv);
      expect(started.status).toBe(200);
      // The user approves on the page of instance A; the device polls every instance at once.
      await decide(agent, started.body.user_code, 'allow');
      const answers = await Promise.all([A, B, C].map((at) => postForm(at, '/token', { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: started.body.device_code }, tv)));
      expect(answers.map((r) => r.status).sort()).toEqual([200, 400, 400]);
      for (const r of answers) if (r.status === 400) expect(r.body.error).toBe('invalid_grant');
    }
    expect((await tokens()).filter((t) => t.client_id === tv.id)).toHaveLength(8);
  });

  it('RFC 7591 §3: one initial access token sent to /register on three instances at once registers one client; RFC 7592: another instance reads, replaces and deletes it', async () => {
    const minted = await runTessera(db.url, ['client', 'initial-token', '--json']);
    expect(minted.code, minted.stderr).toBe(0);
    const initial = (JSON.parse(minted.stdout) as { initial_access_token: string }).initial_access_token;
    const json = (token: string, method: string, body?: unknown): RequestInit => ({
      method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const metadata = { grant_types: ['client_credentials'], scope: 'openid' };
    const answers = await Promise.all([A, B, C].map((at) => fetch(`${at}/register`, json(initial, 'POST', metadata))));
    expect(answers.map((r) => r.status).sort()).toEqual([201, 401, 401]);
    const reg = (await answers.find((r) => r.status === 201)!.json()) as Record<string, string>;
    const path = new URL(reg.registration_client_uri!).pathname;
    expect((await fetch(`${B}${path}`, json(reg.registration_access_token!, 'GET'))).status).toBe(200);
    const put = await fetch(`${C}${path}`, json(reg.registration_access_token!, 'PUT', { client_id: reg.client_id, client_name: 'renamed', ...metadata }));
    expect(await put.json()).toMatchObject({ client_id: reg.client_id, client_name: 'renamed' });
    expect((await fetch(`${A}${path}`, json(reg.registration_access_token!, 'DELETE'))).status).toBe(204);
    // B cached the client when it read it: it hears of the deletion through NOTIFY (within 100 ms).
    await vi.waitFor(async () => expect((await fetch(`${B}${path}`, json(reg.registration_access_token!, 'GET'))).status).toBe(401));
  });

  it('one live grant per (client, user) across processes: first client_credentials requests racing on three instances all land in one grant', async () => {
    for (let round = 0; round < 3; round++) {
      const app = await createClient(db.url, ['--grant-type', 'client_credentials', '--scope', 'read']);
      const answers = await Promise.all(Array.from({ length: 9 }, (_, i) => clientCredentials([A, B, C][i % 3] as string, app)));
      for (const r of answers) expect(r.status, JSON.stringify(r.body)).toBe(200);
      const grants = new Set<string>();
      for (const r of answers) {
        const seen = await introspect(B, rs, r.body.access_token);
        expect(seen.body.active, 'every token answered 200 is stored and live').toBe(true);
        grants.add(seen.body.tessera_grant);
      }
      expect(grants.size).toBe(1);
      expect(new Set((await tokens()).filter((t) => t.client_id === app.id).map((t) => t.grant_id)).size).toBe(1);
    }
  });

  it('one live grant per (client, user) across processes: first password grants (legacy) racing on three instances all land in one grant', async () => {
    const app = await createClient(db.url, ['--grant-type', 'password,refresh_token', '--scope', 'read']);
    const bob = await createUser(db.url, 'bob');
    const form = { grant_type: 'password', username: bob.username, password: bob.password, scope: 'read' };
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => postForm([A, B, C][i % 3] as string, '/token', form, app)));
    for (const r of answers) expect(r.status, JSON.stringify(r.body)).toBe(200);
    const grants = new Set<string>();
    for (const r of answers) {
      const seen = await introspect(C, rs, r.body.refresh_token);
      expect(seen.body.active).toBe(true);
      grants.add(seen.body.tessera_grant);
    }
    expect(grants.size).toBe(1);
  });

  it('RFC 7009: a token revoked on instance A (POST /revoke) or by the CLI is inactive at /introspect on instance B on the very next request', async () => {
    const app = await createClient(db.url, ['--grant-type', 'client_credentials', '--scope', 'read']);
    for (let i = 0; i < 20; i++) {
      const token = (await clientCredentials(A, app)).body.access_token as string;
      expect(await active(B, token)).toBe(true);
      expect((await revoke(A, app, token)).status).toBe(200);
      expect(await active(B, token)).toBe(false);
    }
    // A refresh token revoked on A ends its grant: the grant's access token is refused by B at once.
    const { code, verifier } = await authorizationCode(agent, user, codeApp);
    const pair = (await exchange(A, codeApp, code, verifier)).body;
    expect(await active(B, pair.access_token)).toBe(true);
    expect((await revoke(A, codeApp, pair.refresh_token)).status).toBe(200);
    expect(await active(B, pair.access_token)).toBe(false);
    // By the CLI, another process again.
    const token = (await clientCredentials(C, app)).body.access_token as string;
    expect(await active(B, token)).toBe(true);
    const run = await runTessera(db.url, ['token', 'revoke', '--token-stdin'], token);
    expect(run.code, run.stderr).toBe(0);
    expect(await active(B, token)).toBe(false);
    expect(await active(C, token)).toBe(false);
  });

  it('guard: a guard streaming the feed from instance B refuses JWTs revoked on instance A (delay logged)', async () => {
    const app = await createClient(db.url, ['--grant-type', 'client_credentials', '--scope', 'read', '--token-format', 'jwt']);
    const meta = (await (await fetch(`${A}/.well-known/oauth-authorization-server`)).json()) as Record<string, string>;
    const onB = (field: string) => {
      const u = new URL(meta[field] as string);
      return new URL(u.pathname + u.search, B).href;
    };
    const applied = new Map<string, number>();
    const guard: Guard = createGuard({
      issuer: A,
      audience: A,
      client: { id: rs.id, secret: rs.secret },
      endpoints: {
        jwks: onB('jwks_uri'),
        introspection: onB('introspection_endpoint'),
        feed: onB('tessera_revocation_feed_endpoint'),
        stream: onB('tessera_revocation_stream_endpoint'),
      },
      reconnectMin: 20,
      reconnectMax: 200,
      onFeedEvent: (e) => {
        if (e.type === 'token') applied.set(String(e.value), performance.now());
      },
    });
    try {
      await guard.ready();
      const count = 150;
      const jwts: string[] = [];
      for (let i = 0; i < count; i++) {
        const res = await clientCredentials(A, app);
        expect(res.status).toBe(200);
        jwts.push(res.body.access_token);
      }
      const delays: number[] = [];
      let early = 0;
      for (const jwt of jwts) {
        const jti = JSON.parse(Buffer.from(jwt.split('.')[1] as string, 'base64url').toString()).jti as string;
        expect((await guard.verifyToken(jwt)).ok).toBe(true);
        const res = await revoke(A, app, jwt);
        const at200 = performance.now();
        expect(res.status).toBe(200);
        // Generous, as guard-revocation.test.ts's caughtUp: the bound itself is measured, not asserted.
        await vi.waitFor(() => expect(applied.has(jti)).toBe(true), { timeout: 5000, interval: 1 });
        const delay = (applied.get(jti) as number) - at200;
        if (delay < 0) early++;
        delays.push(Math.max(0, delay));
        expect((await guard.verifyToken(jwt)).ok).toBe(false);
      }
      console.log(`guard on instance B, revocations on instance A: /revoke 200 → guard refuses: ${summary(delays)}; ${early} applied before the 200 arrived (issue bound: p99 < 25 ms)`);
      expect(guard.status().introspectionCache).toBe(0);
    } finally {
      await guard.close();
    }
  });

  /** Polls client_credentials with `auth` on every instance until each answers 401; the delays from `since`. */
  async function untilRefused(app: CliClient, auth: string, since: number): Promise<number[]> {
    return Promise.all(
      [A, B, C].map(async (at) => {
        for (;;) {
          const res = await postForm(at, '/token', { grant_type: 'client_credentials' }, { id: app.id, basic: auth });
          if (res.status === 401) return performance.now() - since;
          expect(res.status).toBe(200);
          expect(performance.now() - since, `${at} still authenticates the client`).toBeLessThan(2000);
          await sleep(2);
        }
      }),
    );
  }

  it('a client deleted by the CLI stops authenticating on every instance within the README\'s 100 ms (asserted: 2 s; delay logged)', async () => {
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      const app = await createClient(db.url, ['--grant-type', 'client_credentials', '--scope', 'read']);
      // Every instance has the client cached.
      for (const at of [A, B, C]) expect((await clientCredentials(at, app)).status).toBe(200);
      const run = await runTessera(db.url, ['client', 'delete', app.id]);
      const since = performance.now();
      expect(run.code, run.stderr).toBe(0);
      delays.push(...(await untilRefused(app, app.basic, since)));
    }
    console.log(`client delete (CLI) → 401 on each of 3 instances: ${summary(delays)}`);
  });

  it('a client secret rotated by the CLI: the old one stops authenticating on every instance within the README\'s 100 ms (asserted: 2 s); the new one works', async () => {
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      const app = await createClient(db.url, ['--grant-type', 'client_credentials', '--scope', 'read']);
      for (const at of [A, B, C]) expect((await clientCredentials(at, app)).status).toBe(200);
      const run = await runTessera(db.url, ['client', 'rotate-secret', app.id, '--json']);
      const since = performance.now();
      expect(run.code, run.stderr).toBe(0);
      delays.push(...(await untilRefused(app, app.basic, since)));
      const rotated = { id: app.id, basic: basic(app.id, JSON.parse(run.stdout).client_secret) };
      for (const at of [A, B, C]) expect((await clientCredentials(at, rotated)).status).toBe(200);
    }
    console.log(`client rotate-secret (CLI) → old secret 401 on each of 3 instances: ${summary(delays)}`);
  });

  it('RFC 7523 §3 item 7: a private_key_jwt assertion used on one instance is refused as a replay on the others (issue 11)', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const dir = mkdtempSync(join(tmpdir(), 'tessera-jwks-'));
    try {
      const file = join(dir, 'jwks.json');
      writeFileSync(file, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] }));
      const run = await runTessera(db.url, ['client', 'create', '--name', 'jwt', '--grant-type', 'client_credentials', '--scope', 'read',
        '--auth-method', 'private_key_jwt', '--jwks', file, '--json']);
      expect(run.code, run.stderr).toBe(0);
      const id = JSON.parse(run.stdout).client_id as string;
      // Every instance serves the one issuer (startInstances), the assertion's audience.
      const issuer = ((await (await fetch(`${A}/.well-known/oauth-authorization-server`)).json()) as { issuer: string }).issuer;
      const now = Math.floor(Date.now() / 1000);
      const assertion = await new SignJWT({ iss: id, sub: id, aud: issuer, jti: crypto.randomUUID(), exp: now + 60 })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(privateKey);
      const form = { grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion };
      const post = (at: string) => fetch(`${at}/token`, { method: 'POST', body: new URLSearchParams(form) });
      expect((await post(A)).status).toBe(200);
      for (const at of [B, C]) expect((await post(at)).status).toBe(401);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rotate-secret --grace by the CLI: old and new secret both work on every instance; client update reaches every instance within 2 s (issue 11)', async () => {
    const app = await createClient(db.url, ['--grant-type', 'client_credentials', '--scope', 'read write']);
    for (const at of [A, B, C]) expect((await clientCredentials(at, app)).status).toBe(200);
    const run = await runTessera(db.url, ['client', 'rotate-secret', app.id, '--grace', '600', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const rotated = { id: app.id, basic: basic(app.id, JSON.parse(run.stdout).client_secret) };
    for (const at of [A, B, C]) {
      await vi.waitFor(async () => expect((await clientCredentials(at, rotated)).status).toBe(200), { timeout: 2000, interval: 5 });
      expect((await clientCredentials(at, app)).status).toBe(200);
    }
    const updated = await runTessera(db.url, ['client', 'update', app.id, '--scope', 'read']);
    expect(updated.code, updated.stderr).toBe(0);
    for (const at of [A, B, C]) {
      await vi.waitFor(async () => {
        const res = await postForm(at, '/token', { grant_type: 'client_credentials', scope: 'write' }, rotated);
        expect(res.body.error).toBe('invalid_scope');
      }, { timeout: 2000, interval: 5 });
    }
  });
});
