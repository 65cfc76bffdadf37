/**
 * The revocation feed (readFeed, and the events revoke() appends): one event per revocation that
 * newly revokes an access token, in the same call, with a sequence number that only grows.
 */
import type { GrantRecord, RevocationTarget, Store, TokenRecord } from '@tessera/server';
import { describe, expect, it } from 'vitest';
import { HOUR, tokenRecord, } from '../fixtures.js';
import { audit, type StoreRef, storedGrant } from './context.js';

/**
 * A client, a user, their grant with an access token (1 h) and a refresh token (24 h) in one
 * family, issued a second before the revocations the tests make (a token issued at or after a user
 * or client revocation's time gets an event of its own).
 */
async function setup(store: Store, issuedAt = Date.now() - 1000) {
  const { client, user, grant } = await storedGrant(store);
  const family = 'family-1';
  const access = tokenRecord(grant, { familyId: family, issuedAt, expiresAt: issuedAt + HOUR });
  const refresh = tokenRecord(grant, { familyId: family, kind: 'refresh', issuedAt, expiresAt: issuedAt + 24 * HOUR });
  await store.issueTokens([access, refresh], []);
  return { client, user, grant, family, access, refresh };
}

type Setup = Awaited<ReturnType<typeof setup>>;

const targets: [string, (w: Setup) => RevocationTarget][] = [
  ['token', (w) => ({ token: w.access.id })],
  ['family', (w) => ({ family: w.family, grant: w.grant.id })],
  ['grant', (w) => ({ grant: w.grant.id })],
  ['user', (w) => ({ user: w.user.id })],
  ['client', (w) => ({ client: w.client.id })],
  ['issuedBefore', (w) => ({ issuedBefore: w.access.issuedAt + 1 })],
];

async function more(store: Store, grant: GrantRecord, n: number): Promise<TokenRecord[]> {
  const tokens = Array.from({ length: n }, () => tokenRecord(grant));
  await store.issueTokens(tokens, []);
  return tokens;
}

