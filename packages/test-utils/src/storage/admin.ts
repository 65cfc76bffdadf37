/**
 * The admin API's store methods (issue 13): admin tokens, and the page queries with their order
 * and stability guarantees (types.ts TokenQuery, GrantQuery, AuditQuery, PrincipalQuery).
 */
import type { AdminTokenRecord, PrincipalQuery, Store, TokenRecord, UserRecord } from '@tessera/server';
import { describe, expect, it } from 'vitest';
import { clientRecord, grantRecord, HOUR, newHash, newId, tokenRecord, userRecord } from '../fixtures.js';
import { appends, audit, type StoreRef, storedGrant } from './context.js';

const adminToken = (over: Partial<AdminTokenRecord> = {}): AdminTokenRecord => ({
  id: newId(), name: `ops-${newId()}`, hash: newHash(), readOnly: false, createdAt: Date.now(), expiresAt: null, revokedAt: null, ...over,
});

/** Every page of `fetch`, `limit` at a time, calling `between` after each page. */
async function allPages<T extends { id: string }>(fetch: (afterId: string | undefined, limit: number) => Promise<T[]>, limit: number, between = async () => {}): Promise<T[][]> {
  const pages: T[][] = [];
  let after: string | undefined;
  for (;;) {
    const page = await fetch(after, limit);
    pages.push(page);
    if (page.length < limit) return pages;
    after = page.at(-1)?.id;
    await between();
  }
}

