/**
 * The revocation feed's seq order is commit order on PostgreSQL, where a sequence alone is not:
 * a transaction that took seq 10 may commit after another took 11 and committed, and a guard that
 * had read 11 would never see 10. Every append takes one advisory lock first (writes.ts), so a
 * later append waits for the earlier one's commit. These tests hold a feed append open on one
 * connection, as a slow revocation would, and revoke through the store on others.
 */
import { clientRecord, createTestDatabase, grantRecord, type TestDatabase, tokenRecord } from '@tessera/test-utils';
import postgres from 'postgres';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../types.js';
import { PostgresStore } from './postgres-store.js';
import { FEED_LOCK } from './writes.js';

let db: TestDatabase;
let store: PostgresStore;
let raw: postgres.Sql;
beforeAll(async () => {
  db = await createTestDatabase();
  raw = postgres(db.url, { max: 2, onnotice: () => {} });
});
afterAll(async () => {
  await raw?.end();
  await db?.drop();
});
beforeEach(async () => {
  await store?.close();
  await db.reset();
  store = await PostgresStore.open({ url: db.url, poolSize: 4 });
});

/** A live access token on a grant of its own: revoking the grant appends one feed event. */
async function liveGrant(s: Store): Promise<string> {
  const client = clientRecord();
  await s.createClient(client, { event: 'client.created', actor: 'test' });
  const grant = grantRecord(client.id, null);
  await s.issueTokens([tokenRecord(grant)], [], grant);
  return grant.id;
}

const settled = (p: Promise<unknown>) => Promise.race([p.then(() => true), new Promise((r) => setTimeout(() => r(false), 300))]);

describe('PostgreSQL feed: seq order is commit order', () => {
  it('a revocation that starts while an earlier feed append is uncommitted waits for its commit, and takes the next seq', async () => {
    const grant = await liveGrant(store);
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let heldSeq = 0;
    // An append in flight on another connection: it has its seq, and has not committed.
    const inFlight = raw.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${FEED_LOCK})`;
      const [row] = await tx`INSERT INTO revocation_feed (seq, at, kind, value, until)
        VALUES (nextval('revocation_feed_seq'), ${Date.now()}, 'token', 'held', ${Date.now() + 60_000}) RETURNING seq`;
      heldSeq = Number(row?.seq);
      await held;
    });
    await expect.poll(() => heldSeq).toBeGreaterThan(0);
    const revoking = store.revoke({ grant }, Date.now(), []);
    // Not committed before the earlier append: otherwise a reader could pass its seq.
    expect(await settled(revoking)).toBe(false);
    expect(await store.readFeed(0, 10)).toEqual([]);
    release();
    await inFlight;
    await revoking;
    const feed = await store.readFeed(0, 10);
    expect(feed.map((e) => e.seq)).toEqual([heldSeq, heldSeq + 1]);
    expect(feed[1]?.target).toEqual({ grant });
  });

  it('a follower tailing the feed from its cursor sees every event while revocations commit on four connections', async () => {
    const others = await Promise.all([1, 2, 3].map(() => PostgresStore.open({ url: db.url, poolSize: 2 })));
    const stores = [store, ...others];
    const grants = await Promise.all(Array.from({ length: 40 }, (_, i) => liveGrant(stores[i % 4] as Store)));
    const seen: number[] = [];
    let done = false;
    const follow = (async () => {
      let cursor = 0;
      while (!done || cursor < (await store.feedHead())) {
        for (const e of await store.readFeed(cursor, 100)) {
          seen.push(e.seq);
          cursor = e.seq;
        }
      }
    })();
    await Promise.all(grants.map((grant, i) => (stores[i % 4] as Store).revoke({ grant }, Date.now(), [])));
    done = true;
    await follow;
    await Promise.all(others.map((s) => s.close()));
    const all = (await store.readFeed(0, 1000)).map((e) => e.seq);
    expect(all).toHaveLength(40);
    expect(seen).toEqual(all);
  });
});
