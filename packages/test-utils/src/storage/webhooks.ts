/**
 * Lifecycle webhooks (issue 13): subscriptions, and the outbox the writes fill in the transaction
 * of their audit records; claims exclusive across connections; retry bookkeeping.
 */
import type { AuditInput, Store, WebhookRecord } from '@tessera/server';
import { describe, expect, it } from 'vitest';
import { newId, tokenRecord } from '../fixtures.js';
import { appends, audit, connections, type StoreRef, storedGrant } from './context.js';

const webhook = (events: string[], over: Partial<WebhookRecord> = {}): WebhookRecord => ({
  id: newId(), url: 'https://hooks.example.com/tessera', events, sealedSecret: 'v1.sealed', createdAt: Date.now(), ...over,
});

/** A token issued on a stored grant, with its token.issued record (which names the family, as the engine's does). */
async function issueOne(store: Store, extra: AuditInput[] = []) {
  const { client, user, grant } = await storedGrant(store);
  const token = tokenRecord(grant, { familyId: 'family-1' });
  const issued: AuditInput = { ...audit('token.issued'), clientId: client.id, userId: user.id, grantId: grant.id, tokenId: token.id, data: { family: 'family-1', kind: 'access' } };
  expect(await store.issueTokens([token], [issued, ...extra])).toBe('issued');
  return { client, user, grant, token };
}

/** `n` pending deliveries of one subscription. */
async function pending(store: Store, n: number): Promise<WebhookRecord> {
  const hook = webhook(['user.updated']);
  await store.createWebhook(hook, []);
  await store.appendAudit(Array.from({ length: n }, () => audit('user.updated', { userId: newId() })));
  return hook;
}

