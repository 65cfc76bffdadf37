/**
 * The contract's guarantees under concurrency (store/types.ts, Guarantees), raced across separate
 * connections to one database as several processes would race them: compare-and-set claims,
 * rotation against revocation, one live grant per pair, feed order equal to commit order, and
 * the audit chains. Each test fails on a store that checks before its transaction instead of in it.
 */
import { type FeedEvent, type GrantRecord, type Store, type TokenRecord, verifyChain } from '@tessera/server';
import { describe, expect, it } from 'vitest';
import { codeRecord, deviceCodeRecord, grantRecord, pushedRequestRecord, tokenRecord, userRecord } from '../fixtures.js';
import { audit, auditCount, connections, type StoreRef, storedClientAndUser, storedGrant } from './context.js';

/** Connections raced in each test, and attempts per connection. */
const CONNECTIONS = 4;
const PER_CONNECTION = 3;

/** Runs `attempt` PER_CONNECTION times on each store, all at once; results in store order. */
const race = <T>(stores: Store[], attempt: (store: Store, i: number) => Promise<T>): Promise<T[]> =>
  Promise.all(stores.flatMap((store, s) => Array.from({ length: PER_CONNECTION }, (_, k) => attempt(store, s * PER_CONNECTION + k))));

const count = <T>(results: T[], value: T): number => results.filter((r) => r === value).length;

