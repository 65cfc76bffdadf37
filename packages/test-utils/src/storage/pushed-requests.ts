/** Pushed authorization requests (RFC 9126): stored with their audit record, read until they expire, consumed once. */
import { describe, expect, it } from 'vitest';
import { HOUR, newId, pushedRequestRecord } from '../fixtures.js';
import { appends, audit, type StoreRef, storedClientAndUser } from './context.js';

export function pushedRequests(ref: StoreRef): void {
  describe('pushed authorization requests', () => {
    it('createPushedRequest stores it with its audit record; getPushedRequest finds it by hash until it expires', async () => {
      const { store } = ref;
      const { client } = await storedClientAndUser(store);
      const now = Date.now();
      const pushed = pushedRequestRecord(client.id, { createdAt: now });
      expect(await appends(store, 1, () => store.createPushedRequest(pushed, [audit('request.pushed')]))).toBe('created');
      expect(await store.getPushedRequest(pushed.hash, now)).toEqual(pushed);
      expect(await store.getPushedRequest(pushed.hash, pushed.expiresAt - 1)).toEqual(pushed);
      expect(await store.getPushedRequest(pushed.hash, pushed.expiresAt)).toBeUndefined();
      expect(await store.getPushedRequest(newId(), now)).toBeUndefined();
    });

    it('consumePushedRequest is true once, then false; a consumed or expired request is not found', async () => {
      const { store } = ref;
      const { client } = await storedClientAndUser(store);
      const now = Date.now();
      const pushed = pushedRequestRecord(client.id, { createdAt: now });
      const expired = pushedRequestRecord(client.id, { createdAt: now - HOUR });
      await store.createPushedRequest(pushed, []);
      await store.createPushedRequest(expired, []);
      expect(await store.consumePushedRequest(pushed.hash, now)).toBe(true);
      expect(await store.consumePushedRequest(pushed.hash, now)).toBe(false);
      expect(await store.getPushedRequest(pushed.hash, now)).toBeUndefined();
      expect(await store.consumePushedRequest(expired.hash, now)).toBe(false);
      expect(await store.consumePushedRequest(newId(), now)).toBe(false);
    });

    it("createPushedRequest checked with a client secret since replaced is 'credential-changed' and stores nothing", async () => {
      const { store } = ref;
      const { client } = await storedClientAndUser(store);
      const checked = { client: { id: client.id, secretHash: client.secretHash } };
      await store.setClientSecret(client.id, 'another-secret-hash', []);
      const pushed = pushedRequestRecord(client.id);
      expect(await appends(store, 0, () => store.createPushedRequest(pushed, [audit('request.pushed')], checked))).toBe('credential-changed');
      expect(await store.getPushedRequest(pushed.hash, Date.now())).toBeUndefined();
    });

    it('sweepExpired deletes expired pushed requests and keeps live ones', async () => {
      const { store } = ref;
      const { client } = await storedClientAndUser(store);
      const now = Date.now();
      const live = pushedRequestRecord(client.id, { createdAt: now });
      const expired = pushedRequestRecord(client.id, { createdAt: now - HOUR });
      await store.createPushedRequest(live, []);
      await store.createPushedRequest(expired, []);
      // At least this one: the database may hold expired rows of other tests.
      expect(await store.sweepExpired(now, 100)).toBeGreaterThanOrEqual(1);
      expect(await store.getPushedRequest(live.hash, now)).toEqual(live);
      expect(await store.getPushedRequest(expired.hash, expired.createdAt)).toBeUndefined();
    });
  });
}
