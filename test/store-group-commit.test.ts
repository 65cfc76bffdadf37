/**
 * The SQLite store's group commit, through the store's own interface, with inline writes and with
 * the writer thread: the writes started in one turn share one transaction, and each still gets the
 * result it would have had alone. A group runs without savepoints until a write throws; then it is
 * rolled back and run again write by write, and what the writes had kept in memory (the audit
 * chain's head, the grants found live) must not outlive the rollback.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AuditInput, SqliteStore, verifyChain } from '@tessera/server';
import { auditCount, clientRecord, grantRecord, lastAuditSeq, tokenRecord, userRecord } from '@tessera/test-utils';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'tessera-group-'));
let files = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const audit = (event: string): AuditInput => ({ event, actor: 'test' });
const chainOf = async (store: SqliteStore) => verifyChain(await store.readAudit(0, 10_000), await store.auditHeads());

for (const writer of ['inline', 'thread'] as const) {
  describe(`SqliteStore group commit (${writer} writer)`, () => {
    const open = () => new SqliteStore({ path: join(dir, `store-${++files}.db`), writer });

    it('a write that throws in the middle of a group rejects alone: the writes before and after it commit with their audit records, and the chain verifies', async () => {
      const store = open();
      const client = clientRecord();
      const grant = grantRecord(client.id, null);
      const taken = tokenRecord(grant);
      await store.createClient(client, audit('client.created'));
      await store.issueTokens([taken], [audit('token.issued')], grant);
      const [records, seq] = [await auditCount(store), await lastAuditSeq(store)];
      const user = userRecord();
      // The throwing write stores this new grant and finds it live, then fails on a token id
      // already taken: the grant goes with it, and a later write of the group finds no grant.
      const fresh = grantRecord(client.id, user.id);
      const [before, after] = [tokenRecord(grant), tokenRecord(grant)];
      const outcomes = await Promise.allSettled([
        store.createUser(user, audit('user.created')),
        store.issueTokens([before], [audit('token.issued')]),
        store.issueTokens([tokenRecord(fresh), { ...tokenRecord(fresh), id: taken.id }], [audit('token.issued'), audit('token.issued')], fresh),
        store.issueTokens([tokenRecord(fresh)], [audit('token.issued')]),
        store.issueTokens([after], [audit('token.issued')]),
        store.appendAudit([audit('note')]),
      ]);
      expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : 'rejected'))).toEqual([undefined, 'issued', 'rejected', 'grant-revoked', 'issued', undefined]);
      expect(outcomes[2]).toMatchObject({ reason: { code: expect.stringMatching(/^SQLITE_CONSTRAINT/) } });
      expect(await store.getUser(user.id)).toEqual(user);
      expect(await store.getGrant(fresh.id)).toBeUndefined();
      expect(await store.getToken(before.id)).toEqual(before);
      expect(await store.getToken(after.id)).toEqual(after);
      expect(await store.getToken(taken.id)).toEqual(taken);
      expect((await store.readAudit(seq, 100)).map((r) => r.event)).toEqual(['user.created', 'token.issued', 'token.issued', 'note']);
      expect(await chainOf(store)).toEqual({ ok: true, records: records + 4 });
      await store.close();
    });

    it('a grant revoked in a group refuses the tokens issued on it after the revocation in that group', async () => {
      const store = open();
      const client = clientRecord();
      const grant = grantRecord(client.id, null);
      await store.createClient(client, audit('client.created'));
      await store.issueTokens([tokenRecord(grant)], [audit('token.issued')], grant);
      const [first, last] = [tokenRecord(grant), tokenRecord(grant)];
      const outcomes = await Promise.all([
        store.issueTokens([first], [audit('token.issued')]),
        store.revoke({ grant: grant.id }, Date.now(), [audit('grant.revoked')]),
        store.issueTokens([last], [audit('token.issued')]),
      ]);
      expect(outcomes).toEqual(['issued', { tokens: 2, grants: 1, until: expect.any(Number) }, 'grant-revoked']);
      expect((await store.getToken(first.id))?.revokedAt).not.toBeNull();
      expect(await store.getToken(last.id)).toBeUndefined();
      expect(await chainOf(store)).toEqual({ ok: true, records: 4 });
      await store.close();
    });
  });
}