export function concurrency(ref: StoreRef): void {
  describe('concurrency across connections', () => {
    it('the same code redeemed from every connection at once: exactly one claimed, the rest already-used, one set of tokens', async () => {
      const stores = await connections(ref, CONNECTIONS);
      const { grant } = await storedGrant(ref.store);
      const code = codeRecord(grant);
      await ref.store.createCode(code, [audit('code.issued')]);
      const attempts: TokenRecord[][] = [];
      const results = await race(stores, (store, i) => {
        const tokens = [tokenRecord(grant, { familyId: code.id }), tokenRecord(grant, { familyId: code.id, kind: 'refresh' })];
        attempts[i] = tokens;
        return store.redeemCode(code.id, Date.now(), tokens, [audit('code.redeemed')]);
      });
      expect(count(results, 'claimed')).toBe(1);
      expect(count(results, 'already-used')).toBe(results.length - 1);
      const stored = await stores.at(-1)!.listTokens({ clientId: grant.clientId });
      expect(stored.map((t) => t.id).sort()).toEqual(attempts[results.indexOf('claimed')]!.map((t) => t.id).sort());
    });

    it('the same pushed request consumed from every connection at once: exactly one true (RFC 9126 §4, one-time use)', async () => {
      const stores = await connections(ref, CONNECTIONS);
      const { client } = await storedClientAndUser(ref.store);
      const pushed = pushedRequestRecord(client.id);
      await ref.store.createPushedRequest(pushed, []);
      const results = await race(stores, (store) => store.consumePushedRequest(pushed.hash, Date.now()));
      expect(count(results, true)).toBe(1);
    });

    it('RFC 8628: an approved device code redeemed by pollers on every connection at once: exactly one claimed, one set of tokens', async () => {
      const stores = await connections(ref, CONNECTIONS);
      const { client, user, grant } = await storedGrant(ref.store);
      const code = deviceCodeRecord(client.id);
      await ref.store.createDeviceCode(code, []);
      await ref.store.decideDeviceCode(code.id, { approve: { userId: user.id, grant } }, Date.now(), []);
      const attempts: TokenRecord[][] = [];
      const results = await race(stores, (store, i) => {
        const tokens = [tokenRecord(grant, { familyId: code.id }), tokenRecord(grant, { familyId: code.id, kind: 'refresh' })];
        attempts[i] = tokens;
        return store.redeemDeviceCode(code.id, Date.now(), tokens, [audit('device.redeemed')]);
      });
      expect(count(results, 'claimed')).toBe(1);
      expect(count(results, 'already-used')).toBe(results.length - 1);
      const stored = await stores.at(-1)!.listTokens({ clientId: grant.clientId });
      expect(stored.map((t) => t.id).sort()).toEqual(attempts[results.indexOf('claimed')]!.map((t) => t.id).sort());
    });

    it('RFC 8628: one device code approved and denied from every connection at once is decided exactly once', async () => {
      const stores = await connections(ref, CONNECTIONS);
      const { client, user, grant } = await storedGrant(ref.store);
      const code = deviceCodeRecord(client.id);
      await ref.store.createDeviceCode(code, []);
      const before = await auditCount(ref.store);
      const results = await race(stores, (store, i) =>
        store.decideDeviceCode(code.id, i % 2 ? { deny: { userId: user.id } } : { approve: { userId: user.id, grant } }, Date.now(), [audit('device.decided')]));
      expect(count(results, 'decided')).toBe(1);
      expect(count(results, 'not-pending')).toBe(results.length - 1);
      expect((await auditCount(ref.store)) - before).toBe(1);
      const won = results.indexOf('decided');
      expect((await stores.at(-1)!.getDeviceCode(code.id))?.status).toBe(won % 2 ? 'denied' : 'approved');
    });

    it('RFC 8628: polls of one device code from every connection at once, each with the last poll it read: exactly one recorded', async () => {
      const stores = await connections(ref, CONNECTIONS);
      const { client } = await storedGrant(ref.store);
      const code = deviceCodeRecord(client.id);
      await ref.store.createDeviceCode(code, []);
      const results = await race(stores, (store, i) => store.recordDevicePoll(code.id, null, 1000 + i, 5));
      expect(count(results, true)).toBe(1);
      expect((await stores.at(-1)!.getDeviceCode(code.id))?.lastPolledAt).toBe(1000 + results.indexOf(true));
    });

    it('the same refresh token rotated from every connection at once (no grace): exactly one claimed, one successor', async () => {
      const stores = await connections(ref, CONNECTIONS);
      const { grant } = await storedGrant(ref.store);
      const old = tokenRecord(grant, { kind: 'refresh', familyId: 'family-1' });
      await ref.store.issueTokens([old], []);
      const results = await race(stores, (store) =>
        store.rotateRefresh(old.id, Date.now(), null, [tokenRecord(grant, { kind: 'refresh', familyId: 'family-1', parentId: old.id })], [audit('token.rotated')]));
      expect(count(results, 'claimed')).toBe(1);
      expect(count(results, 'already-used')).toBe(results.length - 1);
      expect((await stores.at(-1)!.listTokens({ clientId: grant.clientId })).filter((t) => t.parentId === old.id)).toHaveLength(1);
    });

    it('rotation racing revocation of its family or grant never leaves a live successor of the revoked family', async () => {
      const [a, b] = await connections(ref, 2);
      for (let round = 0; round < 20; round++) {
        const { grant } = await storedGrant(ref.store);
        const old = tokenRecord(grant, { kind: 'refresh', familyId: `family-${round}` });
        await ref.store.issueTokens([old], []);
        const next = tokenRecord(grant, { kind: 'refresh', familyId: old.familyId, parentId: old.id });
        const rotate = () => a!.rotateRefresh(old.id, Date.now(), null, [next], [audit('token.rotated')]);
        const target = round % 2 === 0 ? { family: old.familyId, grant: grant.id } : { grant: grant.id };
        const revoke = () => b!.revoke(target, Date.now(), [audit('token.revoked')]);
        // Either may reach the database first.
        const [rotated] = round % 4 < 2 ? await Promise.all([rotate(), revoke()]) : (await Promise.all([revoke(), rotate()])).reverse();
        expect(['claimed', 'already-used', 'grant-revoked']).toContain(rotated);
        const successor = await ref.store.getToken(next.id);
        if (rotated === 'claimed') expect(successor?.revokedAt).not.toBeNull();
        else expect(successor).toBeUndefined();
      }
    });

    it.each([
      ['a user', true],
      ['no user (client credentials)', false],
    ])('saveGrant of new grants for one pair (%s) from every connection at once: one saved, the rest conflict and store nothing', async (_pair, withUser) => {
      const stores = await connections(ref, CONNECTIONS);
      const { client, user } = await storedClientAndUser(ref.store);
      const grants: GrantRecord[] = [];
      const before = await auditCount(ref.store);
      const results = await race(stores, (store, i) => {
        grants[i] = grantRecord(client.id, withUser ? user.id : null);
        return store.saveGrant(grants[i]!, [audit('grant.created')]);
      });
      expect(count(results, 'saved')).toBe(1);
      expect(count(results, 'conflict')).toBe(results.length - 1);
      const winner = grants[results.indexOf('saved')]!;
      for (const store of stores) expect(await store.findGrant(client.id, withUser ? user.id : null)).toEqual(winner);
      for (const g of grants) if (g !== winner) expect(await ref.store.getGrant(g.id)).toBeUndefined();
      expect((await auditCount(ref.store)) - before).toBe(1);
    });

    it('RFC 8628: device codes of one pair approved from every connection at once, each with a new grant: one decided on one grant, the rest conflict and store nothing', async () => {
      const stores = await connections(ref, CONNECTIONS);
      const { client, user } = await storedClientAndUser(ref.store);
      const codes = Array.from({ length: CONNECTIONS * PER_CONNECTION }, () => deviceCodeRecord(client.id));
      for (const code of codes) await ref.store.createDeviceCode(code, []);
      const grants: GrantRecord[] = [];
      const before = await auditCount(ref.store);
      const results = await race(stores, (store, i) => {
        grants[i] = grantRecord(client.id, user.id);
        return store.decideDeviceCode(codes[i]!.id, { approve: { userId: user.id, grant: grants[i]! } }, Date.now(), [audit('grant.created'), audit('device.approved')]);
      });
      expect(count(results, 'decided')).toBe(1);
      expect(count(results, 'conflict')).toBe(results.length - 1);
      const won = results.indexOf('decided');
      expect(await ref.store.findGrant(client.id, user.id)).toEqual(grants[won]);
      for (const [i, code] of codes.entries()) {
        expect(await stores.at(-1)!.getDeviceCode(code.id)).toMatchObject(i === won ? { status: 'approved', grantId: grants[won]!.id } : { status: 'pending', grantId: null });
      }
      expect((await auditCount(ref.store)) - before).toBe(2);
    });

    it('issueTokens with a new grant for one pair from every connection at once: one issued, the rest conflict and store nothing', async () => {
      const stores = await connections(ref, CONNECTIONS);
      const { client } = await storedClientAndUser(ref.store);
      const tokens: TokenRecord[] = [];
      const before = await auditCount(ref.store);
      const results = await race(stores, (store, i) => {
        const grant = grantRecord(client.id, null);
        tokens[i] = tokenRecord(grant);
        return store.issueTokens([tokens[i]!], [audit('token.issued')], grant);
      });
      expect(count(results, 'issued')).toBe(1);
      expect(count(results, 'conflict')).toBe(results.length - 1);
      const winner = tokens[results.indexOf('issued')]!;
      expect(await ref.store.findGrant(client.id, null)).toMatchObject({ id: winner.grantId });
      expect((await ref.store.listTokens({ clientId: client.id })).map((t) => t.id)).toEqual([winner.id]);
      expect((await auditCount(ref.store)) - before).toBe(1);
    });

    it('a follower reading the feed with a cursor while several connections revoke collects every event: seq order is commit order', async () => {
      const stores = await connections(ref, CONNECTIONS);
      const follower = stores.at(-1)!;
      const writers = stores.slice(0, -1);
      const { client } = await storedClientAndUser(ref.store);
      const users = await Promise.all(Array.from({ length: 60 }, async () => {
        const user = userRecord();
        await ref.store.createUser(user, audit('user.created'));
        const grant = grantRecord(client.id, user.id);
        await ref.store.saveGrant(grant, []);
        await ref.store.issueTokens([tokenRecord(grant)], []);
        return grant;
      }));
      const collected: FeedEvent[] = [];
      let cursor = await follower.feedHead();
      const start = cursor;
      let writing = true;
      const follow = (async () => {
        for (;;) {
          const done = !writing;
          const page = await follower.readFeed(cursor, 7);
          collected.push(...page);
          cursor = page.at(-1)?.seq ?? cursor;
          if (page.length === 0) {
            if (done) return;
            await new Promise((resolve) => setImmediate(resolve));
          }
        }
      })();
      // Several rounds of revocations, each round's spread over the writers at once.
      for (let round = 0; round < 6; round++) {
        const batch = users.slice(round * 10, round * 10 + 10);
        await Promise.all(batch.map((grant, i) => writers[i % writers.length]!.revoke({ grant: grant.id }, Date.now(), [audit('token.revoked')])));
      }
      writing = false;
      await follow;
      expect(collected).toEqual(await follower.readFeed(start, 1000));
      expect(collected).toHaveLength(users.length);
    });

    it('audited writes from every connection at once leave every audit chain whole, with every record', async () => {
      const stores = await connections(ref, CONNECTIONS);
      const before = await auditCount(ref.store);
      await race(stores, (store, i) =>
        i % 2 === 0 ? store.appendAudit([audit('one'), audit('two')]) : store.createUser(userRecord(), audit('user.created')));
      const written = CONNECTIONS * PER_CONNECTION * 1.5;
      // Heads first: records appended after them are left for the next check (verifyChain).
      const heads = await stores.at(-1)!.auditHeads();
      expect(await verifyChain(await stores.at(-1)!.readAudit(0, 10_000), heads)).toEqual({ ok: true, records: before + written });
    });
  });
}