export function webhooks(ref: StoreRef): void {
  describe('lifecycle webhooks', () => {
    it('subscriptions are stored and deleted with their audit records; an unknown one deletes nothing', async () => {
      const { store } = ref;
      const hook = webhook(['token.issued', 'token.revoked']);
      await appends(store, 1, () => store.createWebhook(hook, [audit('webhook.created')]));
      expect(await store.listWebhooks()).toEqual([hook]);
      expect(await appends(store, 1, () => store.deleteWebhook(hook.id, [audit('webhook.deleted')]))).toBe(true);
      expect(await appends(store, 0, () => store.deleteWebhook(hook.id, [audit('webhook.deleted')]))).toBe(false);
      expect(await store.listWebhooks()).toEqual([]);
    });

    it('a write adds a pending delivery for each record a subscription names, in its own transaction: ids, family and reason, never more', async () => {
      const { store } = ref;
      const hook = webhook(['token.issued']);
      const other = webhook(['token.revoked']);
      await store.createWebhook(hook, []);
      await store.createWebhook(other, []);
      const before = Date.now();
      const { client, user, grant, token } = await issueOne(store, [audit('user.updated')]);
      const found = await store.listDeliveries({});
      expect(found).toEqual([{
        id: expect.any(String), webhookId: hook.id, event: 'token.issued', at: expect.any(Number), actor: 'test', clientId: client.id, userId: user.id, grantId: grant.id,
        tokenId: token.id, familyId: 'family-1', accessTokenId: null, refreshTokenId: null, reason: null, status: 'pending', attempts: 0, nextAttemptAt: expect.any(Number),
        lastStatus: null, lastError: null, finishedAt: null,
      }]);
      expect(found[0]?.at).toBeGreaterThanOrEqual(before);
      expect(found[0]?.nextAttemptAt).toBe(found[0]?.at);
      await store.revoke({ grant: grant.id }, Date.now(), [audit('token.revoked', { grantId: grant.id, reason: 'offboarded' })]);
      expect(await store.listDeliveries({ webhookId: other.id })).toMatchObject([{ event: 'token.revoked', grantId: grant.id, reason: 'offboarded' }]);
    });

    it("a rotation's delivery names the pair its one audit record issued (accessTokenId, refreshTokenId), as the engine writes it since issue 14", async () => {
      const { store } = ref;
      const hook = webhook(['token.rotated']);
      await store.createWebhook(hook, []);
      const { grant } = await storedGrant(store);
      const old = tokenRecord(grant, { kind: 'refresh', familyId: 'family-2' });
      await store.issueTokens([old], []);
      const access = tokenRecord(grant, { familyId: old.familyId, parentId: old.id });
      const refresh = tokenRecord(grant, { kind: 'refresh', familyId: old.familyId, parentId: old.id });
      const rotated = audit('token.rotated', { grantId: grant.id, tokenId: old.id, data: { family: old.familyId, access: { id: access.id }, refresh: { id: refresh.id } } });
      expect(await store.rotateRefresh(old.id, Date.now(), null, [access, refresh], [rotated])).toBe('claimed');
      expect(await store.listDeliveries({})).toMatchObject([{ event: 'token.rotated', tokenId: old.id, familyId: 'family-2', accessTokenId: access.id, refreshTokenId: refresh.id }]);
    });

    it('a write that stores nothing adds no delivery (atomic with the audit record)', async () => {
      const { store } = ref;
      await store.createWebhook(webhook(['token.issued']), []);
      const { grant } = await storedGrant(store);
      await store.revoke({ grant: grant.id }, Date.now(), []);
      expect(await store.issueTokens([tokenRecord(grant)], [audit('token.issued', { grantId: grant.id })])).toBe('grant-revoked');
      expect(await store.listDeliveries({})).toEqual([]);
    });

    it('a subscription made or deleted through another connection governs the next write here', async () => {
      const { store } = ref;
      const other = await ref.connect();
      const hook = webhook(['token.issued']);
      await other.createWebhook(hook, []);
      await issueOne(store);
      expect(await store.listDeliveries({ webhookId: hook.id })).toHaveLength(1);
      expect(await other.deleteWebhook(hook.id, [])).toBe(true);
      // Its deliveries go with it, and no write delivers to it any more.
      expect(await store.listDeliveries({})).toEqual([]);
      await issueOne(store);
      expect(await store.listDeliveries({})).toEqual([]);
    });

    it('a delivery filter holding a NUL (which PostgreSQL text cannot store) matches nothing, never an error', async () => {
      const { store } = ref;
      const hook = await pending(store, 1);
      expect(await store.listDeliveries({ webhookId: `\u0000${hook.id}` })).toEqual([]);
    });

    it('deliveries page newest first (at, then id): before the last of a page gives the next, none twice or missed, ties on at included', async () => {
      const { store } = ref;
      const hook = await pending(store, 7);
      const all = await store.listDeliveries({ webhookId: hook.id });
      expect(all).toHaveLength(7);
      const seen: string[] = [];
      let before: { at: number; id: string } | undefined;
      for (;;) {
        const page = await store.listDeliveries({ webhookId: hook.id, limit: 3, ...(before ? { before } : {}) });
        seen.push(...page.map((d) => d.id));
        const last = page.at(-1);
        if (page.length < 3 || last === undefined) break;
        before = { at: last.at, id: last.id };
      }
      expect(seen).toEqual(all.map((d) => d.id));
    });

    it('claims take due deliveries only, lease them until leaseUntil, and two connections claiming at once never take the same one', async () => {
      const { store } = ref;
      const hook = await pending(store, 20);
      const at = Date.now() + 1;
      const [a, b] = (await connections(ref, 2)) as [Store, Store];
      const [x, y] = await Promise.all([a.claimDeliveries(at, 15, at + 60_000), b.claimDeliveries(at, 15, at + 60_000)]);
      const ids = [...x, ...y].map((c) => c.delivery.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toHaveLength(20);
      expect(x[0]).toMatchObject({ url: hook.url, sealedSecret: hook.sealedSecret, delivery: { webhookId: hook.id, status: 'pending' } });
      // Leased: not due again for anyone until the lease lapses.
      expect(await store.claimDeliveries(at + 59_999, 50, at + 120_000)).toEqual([]);
      expect(await store.claimDeliveries(at + 60_000, 50, at + 120_000)).toHaveLength(20);
    });

    it('an attempt is recorded: a retry waits for its time, delivered and failed finish it (failed audited), and the sweeper deletes finished ones', async () => {
      const { store } = ref;
      await pending(store, 3);
      expect(await store.countPendingDeliveries()).toBe(3);
      const at = Date.now() + 1;
      const [one, two, three] = (await store.claimDeliveries(at, 3, at + 60_000)).map((c) => c.delivery.id) as [string, string, string];
      await appends(store, 0, () => store.recordDelivery(one, { at, httpStatus: 503, error: 'HTTP 503', outcome: 'retry', nextAttemptAt: at + 1000 }, []));
      await store.recordDelivery(two, { at, httpStatus: 200, error: null, outcome: 'delivered' }, []);
      await appends(store, 1, () => store.recordDelivery(three, { at, httpStatus: null, error: 'ECONNREFUSED', outcome: 'failed' }, [audit('webhook.delivery_failed')]));
      const byId = new Map((await store.listDeliveries({})).map((d) => [d.id, d]));
      expect(byId.get(one)).toMatchObject({ status: 'pending', attempts: 1, lastStatus: 503, lastError: 'HTTP 503', nextAttemptAt: at + 1000, finishedAt: null });
      expect(byId.get(two)).toMatchObject({ status: 'delivered', attempts: 1, lastStatus: 200, lastError: null, finishedAt: at });
      expect(byId.get(three)).toMatchObject({ status: 'failed', attempts: 1, lastStatus: null, lastError: 'ECONNREFUSED', finishedAt: at });
      expect((await store.listDeliveries({ status: 'pending' })).map((d) => d.id)).toEqual([one]);
      // The backlog (/metrics): pending only.
      expect(await store.countPendingDeliveries()).toBe(1);
      // Finished: recording again changes nothing, audits nothing.
      await appends(store, 0, () => store.recordDelivery(three, { at, httpStatus: 200, error: null, outcome: 'delivered' }, [audit('webhook.delivery_failed')]));
      expect(await store.claimDeliveries(at + 999, 10, at + 60_000)).toEqual([]);
      expect((await store.claimDeliveries(at + 1000, 10, at + 60_000)).map((c) => c.delivery.attempts)).toEqual([1]);
      await store.sweepExpired(at + 1, 100);
      expect((await store.listDeliveries({})).map((d) => d.id)).toEqual([one]);
    });
  });
}
