import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storageSuite } from '@tessera/test-utils';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { hashRecord, verifyChain } from '../../audit/chain.js';
import type { AuditInput, ClientRecord, RevocationTarget } from '../types.js';
import { migrations } from './schema.js';
import { SqliteStore } from './sqlite-store.js';
import { targetSql } from './writes.js';

const dir = mkdtempSync(join(tmpdir(), 'tessera-store-'));
let files = 0;
const onFile = () => new SqliteStore({ path: join(dir, `store-${++files}.db`), synchronous: 'normal' });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A second SqliteStore on the same file is a second connection, as the CLI or another server is.
storageSuite('SqliteStore (file)', async () => onFile(), {
  connect: async (store) => new SqliteStore({ path: (store as SqliteStore).db.name, synchronous: 'normal' }),
});
storageSuite('SqliteStore (:memory:)', async () => new SqliteStore({ path: ':memory:' }));

describe('SqliteStore', () => {
  it('a file keeps its rows and its audit chain across reopening', async () => {
    const path = join(dir, 'reopen.db');
    const first = new SqliteStore({ path });
    await first.appendAudit([{ event: 'one', actor: 'test' }]);
    const heads = await first.auditHeads();
    await first.close();
    const second = new SqliteStore({ path });
    expect(await second.auditHeads()).toEqual(heads);
    expect(await verifyChain(await second.readAudit(0, 100), heads)).toEqual({ ok: true, records: 1 });
    await second.close();
  });

  it('countTokens counts a table larger than one slice (it yields between slices) without losing or repeating a row', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    const now = Date.now();
    const insert = store.db.prepare(`INSERT INTO tokens (id, hash, kind, format, grant_id, family_id, client_id, scope, issued_at, expires_at, revoked_at)
      VALUES (?, 'h', ?, 'opaque', 'g', 'f', ?, 'read', ?, ?, ?)`);
    store.db.transaction(() => {
      for (let i = 0; i < 45_001; i++) insert.run(`t${i}`, i % 3 === 0 ? 'refresh' : 'access', `c${i % 2}`, now, i % 5 === 0 ? now - 1 : now + 60_000, i % 7 === 0 ? now : null);
    })();
    const { byKind: counts, byClient } = await store.countTokens(now);
    expect(byClient.map((c) => [c.clientId, c.total])).toEqual([['c0', 22_501], ['c1', 22_500]]);
    const total = Object.values(counts).flatMap((byState) => Object.values(byState)).reduce((a, b) => a + b, 0);
    expect(total).toBe(45_001);
    // Revoked before expired (TokenState): every 7th is revoked, every 5th not revoked has expired.
    expect(counts.access.revoked + counts.refresh.revoked).toBe(6429);
    expect(counts.access.expired + counts.refresh.expired).toBe(9001 - 1286);
    await store.close();
  });

  it('readiness fails the schema check when another program changes the schema version under it', async () => {
    const store = onFile();
    expect(await store.readiness()).toEqual({ ready: true });
    const other = new Database(store.db.name);
    other.pragma(`user_version = ${migrations.length - 1}`);
    expect(await store.readiness()).toEqual({
      ready: false, check: 'schema', reason: `the database schema is at version ${migrations.length - 1}; this Tessera needs version ${migrations.length}`,
    });
    other.pragma(`user_version = ${migrations.length}`);
    other.close();
    expect(await store.readiness()).toEqual({ ready: true });
    await store.close();
  });
});

describe('SqliteStore client cache', () => {
  const client = (id: string): ClientRecord => ({
    id, name: id, secretHash: 'h', previousSecretHash: null, previousSecretExpiresAt: null, authMethod: 'client_secret_basic', jwks: null, jwksUri: null, sealedSecret: null, registrationTokenHash: null,
    grantTypes: ['client_credentials'], redirectUris: [], postLogoutRedirectUris: [], resources: [], exchangeAudiences: [],
    scope: 'read', tokenFormat: 'opaque', idTokenSignedResponseAlg: 'RS256', accessTtl: null, refreshTtl: null, dpopBoundAccessTokens: false, createdAt: Date.now(),
  });

  it('a client deleted through this store is gone at once', async () => {
    const store = onFile();
    await store.createClient(client('c1'), { event: 'client.created', actor: 'test' });
    expect(await store.getClient('c1')).toMatchObject({ id: 'c1' });
    await store.deleteClient('c1', Date.now(), []);
    expect(await store.getClient('c1')).toBeUndefined();
    await store.close();
  });

  it('a client deleted by another process on the same file (the CLI) is dropped from the cache', async () => {
    const path = join(dir, 'two-processes.db');
    const server = new SqliteStore({ path });
    const cli = new SqliteStore({ path });
    await server.createClient(client('c2'), { event: 'client.created', actor: 'test' });
    expect(await server.getClient('c2')).toMatchObject({ id: 'c2' });
    await cli.deleteClient('c2', Date.now(), []);
    await vi.waitFor(async () => expect(await server.getClient('c2')).toBeUndefined(), { timeout: 5000, interval: 20 });
    await Promise.all([server.close(), cli.close()]);
  });

  it('cached clients cannot be changed by a caller', async () => {
    const store = onFile();
    await store.createClient(client('c3'), { event: 'client.created', actor: 'test' });
    const first = (await store.getClient('c3')) as ClientRecord;
    expect(() => (first.grantTypes as string[]).push('password')).toThrow(TypeError);
    expect(() => Object.assign(first, { scope: 'admin' })).toThrow(TypeError);
    expect(await store.getClient('c3')).toMatchObject({ scope: 'read', grantTypes: ['client_credentials'] });
    await store.close();
  });
});

