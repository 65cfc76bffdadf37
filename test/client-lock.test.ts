/**
 * One refresh at a time across processes (issue 12): processes sharing a FileTokenStore (its file
 * lock, taken by default) or a RedisTokenStore (its Redis lock) and one rotating refresh token
 * refresh it once, and the others use what it stored; the locks survive a crashed holder, never
 * remove another holder's lock, and wait without spinning. Each process is a real Node process
 * running the built package against a real Tessera and the Redis at 127.0.0.1:6379.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenLockError, TokenStoreError } from '@tessera/client';
import { FileLock, FileTokenStore } from '@tessera/client/file-store';
import { RedisTokenLock, RedisTokenStore } from '@tessera/client/redis';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { nodeChild } from './client/children.js';
import { rotations, sessionFor, signIn } from './client/tessera.js';
import { useServer } from './flows.js';

const h = useServer();
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-client-lock-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const REDIS_URL = 'redis://127.0.0.1:6379';
let redis: ReturnType<typeof createClient>;
/** A key prefix of this run's own, so that runs never meet. */
const prefix = `tessera-test:${process.pid}:${Date.now()}:`;
beforeAll(async () => {
  redis = createClient({ url: REDIS_URL });
  redis.on('error', () => {});
  await redis.connect().catch((err: Error) => {
    throw new Error(`Redis must answer at ${REDIS_URL} (DEVELOPERS.md; .ci/run starts it): ${err.message}`);
  });
});
afterAll(async () => {
  const keys = await redis?.keys(`${prefix}*`);
  if (keys?.length) await redis.del(keys);
  await redis?.close();
});

/** A child process with a session on a shared store; on a line from the parent, it asks for an access token and prints what it got. */
const sessionChild = (store: 'file' | 'redis') => `
import { createInterface } from 'node:readline';
import { OAuth2Session, clientSecretBasic } from '@tessera/client';
const e = process.env;
let store, quit = async () => {};
if (${JSON.stringify(store)} === 'file') {
  const { FileTokenStore } = await import('@tessera/client/file-store');
  store = new FileTokenStore(e.STORE);
} else {
  const { RedisTokenStore } = await import('@tessera/client/redis');
  const { createClient } = await import('redis');
  const redis = await createClient({ url: e.REDIS_URL }).connect();
  store = new RedisTokenStore(redis, { prefix: e.PREFIX });
  quit = () => redis.close();
}
// No lock option: the store's own lock is the one taken.
const session = new OAuth2Session({ issuer: e.ISSUER, clientId: e.CLIENT_ID, clientAuth: clientSecretBasic(e.CLIENT_SECRET), store, storeKey: 'alice' });
console.log('ready');
for await (const _ of createInterface({ input: process.stdin })) break;
try {
  console.log('result ' + JSON.stringify({ access: await session.accessToken() }));
} catch (err) {
  console.log('result ' + JSON.stringify({ error: err.code, oauth: err.error }));
}
await quit();
process.exit(0);
`;

/** Starts `n` processes on one store holding an expired token, releases them at once, and collects what each got. */
async function raceProcesses(n: number, store: 'file' | 'redis', env: Record<string, string>) {
  const children = Array.from({ length: n }, () => nodeChild(sessionChild(store), env));
  await Promise.all(children.map((c) => c.line(/^ready$/)));
  for (const c of children) c.send('go');
  const results = await Promise.all(children.map(async (c) => JSON.parse((await c.line(/^result /)).slice(7)) as { access?: string; error?: string }));
  await Promise.all(children.map((c) => c.exited));
  return results;
}

