import { clientRecord, createTestDatabase, grantRecord, storageSuite, type TestDatabase, tokenRecord } from '@tessera/test-utils';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyChain } from '../../audit/chain.js';
import { migrate } from './migrate.js';
import { migrations } from './schema.js';
import { PostgresStore } from './postgres-store.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.drop());

const open = () => PostgresStore.open({ url: db.url, poolSize: 4 });

storageSuite(
  'PostgresStore',
  async () => {
    await db.reset();
    return open();
  },
  // Another pool on the same database: what a second instance or the CLI sees.
  { connect: open },
);

describe('PostgresStore issuance batching (one call and one commit per event-loop turn)', () => {
  it('issuances started in one turn each get their own outcome: a revoked grant or a changed secret fails only its own', async () => {
    await db.reset();
    const store = await open();
    try {
      const client = clientRecord();
      await store.createClient(client, { event: 'client.created', actor: 'test' });
      const [live, revoked] = [grantRecord(client.id, null), grantRecord(client.id, null)];
      await store.issueTokens([tokenRecord(revoked)], [], revoked);
      await store.revoke({ grant: revoked.id }, Date.now(), []);
      await store.issueTokens([tokenRecord(live)], [], live);
      const good = [tokenRecord(live), tokenRecord(live), tokenRecord(live)];
      const [onRevoked, withOldSecret] = [tokenRecord(revoked), tokenRecord(live)];
      const outcomes = await Promise.all([
        store.issueTokens([good[0]!], [{ event: 'token.issued', actor: 'test' }]),
        store.issueTokens([onRevoked], [{ event: 'token.issued', actor: 'test' }]),
        store.issueTokens([good[1]!], [{ event: 'token.issued', actor: 'test' }], undefined, { client: { id: client.id, secretHash: client.secretHash } }),
        store.issueTokens([withOldSecret], [{ event: 'token.issued', actor: 'test' }], undefined, { client: { id: client.id, secretHash: 'not-the-secret' } }),
        store.issueTokens([good[2]!], [{ event: 'token.issued', actor: 'test' }]),
      ]);
      expect(outcomes).toEqual(['issued', 'grant-revoked', 'issued', 'credential-changed', 'issued']);
      for (const t of good) expect(await store.getToken(t.id)).toEqual(t);
      for (const t of [onRevoked, withOldSecret]) expect(await store.getToken(t.id)).toBeUndefined();
      expect(await verifyChain(await store.readAudit(0, 100), await store.auditHeads())).toMatchObject({ ok: true, records: 4 });
    } finally {
      await store.close();
    }
  });
});

describe('PostgresStore migrations: id_token_signed_response_alg', () => {
  it('clients from before the column keep the ES256 ID Tokens they had; new clients default to RS256 (OpenID Connect Registration §2)', async () => {
    await db.reset();
    const client = clientRecord();
    const before = await open();
    await before.createClient(client, { event: 'client.created', actor: 'test' });
    await before.close();
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      // The database as it was before the migration: the column gone, the version one back.
      await sql.unsafe('ALTER TABLE clients DROP COLUMN id_token_signed_response_alg; UPDATE tessera_schema SET version = version - 1');
      expect(await migrate({ url: db.url })).toEqual({ from: migrations.length - 1, to: migrations.length });
      const [column] = await sql`SELECT column_default FROM information_schema.columns WHERE table_name = 'clients' AND column_name = 'id_token_signed_response_alg'`;
      expect(column?.column_default).toMatch(/^'RS256'/);
    } finally {
      await sql.end({ timeout: 5 });
    }
    const after = await open();
    try {
      expect(await after.getClient(client.id)).toEqual({ ...client, idTokenSignedResponseAlg: 'ES256' });
    } finally {
      await after.close();
    }
  });
});
