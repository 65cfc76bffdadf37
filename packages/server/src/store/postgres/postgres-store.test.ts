import { clientRecord, createTestDatabase, grantRecord, storageSuite, type TestDatabase, tokenRecord } from '@tessera/test-utils';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyChain } from '../../audit/chain.js';
import { migrate } from './migrate.js';
import { PostgresStore } from './postgres-store.js';
import { migrations } from './schema.js';

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

describe('PostgresStore migrations', () => {
  /** A new database as it was just before the migration that contains `marker`: its version and a connection to it. */
  async function databaseBefore(name: string, marker: string) {
    const old = await createTestDatabase(name);
    const sql = postgres(old.url, { max: 1, onnotice: () => {} });
    const before = migrations.findIndex((m) => m.includes(marker));
    await sql.unsafe('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    for (const m of migrations.slice(0, before)) await sql.unsafe(m);
    await sql.unsafe(`CREATE TABLE tessera_schema (version integer NOT NULL); INSERT INTO tessera_schema VALUES (${before})`);
    return { old, sql, before };
  }

  it('a token stored before the auth_time migration reads authTime null after it (its refreshes omit auth_time, as before)', async () => {
    const { old, sql, before } = await databaseBefore('tessera_auth_time', 'ALTER TABLE tokens ADD COLUMN auth_time');
    try {
      await sql`INSERT INTO tokens (id, hash, kind, format, grant_id, family_id, parent_id, client_id, user_id, scope, issued_at, expires_at, revoked_at, consumed_at)
        VALUES ('t1', 'h1', 'refresh', 'opaque', 'g1', 'f1', NULL, 'c1', 'u1', 'openid offline_access', 1, 9000000000000, NULL, NULL)`;
      expect(await migrate({ url: old.url })).toEqual({ from: before, to: migrations.length });
      const store = await PostgresStore.open({ url: old.url, poolSize: 1 });
      try {
        expect(await store.getToken('t1')).toMatchObject({ id: 't1', kind: 'refresh', authTime: null });
      } finally {
        await store.close();
      }
    } finally {
      await sql.end({ timeout: 1 });
      await old.drop();
    }
  });

  it('clients from before the column keep the ES256 ID Tokens they had; new clients default to RS256 (OpenID Connect Registration §2)', async () => {
    const { old, sql, before } = await databaseBefore('tessera_id_token_alg', 'ADD COLUMN id_token_signed_response_alg');
    try {
      await sql`INSERT INTO clients (id, name, secret_hash, auth_method, grant_types, redirect_uris, scope, token_format, created_at)
        VALUES ('old', 'old', 'h', 'client_secret_basic', '["authorization_code"]', '["https://app/cb"]', 'openid', 'opaque', 1)`;
      expect(await migrate({ url: old.url })).toEqual({ from: before, to: migrations.length });
      const [column] = await sql`SELECT column_default FROM information_schema.columns WHERE table_name = 'clients' AND column_name = 'id_token_signed_response_alg'`;
      expect(column?.column_default).toMatch(/^'RS256'/);
      const store = await PostgresStore.open({ url: old.url, poolSize: 1 });
      try {
        expect(await store.getClient('old')).toMatchObject({ id: 'old', idTokenSignedResponseAlg: 'ES256' });
      } finally {
        await store.close();
      }
    } finally {
      await sql.end({ timeout: 1 });
      await old.drop();
    }
  });

  it('RFC 8693: clients registered for token exchange keep exchanging the tokens sent to their resources (copied as exchange audiences); other clients get none', async () => {
    const { old, sql, before } = await databaseBefore('tessera_exchange_audiences', 'ADD COLUMN exchange_audiences');
    try {
      const insert = (id: string, grantTypes: string[], resources: string[]) => sql`INSERT INTO clients (id, name, secret_hash, auth_method, grant_types, redirect_uris, scope, token_format, created_at, resources)
        VALUES (${id}, ${id}, 'h', 'client_secret_basic', ${sql.json(grantTypes)}, '[]', 'read', 'opaque', 1, ${sql.json(resources)})`;
      await insert('exchanger', ['client_credentials', 'urn:ietf:params:oauth:grant-type:token-exchange'], ['https://orders.example/', 'urn:example:billing']);
      await insert('caller', ['client_credentials'], ['https://orders.example/']);
      expect(await migrate({ url: old.url })).toEqual({ from: before, to: migrations.length });
      const store = await PostgresStore.open({ url: old.url, poolSize: 1 });
      try {
        expect(await store.getClient('exchanger')).toMatchObject({
          resources: ['https://orders.example/', 'urn:example:billing'], exchangeAudiences: ['https://orders.example/', 'urn:example:billing'],
        });
        expect(await store.getClient('caller')).toMatchObject({ resources: ['https://orders.example/'], exchangeAudiences: [] });
      } finally {
        await store.close();
      }
    } finally {
      await sql.end({ timeout: 1 });
      await old.drop();
    }
  });
});
