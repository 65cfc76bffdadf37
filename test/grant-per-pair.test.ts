/**
 * One live grant per (client, user) across processes (issue 10): two `tessera serve` processes on
 * one data file, each with its own writer thread, race first-time requests of one pair; and two
 * engines on one file race first grants through every path that creates one. Revoking "the" grant
 * must reach every token, so whichever writer wins, the other uses its grant.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Issued, openTessera, type SqliteStore } from '@tessera/server';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientToken, type Run, serve, type Served, tempDir, tessera } from './cli-kit.js';

const dir = tempDir();
const db = join(dir, 'tessera.db');
let servers: Served[] = [];
const run = (args: string[], input?: string): Promise<Run> => tessera([...args, '--db', db], input === undefined ? {} : { input });
async function json(args: string[], input?: string): Promise<any> {
  const r = await run([...args, '--json'], input);
  expect(r, `tessera ${args.join(' ')}`).toMatchObject({ code: 0 });
  return JSON.parse(r.stdout);
}
const createClient = (grantType: string) => json(['client', 'create', '--name', grantType, '--grant-type', grantType, '--scope', 'read']);

/** The grants every token of the client was issued on, and the client's live grants, as the data file holds them. */
function grantsOf(clientId: string): { tokenGrants: number; liveGrants: number } {
  const file = new Database(db, { readonly: true });
  try {
    const tokenGrants = file.prepare('SELECT count(DISTINCT grant_id) FROM tokens WHERE client_id = ?').pluck().get(clientId) as number;
    const liveGrants = file.prepare('SELECT count(*) FROM grants WHERE client_id = ? AND revoked_at IS NULL').pluck().get(clientId) as number;
    return { tokenGrants, liveGrants };
  } finally {
    file.close();
  }
}

beforeAll(async () => {
  // Both start at once on a new file: each applies the migrations the other has not (issue 10).
  servers = await Promise.all([0, 1].map(() => serve(['--db', db])));
}, 60_000);
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

describe('one live grant per (client, user) across processes', () => {
  it('first client_credentials requests of several clients, raced across two servers on one file: one grant per client', async () => {
    const clients = await Promise.all(Array.from({ length: 4 }, () => createClient('client_credentials')));
    const answers = await Promise.all(clients.flatMap((c) => Array.from({ length: 10 }, (_, i) => clientToken(servers[i % 2]!.url, c))));
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    for (const c of clients) expect(grantsOf(c.client_id)).toEqual({ tokenGrants: 1, liveGrants: 1 });
  }, 60_000);

});

describe('one live grant per (client, user) between two engines on one file, with no lock shared in memory', () => {
  it('first password tokens, consents and client_credentials tokens raced across two engines: one grant per pair, used by both', async () => {
    const path = join(dir, 'engines.db');
    const [a, b] = [await openTessera({ db: path, synchronous: 'normal' }), await openTessera({ db: path, synchronous: 'normal' })];
    try {
      const by = { actor: 'test' };
      const { client } = await a.engine.createClient({
        name: 'c', authMethod: 'client_secret_basic', grantTypes: ['authorization_code', 'password', 'client_credentials'],
        redirectUris: ['https://app.example/cb'], scope: 'read write', tokenFormat: 'jwt', accessTtl: null, refreshTtl: null,
      }, by);
      const [alice, bob] = [await a.engine.createUser('alice', 'alice passphrase', by), await a.engine.createUser('bob', 'bob passphrase', by)];
      const session = { hash: 'session-hash', userId: bob.id, createdAt: Date.now(), expiresAt: Date.now() + 60_000 };
      await a.store.createSession(session);
      const engines = [a.engine, b.engine, a.engine, b.engine];
      const grantOf = (issued: Issued) => issued.access.record.grantId;

      const password = await Promise.all(engines.map((e) => e.issuePassword(client, alice, 'read', by)));
      expect(new Set(password.map((t) => grantOf(t))).size).toBe(1);
      const consents = await Promise.all(engines.map((e) => e.recordConsent(client, bob, new Set(['read']), by, session)));
      expect(new Set(consents.map((g) => g.id)).size).toBe(1);
      const own = await Promise.all(engines.map((e) => e.issueClientCredentials(client, 'read', by)));
      expect(new Set(own.map((t) => grantOf(t))).size).toBe(1);

      const live = (a.store as SqliteStore).db.prepare('SELECT user_id AS userId, count(*) AS n FROM grants WHERE revoked_at IS NULL GROUP BY user_id ORDER BY user_id').all();
      expect(live).toEqual(expect.arrayContaining([{ userId: alice.id, n: 1 }, { userId: bob.id, n: 1 }, { userId: null, n: 1 }]));
      expect(live).toHaveLength(3);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
