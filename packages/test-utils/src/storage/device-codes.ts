/**
 * Device authorization (RFC 8628): device codes stored with their audit records, one per user code,
 * polls and decisions recorded by compare-and-set (an approval with the grant it consents to, in
 * one transaction), and the redeemDeviceCode claim (as redeemCode).
 * Races across connections are in concurrency.ts.
 */
import type { CheckedCredentials, Store } from '@tessera/server';
import { describe, expect, it } from 'vitest';
import { clientRecord, deviceCodeRecord, grantRecord, newId, sessionRecord, tokenRecord } from '../fixtures.js';
import { appends, audit, type StoreRef, storedClientAndUser, storedGrant } from './context.js';

/** A stored grant and a device code of its client approved on it. */
async function approvedCode(store: Store) {
  const { client, user, grant } = await storedGrant(store);
  const code = deviceCodeRecord(client.id);
  await store.createDeviceCode(code, [audit('device.authorization_started')]);
  expect(await store.decideDeviceCode(code.id, { approve: { userId: user.id, grant } }, Date.now(), [audit('device.approved')])).toBe('decided');
  return { client, user, grant, code };
}

export function deviceCodes(ref: StoreRef): void {
  describe('device codes (RFC 8628)', () => {
    it('createDeviceCode stores the code with its audit records; getDeviceCode and findDeviceCodeByUserCode return it', async () => {
      const { store } = ref;
      const { client } = await storedGrant(store);
      const code = deviceCodeRecord(client.id);
      expect(await appends(store, 1, () => store.createDeviceCode(code, [audit('device.authorization_started')]))).toBe('created');
      expect(await store.getDeviceCode(code.id)).toEqual(code);
      expect(await store.findDeviceCodeByUserCode(code.userCodeHash)).toEqual(code);
      expect(await store.getDeviceCode(newId())).toBeUndefined();
      expect(await store.findDeviceCodeByUserCode(newId())).toBeUndefined();
    });

    it("a second device code with a stored code's user code hash is a conflict and stores nothing", async () => {
      const { store } = ref;
      const { client } = await storedGrant(store);
      const first = deviceCodeRecord(client.id);
      await store.createDeviceCode(first, []);
      const second = deviceCodeRecord(client.id, { userCodeHash: first.userCodeHash });
      expect(await appends(store, 0, () => store.createDeviceCode(second, [audit('device.authorization_started')]))).toBe('conflict');
      expect(await store.getDeviceCode(second.id)).toBeUndefined();
      expect(await store.findDeviceCodeByUserCode(first.userCodeHash)).toEqual(first);
    });

    it('recordDevicePoll sets the poll time and interval only if the last poll is still the one read', async () => {
      const { store } = ref;
      const { client } = await storedGrant(store);
      const code = deviceCodeRecord(client.id);
      await store.createDeviceCode(code, []);
      expect(await store.recordDevicePoll(code.id, null, 1000, 5)).toBe(true);
      // A stale read (null) loses: another poll moved it.
      expect(await store.recordDevicePoll(code.id, null, 2000, 10)).toBe(false);
      expect(await store.getDeviceCode(code.id)).toMatchObject({ lastPolledAt: 1000, interval: 5 });
      expect(await store.recordDevicePoll(code.id, 1000, 3000, 10)).toBe(true);
      expect(await store.getDeviceCode(code.id)).toMatchObject({ lastPolledAt: 3000, interval: 10 });
      expect(await store.recordDevicePoll(newId(), null, 3000, 5)).toBe(false);
    });

    it('decideDeviceCode approves or denies a pending code once, with its audit records; a decided or expired code is not-pending', async () => {
      const { store } = ref;
      const { client, user, grant } = await storedGrant(store);
      const approved = deviceCodeRecord(client.id);
      const denied = deviceCodeRecord(client.id);
      const expired = deviceCodeRecord(client.id, { issuedAt: Date.now() - 20_000, expiresAt: Date.now() - 1 });
      for (const c of [approved, denied, expired]) await store.createDeviceCode(c, []);
      const at = Date.now();
      expect(await appends(store, 1, () => store.decideDeviceCode(approved.id, { approve: { userId: user.id, grant } }, at, [audit('device.approved')]))).toBe('decided');
      expect(await store.getDeviceCode(approved.id)).toEqual({ ...approved, status: 'approved', userId: user.id, grantId: grant.id, decidedAt: at });
      expect(await appends(store, 1, () => store.decideDeviceCode(denied.id, { deny: { userId: user.id } }, at, [audit('device.denied')]))).toBe('decided');
      expect(await store.getDeviceCode(denied.id)).toEqual({ ...denied, status: 'denied', userId: user.id, grantId: null, decidedAt: at });
      for (const c of [approved, denied, expired]) {
        expect(await appends(store, 0, () => store.decideDeviceCode(c.id, { deny: { userId: user.id } }, at + 1, [audit('device.denied')]))).toBe('not-pending');
      }
      expect((await store.getDeviceCode(expired.id))?.status).toBe('pending');
    });

    it('decideDeviceCode approval stores its grant (created, or its scope widened) with the approval and all the audit records, in one transaction', async () => {
      const { store } = ref;
      const { client, user } = await storedClientAndUser(store);
      const first = deviceCodeRecord(client.id);
      const second = deviceCodeRecord(client.id);
      for (const c of [first, second]) await store.createDeviceCode(c, []);
      const grant = grantRecord(client.id, user.id, { scope: 'read' });
      const at = Date.now();
      expect(await appends(store, 2, () => store.decideDeviceCode(first.id, { approve: { userId: user.id, grant } }, at, [audit('grant.created'), audit('device.approved')])))
        .toBe('decided');
      expect(await store.findGrant(client.id, user.id)).toEqual(grant);
      expect(await store.getDeviceCode(first.id)).toMatchObject({ status: 'approved', grantId: grant.id });
      const widened = { ...grant, scope: 'read write' };
      expect(await appends(store, 2, () => store.decideDeviceCode(second.id, { approve: { userId: user.id, grant: widened } }, at, [audit('grant.widened'), audit('device.approved')])))
        .toBe('decided');
      expect(await store.getGrant(grant.id)).toEqual(widened);
      expect(await store.getDeviceCode(second.id)).toMatchObject({ status: 'approved', grantId: grant.id });
    });

    it('approving a device code already decided, or expired, is not-pending and stores no grant change (neither a new grant nor a widening)', async () => {
      const { store } = ref;
      const { client, user, grant } = await storedGrant(store);
      const decided = deviceCodeRecord(client.id);
      const expired = deviceCodeRecord(client.id, { issuedAt: Date.now() - 20_000, expiresAt: Date.now() - 1 });
      for (const c of [decided, expired]) await store.createDeviceCode(c, []);
      await store.decideDeviceCode(decided.id, { deny: { userId: user.id } }, Date.now(), []);
      // Another pair, without a grant yet: approval would create one.
      const { client: other, user: otherUser } = await storedClientAndUser(store);
      const otherCode = deviceCodeRecord(other.id, { issuedAt: Date.now() - 20_000, expiresAt: Date.now() - 1 });
      await store.createDeviceCode(otherCode, []);
      const fresh = grantRecord(other.id, otherUser.id);
      for (const c of [decided, expired]) {
        const widened = { ...grant, scope: `${grant.scope} admin` };
        expect(await appends(store, 0, () => store.decideDeviceCode(c.id, { approve: { userId: user.id, grant: widened } }, Date.now(), [audit('grant.widened'), audit('device.approved')])))
          .toBe('not-pending');
      }
      expect(await store.getGrant(grant.id)).toEqual(grant);
      expect(await appends(store, 0, () => store.decideDeviceCode(otherCode.id, { approve: { userId: otherUser.id, grant: fresh } }, Date.now(), [audit('grant.created'), audit('device.approved')])))
        .toBe('not-pending');
      expect(await store.findGrant(other.id, otherUser.id)).toBeUndefined();
      expect(await store.getDeviceCode(decided.id)).toMatchObject({ status: 'denied', grantId: null });
    });

    it("decideDeviceCode through a session that ended is 'credential-changed' and stores nothing: no decision, no grant created or widened", async () => {
      const { store } = ref;
      const { client, user, grant } = await storedGrant(store);
      const other = clientRecord();
      await store.createClient(other, audit('client.created'));
      const code = deviceCodeRecord(client.id);
      const otherCode = deviceCodeRecord(other.id);
      for (const c of [code, otherCode]) await store.createDeviceCode(c, []);
      const session = sessionRecord(user.id);
      await store.createSession(session);
      const checked: CheckedCredentials = { session: { hash: session.hash, userId: user.id } };
      await store.deleteSession(session.hash);
      const widened = { ...grant, scope: `${grant.scope} admin` };
      expect(await appends(store, 0, () => store.decideDeviceCode(code.id, { approve: { userId: user.id, grant: widened } }, Date.now(), [audit('grant.widened'), audit('device.approved')], checked)))
        .toBe('credential-changed');
      const fresh = grantRecord(other.id, user.id);
      expect(await appends(store, 0, () => store.decideDeviceCode(otherCode.id, { approve: { userId: user.id, grant: fresh } }, Date.now(), [audit('grant.created'), audit('device.approved')], checked)))
        .toBe('credential-changed');
      expect(await appends(store, 0, () => store.decideDeviceCode(code.id, { deny: { userId: user.id } }, Date.now(), [audit('device.denied')], checked)))
        .toBe('credential-changed');
      for (const c of [code, otherCode]) expect((await store.getDeviceCode(c.id))?.status).toBe('pending');
      expect(await store.getGrant(grant.id)).toEqual(grant);
      expect(await store.findGrant(other.id, user.id)).toBeUndefined();
    });

    it("approval with a new grant when the pair already has another live grant is 'conflict' and stores nothing", async () => {
      const { store } = ref;
      const { client, user, grant } = await storedGrant(store);
      const code = deviceCodeRecord(client.id);
      await store.createDeviceCode(code, []);
      const second = grantRecord(client.id, user.id);
      expect(await appends(store, 0, () => store.decideDeviceCode(code.id, { approve: { userId: user.id, grant: second } }, Date.now(), [audit('grant.created'), audit('device.approved')])))
        .toBe('conflict');
      expect(await store.getGrant(second.id)).toBeUndefined();
      expect(await store.findGrant(client.id, user.id)).toEqual(grant);
      expect((await store.getDeviceCode(code.id))?.status).toBe('pending');
    });

    it("approval on a grant revoked since it was read is 'grant-revoked' and stores nothing (the revoked grant is not widened)", async () => {
      const { store } = ref;
      const { client, user, grant } = await storedGrant(store);
      const code = deviceCodeRecord(client.id);
      await store.createDeviceCode(code, []);
      await store.revoke({ grant: grant.id }, Date.now(), []);
      const widened = { ...grant, scope: `${grant.scope} admin` };
      expect(await appends(store, 0, () => store.decideDeviceCode(code.id, { approve: { userId: user.id, grant: widened } }, Date.now(), [audit('grant.widened'), audit('device.approved')])))
        .toBe('grant-revoked');
      expect((await store.getGrant(grant.id))?.scope).toBe(grant.scope);
      expect((await store.getDeviceCode(code.id))?.status).toBe('pending');
    });

    it("approval with a grant whose client or user no longer exists is 'credential-changed' and stores nothing", async () => {
      const { store } = ref;
      const { client, user } = await storedClientAndUser(store);
      const code = deviceCodeRecord(client.id);
      await store.createDeviceCode(code, []);
      await store.deleteUser(user.id, Date.now(), []);
      const orphan = grantRecord(client.id, user.id);
      expect(await appends(store, 0, () => store.decideDeviceCode(code.id, { approve: { userId: user.id, grant: orphan } }, Date.now(), [audit('grant.created'), audit('device.approved')])))
        .toBe('credential-changed');
      expect(await store.getGrant(orphan.id)).toBeUndefined();
      expect((await store.getDeviceCode(code.id))?.status).toBe('pending');
    });

    it('redeemDeviceCode claims an approved code once, storing its tokens and audit records; again it is already-used', async () => {
      const { store } = ref;
      const { grant, code } = await approvedCode(store);
      const tokens = [tokenRecord(grant, { familyId: code.id }), tokenRecord(grant, { familyId: code.id, kind: 'refresh' })];
      expect(await appends(store, 3, () => store.redeemDeviceCode(code.id, Date.now(), tokens, [audit('device.redeemed'), audit('token.issued'), audit('token.issued')]))).toBe('claimed');
      for (const t of tokens) expect(await store.getToken(t.id)).toEqual(t);
      expect((await store.getDeviceCode(code.id))?.status).toBe('redeemed');
      const again = tokenRecord(grant, { familyId: code.id });
      expect(await appends(store, 0, () => store.redeemDeviceCode(code.id, Date.now(), [again], [audit('device.redeemed')]))).toBe('already-used');
      expect(await store.getToken(again.id)).toBeUndefined();
    });

    it('redeemDeviceCode of a pending or denied code is already-used and stores nothing', async () => {
      const { store } = ref;
      const { client, user, grant } = await storedGrant(store);
      const pending = deviceCodeRecord(client.id);
      const denied = deviceCodeRecord(client.id);
      for (const c of [pending, denied]) await store.createDeviceCode(c, []);
      await store.decideDeviceCode(denied.id, { deny: { userId: user.id } }, Date.now(), []);
      for (const c of [pending, denied]) {
        const t = tokenRecord(grant, { familyId: c.id });
        expect(await appends(store, 0, () => store.redeemDeviceCode(c.id, Date.now(), [t], [audit('device.redeemed')]))).toBe('already-used');
        expect(await store.getToken(t.id)).toBeUndefined();
      }
    });

    it('redeemDeviceCode whose grant was revoked after approval is grant-revoked, stores nothing and leaves the code approved', async () => {
      const { store } = ref;
      const { grant, code } = await approvedCode(store);
      await store.revoke({ grant: grant.id }, Date.now(), [audit('token.revoked')]);
      const t = tokenRecord(grant, { familyId: code.id });
      expect(await appends(store, 0, () => store.redeemDeviceCode(code.id, Date.now(), [t], [audit('device.redeemed')]))).toBe('grant-revoked');
      expect(await store.getToken(t.id)).toBeUndefined();
      expect((await store.getDeviceCode(code.id))?.status).toBe('approved');
    });

    it("redeemDeviceCode with a client secret rotated since the check is 'credential-changed' and stores nothing", async () => {
      const { store } = ref;
      const { client, grant, code } = await approvedCode(store);
      const checked: CheckedCredentials = { client: { id: client.id, secretHash: client.secretHash } };
      await store.setClientSecret(client.id, newId(), [audit('client.secret_rotated')]);
      const t = tokenRecord(grant, { familyId: code.id });
      expect(await appends(store, 0, () => store.redeemDeviceCode(code.id, Date.now(), [t], [audit('device.redeemed')], checked))).toBe('credential-changed');
      expect((await store.getDeviceCode(code.id))?.status).toBe('approved');
    });

    it('sweepExpired deletes expired device codes, whatever their status, and keeps live ones', async () => {
      const { store } = ref;
      const { client, user } = await storedGrant(store);
      const now = Date.now();
      const past = { issuedAt: now - 20_000, expiresAt: now - 1 };
      const expired = [deviceCodeRecord(client.id, past), deviceCodeRecord(client.id, past)];
      const live = deviceCodeRecord(client.id);
      for (const c of [...expired, live]) await store.createDeviceCode(c, []);
      await store.decideDeviceCode(live.id, { deny: { userId: user.id } }, now, []);
      expect(await store.sweepExpired(now, 100)).toBe(2);
      for (const c of expired) expect(await store.getDeviceCode(c.id)).toBeUndefined();
      expect(await store.getDeviceCode(live.id)).toMatchObject({ status: 'denied' });
      // The user code of a swept device code is free again.
      expect(await store.createDeviceCode(deviceCodeRecord(client.id, { userCodeHash: expired[0]!.userCodeHash }), [])).toBe('created');
    });
  });
}
