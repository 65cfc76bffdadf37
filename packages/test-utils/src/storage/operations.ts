/** What operators read: countTokens (the tokens gauge) and readiness (GET /readyz). */
import { describe, expect, it } from 'vitest';
import { HOUR, tokenRecord } from '../fixtures.js';
import { type StoreRef, storedGrant } from './context.js';

export function operations(ref: StoreRef): void {
  describe('countTokens', () => {
    it('counts each token once by kind, state and client at `at`: revoked over rotated over expired over active (TokenState)', async () => {
      const { store } = ref;
      const { client, grant } = await storedGrant(store);
      const now = Date.now();
      const expired = { issuedAt: now - 2 * HOUR, expiresAt: now - 1 };
      await store.issueTokens([
        tokenRecord(grant),
        tokenRecord(grant),
        tokenRecord(grant, { revokedAt: now }),
        tokenRecord(grant, { ...expired, revokedAt: now - HOUR }),
        tokenRecord(grant, expired),
        tokenRecord(grant, { kind: 'refresh' }),
        tokenRecord(grant, { kind: 'refresh', consumedAt: now }),
        tokenRecord(grant, { kind: 'refresh', consumedAt: now, revokedAt: now }),
        tokenRecord(grant, { kind: 'refresh', ...expired, consumedAt: now - HOUR }),
      ], []);
      expect(await store.countTokens(now)).toEqual({
        byKind: { access: { active: 2, rotated: 0, revoked: 2, expired: 1 }, refresh: { active: 1, rotated: 2, revoked: 1, expired: 0 } },
        byClient: [{ clientId: client.id, active: 3, total: 9 }],
      });
      // Later, the live ones have expired too.
      const later = await store.countTokens(now + 2 * HOUR);
      expect(later.byKind.access).toEqual({ active: 0, rotated: 0, revoked: 2, expired: 3 });
    });

    it('an empty store counts zeros', async () => {
      const zero = { active: 0, rotated: 0, revoked: 0, expired: 0 };
      expect(await ref.store.countTokens(Date.now())).toEqual({ byKind: { access: zero, refresh: zero }, byClient: [] });
    });
  });

  describe('readiness', () => {
    it('is ready while the database answers, the schema is current and the writer commits', async () => {
      expect(await ref.store.readiness()).toEqual({ ready: true });
    });

    it('a closed store is not ready, the database check failing, and readiness does not reject', async () => {
      const { store } = ref;
      await store.close();
      expect(await store.readiness()).toMatchObject({ ready: false, check: 'database' });
    });
  });
}