describe('SqliteStore revocation queries use an index', () => {
  const plan = (store: SqliteStore, target: RevocationTarget) =>
    (store.db.prepare(`EXPLAIN QUERY PLAN UPDATE tokens SET revoked_at = 1 WHERE ${targetSql(target).tokens} AND revoked_at IS NULL`).all(...targetSql(target).tokenArgs) as { detail: string }[])
      .map((r) => r.detail)
      .join('; ');

  it('by token, family and grant: a search, never a scan of the tokens table', async () => {
    const store = onFile();
    expect(plan(store, { token: 'x' })).toMatch(/SEARCH tokens USING INDEX sqlite_autoindex_tokens_1 \(id=\?\)/);
    expect(plan(store, { family: 'x', grant: 'g' })).toMatch(/SEARCH tokens USING INDEX tokens_grant_family \(grant_id=\? AND family_id=\?\)/);
    expect(plan(store, { grant: 'x' })).toMatch(/SEARCH tokens USING INDEX tokens_grant_family \(grant_id=\?\)/);
    for (const target of [{ token: 'x' }, { family: 'x', grant: 'g' }, { grant: 'x' }]) expect(plan(store, target)).not.toMatch(/SCAN tokens/);
    await store.close();
  });
});

describe('SqliteStore grant queries use the one-live-grant index', () => {
  it('findGrant, with a user or without, searches grants_live_pair', async () => {
    const store = onFile();
    const sql = (store.db.prepare("SELECT sql FROM sqlite_master WHERE name = 'grants_live_pair'").pluck().get() as string);
    expect(sql).toMatch(/UNIQUE INDEX/);
    for (const userId of ['u1', null]) {
      const plan = (store.db.prepare("EXPLAIN QUERY PLAN SELECT * FROM grants WHERE client_id = @clientId AND ifnull(user_id, '') = ifnull(@userId, '') AND user_id IS @userId AND revoked_at IS NULL")
        .all({ clientId: 'c1', userId }) as { detail: string }[]).map((r) => r.detail).join('; ');
      expect(plan).toMatch(/SEARCH grants USING INDEX grants_live_pair \(client_id=\? AND <expr>=\?\)/);
    }
    await store.close();
  });
});

