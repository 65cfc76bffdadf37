/** Grants (findGrant, saveGrant) and authorization codes (the redeemCode compare-and-set). */
import type { Store, TokenRecord } from '@tessera/server';
import { describe, expect, it } from 'vitest';
import { codeRecord, grantRecord, newHash, newId, tokenRecord, userRecord } from '../fixtures.js';
import { appends, audit, rejectsAndAppendsNothing, type StoreRef, storedClientAndUser, storedGrant } from './context.js';

export function grantsAndCodes(ref: StoreRef): void {
  describe('grants', () => {
    it('saveGrant inserts a grant, with its audit records; getGrant returns it', async () => {
      const { store } = ref;
      const { client, user } = await storedClientAndUser(store);
      const grant = grantRecord(client.id, user.id);
      await appends(store, 1, () => store.saveGrant(grant, [audit('grant.created')]));
      expect(await store.getGrant(grant.id)).toEqual(grant);
      expect(await store.getGrant(newId())).toBeUndefined();
    });

    it('saveGrant of an existing grant widens its scope in place', async () => {
      const { store } = ref;
      const { client, user } = await storedClientAndUser(store);
      const grant = grantRecord(client.id, user.id, { scope: 'read' });
      await store.saveGrant(grant, [audit('grant.created')]);
      await store.saveGrant({ ...grant, scope: 'read write' }, [audit('grant.widened')]);
      expect(await store.getGrant(grant.id)).toEqual({ ...grant, scope: 'read write' });
      expect(await store.findGrant(client.id, user.id)).toEqual({ ...grant, scope: 'read write' });
    });

    it('findGrant matches client and user; a null user means the client-credentials grant', async () => {
      const { store } = ref;
      const { client, user } = await storedClientAndUser(store);
      const other = userRecord();
      await store.createUser(other, audit('user.created'));
      const userGrant = grantRecord(client.id, user.id);
      const ownGrant = grantRecord(client.id, null);
      await store.saveGrant(userGrant, []);
      await store.saveGrant(ownGrant, []);
      expect(await store.findGrant(client.id, user.id)).toEqual(userGrant);
      expect(await store.findGrant(client.id, null)).toEqual(ownGrant);
      expect(await store.findGrant(client.id, other.id)).toBeUndefined();
      expect(await store.findGrant(newId(), user.id)).toBeUndefined();
    });

    it('findGrant ignores revoked grants and finds the active one that replaced it', async () => {
      const { store } = ref;
      const { client, user } = await storedClientAndUser(store);
      const old = grantRecord(client.id, user.id, { createdAt: Date.now() - 1000 });
      await store.saveGrant(old, []);
      await store.revoke({ grant: old.id }, Date.now(), [audit('token.revoked')]);
      expect(await store.findGrant(client.id, user.id)).toBeUndefined();
      expect((await store.getGrant(old.id))?.revokedAt).not.toBeNull();
      const fresh = grantRecord(client.id, user.id);
      await store.saveGrant(fresh, []);
      expect(await store.findGrant(client.id, user.id)).toEqual(fresh);
    });
  });

  describe('one live grant per (client, user)', () => {
    it.each([
      ['a user', true],
      ['no user (client credentials)', false],
    ])('saveGrant of a second live grant for a pair (%s) is a conflict and stores nothing', async (_pair, withUser) => {
      const { store } = ref;
      const { client, user } = await storedClientAndUser(store);
      const userId = withUser ? user.id : null;
      const first = grantRecord(client.id, userId);
      await store.saveGrant(first, [audit('grant.created')]);
      const second = grantRecord(client.id, userId);
      expect(await appends(store, 0, () => store.saveGrant(second, [audit('grant.created')]))).toBe('conflict');
      expect(await store.getGrant(second.id)).toBeUndefined();
      expect(await store.findGrant(client.id, userId)).toEqual(first);
    });

    it('issueTokens with a new grant for a pair that has a live grant is a conflict and stores nothing', async () => {
      const { store } = ref;
      const { client, user, grant } = await storedGrant(store);
      const other = grantRecord(client.id, user.id);
      const token = tokenRecord(other);
      expect(await appends(store, 0, () => store.issueTokens([token], [audit('token.issued')], other))).toBe('conflict');
      expect(await store.getGrant(other.id)).toBeUndefined();
      expect(await store.getToken(token.id)).toBeUndefined();
      // The live grant itself may be given again (its scope widened): no conflict with itself.
      expect(await store.issueTokens([tokenRecord(grant)], [], { ...grant, scope: 'read write admin' })).toBe('issued');
      expect(await store.saveGrant({ ...grant, scope: 'read' }, [])).toBe('saved');
    });

    it('a revoked grant does not count: the pair gets a new live grant', async () => {
      const { store } = ref;
      const { client, user, grant } = await storedGrant(store);
      await store.revoke({ grant: grant.id }, Date.now(), []);
      const next = grantRecord(client.id, user.id);
      expect(await store.issueTokens([tokenRecord(next)], [], next)).toBe('issued');
      expect(await store.findGrant(client.id, user.id)).toEqual(next);
    });
  });

  describe('authorization codes', () => {
    async function setup(store: Store) {
      const { client, user } = await storedClientAndUser(store);
      const grant = grantRecord(client.id, user.id);
      await store.saveGrant(grant, []);
      const code = codeRecord(grant, { codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', codeChallengeMethod: 'S256', nonce: 'n-0S6_WzA2Mj', authTime: Date.now() - 5_000, dpopJkt: newHash() });
      await store.createCode(code, [audit('code.issued')]);
      const tokens: TokenRecord[] = [
        tokenRecord(grant, { familyId: code.id }),
        tokenRecord(grant, { familyId: code.id, kind: 'refresh' }),
      ];
      return { grant, code, tokens };
    }

    it('createCode stores every field, found by id', async () => {
      const { store } = ref;
      const { code } = await setup(store);
      expect(await store.getCode(code.id)).toEqual(code);
      expect(await store.getCode(newId())).toBeUndefined();
    });

    it('redeemCode claims the code once: marks it redeemed and stores the tokens and audit records', async () => {
      const { store } = ref;
      const { code, tokens } = await setup(store);
      const at = Date.now();
      const result = await appends(store, 3, () => store.redeemCode(code.id, at, tokens, [audit('code.redeemed'), audit('token.issued'), audit('token.issued')]));
      expect(result).toBe('claimed');
      expect(await store.getCode(code.id)).toEqual({ ...code, redeemedAt: at });
      for (const t of tokens) expect(await store.getToken(t.id)).toEqual(t);
    });

    it('redeemCode a second time is already-used and stores nothing', async () => {
      const { store } = ref;
      const { grant, code, tokens } = await setup(store);
      const at = Date.now();
      await store.redeemCode(code.id, at, tokens, [audit('code.redeemed')]);
      const again = [tokenRecord(grant, { familyId: code.id })];
      const result = await appends(store, 0, () => store.redeemCode(code.id, at + 5, again, [audit('code.redeemed')]));
      expect(result).toBe('already-used');
      expect(await store.getToken(again[0]!.id)).toBeUndefined();
      expect((await store.getCode(code.id))?.redeemedAt).toBe(at);
    });

    it('concurrent redeemCode calls: exactly one is claimed', async () => {
      const { store } = ref;
      const { grant, code } = await setup(store);
      const attempts = Array.from({ length: 10 }, () => [tokenRecord(grant, { familyId: code.id })]);
      const results = await Promise.all(attempts.map((tokens, i) => store.redeemCode(code.id, Date.now() + i, tokens, [audit('code.redeemed')])));
      expect(results.filter((r) => r === 'claimed')).toHaveLength(1);
      const stored = await store.listTokens({ clientId: grant.clientId });
      expect(stored).toHaveLength(1);
      expect(stored[0]).toEqual(attempts[results.indexOf('claimed')]![0]);
    });

    it('redeemCode is atomic: when the tokens cannot be stored the code stays unredeemed', async () => {
      const { store } = ref;
      const { grant, code, tokens } = await setup(store);
      const existing = tokenRecord(grant);
      await store.issueTokens([existing], [audit('token.issued')]);
      // The second token reuses an existing id, so storing it must fail.
      const clash = [tokens[0]!, { ...tokens[1]!, id: existing.id }];
      await rejectsAndAppendsNothing(store, () => store.redeemCode(code.id, Date.now(), clash, [audit('code.redeemed')]));
      expect((await store.getCode(code.id))?.redeemedAt).toBeNull();
      expect(await store.getToken(tokens[0]!.id)).toBeUndefined();
      expect(await store.redeemCode(code.id, Date.now(), tokens, [audit('code.redeemed')])).toBe('claimed');
    });
  });
}
