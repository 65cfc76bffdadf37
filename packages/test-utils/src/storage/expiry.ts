/** sweepExpired: bounded batches of rows that expired before the cut-off; nothing live. */
import type { Store } from '@tessera/server';
import { describe, expect, it } from 'vitest';
import { codeRecord, HOUR, sessionRecord, tokenRecord, } from '../fixtures.js';
import { type StoreRef, storedGrant } from './context.js';

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

    it('never deletes grants', async () => {
      const { store } = ref;
      const now = Date.now();
      const p = await population(store, now);
      await store.sweepExpired(now + 365 * 24 * HOUR, 1000);
      expect(await store.getGrant(p.grant.id)).toEqual(p.grant);
    });
  });
}