describe('SqliteStore migrations', () => {
  it('the one-live-grant migration merges duplicate live grants into the newest of their pair, losing no token or code', async () => {
    const path = join(dir, 'duplicate-grants.db');
    const old = new Database(path);
    // The file as it was before the one-live-grant migration (later ones are appended after it).
    const merge = migrations.findIndex((sql) => sql.includes('CREATE UNIQUE INDEX grants_live_pair'));
    for (const sql of migrations.slice(0, merge)) old.exec(sql);
    old.pragma(`user_version = ${merge}`);
    old.exec(`INSERT INTO grants VALUES ('g1', 'c1', 'u1', 'read', 1, NULL), ('g2', 'c1', 'u1', 'read write', 2, NULL), ('g0', 'c1', 'u1', 'read', 0, 5),
        ('k1', 'c1', NULL, 'read', 1, NULL), ('k2', 'c1', NULL, 'read', 3, NULL), ('h1', 'c2', 'u1', 'read', 1, NULL);
      INSERT INTO tokens VALUES ('t1', 'h', 'refresh', 'opaque', 'g1', 'f1', NULL, 'c1', 'u1', 'read', 1, 9e12, NULL, NULL),
        ('t2', 'h', 'access', 'opaque', 'g2', 'f2', NULL, 'c1', 'u1', 'read', 2, 9e12, NULL, NULL),
        ('t3', 'h', 'access', 'opaque', 'k1', 't3', NULL, 'c1', NULL, 'read', 1, 9e12, NULL, NULL),
        ('t0', 'h', 'access', 'opaque', 'g0', 'f0', NULL, 'c1', 'u1', 'read', 0, 9e12, 5, NULL);
      INSERT INTO codes VALUES ('code1', 'h', 'g1', 'c1', 'u1', 'read', 'https://app/cb', NULL, NULL, 1, 9e12, NULL);`);
    old.close();

    const store = new SqliteStore({ path });
    expect(await store.findGrant('c1', 'u1')).toMatchObject({ id: 'g2', scope: 'read write' });
    expect(await store.findGrant('c1', null)).toMatchObject({ id: 'k2' });
    expect(await store.findGrant('c2', 'u1')).toMatchObject({ id: 'h1' });
    for (const gone of ['g1', 'k1']) expect(await store.getGrant(gone)).toBeUndefined();
    // A revoked grant is no duplicate: it stays, with its tokens.
    expect(await store.getGrant('g0')).toMatchObject({ revokedAt: 5 });
    expect(await store.getToken('t0')).toMatchObject({ grantId: 'g0' });
    expect(await store.getToken('t1')).toMatchObject({ grantId: 'g2', familyId: 'f1' });
    expect(await store.getToken('t3')).toMatchObject({ grantId: 'k2' });
    expect(await store.getCode('code1')).toMatchObject({ grantId: 'g2' });
    // Revoking the pair's grant now reaches every token the duplicates held.
    expect(await store.revoke({ grant: 'g2' }, 10, [])).toMatchObject({ tokens: 2, grants: 1 });
    expect(await store.getCode('code1')).toBeUndefined();
    await store.close();
  });


  it('migration 4 keeps every token and code row and leaves no index over their hashes', async () => {
    const path = join(dir, 'v3.db');
    const old = new Database(path);
    for (const sql of migrations.slice(0, 3)) old.exec(sql);
    old.pragma('user_version = 3');
    old.exec(`INSERT INTO tokens VALUES ('t1', 'h1', 'access', 'jwt', 'g1', 'f1', NULL, 'c1', NULL, 'read', 1, 2, NULL, NULL);
      INSERT INTO codes VALUES ('k1', 'h2', 'g1', 'c1', 'u1', 'read', 'https://app/cb', NULL, NULL, 1, 2, NULL);`);
    old.close();

    const store = new SqliteStore({ path });
    expect(store.db.pragma('user_version', { simple: true })).toBe(migrations.length);
    expect(await store.getToken('t1')).toMatchObject({ id: 't1', hash: 'h1', format: 'jwt', grantId: 'g1', expiresAt: 2 });
    expect(await store.getCode('k1')).toMatchObject({ id: 'k1', hash: 'h2', redirectUri: 'https://app/cb' });
    for (const table of ['tokens', 'codes']) {
      const indexed = (store.db.prepare(`SELECT name FROM pragma_index_list('${table}')`).all() as { name: string }[])
        .flatMap(({ name }) => (store.db.prepare(`SELECT name FROM pragma_index_info('${name}')`).all() as { name: string }[]).map((c) => c.name));
      expect(indexed).not.toContain('hash');
      expect(indexed).toContain('id');
    }
    await store.close();
  });

  it('a token stored before the auth_time migration reads authTime null after it (its refreshes omit auth_time, as before)', async () => {
    const path = join(dir, 'before-auth-time.db');
    const old = new Database(path);
    const authTime = migrations.findIndex((sql) => sql.includes('ALTER TABLE tokens ADD COLUMN auth_time'));
    for (const sql of migrations.slice(0, authTime)) old.exec(sql);
    old.pragma(`user_version = ${authTime}`);
    old.exec("INSERT INTO tokens VALUES ('t1', 'h1', 'refresh', 'opaque', 'g1', 'f1', NULL, 'c1', 'u1', 'openid offline_access', 1, 9e12, NULL, NULL)");
    old.close();

    const store = new SqliteStore({ path });
    expect(store.db.pragma('user_version', { simple: true })).toBe(migrations.length);
    expect(await store.getToken('t1')).toMatchObject({ id: 't1', kind: 'refresh', authTime: null });
    await store.close();
  });
});