describe('one refresh at a time across processes', () => {
  it('8 processes sharing a FileTokenStore (no lock option: the store lock is the default) and an expired rotating token: one refresh, all 8 use its token, no invalid_grant', async () => {
    const c = await h.codeClient();
    const path = join(dir, 'tokens.json');
    const store = new FileTokenStore(path);
    const token = await signIn(h, sessionFor(h, c, { store, storeKey: 'alice' }));
    await store.set('alice', { ...token, expires_at: Math.floor(Date.now() / 1000) - 60 });

    const results = await raceProcesses(8, 'file', { ISSUER: h.server.url, CLIENT_ID: c.id, CLIENT_SECRET: c.secret as string, STORE: path });
    expect(results.filter((r) => r.error !== undefined)).toEqual([]);
    expect(await rotations(h, c)).toBe(1);
    const stored = await store.get('alice');
    expect(new Set(results.map((r) => r.access))).toEqual(new Set([stored?.access_token]));
    expect(stored?.refresh_token).not.toBe(token.refresh_token);
    // The locks are gone with their holders; only the store is left.
    expect(readdirSync(dir)).toEqual(['tokens.json']);
  });

  it('8 processes sharing a RedisTokenStore (its Redis lock by default) and an expired rotating token: one refresh, all 8 use its token, no invalid_grant', async () => {
    const c = await h.codeClient();
    const { RedisTokenStore } = await import('@tessera/client/redis');
    const store = new RedisTokenStore(redis, { prefix });
    const token = await signIn(h, sessionFor(h, c, { store, storeKey: 'alice' }));
    await store.set('alice', { ...token, expires_at: Math.floor(Date.now() / 1000) - 60 });

    const results = await raceProcesses(8, 'redis', { ISSUER: h.server.url, CLIENT_ID: c.id, CLIENT_SECRET: c.secret as string, REDIS_URL, PREFIX: prefix });
    expect(results.filter((r) => r.error !== undefined)).toEqual([]);
    expect(await rotations(h, c)).toBe(1);
    expect(new Set(results.map((r) => r.access))).toEqual(new Set([(await store.get('alice'))?.access_token]));
  });

  it('processes writing different keys to one FileTokenStore never lose each other’s writes (the write lock)', async () => {
    const path = join(dir, 'tokens.json');
    const code = `
      import { FileTokenStore } from '@tessera/client/file-store';
      const store = new FileTokenStore(process.env.STORE);
      await Promise.all(Array.from({ length: 25 }, (_, i) => store.set(process.env.WHO + '-' + i, { access_token: 'a', token_type: 'Bearer' })));
    `;
    const children = ['p0', 'p1', 'p2', 'p3'].map((who) => nodeChild(code, { STORE: path, WHO: who }));
    for (const r of await Promise.all(children.map((c) => c.exited))) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(Object.keys(JSON.parse(readFileSync(path, 'utf8')))).toHaveLength(100);
  });
});

describe('the file lock', () => {
  /** A child that takes the file lock and holds it until killed. */
  const holder = (path: string, stale = 600_000) =>
    nodeChild(`
      import { FileLock } from '@tessera/client/file-store';
      await new FileLock({ stale: ${stale} }).withLock(${JSON.stringify(path)}, async () => {
        console.log('held');
        await new Promise(() => setInterval(() => {}, 1000));
      });
    `);

  it('a holder that crashed (SIGKILL) does not block the next one: its pid is dead, so its lock is stale at once, whatever the age rule', async () => {
    const path = join(dir, 'x.lock');
    const child = holder(path);
    await child.line(/^held$/);
    child.process.kill('SIGKILL');
    await child.exited;
    // The age rule alone would wait 10 minutes; the wait allowed is 10 s: only the pid rule can pass.
    const got = await new FileLock({ stale: 600_000, timeout: 10_000 }).withLock(path, async () => 'mine');
    expect(got).toBe('mine');
  });

  it('a live holder keeps its lock: the next one waits, and gets TokenLockError when its wait runs out', async () => {
    const path = join(dir, 'x.lock');
    const child = holder(path);
    await child.line(/^held$/);
    try {
      await expect(new FileLock({ timeout: 300 }).withLock(path, async () => 'mine')).rejects.toBeInstanceOf(TokenLockError);
    } finally {
      child.process.kill('SIGKILL');
      await child.exited;
    }
  });

  it('a lock file from another host is stale once untouched for longer than `stale`, and only then', async () => {
    const path = join(dir, 'x.lock');
    writeFileSync(path, JSON.stringify({ pid: 1, host: 'another-host', ns: 'pid:[1]', nonce: 'theirs' }));
    await expect(new FileLock({ stale: 60_000, timeout: 300 }).withLock(path, async () => 'mine')).rejects.toMatchObject({ code: 'ERR_TOKEN_LOCK' });
    const old = new Date(Date.now() - 120_000);
    utimesSync(path, old, old);
    expect(await new FileLock({ stale: 60_000, timeout: 5_000 }).withLock(path, async () => 'mine')).toBe('mine');
  });

  it('release removes only its own lock file: a lock taken over meanwhile stays with its new holder', async () => {
    const path = join(dir, 'x.lock');
    const theirs = JSON.stringify({ pid: process.pid, host: 'another-host', nonce: 'theirs' });
    await new FileLock().withLock(path, async () => {
      // Someone broke this lock and took it (as after an event loop stalled past `stale`).
      rmSync(path);
      writeFileSync(path, theirs);
    });
    expect(readFileSync(path, 'utf8')).toBe(theirs);
  });

  it('waiting is not a busy spin: a process waiting 2 s for a held lock uses little CPU', async () => {
    const path = join(dir, 'x.lock');
    const child = holder(path);
    await child.line(/^held$/);
    try {
      const waiter = nodeChild(`
        import { FileLock } from '@tessera/client/file-store';
        const before = process.cpuUsage();
        await new FileLock({ timeout: 2000 }).withLock(${JSON.stringify(path)}, async () => {}).catch(() => {});
        const used = process.cpuUsage(before);
        console.log('cpu ' + (used.user + used.system) / 1000);
      `);
      const ms = Number((await waiter.line(/^cpu /)).slice(4));
      // A spin would burn the whole 2,000 ms; polling and fs.watch take a few.
      expect(ms).toBeLessThan(400);
    } finally {
      child.process.kill('SIGKILL');
      await child.exited;
    }
  });
});

