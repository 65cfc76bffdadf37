/** sweepExpired: bounded batches of rows that expired before the cut-off, and grants revoked before it; nothing live. */
import { type Store, verifyChain } from '@tessera/server';
import { describe, expect, it } from 'vitest';
import { codeRecord, HOUR, sessionRecord, tokenRecord, } from '../fixtures.js';
import { audit, type StoreRef, storedGrant } from './context.js';

async function population(store: Store, now: number) {
  const { user, grant } = await storedGrant(store);
  const past = { issuedAt: now - 2 * HOUR, expiresAt: now - 1 };
  const expired = {
    tokens: [
      tokenRecord(grant, past),
      tokenRecord(grant, { ...past, kind: 'refresh', consumedAt: now - HOUR }),
      tokenRecord(grant, { ...past, revokedAt: now - HOUR }),
      tokenRecord(grant, past),
      tokenRecord(grant, past),
    ],
    codes: [codeRecord(grant, past), codeRecord(grant, { ...past, redeemedAt: now - HOUR }), codeRecord(grant, past)],
    sessions: [sessionRecord(user.id, { createdAt: now - 2 * HOUR, expiresAt: now - 1 }), sessionRecord(user.id, { createdAt: now - 2 * HOUR, expiresAt: now - 1 })],
  };
  const live = {
    tokens: [
      tokenRecord(grant, { issuedAt: now, expiresAt: now + 1 }),
      // Revoked and consumed tokens are kept until they expire: reuse detection needs them.
      tokenRecord(grant, { kind: 'refresh', consumedAt: now }),
      tokenRecord(grant, { revokedAt: now }),
    ],
    codes: [codeRecord(grant, { issuedAt: now, expiresAt: now + 1 })],
    sessions: [sessionRecord(user.id)],
  };
  await store.issueTokens([...expired.tokens, ...live.tokens], []);
  for (const c of [...expired.codes, ...live.codes]) await store.createCode(c, []);
  for (const s of [...expired.sessions, ...live.sessions]) await store.createSession(s);
  return { grant, expired, live };
}

export function expiry(ref: StoreRef): void {
  describe('sweepExpired', () => {
    it('deletes at most `limit` rows per call, only expired ones, and reports how many', async () => {
      const { store } = ref;
      const now = Date.now();
      const p = await population(store, now);
      // 5 tokens + 3 codes + 2 sessions expired.
      expect(await store.sweepExpired(now, 4)).toBe(4);
      expect(await store.sweepExpired(now, 4)).toBe(4);
      expect(await store.sweepExpired(now, 4)).toBe(2);
      expect(await store.sweepExpired(now, 4)).toBe(0);
      for (const t of p.expired.tokens) expect(await store.getToken(t.id)).toBeUndefined();
      for (const c of p.expired.codes) expect(await store.getCode(c.id)).toBeUndefined();
      for (const s of p.expired.sessions) expect(await store.findSessionByHash(s.hash)).toBeUndefined();
      for (const t of p.live.tokens) expect(await store.getToken(t.id)).toEqual(t);
      for (const c of p.live.codes) expect(await store.getCode(c.id)).toEqual(c);
      for (const s of p.live.sessions) expect(await store.findSessionByHash(s.hash)).toEqual(s);
    });

    it('the cut-off is `before`, not now: rows expiring after it stay', async () => {
      const { store } = ref;
      const now = Date.now();
      const p = await population(store, now);
      expect(await store.sweepExpired(now - HOUR, 100)).toBe(0);
      expect(await store.sweepExpired(now, 100)).toBe(10);
      expect((await store.listTokens({})).map((t) => t.id).sort()).toEqual(p.live.tokens.map((t) => t.id).sort());
    });

    it('never deletes a live grant, however old its tokens', async () => {
      const { store } = ref;
      const now = Date.now();
      const p = await population(store, now);
      await store.sweepExpired(now + 365 * 24 * HOUR, 1000);
      expect(await store.getGrant(p.grant.id)).toEqual(p.grant);
    });

    it('deletes a grant revoked before the cut-off with its tokens, in batches; keeps live grants, grants revoked after it, the feed and the audit chain', async () => {
      const { store } = ref;
      const now = Date.now();
      /** A grant with an access token (1 h), a refresh token (a day) and a consumed one, none expired. */
      const withTokens = async () => {
        const { grant } = await storedGrant(store);
        const tokens = [
          tokenRecord(grant, { issuedAt: now }),
          tokenRecord(grant, { kind: 'refresh', issuedAt: now, expiresAt: now + 24 * HOUR }),
          tokenRecord(grant, { kind: 'refresh', issuedAt: now, expiresAt: now + 24 * HOUR, consumedAt: now }),
        ];
        await store.issueTokens(tokens, []);
        return { grant, tokens };
      };
      const old = await withTokens();
      const recent = await withTokens();
      const live = await withTokens();
      await store.revoke({ grant: old.grant.id }, now - 2 * HOUR, [audit('token.revoked')]);
      await store.revoke({ grant: recent.grant.id }, now, [audit('token.revoked')]);
      const feed = await store.readFeed(0, 10);
      const heads = await store.auditHeads();

      // A cut-off an hour back (sweepRetention): 3 tokens, then the grant, 2 rows at a time.
      const cutOff = now - HOUR;
      expect([await store.sweepExpired(cutOff, 2), await store.sweepExpired(cutOff, 2), await store.sweepExpired(cutOff, 2)]).toEqual([2, 2, 0]);
      expect(await store.getGrant(old.grant.id)).toBeUndefined();
      for (const t of old.tokens) expect(await store.getToken(t.id)).toBeUndefined();
      for (const kept of [recent, live]) {
        expect(await store.getGrant(kept.grant.id)).toMatchObject({ id: kept.grant.id });
        for (const t of kept.tokens) expect(await store.getToken(t.id)).toMatchObject({ id: t.id });
      }
      // The old grant's event still matters to guards until its `until` (the access token's expiry).
      expect(await store.readFeed(0, 10)).toEqual(feed);
      expect(await store.auditHeads()).toEqual(heads);
      expect(await verifyChain(await store.readAudit(0, 100), heads)).toMatchObject({ ok: true });
    });
  });
}