describe('SqliteStore migrations: id_token_signed_response_alg', () => {
  it('clients from before the column keep the ES256 ID Tokens they had; clients created after it store their own algorithm', async () => {
    const path = join(dir, 'before-id-token-alg.db');
    const old = new Database(path);
    const added = migrations.findIndex((sql) => sql.includes('ADD COLUMN id_token_signed_response_alg'));
    for (const sql of migrations.slice(0, added)) old.exec(sql);
    old.pragma(`user_version = ${added}`);
    old.exec(`INSERT INTO clients (id, name, secret_hash, auth_method, grant_types, redirect_uris, scope, token_format, created_at)
      VALUES ('old', 'old', 'h', 'client_secret_basic', '["authorization_code"]', '["https://app/cb"]', 'openid', 'opaque', 1)`);
    old.close();

    const store = new SqliteStore({ path });
    expect(await store.getClient('old')).toMatchObject({ id: 'old', idTokenSignedResponseAlg: 'ES256' });
    const client = (await store.getClient('old')) as ClientRecord;
    await store.createClient({ ...client, id: 'new', idTokenSignedResponseAlg: 'RS256' }, { event: 'client.created', actor: 'test' });
    expect(await store.getClient('new')).toMatchObject({ idTokenSignedResponseAlg: 'RS256' });
    await store.close();
  });
});

describe('SqliteStore migrations: exchange_audiences', () => {
  it('RFC 8693: clients registered for token exchange keep exchanging the tokens sent to their resources (copied as exchange audiences); other clients get none', async () => {
    const path = join(dir, 'before-exchange-audiences.db');
    const old = new Database(path);
    const added = migrations.findIndex((sql) => sql.includes('ADD COLUMN exchange_audiences'));
    for (const sql of migrations.slice(0, added)) old.exec(sql);
    old.pragma(`user_version = ${added}`);
    const insert = old.prepare(`INSERT INTO clients (id, name, secret_hash, auth_method, grant_types, redirect_uris, scope, token_format, created_at, resources)
      VALUES (?, ?, 'h', 'client_secret_basic', ?, '[]', 'read', 'opaque', 1, ?)`);
    insert.run('exchanger', 'exchanger', '["client_credentials","urn:ietf:params:oauth:grant-type:token-exchange"]', '["https://orders.example/","urn:example:billing"]');
    insert.run('caller', 'caller', '["client_credentials"]', '["https://orders.example/"]');
    old.close();

    const store = new SqliteStore({ path });
    expect(store.db.pragma('user_version', { simple: true })).toBe(migrations.length);
    expect(await store.getClient('exchanger')).toMatchObject({
      resources: ['https://orders.example/', 'urn:example:billing'], exchangeAudiences: ['https://orders.example/', 'urn:example:billing'],
    });
    expect(await store.getClient('caller')).toMatchObject({ resources: ['https://orders.example/'], exchangeAudiences: [] });
    await store.close();
  });
});

describe('SqliteStore audit chain: verifyChain catches tampering with the file', () => {
  let store: SqliteStore;
  const events: AuditInput[] = ['a', 'b', 'c', 'd', 'e'].map((event) => ({ event, actor: 'test', reason: 'original' }));
  const verify = async () => verifyChain(await store.readAudit(0, 1000), await store.auditHeads());

  beforeEach(async () => {
    store = onFile();
    await store.appendAudit(events);
    expect(await verify()).toEqual({ ok: true, records: 5 });
  });
  afterEach(() => store.close());

  it('an altered record', async () => {
    store.db.prepare("UPDATE audit SET reason = 'edited' WHERE seq = 3").run();
    expect(await verify()).toMatchObject({ ok: false, problem: { seq: 3, reason: 'record content altered' } });
  });

  it('an altered record whose hash was recomputed breaks the next link', async () => {
    const [r] = await store.readAudit(2, 1);
    const forged = { ...r!, reason: 'edited' };
    store.db.prepare("UPDATE audit SET reason = 'edited', hash = ? WHERE seq = 3").run(hashRecord(forged));
    expect(await verify()).toMatchObject({ ok: false, problem: { seq: 4, reason: 'link to previous record broken' } });
  });

  it('a deleted middle record breaks the link of the record after it', async () => {
    store.db.prepare('DELETE FROM audit WHERE seq = 2').run();
    expect(await verify()).toMatchObject({ ok: false, problem: { seq: 3, reason: 'link to previous record broken' } });
  });

  it('a deleted tail record (the head still names it)', async () => {
    store.db.prepare('DELETE FROM audit WHERE seq = 5').run();
    expect(await verify()).toMatchObject({ ok: false, records: 4, problem: { reason: 'records missing at the end of the log' } });
  });

  it('a deleted tail with the head rewound to match still fails without the original head', async () => {
    const before = await store.auditHeads();
    const [r4] = await store.readAudit(3, 1);
    store.db.prepare('DELETE FROM audit WHERE seq = 5').run();
    store.db.prepare('UPDATE audit_head SET seq = 4, hash = ? WHERE id = 1').run(r4!.hash);
    // The rewound file is self-consistent; a head kept elsewhere (an anchor) exposes it.
    expect(await verify()).toEqual({ ok: true, records: 4 });
    expect(await verifyChain(await store.readAudit(0, 1000), before)).toMatchObject({ ok: false });
  });
});
