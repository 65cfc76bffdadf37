/**
 * DPoP (RFC 9449) across `tessera serve` instances on one PostgreSQL database, with nonces
 * required: a proof's jti is refused on every instance once one accepted it (§11.1), and a
 * nonce one instance hands out is accepted by another (§8), with no nonce stored.
 */
import { createTestDatabase, type TestDatabase } from '@tessera/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DpopKey, dpopKey, proof } from './dpop-kit.js';
import { postForm } from './http-flows.js';
import { type CliClient, createClient, type Instances, startInstances } from './instances.js';

describe('DPoP on several instances (PostgreSQL, --dpop-nonce)', () => {
  let db: TestDatabase;
  let servers: Instances;
  let A: string;
  let B: string;
  let app: CliClient;
  let key: DpopKey;

  beforeAll(async () => {
    db = await createTestDatabase('tessera_dpop');
    servers = await startInstances(db.url, 2, ['--dpop-nonce']);
    [A, B] = servers.urls as [string, string];
    app = await createClient(db.url, ['--grant-type', 'client_credentials', '--scope', 'read']);
    key = await dpopKey();
  }, 60_000);
  afterAll(async () => {
    await servers?.stop();
    await db?.drop();
  });

  /** client_credentials at `at` with the proof; the issuer (and so htu) is the first instance's URL for both. */
  const token = (at: string, dpop: string) => postForm(at, '/token', { grant_type: 'client_credentials' }, app, { dpop });
  const tokenProof = (nonce?: string) => proof(key, { htm: 'POST', htu: `${A}/token`, ...(nonce ? { nonce } : {}) });

  it('RFC 9449 §8, §11.1: a nonce from instance A is accepted by instance B; the proof B accepted is refused as a replay by A, and by B', async () => {
    const first = await token(A, tokenProof());
    expect(first.status).toBe(400);
    expect(first.body.error).toBe('use_dpop_nonce');
    const nonce = first.headers.get('dpop-nonce');
    expect(nonce).toBeTruthy();

    const once = tokenProof(nonce!);
    const accepted = await token(B, once);
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
    expect(accepted.body.token_type).toBe('DPoP');
    for (const at of [A, B]) {
      const replay = await token(at, once);
      expect(replay.status).toBe(400);
      expect(replay.body.error).toBe('invalid_dpop_proof');
      expect(replay.body.error_description).toMatch(/used before/);
    }
  });

  it('RFC 9449 §11.1: one proof sent to both instances at once is accepted exactly once', async () => {
    const nonce = (await token(B, tokenProof())).headers.get('dpop-nonce')!;
    const once = tokenProof(nonce);
    const answers = await Promise.all([A, B, A, B].map((at) => token(at, once)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 400, 400, 400]);
  });
});
