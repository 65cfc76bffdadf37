/** Clients, users, browser sessions and signing keys: plain rows, each write with its audit record. */
import type { ClientRecord, KeyRecord } from '@tessera/server';
import { describe, expect, it, vi } from 'vitest';
import { clientRecord, newId, sessionRecord, userRecord } from '../fixtures.js';
import { appends, audit, type StoreRef } from './context.js';

export function principals(ref: StoreRef): void {
  describe('clients', () => {
    it('createClient stores every field and appends its audit record', async () => {
      const { store } = ref;
      const client = clientRecord({
        redirectUris: ['https://a.example/cb', 'https://b.example/cb'], postLogoutRedirectUris: ['https://a.example/bye'], accessTtl: 60, refreshTtl: 600, tokenFormat: 'jwt',
        idTokenSignedResponseAlg: 'ES256',
        dpopBoundAccessTokens: true,
        resources: ['https://api.example/'],
        exchangeAudiences: ['https://front.example/'],
      });
      await appends(store, 1, () => store.createClient(client, audit('client.created', { clientId: client.id })));
      expect(await store.getClient(client.id)).toEqual(client);
    });

    it('stores a public client with a null secret hash', async () => {
      const { store } = ref;
      const client = clientRecord({ secretHash: null, authMethod: 'none' });
      await store.createClient(client, audit('client.created'));
      expect(await store.getClient(client.id)).toEqual(client);
    });

    it('getClient of an unknown id is undefined; listClients lists every client', async () => {
      const { store } = ref;
      const a = clientRecord();
      const b = clientRecord();
      await store.createClient(a, audit('client.created'));
      await store.createClient(b, audit('client.created'));
      expect(await store.getClient(newId())).toBeUndefined();
      const listed = await store.listClients();
      expect(listed.map((c) => c.id).sort()).toEqual([a.id, b.id].sort());
      expect(listed.find((c) => c.id === a.id)).toEqual(a);
    });

    it('deleteClient of an unknown id returns undefined', async () => {
      const { store } = ref;
      expect(await store.deleteClient(newId(), Date.now(), [audit('client.deleted')])).toBeUndefined();
    });

    it('onClientsChanged: a listener hears of a client deleted through the store, once it is gone, until it unsubscribes', async () => {
      const { store } = ref;
      const [a, b] = [clientRecord(), clientRecord()];
      await store.createClient(a, audit('client.created'));
      await store.createClient(b, audit('client.created'));
      const seen: (ClientRecord | undefined)[] = [];
      const stop = store.onClientsChanged(() => void store.getClient(a.id).then((c) => seen.push(c)));
      await store.deleteClient(a.id, Date.now(), []);
      await vi.waitFor(() => expect(seen).toContain(undefined));
      stop();
      // Calls made before stop() (a store may also hear of its own change by notification) settle first.
      await new Promise((resolve) => setTimeout(resolve, 250));
      const heard = seen.length;
      await store.deleteClient(b.id, Date.now(), []);
      await new Promise((resolve) => setTimeout(resolve, 250));
      expect(seen).toHaveLength(heard);
    });
  });

  describe('users', () => {
    it('createUser stores the user, found by id and by name, and appends its audit record', async () => {
      const { store } = ref;
      const user = userRecord();
      await appends(store, 1, () => store.createUser(user, audit('user.created', { userId: user.id })));
      expect(await store.getUser(user.id)).toEqual(user);
      expect(await store.getUserByName(user.username)).toEqual(user);
      expect(await store.getUser(newId())).toBeUndefined();
      expect(await store.getUserByName('nobody')).toBeUndefined();
    });

    it('usernames are unique', async () => {
      const { store } = ref;
      const user = userRecord();
      await store.createUser(user, audit('user.created'));
      await expect(store.createUser(userRecord({ username: user.username }), audit('user.created'))).rejects.toThrow();
    });

    it('listUsers lists every user', async () => {
      const { store } = ref;
      const users = [userRecord(), userRecord(), userRecord()];
      for (const u of users) await store.createUser(u, audit('user.created'));
      expect((await store.listUsers()).map((u) => u.id).sort()).toEqual(users.map((u) => u.id).sort());
    });

    it('deleteUser and setPassword of an unknown id return undefined', async () => {
      const { store } = ref;
      expect(await store.deleteUser(newId(), Date.now(), [audit('user.deleted')])).toBeUndefined();
      expect(await store.setPassword(newId(), 'scrypt$x', Date.now(), [audit('user.password_changed')])).toBeUndefined();
    });

    it('createUser stores the OpenID Connect profile (name, email, email_verified)', async () => {
      const { store } = ref;
      const user = userRecord({ name: 'Ada Lovelace', email: 'ada@example.com', emailVerified: true });
      await store.createUser(user, audit('user.created'));
      expect(await store.getUser(user.id)).toEqual(user);
      expect((await store.listUsers()).find((u) => u.id === user.id)).toEqual(user);
    });

    it('setUserProfile replaces the profile whole, with its audit record, and keeps the password and grants', async () => {
      const { store } = ref;
      const user = userRecord({ name: 'Ada', email: 'ada@example.com', emailVerified: true });
      await store.createUser(user, audit('user.created'));
      const profile = { name: null, email: 'ada@new.example', emailVerified: false };
      expect(await appends(store, 1, () => store.setUserProfile(user.id, profile, [audit('user.updated', { userId: user.id })]))).toBe(true);
      expect(await store.getUser(user.id)).toEqual({ ...user, ...profile });
    });

    it('setUserProfile of an unknown id returns false and appends nothing', async () => {
      const { store } = ref;
      expect(await appends(store, 0, () => store.setUserProfile(newId(), { name: 'x', email: null, emailVerified: false }, [audit('user.updated')]))).toBe(false);
    });

    it('setPassword replaces the password hash', async () => {
      const { store } = ref;
      const user = userRecord();
      await store.createUser(user, audit('user.created'));
      await store.setPassword(user.id, 'scrypt$new', Date.now(), [audit('user.password_changed')]);
      expect((await store.getUser(user.id))?.passwordHash).toBe('scrypt$new');
    });
  });

  describe('browser sessions', () => {
    it('endSession deletes the session with its audit record; an unknown session is false and appends nothing', async () => {
      const { store } = ref;
      const user = userRecord();
      await store.createUser(user, audit('user.created'));
      const session = sessionRecord(user.id);
      await store.createSession(session);
      expect(await appends(store, 1, () => store.endSession(session.hash, [audit('session.ended', { userId: user.id })]))).toBe(true);
      expect(await store.findSessionByHash(session.hash)).toBeUndefined();
      expect(await appends(store, 0, () => store.endSession(session.hash, [audit('session.ended')]))).toBe(false);
    });

    it('createSession, findSessionByHash and deleteSession', async () => {
      const { store } = ref;
      const user = userRecord();
      await store.createUser(user, audit('user.created'));
      const session = sessionRecord(user.id);
      await store.createSession(session);
      expect(await store.findSessionByHash(session.hash)).toEqual(session);
      await store.deleteSession(session.hash);
      expect(await store.findSessionByHash(session.hash)).toBeUndefined();
    });
  });

  describe('signing keys', () => {
    const key = (createdAt: number, alg: KeyRecord['alg'] = 'ES256'): KeyRecord => ({
      kid: newId(), alg, privateJwk: `{"kty":"${alg === 'ES256' ? 'EC' : 'RSA'}","d":"x"}`, publicJwk: `{"kty":"${alg === 'ES256' ? 'EC' : 'RSA'}"}`, createdAt, retireAt: null,
    });

    it('addKey without retireAt adds its alg\'s first key only: a second (another process\'s, racing) is refused, nothing written', async () => {
      const { store } = ref;
      const k1 = key(1000);
      const k2 = key(2000);
      expect(await appends(store, 1, () => store.addKey(k1, null, [audit('key.created')]))).toBe(true);
      expect(await appends(store, 0, () => store.addKey(k2, null, [audit('key.created')]))).toBe(false);
      expect(await store.listKeys()).toEqual([k1]);
    });

    it('addKey with retireAt retires the current keys only, oldest first in listKeys', async () => {
      const { store } = ref;
      const [k1, k2, k3] = [key(1000), key(2000), key(3000)];
      await store.addKey(k1, null, [audit('key.created')]);
      await store.addKey(k2, 5000, [audit('key.rotated')]);
      await store.addKey(k3, 9000, [audit('key.rotated')]);
      expect(await store.listKeys()).toEqual([{ ...k1, retireAt: 5000 }, { ...k2, retireAt: 9000 }, k3]);
    });

    it('addKey with retireAt retires the current keys of its own alg only: adding an RS256 key leaves the ES256 key current', async () => {
      const { store } = ref;
      const es = key(1000, 'ES256');
      const rs1 = key(2000, 'RS256');
      const rs2 = key(3000, 'RS256');
      await store.addKey(es, null, [audit('key.created')]);
      await store.addKey(rs1, null, [audit('key.created')]);
      await appends(store, 1, () => store.addKey(rs2, 9000, [audit('key.rotated')]));
      expect(await store.listKeys()).toEqual([es, { ...rs1, retireAt: 9000 }, rs2]);
      const es2 = key(4000, 'ES256');
      await store.addKey(es2, 7000, [audit('key.rotated')]);
      expect(await store.listKeys()).toEqual([{ ...es, retireAt: 7000 }, { ...rs1, retireAt: 9000 }, rs2, es2]);
    });
  });
}
