/**
 * Dynamic client registration (RFC 7591, RFC 7592): a client's registration access token hash
 * kept with the client, and one-time initial access tokens spent by the createClient they allow.
 */
import { describe, expect, it } from 'vitest';
import { clientRecord, HOUR, newHash } from '../fixtures.js';
import { appends, audit, connections, type StoreRef } from './context.js';

export function registration(ref: StoreRef): void {
  describe('dynamic client registration', () => {
    it('createClient keeps the registration access token hash; updateClient keeps it; deleteClient ends it with the client', async () => {
      const { store } = ref;
      const client = clientRecord({ registrationTokenHash: newHash() });
      expect(await store.createClient(client, audit('client.created'))).toBe('created');
      expect(await store.getClient(client.id)).toEqual(client);
      expect((await store.updateClient(client.id, { name: 'renamed' }, []))?.registrationTokenHash).toBe(client.registrationTokenHash);
      await store.deleteClient(client.id, Date.now(), []);
      expect(await store.getClient(client.id)).toBeUndefined();
    });

    it('createInitialAccessToken appends its audit records; createClient with it spends it once, with the client and its audit record, then refuses it and stores nothing', async () => {
      const { store } = ref;
      const now = Date.now();
      const token = { hash: newHash(), createdAt: now, expiresAt: now + HOUR };
      await appends(store, 1, () => store.createInitialAccessToken(token, [audit('registration.initial_token_created')]));
      const first = clientRecord();
      expect(await appends(store, 1, () => store.createClient(first, audit('client.created'), { hash: token.hash, at: now }))).toBe('created');
      expect(await store.getClient(first.id)).toEqual(first);
      const second = clientRecord();
      expect(await appends(store, 0, () => store.createClient(second, audit('client.created'), { hash: token.hash, at: now }))).toBe('initial-token-refused');
      expect(await store.getClient(second.id)).toBeUndefined();
      const unknown = clientRecord();
      expect(await store.createClient(unknown, audit('client.created'), { hash: newHash(), at: now })).toBe('initial-token-refused');
      expect(await store.getClient(unknown.id)).toBeUndefined();
    });

    it('an initial access token is refused at or after its expiry, and sweepExpired deletes it', async () => {
      const { store } = ref;
      const now = Date.now();
      const expired = { hash: newHash(), createdAt: now - 2 * HOUR, expiresAt: now - HOUR };
      const live = { hash: newHash(), createdAt: now, expiresAt: now + HOUR };
      await store.createInitialAccessToken(expired, []);
      await store.createInitialAccessToken(live, []);
      expect(await store.createClient(clientRecord(), audit('client.created'), { hash: expired.hash, at: now })).toBe('initial-token-refused');
      expect(await store.createClient(clientRecord(), audit('client.created'), { hash: live.hash, at: live.expiresAt })).toBe('initial-token-refused');
      while ((await store.sweepExpired(now, 1000)) === 1000);
      // Swept: it is gone even for a caller whose clock says it is still valid.
      expect(await store.createClient(clientRecord(), audit('client.created'), { hash: expired.hash, at: expired.createdAt })).toBe('initial-token-refused');
      expect(await store.createClient(clientRecord(), audit('client.created'), { hash: live.hash, at: now })).toBe('created');
    });

    it('one initial access token raced by registrations on several connections creates exactly one client', async () => {
      const stores = await connections(ref, 4);
      const now = Date.now();
      const token = { hash: newHash(), createdAt: now, expiresAt: now + HOUR };
      await ref.store.createInitialAccessToken(token, []);
      const clients = stores.map(() => clientRecord());
      const results = await Promise.all(stores.map((s, i) => s.createClient(clients[i]!, audit('client.created'), { hash: token.hash, at: now })));
      expect(results.filter((r) => r === 'created')).toHaveLength(1);
      const stored = await Promise.all(clients.map((c) => ref.store.getClient(c.id)));
      expect(stored.filter(Boolean)).toHaveLength(1);
    });
  });
}