describe('the Redis lock (SET NX PX, released by a compare-and-delete script)', () => {
  it('a holder that died releases nothing, and its lock expires after ttl: the next holder gets it', async () => {
    const child = nodeChild(`
      import { createClient } from 'redis';
      import { RedisTokenLock } from '@tessera/client/redis';
      const redis = await createClient({ url: ${JSON.stringify(REDIS_URL)} }).connect();
      await new RedisTokenLock(redis, { prefix: ${JSON.stringify(prefix)}, ttl: 1000 }).withLock('dead', async () => {
        console.log('held');
        await new Promise(() => {});
      });
    `);
    await child.line(/^held$/);
    child.process.kill('SIGKILL');
    await child.exited;
    expect(await redis.get(`${prefix}dead`)).not.toBeNull();
    expect(await new RedisTokenLock(redis, { prefix, timeout: 10_000 }).withLock('dead', async () => 'mine')).toBe('mine');
    expect(await redis.get(`${prefix}dead`)).toBeNull();
  });

  it('release deletes the key only while it holds the holder’s own value: a lock that expired and was taken by another stays taken', async () => {
    const lock = new RedisTokenLock(redis, { prefix });
    const other = new RedisTokenLock(redis, { prefix });
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    let othersHold: Promise<void> | undefined;
    let during: string | null = null;
    await lock.withLock('shared', async () => {
      await redis.del(`${prefix}shared`); // as if its ttl ran out
      await new Promise<void>((took) => {
        othersHold = other.withLock('shared', async () => {
          took();
          await released;
        });
      });
      during = await redis.get(`${prefix}shared`);
    });
    // The first holder has released: the other's lock is still there, with the other's value.
    expect(during).not.toBeNull();
    expect(await redis.get(`${prefix}shared`)).toBe(during);
    release();
    await othersHold;
    expect(await redis.get(`${prefix}shared`)).toBeNull();
  });

  it('a held lock makes the next taker wait until TokenLockError', async () => {
    const lock = new RedisTokenLock(redis, { prefix, timeout: 300 });
    await lock.withLock('busy', async () => {
      await expect(new RedisTokenLock(redis, { prefix, timeout: 300 }).withLock('busy', async () => 'mine')).rejects.toBeInstanceOf(TokenLockError);
    });
  });
});

describe('a stored value that is not a token set', () => {
  it('is a TokenStoreError naming the Redis key, quoting nothing of the value (a JSON parser would quote the token)', async () => {
    const token = 'tsr_0192f3e1c4a87b6d.Xq3vJk9LmN2pR5sT8wY1zA4bC7dE0fG3hI6jK9lM2n';
    await redis.set(`${prefix}broken`, `{"refresh_token":${token}"}`);
    const err = (await new RedisTokenStore(redis, { prefix }).get('broken').catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(TokenStoreError);
    expect(err.message).toContain(`${prefix}broken`);
    expect(`${err.message} ${err.stack} ${String(err.cause)}`).not.toContain(token.slice(0, 6));
  });
});
