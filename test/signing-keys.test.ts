/**
 * Signing keys per algorithm: an RS256 and an ES256 key, each current on its own. A data file from
 * before RS256 gets its RS256 key at the next start (audited); `tessera keys rotate --alg A`
 * replaces one algorithm's key and leaves the other's; tokens signed by a replaced key still verify
 * against /jwks.json (and serve as id_token_hint) while it is published, and not after it retires.
 * `tessera client update --id-token-alg` switches a client's next ID Tokens.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyRing, openTessera, PostgresStore, SqliteStore, type Store } from '@tessera/server';
import { createTestDatabase } from '@tessera/test-utils';
import { createLocalJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, type JSONWebKeySet, jwtVerify } from 'jose';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Agent } from './agent.js';
import { runTessera } from './cli-kit.js';
import { type Harness, pkce, useServer } from './flows.js';
import type { TestClient } from './helpers.js';

const BYE = 'https://app.example/bye';

/** An openid code flow for a fresh user: the token response body. */
async function openidTokens(h: Harness, c: TestClient): Promise<{ id_token: string; access_token: string }> {
  const p = pkce();
  const code = await h.code(c, { user: await h.user(), scope: 'openid', pkce: p });
  const res = await h.exchange(c, code, { verifier: p.verifier });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

const jwks = async (h: Harness) => (await h.request('/jwks.json')).body as JSONWebKeySet;
const kidOf = (token: string) => decodeProtectedHeader(token).kid;

/** Verifies a JWT with jose against /jwks.json as published now. */
async function verifies(h: Harness, token: string): Promise<boolean> {
  return jwtVerify(token, createLocalJWKSet(await jwks(h)), { issuer: h.server.url }).then(() => true, () => false);
}

/** /end_session with the hint alone, from a browser with no session: straight back to the client when the hint verifies. */
async function hintAccepted(h: Harness, idToken: string): Promise<boolean> {
  const res = await new Agent(h.server.url).get(`/end_session?${new URLSearchParams({ id_token_hint: idToken, post_logout_redirect_uri: BYE })}`);
  return res.status === 302 && res.location === BYE;
}

describe('a data file from before RS256 keys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-keys-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('OpenID Connect Core §15.1: the next start adds an RS256 key (audited key.created); the ES256 key stays current and keeps signing access tokens', async () => {
    const path = join(dir, 'es256-only.db');
    // The store as an earlier Tessera left it: one ES256 key.
    const old = new SqliteStore({ path });
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const es = {
      kid: 'es-old', alg: 'ES256' as const, createdAt: Date.now(), retireAt: null,
      privateJwk: JSON.stringify({ ...(await exportJWK(privateKey)), kid: 'es-old', alg: 'ES256' }),
      publicJwk: JSON.stringify({ ...(await exportJWK(publicKey)), kid: 'es-old', alg: 'ES256', use: 'sig' }),
    };
    await old.addKey(es, null, [{ event: 'key.created', actor: 'system', data: { kid: 'es-old' } }]);
    await old.close();

    const tessera = await openTessera({ db: path });
    try {
      const keys = await tessera.store.listKeys();
      expect(keys.map((k) => [k.alg, k.retireAt])).toEqual([['ES256', null], ['RS256', null]]);
      const rs = keys[1]!;
      const audit = await tessera.store.readAudit(0, 100);
      expect(audit.filter((r) => r.event === 'key.created').map((r) => r.data)).toEqual([{ kid: 'es-old' }, { kid: rs.kid, alg: 'RS256' }]);
      expect((await tessera.keys.jwks()).keys.map((k) => k.kid)).toEqual(['es-old', rs.kid]);
      expect(kidOf(await tessera.keys.sign({ sub: 's' }, 'at+jwt', 'ES256'))).toBe('es-old');
      expect(decodeProtectedHeader(await tessera.keys.sign({ sub: 's' }, 'JWT', 'RS256'))).toEqual({ alg: 'RS256', kid: rs.kid, typ: 'JWT' });
    } finally {
      await tessera.close();
    }
    // And only once: the start after finds a key of each algorithm.
    const again = await openTessera({ db: path });
    expect(await again.store.listKeys()).toHaveLength(2);
    await again.close();
  });
});

describe('instances starting together on one new store (the README\'s two `tessera serve … &` on PostgreSQL)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-keys-race-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Two stores on one database, each with its own key ring, initialised at the same moment. */
  async function race(open: () => Promise<Store>) {
    const stores = [await open(), await open()];
    try {
      await Promise.all(stores.map((store) => new KeyRing(store).init()));
      const keys = await stores[0]!.listKeys();
      const audit = await stores[0]!.readAudit(0, 100);
      return { keys: keys.map((k) => [k.alg, k.retireAt]).sort(), created: audit.filter((r) => r.event === 'key.created').length };
    } finally {
      for (const store of stores) await store.close();
    }
  }

  it('SQLite: one key per algorithm, not one per process (a second would stay published, never retired)', async () => {
    const path = join(dir, 'race.db');
    expect(await race(async () => new SqliteStore({ path }))).toEqual({ keys: [['ES256', null], ['RS256', null]], created: 2 });
  });

  it('PostgreSQL: one key per algorithm, not one per instance', async () => {
    const db = await createTestDatabase('tessera_keys_race');
    try {
      expect(await race(() => PostgresStore.open({ url: db.url }))).toEqual({ keys: [['ES256', null], ['RS256', null]], created: 2 });
    } finally {
      await db.drop();
    }
  });
});

