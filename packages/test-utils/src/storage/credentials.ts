/**
 * Writes conditional on the credentials they were authorized by (CheckedCredentials): a password
 * set, a secret rotated, a user or client deleted after the check makes the write store nothing.
 */
import type { CheckedCredentials, ClientRecord, SessionRecord, Store, UserRecord } from '@tessera/server';
import { describe, expect, it } from 'vitest';
import { codeRecord, grantRecord, sessionRecord, tokenRecord } from '../fixtures.js';
import { appends, audit, type StoreRef, storedClientAndUser, storedGrant } from './context.js';

const throughSession = (session: SessionRecord): CheckedCredentials => ({ session: { hash: session.hash, userId: session.userId } });

const checkedOf = (client: ClientRecord, user?: UserRecord): CheckedCredentials => ({
  client: { id: client.id, secretHash: client.secretHash },
  ...(user ? { user: { id: user.id, passwordHash: user.passwordHash } } : {}),
});

/** Nothing of `fn` is stored: the audit log did not move and no token by these ids exists. */
async function storesNothing(store: Store, ids: string[], fn: () => Promise<unknown>): Promise<unknown> {
  const result = await appends(store, 0, fn);
  for (const id of ids) expect(await store.getToken(id)).toBeUndefined();
  return result;
}

