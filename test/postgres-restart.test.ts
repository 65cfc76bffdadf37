/**
 * PostgreSQL going away under load (issue 10): a crash and restart of the database, or its
 * connections cut one by one, while two `tessera serve` instances rotate refresh tokens and
 * revoke. Every answer is the protocol's (200, 4xx) or 503 temporarily_unavailable with
 * Retry-After and no-store (RFC 6749 §5.2), never a 500 or a stack; the instances recover by
 * themselves; each rotation and revocation happened whole or not at all; the audit chain verifies.
 * The database is a private cluster (private-postgres.ts): the shared one is never restarted.
 */
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runTessera, tessera } from './cli-kit.js';
import { sleep } from './flows.js';
import { type Answer, introspect, postForm, refresh, revoke } from './http-flows.js';
import { type CliClient, createClient, createUser, type Instances, startInstances } from './instances.js';
import { auditViolations, postgresTokens, postgresViolations } from './invariants.js';
import { type PrivateCluster, startPrivateCluster } from './private-postgres.js';

type User = { id: string; username: string; password: string };

/** What the load saw: answers by kind, and anything that is not allowed. */
class Tally {
  readonly counts = new Map<string, number>();
  readonly wrong: string[] = [];
  /** Refresh and access token values from 200 answers (stored), and refresh tokens revoked with 200. */
  readonly acknowledged: string[] = [];
  readonly revoked: string[] = [];

  /** The slowest answer, in ms. */
  slowest = 0;