export function feed(ref: StoreRef): void {
  describe('revocation feed', () => {
    it.each(targets)('revoke by %s appends one event: the target as given (a family by its id alone), `at`, and until = the latest access-token expiry', async (_kind, target) => {
      const { store } = ref;
      const w = await setup(store);
      const at = Date.now();
      await store.revoke(target(w), at, [audit('token.revoked')]);
      // The refresh token (24 h) does not count: resource servers never see it.
      const given = target(w);
      const named = 'family' in given ? { family: given.family } : given;
      expect(await store.readFeed(0, 10)).toEqual([{ seq: expect.any(Number), at, target: named, until: w.access.expiresAt }]);
    });

    it.each(['user', 'client'] as const)('a %s revocation covers the tokens issued before its `at`; each access token it revokes issued at or after `at` gets a token event', async (kind) => {
      const { store } = ref;
      const w = await setup(store);
      const at = Date.now();
      // Issued on the grant while the revocation waited for the database (another instance): at
      // `at` itself (a guard calls a token issued in a whole second at `at` live) and after it.
      const late = [tokenRecord(w.grant, { issuedAt: at }), tokenRecord(w.grant, { issuedAt: at + 1500, expiresAt: at + 2 * HOUR })];
      const lateRefresh = tokenRecord(w.grant, { kind: 'refresh', issuedAt: at + 1500 });
      await store.issueTokens([...late, lateRefresh], []);
      await store.revoke(kind === 'user' ? { user: w.user.id } : { client: w.client.id }, at, [audit('token.revoked')]);
      for (const t of [...late, lateRefresh]) expect((await store.getToken(t.id))?.revokedAt).toBe(at);
      const events = await store.readFeed(0, 10);
      expect(events[0]).toEqual({ seq: expect.any(Number), at, target: { [kind]: kind === 'user' ? w.user.id : w.client.id }, until: at + 2 * HOUR });
      // Resource servers never see refresh tokens: the late access tokens only, in any order.
      expect(events.slice(1).map((e) => ({ at: e.at, target: e.target, until: e.until })).sort((a, b) => a.until - b.until))
        .toEqual(late.map((t) => ({ at, target: { token: t.id }, until: t.expiresAt })));
    });

    it('a revocation that newly revokes no access token appends no event', async () => {
      const { store } = ref;
      const w = await setup(store);
      await store.revoke({ token: w.refresh.id }, Date.now(), []);
      await store.revoke({ user: 'nobody' }, Date.now(), []);
      expect(await store.readFeed(0, 10)).toEqual([]);
      await store.revoke({ grant: w.grant.id }, Date.now(), []);
      await store.revoke({ grant: w.grant.id }, Date.now(), []);
      expect(await store.readFeed(0, 10)).toHaveLength(1);
    });

    it.each([
      ['deleteClient', 'client', (s: Store, w: Setup, at: number) => s.deleteClient(w.client.id, at, [])],
      ['deleteUser', 'user', (s: Store, w: Setup, at: number) => s.deleteUser(w.user.id, at, [])],
      ['setPassword', 'user', (s: Store, w: Setup, at: number) => s.setPassword(w.user.id, 'scrypt$new', at, [])],
    ] as const)('%s appends a %s event in the same call', async (_name, kind, act) => {
      const { store } = ref;
      const w = await setup(store);
      const at = Date.now();
      await act(store, w, at);
      const value = kind === 'client' ? w.client.id : w.user.id;
      expect(await store.readFeed(0, 10)).toEqual([{ seq: expect.any(Number), at, target: { [kind]: value }, until: w.access.expiresAt }]);
    });

    it('readFeed pages by cursor: events after `after`, oldest first, at most `limit`, seq strictly increasing', async () => {
      const { store } = ref;
      const w = await setup(store);
      const tokens = await more(store, w.grant, 5);
      for (const t of tokens) await store.revoke({ token: t.id }, Date.now(), []);
      const all = await store.readFeed(0, 100);
      expect(all.map((e) => (e.target as { token: string }).token)).toEqual(tokens.map((t) => t.id));
      for (let i = 1; i < all.length; i++) expect(all[i]!.seq).toBeGreaterThan(all[i - 1]!.seq);
      const page = await store.readFeed(all[1]!.seq, 2);
      expect(page).toEqual(all.slice(2, 4));
      expect(await store.readFeed(all.at(-1)!.seq, 100)).toEqual([]);
    });

    it('feedHead is the newest seq (0 for an empty feed), and stays put when events are swept', async () => {
      const { store } = ref;
      expect(await store.feedHead()).toBe(0);
      const now = Date.now();
      const w = await setup(store, now - 3 * HOUR);
      const tokens = await more(store, w.grant, 2);
      await store.revoke({ token: w.access.id }, now, []);
      for (const t of tokens) await store.revoke({ token: t.id }, now, []);
      const events = await store.readFeed(0, 10);
      expect(await store.feedHead()).toBe(events.at(-1)!.seq);
      await store.sweepExpired(now, 1000);
      expect(await store.readFeed(0, 10)).toEqual(events.slice(1));
      expect(await store.feedHead()).toBe(events.at(-1)!.seq);
    });

    it('sweepExpired deletes events past their until, and a later event never reuses a swept seq', async () => {
      const { store } = ref;
      const now = Date.now();
      const old = await setup(store, now - 3 * HOUR);
      await store.revoke({ grant: old.grant.id }, now, []);
      const [swept] = await store.readFeed(0, 10);
      expect(swept!.until).toBeLessThan(now);
      const live = await setup(store, now);
      await store.revoke({ token: live.access.id }, now, []);
      const [, kept] = await store.readFeed(0, 10);
      expect(await store.sweepExpired(now, 1000)).toBeGreaterThanOrEqual(1);
      expect(await store.readFeed(0, 10)).toEqual([kept]);
      // Sweep the newest event too, then revoke again: the new event must sort after both.
      await store.sweepExpired(now + 2 * HOUR, 1000);
      expect(await store.readFeed(0, 10)).toEqual([]);
      const next = await setup(store, now + 3 * HOUR);
      await store.revoke({ token: next.access.id }, now, []);
      const [after] = await store.readFeed(kept!.seq, 10);
      expect(after!.seq).toBeGreaterThan(kept!.seq);
    });
  });
}
