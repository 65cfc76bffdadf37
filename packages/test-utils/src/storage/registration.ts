/**
 * Dynamic client registration (RFC 7591, RFC 7592): a client's registration access token hash
 * kept with the client, and one-time initial access tokens.
 */
import { describe, expect, it } from 'vitest';
import { clientRecord, HOUR, newHash } from '../fixtures.js';
import { appends, audit, connections, type StoreRef } from './context.js';

export function registration(ref: StoreRef): void {
  describe('dynamic client registration', () => {
    it('createClient keeps the registration access token hash; updateClient keeps it; deleteClient ends it with the client', async () => {
      const { store } = ref;
      const client = clientRecord({ registrationTokenHash: newHash() });
      await store.createClient(client, audit('client.created'));
      expect(await store.getClient(client.id)).toEqual(client);
      expect((await store.updateClient(client.id, { name: 'renamed' }, []))?.registrationTokenHash).toBe(client.registrationTokenHash);
      await store.deleteClient(client.id, Date.now(), []);
      expect(await store.getClient(client.id)).toBeUndefined();
    });

    it('createInitialAccessToken stores it with its audit records; consumeInitialAccessToken is true once, with its audit records, then false', async () => {
      const { store } = ref;
      const now = Date.now();
      const token = { hash: newHash(), createdAt: now, expiresAt: now + HOUR };
      await appends(store, 1, () => store.createInitialAccessToken(token, [audit('registration.initial_token_created')]));
      expect(await appends(store, 1, () => store.consumeInitialAccessToken(token.hash, now, [audit('registration.initial_token_used')]))).toBe(true);
      expect(await appends(store, 0, () => store.consumeInitialAccessToken(token.hash, now, [audit('registration.initial_token_used')]))).toBe(false);
      expect(await appends(store, 0, () => store.consumeInitialAccessToken(newHash(), now, [audit('registration.initial_token_used')]))).toBe(false);
    });

    it('an initial access token is not consumed at or after its expiry, and sweepExpired deletes it', async () => {
      const { store } = ref;
      const now = Date.now();
      const expired = { hash: newHash(), createdAt: now - 2 * HOUR, expiresAt: now - HOUR };
      const live = { hash: newHash(), createdAt: now, expiresAt: now + HOUR };
      await store.createInitialAccessToken(expired, []);
      await store.createInitialAccessToken(live, []);
      expect(await store.consumeInitialAccessToken(expired.hash, now, [])).toBe(false);
      expect(await store.consumeInitialAccessToken(live.hash, live.expiresAt, [])).toBe(false);
      while ((await store.sweepExpired(now, 1000)) === 1000);
      // Swept: it is gone even for a caller whose clock says it is still valid.
      expect(await store.consumeInitialAccessToken(expired.hash, expired.createdAt, [])).toBe(false);
      expect(await store.consumeInitialAccessToken(live.hash, now, [])).toBe(true);
    });

    it('an initial access token raced on several connections is consumed exactly once', async () => {
      const stores = await connections(ref, 4);
      const now = Date.now();
      const token = { hash: newHash(), createdAt: now, expiresAt: now + HOUR };
      await ref.store.createInitialAccessToken(token, []);
      const results = await Promise.all(stores.map((s) => s.consumeInitialAccessToken(token.hash, now, [audit('registration.initial_token_used')])));
      expect(results.filter(Boolean)).toHaveLength(1);
    });
  });
}