  see(what: string, res: Answer): Answer {
    this.slowest = Math.max(this.slowest, res.ms);
    const key = res.status === 503 ? '503' : `${res.status}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    const text = JSON.stringify(res.body);
    if (res.status === 503) {
      // RFC 6749 §5.2 temporarily_unavailable; RFC 9110 §10.2.3 Retry-After; no internals.
      const shape = { error: res.body?.error, retryAfter: res.headers.get('retry-after'), cacheControl: res.headers.get('cache-control'), type: res.headers.get('content-type') };
      const ok = shape.error === 'temporarily_unavailable' && /^\d+$/.test(shape.retryAfter ?? '') && shape.cacheControl === 'no-store' && /^application\/json/.test(shape.type ?? '');
      if (!ok) this.wrong.push(`${what} → 503 ${JSON.stringify(shape)}`);
    } else if (res.status >= 500 || (res.status >= 400 && res.body?.error === undefined)) {
      this.wrong.push(`${what} → ${res.status} ${text.slice(0, 300)}`);
    }
    if (/\n\s+at |node_modules|\.ts:\d|\.js:\d/.test(text)) this.wrong.push(`${what} → ${res.status} shows internals: ${text.slice(0, 300)}`);
    return res;
  }

  get summary(): string {
    return `${[...this.counts].sort().map(([k, n]) => `${k}: ${n}`).join(', ')}; slowest answer ${Math.round(this.slowest)} ms`;
  }
}

describe('PostgreSQL away under load: 503 temporarily_unavailable, recovery by itself, no torn state', () => {
  let cluster: PrivateCluster;
  let db: string;
  let servers: Instances;
  let app: CliClient;
  let rs: CliClient;
  const users: User[] = [];

  beforeAll(async () => {
    cluster = await startPrivateCluster();
    const admin = postgres(cluster.url('postgres'), { max: 1, onnotice: () => {} });
    await admin`CREATE DATABASE tessera`;
    await admin.end({ timeout: 5 });
    db = cluster.url('tessera');
    const migrated = await tessera(['migrate', '--db', db]);
    if (migrated.code !== 0) throw new Error(`tessera migrate: ${migrated.stderr}`);
    [app, rs] = await Promise.all([
      createClient(db, ['--grant-type', 'password,refresh_token', '--scope', 'read']),
      createClient(db, ['--grant-type', 'client_credentials', '--scope', 'tessera:introspect']),
    ]);
    users.push(...(await Promise.all([0, 1, 2, 3].map((i) => createUser(db, `user${i}`)))));
    // Statements cut short after 2 s: a request never waits long on a database that is away.
    servers = await startInstances(db, 2, ['--enable-legacy', 'password', '--db-statement-timeout', '2000', '--db-pool-size', '4']);
  }, 60_000);
  afterEach((t) => {
    // A crashed instance says why on its stderr.
    if (t.task.result?.state === 'fail') for (const log of servers?.logs() ?? []) console.log(log.slice(-3000));
  });
  afterAll(async () => {
    await servers?.stop();
    await cluster?.destroy();
  });

  /**
   * Rotation chains, one per user, alternating between the instances until `stop()`: a 200 moves
   * the chain on; a 503 retries the same token (which may have been rotated: then it is reuse,
   * 400, and the chain starts again); every seventh step revokes the chain's refresh token.
   */
  function load(tally: Tally) {
    let running = true;
    const chain = async (user: User, w: number) => {
      let step = w;
      let current: string | undefined;
      while (running) {
        const at = servers.urls[step++ % servers.urls.length] as string;
        let res: Answer;
        if (current === undefined) {
          res = tally.see('password grant', await postForm(at, '/token', { grant_type: 'password', username: user.username, password: user.password, scope: 'read' }, app));
          if (res.status === 200) current = res.body.refresh_token;
        } else if (step % 7 === 0) {
          res = tally.see('revoke', await revoke(at, app, current));
          if (res.status === 200) {
            tally.revoked.push(current);
            current = undefined;
          }
        } else {
          res = tally.see('refresh', await refresh(at, app, current));
          if (res.status === 200) {
            tally.acknowledged.push(res.body.refresh_token, res.body.access_token);
            current = res.body.refresh_token;
          } else if (res.status === 400) {
            current = undefined;
          }
        }
        if (res.status === 503) await sleep(20);
      }
    };
    const chains = users.map(chain);
    return {
      async stop() {
        running = false;
        await Promise.all(chains);
      },
    };
  }

  /** Waits until a refresh chain moves on each instance again; the wait per instance. */
  async function recovered(tally: Tally): Promise<number[]> {
    const since = performance.now();
    return Promise.all(
      servers.urls.map(async (at) => {
        for (;;) {
          const res = tally.see('recovery', await postForm(at, '/token', { grant_type: 'password', username: users[0]!.username, password: users[0]!.password, scope: 'read' }, app));
          if (res.status === 200) {
            const next = tally.see('recovery refresh', await refresh(at, app, res.body.refresh_token));
            if (next.status === 200) return performance.now() - since;
          }
          expect(performance.now() - since, `${at} did not recover`).toBeLessThan(20_000);
          await sleep(50);
        }
      }),
    );
  }

  async function expectConsistent(tally: Tally) {
    expect(tally.wrong).toEqual([]);
    expect(await postgresViolations(db)).toEqual([]);
    // Acknowledged means committed: every token answered 200 is stored, every refresh token revoked with 200 is revoked.
    expect(await postgresTokens(db, tally.acknowledged, 'stored')).toEqual([]);
    expect(await postgresTokens(db, tally.revoked, 'revoked')).toEqual([]);
    expect(auditViolations(db)).toEqual([]);
    // The client cache, the feed listeners and the pool serve again: a token from A is known to B.
    const token = (await postForm(servers.urls[0] as string, '/token', { grant_type: 'password', username: users[1]!.username, password: users[1]!.password, scope: 'read' }, app)).body.refresh_token;
    expect((await introspect(servers.urls[1] as string, rs, token)).body.active).toBe(true);
  }

  it('a crash (pg_ctl -m immediate) and a clean restart (-m fast) of PostgreSQL under load: 503s, never a 500; the instances recover by themselves; nothing torn', async () => {
    const tally = new Tally();
    const running = load(tally);
    const waits: number[] = [];
    try {
      for (const mode of ['immediate', 'fast'] as const) {
        await sleep(1000);
        await cluster.stop(mode);
        await sleep(1500);
        await cluster.start();
        waits.push(...(await recovered(tally)));
      }
      await sleep(1000);
    } finally {
      await running.stop();
    }
    console.log(`PostgreSQL crash + clean restart under load: ${tally.summary}; back on each instance after ${waits.map((w) => `${Math.round(w)} ms`).join(', ')}`);
    expect(tally.counts.get('503') ?? 0).toBeGreaterThan(0);
    expect(tally.counts.get('200') ?? 0).toBeGreaterThan(0);
    await expectConsistent(tally);
  }, 60_000);

  it("connections cut (pg_terminate_backend of Tessera's backends, again and again) in the middle of rotations: 503s or successes only, nothing torn", async () => {
    const tally = new Tally();
    const admin = postgres(cluster.url('tessera'), { max: 1, onnotice: () => {}, connection: { application_name: 'test-admin' } });
    const running = load(tally);
    let cut = 0;
    try {
      const until = performance.now() + 4000;
      while (performance.now() < until) {
        const rows = await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'tessera' AND pid <> pg_backend_pid()`;
        cut += rows.length;
        await sleep(30 + Math.random() * 70);
      }
      await recovered(tally);
      await sleep(500);
    } finally {
      await running.stop();
      await admin.end({ timeout: 5 });
    }
    console.log(`pg_terminate_backend under load: ${cut} backends cut; ${tally.summary}`);
    expect(cut).toBeGreaterThan(0);
    expect(tally.counts.get('200') ?? 0).toBeGreaterThan(0);
    await expectConsistent(tally);
    // The CLI on the same database agrees.
    const verify = await runTessera(db, ['audit', 'verify']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  }, 60_000);
});