export function credentials(ref: StoreRef): void {
  describe('writes conditional on the checked credentials', () => {
    it('issueTokens, redeemCode, rotateRefresh and createSession succeed while the credentials are unchanged', async () => {
      const { store } = ref;
      const { client, user, grant } = await storedGrant(store);
      const checked = checkedOf(client, user);
      const t = tokenRecord(grant);
      expect(await store.issueTokens([t], [audit('token.issued')], undefined, checked)).toBe('issued');
      const code = codeRecord(grant);
      await store.createCode(code, []);
      expect(await store.redeemCode(code.id, Date.now(), [tokenRecord(grant)], [], checked)).toBe('claimed');
      const refresh = tokenRecord(grant, { kind: 'refresh' });
      await store.issueTokens([refresh], []);
      expect(await store.rotateRefresh(refresh.id, Date.now(), null, [tokenRecord(grant)], [], checked)).toBe('claimed');
      expect(await store.createSession(sessionRecord(user.id), checked)).toBe('created');
    });

    it("setPassword: a write checked with the old password is 'credential-changed' and stores nothing, also for a new grant", async () => {
      const { store } = ref;
      const { client, user } = await storedGrant(store);
      const checked = checkedOf(client, user);
      await store.setPassword(user.id, 'scrypt$changed', Date.now(), [audit('user.password_changed')]);
      // The grant the password change revoked is gone; a request checked before the change would write a new one.
      const fresh = grantRecord(client.id, user.id);
      const t = tokenRecord(fresh);
      expect(await storesNothing(store, [t.id], () => store.issueTokens([t], [audit('token.issued')], fresh, checked))).toBe('credential-changed');
      expect(await store.getGrant(fresh.id)).toBeUndefined();
      const session = sessionRecord(user.id);
      expect(await store.createSession(session, checked)).toBe('credential-changed');
      expect(await store.findSessionByHash(session.hash)).toBeUndefined();
      // With the new password, the same writes go through.
      const now = checkedOf(client, { ...user, passwordHash: 'scrypt$changed' });
      expect(await store.createSession(sessionRecord(user.id), now)).toBe('created');
    });

    it("deleteUser: a write checked with the user's password is 'credential-changed'", async () => {
      const { store } = ref;
      const { client, user } = await storedGrant(store);
      await store.deleteUser(user.id, Date.now(), [audit('user.deleted')]);
      expect(await store.createSession(sessionRecord(user.id), checkedOf(client, user))).toBe('credential-changed');
    });

    it('writes racing a secret change each fall wholly before it (issued, stored) or after it (credential-changed, nothing stored)', async () => {
      const { store } = ref;
      const { client, grant } = await storedGrant(store);
      const checked = checkedOf(client);
      const [before, after] = [tokenRecord(grant), tokenRecord(grant)];
      // Started in one turn: a store that groups writes commits them in one transaction, in call
      // order; a store with a pool of connections commits them in any order.
      const results = await Promise.all([
        store.issueTokens([before], [audit('token.issued')], undefined, checked),
        store.setClientSecret(client.id, 'sha256$rotated', [audit('client.secret_rotated')]),
        store.issueTokens([after], [audit('token.issued')], undefined, checked),
      ]);
      expect(results[1]).toBe(true);
      for (const [i, token] of [[0, before], [2, after]] as const) {
        expect(['issued', 'credential-changed']).toContain(results[i]);
        expect(await store.getToken(token.id)).toEqual(results[i] === 'issued' ? token : undefined);
      }
    });

    it("setClientSecret: writes checked with the old secret are 'credential-changed' and consume nothing", async () => {
      const { store } = ref;
      const { client, grant } = await storedGrant(store);
      const checked = checkedOf(client);
      const code = codeRecord(grant);
      await store.createCode(code, []);
      const refresh = tokenRecord(grant, { kind: 'refresh' });
      await store.issueTokens([refresh], []);
      expect(await appends(store, 1, () => store.setClientSecret(client.id, 'new-hash', [audit('client.secret_rotated')]))).toBe(true);
      expect((await store.getClient(client.id))?.secretHash).toBe('new-hash');

      const [a, b, c] = [tokenRecord(grant), tokenRecord(grant), tokenRecord(grant)];
      expect(await storesNothing(store, [a.id], () => store.issueTokens([a], [audit('token.issued')], undefined, checked))).toBe('credential-changed');
      expect(await storesNothing(store, [b.id], () => store.redeemCode(code.id, Date.now(), [b], [audit('code.redeemed')], checked))).toBe('credential-changed');
      expect((await store.getCode(code.id))?.redeemedAt).toBeNull();
      expect(await storesNothing(store, [c.id], () => store.rotateRefresh(refresh.id, Date.now(), null, [c], [audit('token.rotated')], checked))).toBe('credential-changed');
      expect((await store.getToken(refresh.id))?.consumedAt).toBeNull();
      // The new secret's hash is what counts now.
      expect(await store.issueTokens([tokenRecord(grant)], [], undefined, { client: { id: client.id, secretHash: 'new-hash' } })).toBe('issued');
    });

    it('setClientSecret of an unknown or public client returns false and appends nothing', async () => {
      const { store } = ref;
      const { client } = await storedGrant(store);
      const pub = { ...client, id: `${client.id}-public`, secretHash: null, authMethod: 'none' as const };
      await store.createClient(pub, audit('client.created'));
      expect(await appends(store, 0, () => store.setClientSecret('nobody', 'h', [audit('client.secret_rotated')]))).toBe(false);
      expect(await appends(store, 0, () => store.setClientSecret(pub.id, 'h', [audit('client.secret_rotated')]))).toBe(false);
      expect((await store.getClient(pub.id))?.secretHash).toBeNull();
    });

    it("deleteClient: a write checked with the client's secret is 'credential-changed'", async () => {
      const { store } = ref;
      const { client, grant } = await storedGrant(store);
      await store.deleteClient(client.id, Date.now(), [audit('client.deleted')]);
      const t = tokenRecord(grant);
      expect(await store.issueTokens([t], [], undefined, checkedOf(client))).toBe('credential-changed');
    });
    });

  describe('writes through a browser session (CheckedCredentials.session)', () => {
    /** A stored client and user, the user signed in (a stored session), and a live grant. */
    async function signedIn(store: Store) {
      const { client, user, grant } = await storedGrant(store);
      const session = sessionRecord(user.id);
      expect(await store.createSession(session)).toBe('created');
      return { client, user, grant, session, checked: throughSession(session) };
    }

    /** saveGrant (a new grant), createCode and issueTokens through `checked` all store nothing. */
    async function sessionWritesStoreNothing(store: Store, client: ClientRecord, user: UserRecord, checked: CheckedCredentials) {
      const fresh = grantRecord(client.id, user.id);
      expect(await appends(store, 0, () => store.saveGrant(fresh, [audit('grant.created')], checked))).toBe('credential-changed');
      expect(await store.getGrant(fresh.id)).toBeUndefined();
      const code = codeRecord(fresh);
      expect(await appends(store, 0, () => store.createCode(code, [audit('code.issued')], checked))).toBe('credential-changed');
      expect(await store.getCode(code.id)).toBeUndefined();
      const t = tokenRecord(fresh);
      expect(await storesNothing(store, [t.id], () => store.issueTokens([t], [audit('token.issued')], undefined, checked))).toBe('credential-changed');
    }

    it('saveGrant, createCode and issueTokens succeed while the session is stored', async () => {
      const { store } = ref;
      const { grant, checked } = await signedIn(store);
      expect(await appends(store, 1, () => store.saveGrant({ ...grant, scope: 'read write profile' }, [audit('grant.widened')], checked))).toBe('saved');
      expect((await store.getGrant(grant.id))?.scope).toBe('read write profile');
      const code = codeRecord(grant);
      expect(await appends(store, 1, () => store.createCode(code, [audit('code.issued')], checked))).toBe('created');
      expect(await store.getCode(code.id)).toEqual(code);
      expect(await store.issueTokens([tokenRecord(grant)], [], undefined, checked)).toBe('issued');
    });

    it("setPassword ends the user's sessions: writes through one are 'credential-changed' and store nothing", async () => {
      const { store } = ref;
      const { client, user, checked } = await signedIn(store);
      await store.setPassword(user.id, 'scrypt$changed', Date.now(), [audit('user.password_changed')]);
      await sessionWritesStoreNothing(store, client, user, checked);
    });

    it("deleteUser ends the user's sessions: writes through one are 'credential-changed' and store nothing", async () => {
      const { store } = ref;
      const { client, user, checked } = await signedIn(store);
      await store.deleteUser(user.id, Date.now(), [audit('user.deleted')]);
      await sessionWritesStoreNothing(store, client, user, checked);
    });

    it("deleteSession (sign-out): writes through that session are 'credential-changed'; another session of the user still works", async () => {
      const { store } = ref;
      const { client, user, grant, session, checked } = await signedIn(store);
      const other = sessionRecord(user.id);
      await store.createSession(other);
      await store.deleteSession(session.hash);
      await sessionWritesStoreNothing(store, client, user, checked);
      expect(await store.createCode(codeRecord(grant), [], throughSession(other))).toBe('created');
    });

    it("a session is checked with its user: another user's session hash does not authorize the write", async () => {
      const { store } = ref;
      const { client, user, session } = await signedIn(store);
      const { user: other } = await storedClientAndUser(store);
      await sessionWritesStoreNothing(store, client, user, { session: { hash: session.hash, userId: other.id } });
    });

    it("saveGrant of a grant whose user or client no longer exists is 'credential-changed' and stores nothing", async () => {
      const { store } = ref;
      const { client, user } = await storedClientAndUser(store);
      await store.deleteUser(user.id, Date.now(), [audit('user.deleted')]);
      const orphan = grantRecord(client.id, user.id);
      expect(await appends(store, 0, () => store.saveGrant(orphan, [audit('grant.created')]))).toBe('credential-changed');
      expect(await store.getGrant(orphan.id)).toBeUndefined();
      const gone = grantRecord(`${client.id}-gone`, null);
      expect(await appends(store, 0, () => store.saveGrant(gone, [audit('grant.created')]))).toBe('credential-changed');
      expect(await store.getGrant(gone.id)).toBeUndefined();
    });

    it('redeemCode of a code issued before setPassword or deleteUser claims nothing: the revoked grant covers it', async () => {
      const { store } = ref;
      for (const end of ['setPassword', 'deleteUser'] as const) {
        const { client, user, grant } = await storedGrant(store);
        const code = codeRecord(grant);
        await store.createCode(code, []);
        if (end === 'setPassword') await store.setPassword(user.id, 'scrypt$changed', Date.now(), [audit('user.password_changed')]);
        else await store.deleteUser(user.id, Date.now(), [audit('user.deleted')]);
        const t = tokenRecord(grant);
        expect(await storesNothing(store, [t.id], () => store.redeemCode(code.id, Date.now(), [t], [audit('code.redeemed')], checkedOf(client)))).toBe('grant-revoked');
      }
    });
});
}