export function admin(ref: StoreRef): void {
  describe('admin tokens', () => {
    it('createAdminToken stores the token with its audit record; a taken name is a conflict that stores nothing', async () => {
      const { store } = ref;
      const token = adminToken({ readOnly: true, expiresAt: Date.now() + HOUR });
      expect(await appends(store, 1, () => store.createAdminToken(token, [audit('admin_token.created')]))).toBe('created');
      expect(await store.getAdminToken(token.id)).toEqual(token);
      expect(await appends(store, 0, () => store.createAdminToken(adminToken({ name: token.name }), [audit('admin_token.created')]))).toBe('conflict');
      expect((await store.listAdminTokens()).map((t) => t.id)).toEqual([token.id]);
      expect(await store.getAdminToken(newId())).toBeUndefined();
    });

    it('revokeAdminToken revokes once, audited; a revoked name stays taken', async () => {
      const { store } = ref;
      const token = adminToken();
      await store.createAdminToken(token, []);
      const at = Date.now();
      expect(await appends(store, 1, () => store.revokeAdminToken(token.id, at, [audit('admin_token.revoked')]))).toBe(true);
      expect(await appends(store, 0, () => store.revokeAdminToken(token.id, at + 1, [audit('admin_token.revoked')]))).toBe(false);
      expect(await store.getAdminToken(token.id)).toMatchObject({ revokedAt: at });
      expect(await store.createAdminToken(adminToken({ name: token.name }), [])).toBe('conflict');
    });
  });

  describe('page queries', () => {
    it('pageTokens pages by id: no row twice, none skipped, while tokens are inserted and revoked between pages', async () => {
      const { store } = ref;
      const { grant } = await storedGrant(store);
      const before = Array.from({ length: 23 }, () => tokenRecord(grant));
      await store.issueTokens(before, []);
      const pages = await allPages((afterId, limit) => store.pageTokens({ at: Date.now(), afterId, limit }), 5, async () => {
        await store.issueTokens([tokenRecord(grant)], []);
        await store.revoke({ token: before[0]?.id as string }, Date.now(), []);
      });
      const seen = pages.flat().map((t) => t.id);
      expect(new Set(seen).size).toBe(seen.length);
      for (const t of before) expect(seen).toContain(t.id);
      // The order is the store's id order: one query for everything lists them the same way.
      const whole = (await store.pageTokens({ at: Date.now(), limit: 1000 })).map((t) => t.id);
      expect(whole.filter((id) => seen.includes(id))).toEqual(seen);
    });

    it('pageTokens filters by user, client, grants, state (judged at `at`) and issue time', async () => {
      const { store } = ref;
      const { client, user, grant } = await storedGrant(store);
      const other = await storedGrant(store);
      const now = Date.now();
      const active = tokenRecord(grant, { issuedAt: now - 10 * HOUR, expiresAt: now + HOUR });
      const expired = tokenRecord(grant, { issuedAt: now - 5 * HOUR, expiresAt: now - HOUR });
      const rotated = tokenRecord(grant, { kind: 'refresh', consumedAt: now - HOUR });
      const revoked = tokenRecord(grant);
      const elsewhere = tokenRecord(other.grant);
      await store.issueTokens([active, expired, rotated, revoked, elsewhere], []);
      await store.revoke({ token: revoked.id }, now, []);
      const ids = async (q: Partial<Parameters<Store['pageTokens']>[0]>) => (await store.pageTokens({ at: now, limit: 100, ...q })).map((t: TokenRecord) => t.id).sort();
      expect(await ids({ userId: user.id })).toEqual([active.id, expired.id, rotated.id, revoked.id].sort());
      expect(await ids({ clientId: client.id })).toEqual([active.id, expired.id, rotated.id, revoked.id].sort());
      expect(await ids({ clientId: client.id, state: 'active' })).toEqual([active.id]);
      expect(await ids({ clientId: client.id, state: 'expired' })).toEqual([expired.id]);
      expect(await ids({ clientId: client.id, state: 'revoked' })).toEqual([revoked.id]);
      expect(await ids({ clientId: client.id, state: 'rotated' })).toEqual([rotated.id]);
      expect(await ids({ userId: user.id, issuedFrom: now - 6 * HOUR, issuedTo: now - 4 * HOUR })).toEqual([expired.id]);
      expect(await ids({ userId: newId() })).toEqual([]);
      expect(await ids({ grantIds: [grant.id] })).toEqual([active.id, expired.id, rotated.id, revoked.id].sort());
      expect(await ids({ grantIds: [grant.id, other.grant.id, newId()] })).toEqual([active.id, expired.id, rotated.id, revoked.id, elsewhere.id].sort());
      expect(await ids({ grantIds: [grant.id, other.grant.id], state: 'active' })).toEqual([active.id, elsewhere.id].sort());
      expect(await ids({ grantIds: [] })).toEqual([]);
    });

    it('pageGrants, pageClients and pageUsers page by id with their filters', async () => {
      const { store } = ref;
      const client = clientRecord();
      await store.createClient(client, audit('client.created'));
      const users = Array.from({ length: 7 }, () => userRecord());
      for (const u of users) await store.createUser(u, audit('user.created'));
      const grants = users.map((u) => grantRecord(client.id, u.id));
      for (const g of grants) await store.saveGrant(g, []);
      await store.revoke({ grant: grants[0]?.id as string }, Date.now(), []);
      const grantPages = await allPages((afterId, limit) => store.pageGrants({ clientId: client.id, afterId, limit }), 3);
      expect(grantPages.flat().map((g) => g.id).sort()).toEqual(grants.map((g) => g.id).sort());
      expect((await store.pageGrants({ clientId: client.id, state: 'revoked', limit: 10 })).map((g) => g.id)).toEqual([grants[0]?.id]);
      expect((await store.pageGrants({ userId: users[1]?.id, state: 'active', limit: 10 })).map((g) => g.id)).toEqual([grants[1]?.id]);
      const userPages = await allPages(async (afterId, limit) => (await store.pageUsers({ afterId, limit })).rows, 2);
      expect(userPages.flat().map((u) => u.id).sort()).toEqual(users.map((u) => u.id).sort());
      const clientPages = await allPages(async (afterId, limit) => (await store.pageClients({ afterId, limit })).rows, 1);
      expect(clientPages.flat().map((c) => c.id)).toContain(client.id);
    });

    it('queryAudit filters by event, actor, client, user and time, paging by seq', async () => {
      const { store } = ref;
      const clientId = newId();
      await store.appendAudit([audit('x.one', { clientId, actor: 'admin:a' }), audit('x.two', { clientId }), audit('x.one', { userId: clientId })]);
      const byClient = await store.queryAudit({ clientId, limit: 10 });
      expect(byClient.map((r) => r.event)).toEqual(['x.one', 'x.two']);
      expect((await store.queryAudit({ clientId, afterSeq: byClient[0]?.seq, limit: 10 })).map((r) => r.event)).toEqual(['x.two']);
      expect((await store.queryAudit({ event: 'x.one', actor: 'admin:a', limit: 10 })).map((r) => r.clientId)).toEqual([clientId]);
      expect((await store.queryAudit({ userId: clientId, limit: 10 })).map((r) => r.event)).toEqual(['x.one']);
      expect(await store.queryAudit({ clientId, from: Date.now() + HOUR, limit: 10 })).toEqual([]);
      expect((await store.queryAudit({ clientId, to: Date.now() + HOUR, limit: 1 })).length).toBe(1);
    });

    it('pageUsers and pageClients search with q: a substring of any searched column, ignoring ASCII case, % and _ literal', async () => {
      const { store } = ref;
      const tag = newId().slice(0, 8).toLowerCase();
      const named = (username: string, over: Partial<UserRecord> = {}) => userRecord({ username: `${tag}${username}`, ...over });
      const alice = named('Alice_Smith', { email: `alice@${tag}.example` });
      const percent = named('100%-bob');
      const other = named('aliceXsmith');
      for (const u of [alice, percent, other]) await store.createUser(u, audit('user.created'));
      const search = async (q: string, more: Partial<PrincipalQuery> = {}) => (await store.pageUsers({ q, limit: 10, ...more })).rows.map((u) => u.username).sort();
      expect(await search(`${tag}alice_`)).toEqual([alice.username]);
      expect(await search(`${tag.toUpperCase()}ALICE`)).toEqual([alice.username, other.username].sort());
      expect(await search(`0%-`)).toEqual([percent.username]);
      expect(await search(`${tag}%`)).toEqual([]);
      expect(await search(`@${tag}.EXAMPLE`)).toEqual([alice.username]);
      expect(await search(alice.id.slice(-10))).toEqual([alice.username]);
      // A bounded search: every row read, the matches among them, and where it stopped.
      const page = await store.pageUsers({ q: tag, scan: 1, limit: 10 });
      expect(page.rows.length).toBeLessThanOrEqual(1);
      expect(page.scannedTo).not.toBeNull();
      expect((await store.pageUsers({ q: tag, limit: 10 })).scannedTo).toBeNull();
      const client = clientRecord({ name: `Billing ${tag} [prod]` });
      await store.createClient(client, audit('client.created'));
      expect((await store.pageClients({ q: `BILLING ${tag}`, limit: 10 })).rows.map((c) => c.id)).toEqual([client.id]);
      expect((await store.pageClients({ q: client.id, limit: 10 })).rows.map((c) => c.id)).toEqual([client.id]);
      expect((await store.pageClients({ q: `${tag}_`, limit: 10 })).rows).toEqual([]);
    });

    it('countTokens counts by client; auditPerMinute counts records per minute', async () => {
      const { store } = ref;
      const { client, grant } = await storedGrant(store);
      const now = Date.now();
      await store.issueTokens([tokenRecord(grant), tokenRecord(grant), tokenRecord(grant, { expiresAt: now - 1 }), tokenRecord(grant, { kind: 'refresh', consumedAt: now })], []);
      const counts = await store.countTokens(now);
      expect(counts.byClient).toEqual([{ clientId: client.id, active: 2, total: 4 }]);
      const minute = Math.floor(Date.now() / 60_000) * 60_000;
      await store.appendAudit([audit('x'), audit('y')]);
      const perMinute = await store.auditPerMinute(minute);
      expect(perMinute.at(-1)?.minute).toBe(minute);
      expect(perMinute.reduce((n, m) => n + m.events, 0)).toBeGreaterThanOrEqual(2);
    });
  });
}
