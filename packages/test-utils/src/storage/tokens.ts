/** Tokens: issueTokens, lookups, listTokens filters, and the rotateRefresh compare-and-set. */
import type { GrantRecord, Store, TokenRecord } from '@tessera/server';
import { describe, expect, it } from 'vitest';
import { clientRecord, codeRecord, grantRecord, HOUR, newHash, newId, tokenRecord, } from '../fixtures.js';
import { appends, audit, rejectsAndAppendsNothing, type StoreRef, storedGrant } from './context.js';

async function grantFor(store: Store): Promise<GrantRecord> {
  return (await storedGrant(store)).grant;
}

const ids = (tokens: TokenRecord[]) => tokens.map((t) => t.id).sort();

export function tokens(ref: StoreRef): void {
  describe('issueTokens and lookups', () => {
    it('issueTokens stores the tokens, the grant and the audit records together', async () => {
      const { store } = ref;
      const client = clientRecord();
      await store.createClient(client, audit('client.created'));
      const grant = grantRecord(client.id, null);
      const access = tokenRecord(grant, { format: 'jwt', scope: 'read', dpopJkt: newHash() });
      const refresh = tokenRecord(grant, { kind: 'refresh', familyId: access.familyId, parentId: newId() });
      await appends(store, 2, () => store.issueTokens([access, refresh], [audit('token.issued'), audit('token.issued')], grant));
      expect(await store.getGrant(grant.id)).toEqual(grant);
      expect(await store.getToken(access.id)).toEqual(access);
      expect(await store.getToken(refresh.id)).toEqual(refresh);
      expect(await store.getToken(newId())).toBeUndefined();
    });

    it('lookups asked for at once (repeated, unknown, of tokens, grants and users) each answer their own record, with every write that returned before them', async () => {
      const { store } = ref;
      const { grant, user } = await storedGrant(store);
      const other = await storedGrant(store);
      const tokens = Array.from({ length: 20 }, (_, i) => tokenRecord(i % 2 ? grant : other.grant));
      await store.issueTokens(tokens, tokens.map(() => audit('token.issued')));
      const unknown = newId();
      const asked = [...tokens, ...tokens.slice(0, 5)].map((t) => t.id).concat(unknown);
      const [found, grants, users] = await Promise.all([
        Promise.all(asked.map((id) => store.getToken(id))),
        Promise.all([grant.id, other.grant.id, grant.id, unknown].map((id) => store.getGrant(id))),
        Promise.all([user.id, other.user.id, user.id, unknown].map((id) => store.getUser(id))),
      ]);
      expect(found).toEqual([...tokens, ...tokens.slice(0, 5), undefined]);
      expect(grants).toEqual([grant, other.grant, grant, undefined]);
      expect(users).toEqual([user, other.user, user, undefined]);
      // The same id asked twice: two records, so that one caller's change is not the other's.
      expect(found[0]).not.toBe(found[20]);
      expect(grants[0]).not.toBe(grants[2]);
    });

    it('issueTokens is atomic: a token that cannot be stored leaves no token, grant or audit record', async () => {
      const { store } = ref;
      const existingGrant = await grantFor(store);
      const existing = tokenRecord(existingGrant);
      await store.issueTokens([existing], [audit('token.issued')]);
      const grant = grantRecord(existingGrant.clientId, null);
      const fresh = tokenRecord(grant);
      const clash = tokenRecord(grant, { id: existing.id });
      await rejectsAndAppendsNothing(store, () => store.issueTokens([fresh, clash], [audit('token.issued'), audit('token.issued')], grant));
      expect(await store.getToken(fresh.id)).toBeUndefined();
      expect(await store.getGrant(grant.id)).toBeUndefined();
      expect(await store.getToken(existing.id)).toEqual(existing);
    });

    it('a grant whose client or user was deleted after the caller read them gets no new tokens: issueTokens answers grant-revoked and writes nothing', async () => {
      const { store } = ref;
      const { client } = await storedGrant(store);
      const other = await storedGrant(store);
      // The deletions commit between the caller's reads and its write.
      await store.deleteClient(client.id, Date.now(), [audit('client.deleted')]);
      await store.deleteUser(other.user.id, Date.now(), [audit('user.deleted')]);
      const before = await store.auditHeads();
      const ofDeletedClient = grantRecord(client.id, null);
      const ofDeletedUser = grantRecord(other.client.id, other.user.id);
      const [a, b] = [tokenRecord(ofDeletedClient), tokenRecord(ofDeletedUser)];
      expect(await store.issueTokens([a], [audit('token.issued')], ofDeletedClient)).toBe('grant-revoked');
      expect(await store.issueTokens([b], [audit('token.issued')], ofDeletedUser)).toBe('grant-revoked');
      for (const t of [a, b]) expect(await store.getToken(t.id)).toBeUndefined();
      for (const g of [ofDeletedClient, ofDeletedUser]) expect(await store.getGrant(g.id)).toBeUndefined();
      expect(await store.auditHeads()).toEqual(before);
    });

    it('a grant revoked after the caller checked it gets no new tokens: issueTokens, redeemCode and rotateRefresh answer grant-revoked and write nothing', async () => {
      const { store } = ref;
      const grant = await grantFor(store);
      const refresh = tokenRecord(grant, { kind: 'refresh' });
      await store.issueTokens([refresh], [audit('token.issued')]);
      const code = codeRecord(grant);
      await store.createCode(code, []);
      // The revocation commits between the caller's check of the grant and its write.
      await store.revoke({ grant: grant.id }, Date.now(), [audit('token.revoked')]);
      const before = await store.auditHeads();
      const [a, b, c] = [tokenRecord(grant), tokenRecord(grant), tokenRecord(grant)];
      expect(await store.issueTokens([a], [audit('token.issued')])).toBe('grant-revoked');
      // The grant given with the tokens (a password exchange widening it) is not widened either.
      expect(await store.issueTokens([a], [audit('token.issued')], { ...grant, scope: `${grant.scope} admin` })).toBe('grant-revoked');
      expect((await store.getGrant(grant.id))?.scope).toBe(grant.scope);
      expect(await store.redeemCode(code.id, Date.now(), [b], [audit('code.redeemed')])).toBe('grant-revoked');
      expect(await store.rotateRefresh(refresh.id, Date.now(), null, [c], [audit('token.rotated')])).toBe('grant-revoked');
      for (const t of [a, b, c]) expect(await store.getToken(t.id)).toBeUndefined();
      expect((await store.getToken(refresh.id))?.consumedAt).toBeNull();
      expect(await store.auditHeads()).toEqual(before);
    });

    it('token ids are unique (a token is found by the id its value carries)', async () => {
      const { store } = ref;
      const grant = await grantFor(store);
      const t = tokenRecord(grant);
      await store.issueTokens([t], []);
      await expect(store.issueTokens([tokenRecord(grant, { id: t.id })], [])).rejects.toThrow();
      expect(await store.getToken(t.id)).toEqual(t);
    });
  });

  describe('listTokens', () => {
    async function population(store: Store) {
      const now = Date.now();
      const g1 = await grantFor(store);
      const g2 = await grantFor(store);
      const live = tokenRecord(g1, { issuedAt: now - 10 });
      const revoked = tokenRecord(g1, { issuedAt: now - 9, revokedAt: now - 5 });
      const consumed = tokenRecord(g1, { kind: 'refresh', issuedAt: now - 8, consumedAt: now - 5 });
      const expired = tokenRecord(g1, { issuedAt: now - 2 * HOUR, expiresAt: now - HOUR });
      const other = tokenRecord(g2, { issuedAt: now - 7 });
      await store.issueTokens([live, revoked, consumed, expired, other], []);
      return { now, g1, g2, live, revoked, consumed, expired, other };
    }

    it('filters by user and by client', async () => {
      const { store } = ref;
      const p = await population(store);
      const mine = ids([p.live, p.revoked, p.consumed, p.expired]);
      expect(ids(await store.listTokens({ userId: p.g1.userId as string }))).toEqual(mine);
      expect(ids(await store.listTokens({ clientId: p.g1.clientId }))).toEqual(mine);
      expect(ids(await store.listTokens({ clientId: p.g2.clientId }))).toEqual([p.other.id]);
      expect(ids(await store.listTokens({ userId: p.g1.userId as string, clientId: p.g2.clientId }))).toEqual([]);
      expect(ids(await store.listTokens({}))).toEqual(ids([p.live, p.revoked, p.consumed, p.expired, p.other]));
    });

    it('activeAt keeps only tokens neither revoked, consumed nor expired at that instant', async () => {
      const { store } = ref;
      const p = await population(store);
      expect(ids(await store.listTokens({ activeAt: p.now }))).toEqual(ids([p.live, p.other]));
      expect(ids(await store.listTokens({ clientId: p.g1.clientId, activeAt: p.now }))).toEqual([p.live.id]);
      // Before the expiry and the revocation, both were active.
      expect(ids(await store.listTokens({ clientId: p.g1.clientId, activeAt: p.now - 2 * HOUR + 1 }))).toContain(p.expired.id);
    });

    it('limit caps the number of tokens returned', async () => {
      const { store } = ref;
      const p = await population(store);
      expect(await store.listTokens({ limit: 2 })).toHaveLength(2);
      expect(await store.listTokens({ clientId: p.g1.clientId, limit: 3 })).toHaveLength(3);
    });

    it('after continues the listing past a token, in (issuedAt, id) order, so pages neither skip nor repeat', async () => {
      const { store } = ref;
      const p = await population(store);
      const all = await store.listTokens({});
      const pages: string[] = [];
      let after: { issuedAt: number; id: string } | undefined;
      for (;;) {
        const page = await store.listTokens({ limit: 2, ...(after ? { after } : {}) });
        pages.push(...page.map((t) => t.id));
        const last = page.at(-1);
        if (!last || page.length < 2) break;
        after = { issuedAt: last.issuedAt, id: last.id };
      }
      expect(pages).toEqual(all.map((t) => t.id));
      const twins = [p.g1, p.g1].map((g) => tokenRecord(g, { issuedAt: p.now - 1 }));
      await store.issueTokens(twins, []);
      const [first] = [...twins].sort((a, b) => (a.id < b.id ? -1 : 1));
      const rest = await store.listTokens({ clientId: p.g1.clientId, after: { issuedAt: p.now - 1, id: first?.id as string } });
      expect(rest.map((t) => t.id)).toEqual(twins.map((t) => t.id).filter((id) => id !== first?.id));
    });
  });

  describe('rotateRefresh', () => {
    async function chain(store: Store) {
      const grant = await grantFor(store);
      const old = tokenRecord(grant, { kind: 'refresh' });
      await store.issueTokens([old], []);
      const successors = () => [
        tokenRecord(grant, { familyId: old.familyId, parentId: old.id }),
        tokenRecord(grant, { kind: 'refresh', familyId: old.familyId, parentId: old.id }),
      ];
      return { grant, old, successors };
    }

    it('claims an unconsumed refresh token: consumed at `at`, successors and audit stored', async () => {
      const { store } = ref;
      const { old, successors } = await chain(store);
      const next = successors();
      const at = Date.now();
      const result = await appends(store, 3, () => store.rotateRefresh(old.id, at, null, next, [audit('token.rotated'), audit('token.issued'), audit('token.issued')]));
      expect(result).toBe('claimed');
      expect(await store.getToken(old.id)).toEqual({ ...old, consumedAt: at });
      for (const t of next) expect(await store.getToken(t.id)).toEqual(t);
    });

    it('rotations asked at once each answer for themselves, as one by one: claimed, already-used, grant-revoked, and a successor id already taken fails alone', async () => {
      const { store } = ref;
      const [a, b, used, revoked, clashing] = [await chain(store), await chain(store), await chain(store), await chain(store), await chain(store)];
      await store.rotateRefresh(used.old.id, Date.now(), null, used.successors(), []);
      await store.revoke({ grant: revoked.grant.id }, Date.now(), []);
      const at = Date.now();
      const next = { a: a.successors(), b: b.successors(), used: used.successors(), revoked: revoked.successors() };
      const taken = tokenRecord(clashing.grant, { kind: 'refresh', familyId: clashing.old.familyId, id: a.old.id });
      const results = await Promise.allSettled([
        store.rotateRefresh(a.old.id, at, null, next.a, [audit('token.rotated')]),
        store.rotateRefresh(clashing.old.id, at, null, [taken], [audit('token.rotated')]),
        store.rotateRefresh(b.old.id, at, null, next.b, [audit('token.rotated')]),
        store.rotateRefresh(used.old.id, at, null, next.used, [audit('token.rotated')]),
        store.rotateRefresh(revoked.old.id, at, null, next.revoked, [audit('token.rotated')]),
      ]);
      expect(results.map((r) => (r.status === 'fulfilled' ? r.value : 'rejected'))).toEqual(['claimed', 'rejected', 'claimed', 'already-used', 'grant-revoked']);
      for (const t of [...next.a, ...next.b]) expect(await store.getToken(t.id)).toEqual(t);
      for (const t of [...next.used, ...next.revoked]) expect(await store.getToken(t.id)).toBeUndefined();
      expect((await store.getToken(clashing.old.id))?.consumedAt).toBeNull();
      expect((await store.getToken(a.old.id))?.consumedAt).toBe(at);
    });

    it("a refresh token's authTime (the sign-in it descends from) is stored as given by redeemCode and rotateRefresh, and null stays null", async () => {
      const { store } = ref;
      const grant = await grantFor(store);
      const code = codeRecord(grant);
      await store.createCode(code, []);
      const first = tokenRecord(grant, { kind: 'refresh', familyId: code.id, authTime: code.authTime });
      expect(await store.redeemCode(code.id, Date.now(), [tokenRecord(grant, { familyId: code.id }), first], [])).toBe('claimed');
      expect(await store.getToken(first.id)).toEqual(first);
      const next = tokenRecord(grant, { kind: 'refresh', familyId: code.id, parentId: first.id, authTime: first.authTime });
      expect(await store.rotateRefresh(first.id, Date.now(), null, [next], [])).toBe('claimed');
      expect((await store.getToken(next.id))?.authTime).toBe(code.authTime);
      const none = tokenRecord(grant, { kind: 'refresh' });
      await store.issueTokens([none], []);
      expect((await store.getToken(none.id))?.authTime).toBeNull();
    });

    it('a consumed token is already-used and stores nothing (no grace window)', async () => {
      const { store } = ref;
      const { old, successors } = await chain(store);
      const at = Date.now();
      await store.rotateRefresh(old.id, at, null, successors(), [audit('token.rotated')]);
      const again = successors();
      expect(await appends(store, 0, () => store.rotateRefresh(old.id, at + 1, null, again, [audit('token.rotated')]))).toBe('already-used');
      for (const t of again) expect(await store.getToken(t.id)).toBeUndefined();
      expect((await store.getToken(old.id))?.consumedAt).toBe(at);
    });

    it('a revoked token is already-used and stores nothing', async () => {
      const { store } = ref;
      const { old, successors } = await chain(store);
      await store.revoke({ token: old.id }, Date.now(), []);
      const next = successors();
      expect(await appends(store, 0, () => store.rotateRefresh(old.id, Date.now(), null, next, [audit('token.rotated')]))).toBe('already-used');
      expect(await store.getToken(next[0]!.id)).toBeUndefined();
      expect((await store.getToken(old.id))?.consumedAt).toBeNull();
    });

    it('graceSince: a token consumed at or after graceSince may be rotated again; consumedAt keeps the first use', async () => {
      const { store } = ref;
      const { old, successors } = await chain(store);
      const first = Date.now();
      await store.rotateRefresh(old.id, first, null, successors(), [audit('token.rotated')]);
      const retry = successors();
      expect(await store.rotateRefresh(old.id, first + 10, first, retry, [audit('token.rotated_in_grace')])).toBe('claimed');
      for (const t of retry) expect(await store.getToken(t.id)).toEqual(t);
      expect((await store.getToken(old.id))?.consumedAt).toBe(first);
    });

    it('graceSince: a token consumed before graceSince is already-used', async () => {
      const { store } = ref;
      const { old, successors } = await chain(store);
      const first = Date.now();
      await store.rotateRefresh(old.id, first, null, successors(), [audit('token.rotated')]);
      const late = successors();
      expect(await appends(store, 0, () => store.rotateRefresh(old.id, first + 60_000, first + 1, late, [audit('token.rotated')]))).toBe('already-used');
      expect(await store.getToken(late[0]!.id)).toBeUndefined();
    });

    it('graceSince does not resurrect a revoked token', async () => {
      const { store } = ref;
      const { old, successors } = await chain(store);
      const first = Date.now();
      await store.rotateRefresh(old.id, first, null, successors(), [audit('token.rotated')]);
      await store.revoke({ family: old.familyId, grant: old.grantId }, first + 1, []);
      expect(await store.rotateRefresh(old.id, first + 2, first, successors(), [])).toBe('already-used');
    });

    it('concurrent rotations of one token: exactly one is claimed', async () => {
      const { store } = ref;
      const { old, successors } = await chain(store);
      const attempts = Array.from({ length: 10 }, successors);
      const at = Date.now();
      const results = await Promise.all(attempts.map((next) => store.rotateRefresh(old.id, at, null, next, [audit('token.rotated')])));
      expect(results.filter((r) => r === 'claimed')).toHaveLength(1);
      const winner = attempts[results.indexOf('claimed')]!;
      expect(ids(await store.listTokens({ activeAt: at }))).toEqual(ids(winner));
    });

    it('rotateRefresh is atomic: when the successors cannot be stored the old token stays unconsumed', async () => {
      const { store } = ref;
      const { old, successors } = await chain(store);
      const next = successors();
      const clash = [next[0]!, { ...next[1]!, id: old.id }];
      await rejectsAndAppendsNothing(store, () => store.rotateRefresh(old.id, Date.now(), null, clash, [audit('token.rotated')]));
      expect(await store.getToken(old.id)).toEqual(old);
      expect(await store.getToken(next[0]!.id)).toBeUndefined();
    });
  });
}
