/** The audit log: appended records form a hash chain whose head the store keeps apart. */
import { GENESIS, hashRecord, verifyChain, type AuditRecord, type Store } from '@tessera/server';
import { describe, expect, it } from 'vitest';
import { clientRecord, grantRecord, tokenRecord, userRecord } from '../fixtures.js';
import { audit, auditCount, lastAuditSeq, type StoreRef } from './context.js';

async function all(store: Store): Promise<AuditRecord[]> {
  return store.readAudit(0, 1_000_000);
}

export function auditLog(ref: StoreRef): void {
  describe('audit log', () => {
    it('a fresh store has empty chains, listed 0…n-1 in order, whose heads are the genesis', async () => {
      const { store } = ref;
      const heads = await store.auditHeads();
      expect(heads.length).toBeGreaterThan(0);
      expect(heads.map((h) => h.chain)).toEqual(heads.map((_, i) => i));
      for (const head of heads) expect(head).toMatchObject({ records: 0, seq: 0, hash: GENESIS });
      expect(await all(store)).toEqual([]);
      expect(await verifyChain(await all(store), heads)).toEqual({ ok: true, records: 0 });
    });

    it('concurrent writes are each atomic: the one that fails halfway leaves no row and no record, the others land whole', async () => {
      const { store } = ref;
      const client = clientRecord();
      const grant = grantRecord(client.id, null);
      const taken = tokenRecord(grant);
      await store.createClient(client, audit('client.created'));
      await store.issueTokens([taken], [audit('token.issued')], grant);
      const [before, after] = [await auditCount(store), await lastAuditSeq(store)];
      const user = userRecord();
      const first = tokenRecord(grant);
      const fresh = tokenRecord(grant);
      // Started together, without awaiting in between: a store may commit them as one group.
      // The second stores `first`, then fails on a token id already taken.
      const outcomes = await Promise.allSettled([
        store.createUser(user, audit('user.created')),
        store.issueTokens([first, { ...tokenRecord(grant), id: taken.id }], [audit('token.issued'), audit('token.issued')]),
        store.issueTokens([fresh], [audit('token.issued')]),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(await store.getUser(user.id)).toEqual(user);
      expect(await store.getToken(first.id)).toBeUndefined();
      expect(await store.getToken(taken.id)).toEqual(taken);
      expect(await store.getToken(fresh.id)).toEqual(fresh);
      const records = await store.readAudit(after, 100);
      // In commit order, which for concurrent writes on a pool of connections is any order.
      expect(records.map((r) => r.event).sort()).toEqual(['token.issued', 'user.created']);
      expect(await verifyChain(await all(store), await store.auditHeads())).toEqual({ ok: true, records: before + 2 });
    });

    it('appendAudit chains records: increasing seq, one chain per write with prevHash links, content hashes, heads = last', async () => {
      const { store } = ref;
      await store.appendAudit([
        audit('one', { clientId: 'c', userId: 'u', grantId: 'g', tokenId: 't', reason: 'why', endpoint: '/token', data: { n: 1, nested: { ok: true } } }),
        audit('two'),
      ]);
      await store.appendAudit([audit('three')]);
      const records = await all(store);
      expect(records.map((r) => r.event)).toEqual(['one', 'two', 'three']);
      expect(records[0]!.seq).toBeLessThan(records[1]!.seq);
      expect(records[1]!.seq).toBeLessThan(records[2]!.seq);
      // One write's records extend one chain, each linked to the one before it.
      expect(records[1]).toMatchObject({ chain: records[0]!.chain, prevHash: records[0]!.hash });
      expect(records[0]).toMatchObject({ actor: 'test', clientId: 'c', userId: 'u', grantId: 'g', tokenId: 't', reason: 'why', endpoint: '/token', data: { n: 1, nested: { ok: true } } });
      expect(records[1]).toMatchObject({ clientId: null, userId: null, grantId: null, tokenId: null, reason: null, endpoint: null, data: null });
      for (const r of records) {
        expect(r.hash).toBe(hashRecord(r));
        expect(typeof r.at).toBe('number');
      }
      const prevOf = (r: AuditRecord) => records.filter((o) => o.chain === r.chain && o.seq < r.seq).at(-1)?.hash ?? GENESIS;
      for (const r of records) expect(r.prevHash).toBe(prevOf(r));
      const heads = await store.auditHeads();
      for (const head of heads) {
        const mine = records.filter((r) => r.chain === head.chain);
        expect(head).toEqual({ chain: head.chain, records: mine.length, seq: mine.at(-1)?.seq ?? 0, hash: mine.at(-1)?.hash ?? GENESIS });
      }
      expect(await verifyChain(records, heads)).toEqual({ ok: true, records: 3 });
    });

    it('appendAudit of nothing changes nothing', async () => {
      const { store } = ref;
      await store.appendAudit([audit('one')]);
      const heads = await store.auditHeads();
      await store.appendAudit([]);
      expect(await store.auditHeads()).toEqual(heads);
    });

    it('readAudit pages after a seq, oldest first, and filters by time', async () => {
      const { store } = ref;
      await store.appendAudit([audit('a'), audit('b'), audit('c'), audit('d'), audit('e')]);
      const seqs = (await all(store)).map((r) => r.seq);
      expect((await store.readAudit(0, 2)).map((r) => r.event)).toEqual(['a', 'b']);
      expect((await store.readAudit(seqs[1]!, 2)).map((r) => r.event)).toEqual(['c', 'd']);
      expect((await store.readAudit(seqs[3]!, 10)).map((r) => r.event)).toEqual(['e']);
      expect(await store.readAudit(seqs[4]!, 10)).toEqual([]);
      const at = (await store.readAudit(0, 1))[0]!.at;
      expect(await store.readAudit(0, 10, at + 60_000)).toEqual([]);
      expect(await store.readAudit(0, 10, at - 60_000)).toHaveLength(5);
    });

    it('every audited write extends a chain that verifyChain accepts', async () => {
      const { store } = ref;
      const client = clientRecord();
      const user = userRecord();
      await store.createClient(client, audit('client.created'));
      await store.createUser(user, audit('user.created'));
      const grant = grantRecord(client.id, user.id);
      await store.saveGrant(grant, [audit('grant.created')]);
      const refresh = tokenRecord(grant, { kind: 'refresh' });
      await store.issueTokens([refresh], [audit('token.issued')], grant);
      await store.rotateRefresh(refresh.id, Date.now(), null, [tokenRecord(grant)], [audit('token.rotated'), audit('token.issued')]);
      await store.revoke({ grant: grant.id }, Date.now(), [audit('token.revoked')]);
      await store.appendAudit([audit('note')]);
      const records = await all(store);
      expect(records.map((r) => r.event)).toEqual([
        'client.created', 'user.created', 'grant.created', 'token.issued', 'token.rotated', 'token.issued', 'token.revoked', 'note',
      ]);
      expect(await verifyChain(records, await store.auditHeads())).toEqual({ ok: true, records: 8 });
    });
  });
}