describe('key rotation per algorithm', () => {
  const h = useServer();

  it('keys rotate --alg RS256: new id_tokens carry the new kid; old ones still verify (jose, id_token_hint) while published; the ES256 key and access tokens are untouched', async () => {
    const rs = await h.codeClient({ scope: 'openid', tokenFormat: 'jwt', postLogoutRedirectUris: [BYE] });
    const before = await openidTokens(h, rs);
    const run = await runTessera(h.server.db, ['keys', 'rotate', '--alg', 'RS256', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const [rotated] = JSON.parse(run.stdout).keys as Array<{ kid: string; alg: string }>;
    expect(rotated?.alg).toBe('RS256');
    // The server re-reads keys every 2 s.
    let after = before;
    await vi.waitFor(async () => {
      after = await openidTokens(h, rs);
      expect(kidOf(after.id_token)).toBe(rotated?.kid);
    }, { timeout: 5000, interval: 200 });
    expect(kidOf(before.id_token)).not.toBe(rotated?.kid);
    expect((await jwks(h)).keys.map((k) => k.kid)).toContain(kidOf(before.id_token));
    for (const token of [before.id_token, after.id_token]) {
      expect(await verifies(h, token)).toBe(true);
      expect(await hintAccepted(h, token)).toBe(true);
    }
    // ES256 was not rotated: access tokens keep their key.
    expect(kidOf(after.access_token)).toBe(kidOf(before.access_token));
  });

  it('keys rotate --alg ES256: access tokens and ES256 id_tokens move to the new key, the RS256 key stays; old ES256 tokens verify while published', async () => {
    const es = await h.codeClient({ scope: 'openid', tokenFormat: 'jwt', idTokenSignedResponseAlg: 'ES256', postLogoutRedirectUris: [BYE] });
    const rs = await h.codeClient({ scope: 'openid' });
    const before = await openidTokens(h, es);
    const rsBefore = kidOf((await openidTokens(h, rs)).id_token);
    const run = await runTessera(h.server.db, ['keys', 'rotate', '--alg', 'ES256', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const [rotated] = JSON.parse(run.stdout).keys as Array<{ kid: string }>;
    let after = before;
    await vi.waitFor(async () => {
      after = await openidTokens(h, es);
      expect(kidOf(after.id_token)).toBe(rotated?.kid);
    }, { timeout: 5000, interval: 200 });
    expect(kidOf(after.access_token)).toBe(rotated?.kid);
    expect(kidOf((await openidTokens(h, rs)).id_token)).toBe(rsBefore);
    for (const token of [before.id_token, before.access_token, after.id_token, after.access_token]) expect(await verifies(h, token)).toBe(true);
    expect(await hintAccepted(h, before.id_token)).toBe(true);
  });

  it('once a rotated key retires it leaves /jwks.json: its id_tokens no longer verify, and as id_token_hint they are refused', async () => {
    const rs = await h.codeClient({ scope: 'openid', postLogoutRedirectUris: [BYE] });
    const before = await openidTokens(h, rs);
    const esKids = (await jwks(h)).keys.filter((k) => k.alg === 'ES256').map((k) => k.kid);
    await h.server.tessera.keys.rotate('RS256', Date.now() + 1500, { event: 'key.rotated', actor: 'test' });
    expect(await hintAccepted(h, before.id_token)).toBe(true);
    await vi.waitFor(async () => expect((await jwks(h)).keys.map((k) => k.kid)).not.toContain(kidOf(before.id_token)), { timeout: 5000, interval: 100 });
    expect(await verifies(h, before.id_token)).toBe(false);
    const res = await new Agent(h.server.url).get(`/end_session?${new URLSearchParams({ id_token_hint: before.id_token, post_logout_redirect_uri: BYE })}`);
    expect(res.status).toBe(400);
    expect(res.location).toBeUndefined();
    // The RS256 rotation retired no ES256 key.
    expect((await jwks(h)).keys.filter((k) => k.alg === 'ES256').map((k) => k.kid)).toEqual(esKids);
  });

  it('client update --id-token-alg ES256 switches the client\'s next id_tokens to ES256; --id-token-alg RS256 switches them back', async () => {
    const c = await h.codeClient({ scope: 'openid' });
    expect(decodeProtectedHeader((await openidTokens(h, c)).id_token).alg).toBe('RS256');
    for (const alg of ['ES256', 'RS256'] as const) {
      const run = await runTessera(h.server.db, ['client', 'update', c.id, '--id-token-alg', alg, '--json']);
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout).id_token_signed_response_alg).toBe(alg);
      // The server hears of a change by another process within its client cache's bound.
      await vi.waitFor(async () => expect(decodeProtectedHeader((await openidTokens(h, c)).id_token).alg).toBe(alg), { timeout: 5000, interval: 200 });
    }
  });
});
