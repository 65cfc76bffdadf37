/**
 * Lifecycle webhooks (issue 13) through a real server: token issue, rotation, reuse and revocation
 * become signed deliveries to a receiver on 127.0.0.1; a receiver that is down (a closed port, then
 * 500s) gets every event once it is back, each with the same webhook-id on every attempt; no
 * payload holds a token, code, hash or secret. Short backoff settings; no timing assertions.
 */
import { chmodSync, copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@tessera/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startTestServer, type TestServer } from './helpers.js';
import { type Receiver, startReceiver } from './webhook-receiver.js';

const keyFile = join(mkdtempSync(join(tmpdir(), 'tessera-webhooks-')), 'seal.key');
writeFileSync(keyFile, randomBytes(32).toString('base64'), { mode: 0o600 });

const FAST = {
  clientSecretKeyFile: keyFile, legacyGrants: ['password'] as const, webhookBackoff: 20, webhookBackoffMax: 100, webhookPollInterval: 20, webhookTimeout: 2000,
};

/** A user's tokens through the password grant, a rotation, a reuse of the rotated token, and a revocation: every token event. */
async function lifecycle(server: TestServer) {
  const c = await server.createClient({ grantTypes: ['password', 'refresh_token'] });
  const user = await server.createUser();
  const first = (await server.post('/token', { grant_type: 'password', username: user.username, password: user.password, scope: 'read' }, { authorization: c.basic })).body;
  const second = (await server.post('/token', { grant_type: 'refresh_token', refresh_token: first.refresh_token }, { authorization: c.basic })).body;
  expect(second.access_token).toBeTypeOf('string');
  // RFC 9700 §4.14.2: the rotated token again is reuse; its family is revoked.
  expect((await server.post('/token', { grant_type: 'refresh_token', refresh_token: first.refresh_token }, { authorization: c.basic })).status).toBe(400);
  const third = (await server.post('/token', { grant_type: 'password', username: user.username, password: user.password, scope: 'read' }, { authorization: c.basic })).body;
  expect((await server.post('/revoke', { token: third.refresh_token }, { authorization: c.basic })).status).toBe(200);
  const secrets = [c.secret as string, user.password, ...[first, second, third].flatMap((t) => [t.access_token, t.refresh_token])];
  return { c, user, secrets };
}

/** Every pending delivery finished (polling the store, not the clock). */
const allDelivered = (server: TestServer) =>
  expect.poll(async () => (await server.tessera.store.listDeliveries({ limit: 10_000 })).filter((d) => d.status !== 'delivered').length, { timeout: 20_000 }).toBe(0);

describe('lifecycle webhooks', () => {
  let server: TestServer | undefined;
  let receiver: Receiver | undefined;
  afterAll(async () => {
    await receiver?.close();
    await server?.close();
  });

  it('token issue, rotation, reuse and revocation reach the receiver signed, once each, with ids and reasons and never a secret', async () => {
    server = await startTestServer(FAST);
    let secret = '';
    receiver = await startReceiver(() => secret);
    const added = await server.tessera.engine.addWebhook(receiver.url, ['token.*'], { actor: 'test' });
    secret = added.secret;
    const { c, user, secrets } = await lifecycle(server);
    await allDelivered(server);

    expect(receiver.badSignatures).toBe(0);
    const events = receiver.received.map((r) => r.payload);
    const types = events.map((e) => e.type);
    // The rotation's pair is named by its token.rotated, with no token.issued of its own (issue 14).
    expect(types.filter((t) => t === 'token.issued')).toHaveLength(4);
    expect(types.filter((t) => t === 'token.rotated')).toHaveLength(1);
    expect(types.filter((t) => t === 'token.reuse_detected')).toHaveLength(1);
    expect(types.filter((t) => t === 'token.revoked')).toHaveLength(2);
    // Delivered once each (the receiver never failed), under distinct ids.
    expect(new Set(receiver.received.map((r) => r.id)).size).toBe(receiver.received.length);
    const rotated = events.find((e) => e.type === 'token.rotated');
    const reuse = events.find((e) => e.type === 'token.reuse_detected');
    expect(rotated?.data).toMatchObject({ client_id: c.id, user_id: user.id, grant_id: expect.any(String), token_id: expect.any(String), family_id: expect.any(String) });
    // The rotation names the pair it issued (its one audit record since issue 14): tokens of its family, children of the one it consumed.
    const pair = await Promise.all([rotated?.data.access_token_id, rotated?.data.refresh_token_id].map((id) => server!.tessera.store.getToken(String(id))));
    expect(pair.map((t) => [t?.kind, t?.parentId, t?.familyId])).toEqual(['access', 'refresh'].map((kind) => [kind, rotated?.data.token_id, rotated?.data.family_id]));
    expect(reuse?.data).toMatchObject({ client_id: c.id, user_id: user.id, family_id: rotated?.data.family_id, reason: 'refresh token reused' });
    expect(events.find((e) => e.type === 'token.revoked' && e.data.reason === 'refresh token reused')?.data.family_id).toBe(rotated?.data.family_id);
    for (const e of events) {
      expect(Date.parse(e.timestamp)).not.toBeNaN();
      expect(e.data.id).toBe(receiver.received.find((r) => r.payload === e)?.id);
    }
    // No token, secret or password in any payload, nor the signing secret.
    const bodies = receiver.received.map((r) => r.body).join('\n');
    for (const s of [...secrets, secret, secret.slice(6)]) expect(bodies).not.toContain(s);
    // Only the events subscribed: the client and user made above sent nothing.
    expect(types.every((t) => t.startsWith('token.'))).toBe(true);
  });
});

describe('a receiver that is down for a while', () => {
  let server: TestServer | undefined;
  let receiver: Receiver | undefined;
  afterAll(async () => {
    await receiver?.close();
    await server?.close();
  });

  it('refused connections, then 500s, then back: every event arrives, each with the same webhook-id on every attempt', async () => {
    server = await startTestServer(FAST);
    const port = await freePort();
    const added = await server.tessera.engine.addWebhook(`http://127.0.0.1:${port}/hooks`, ['*'], { actor: 'test' });
    const { secrets } = await lifecycle(server);
    const store = server.tessera.store;
    const deliveries = await store.listDeliveries({ limit: 10_000 });
    // Every event of lifecycle() (12 until issue 14 made a rotation one record instead of three).
    expect(deliveries.length).toBe(10);
    // Nothing listens on the port: attempts fail and are retried.
    await expect.poll(async () => (await store.listDeliveries({ limit: 10_000 })).every((d) => d.attempts >= 2 && d.status === 'pending'), { timeout: 20_000 }).toBe(true);
    expect((await store.listDeliveries({ limit: 1 }))[0]?.lastError).toMatch(/ECONNREFUSED/);

    receiver = await startReceiver(() => added.secret, port, 500);
    await expect.poll(() => new Set(receiver?.received.map((r) => r.id)).size, { timeout: 20_000 }).toBe(deliveries.length);
    expect((await store.listDeliveries({ status: 'pending', limit: 1 }))[0]).toMatchObject({ lastStatus: 500, lastError: 'HTTP 500' });
    receiver.status = 200;
    await allDelivered(server);

    const ids = new Set(deliveries.map((d) => d.id));
    const ok = receiver.received.filter((r) => r.answered === 200);
    // Each delivery succeeded once, under the id it was first tried with (and failed with, with 500).
    expect(ok.map((r) => r.id).sort()).toEqual([...ids].sort());
    for (const id of ids) expect(receiver.received.filter((r) => r.id === id && r.answered === 500).length).toBeGreaterThanOrEqual(1);
    // The same body every attempt.
    for (const id of ids) expect(new Set(receiver.received.filter((r) => r.id === id).map((r) => r.body)).size).toBe(1);
    expect(receiver.badSignatures).toBe(0);
    const bodies = receiver.received.map((r) => r.body).join('\n');
    for (const s of [...secrets, added.secret]) expect(bodies).not.toContain(s);
    expect(new Set(ok.map((r) => r.payload.type))).toEqual(new Set(['client.created', 'user.created', 'token.issued', 'token.rotated', 'token.reuse_detected', 'token.revoked']));
  });

  it('a delivery still failing past webhookRetention is marked failed and audited, without its secret', async () => {
    const s = await startTestServer({ ...FAST, webhookRetention: 1 });
    try {
      const port = await freePort();
      const added = await s.tessera.engine.addWebhook(`http://127.0.0.1:${port}/hooks`, ['client.created'], { actor: 'test' });
      await s.createClient();
      await expect.poll(async () => (await s.tessera.store.listDeliveries({}))[0]?.status, { timeout: 20_000 }).toBe('failed');
      const audit = await s.tessera.store.readAudit(0, 1000);
      expect(audit.find((r) => r.event === 'webhook.delivery_failed')).toMatchObject({ actor: 'system', data: { webhook: added.webhook.id } });
      expect(JSON.stringify(audit)).not.toContain(added.secret.slice(6));
    } finally {
      await s.close();
    }
  });

  it('a sealing key file that becomes unreadable (its mode widened) fails each attempt, recorded with the cause, until the delivery is given up: never a claim retried for ever', async () => {
    const ownKey = join(mkdtempSync(join(tmpdir(), 'tessera-webhooks-key-')), 'seal.key');
    copyFileSync(keyFile, ownKey);
    chmodSync(ownKey, 0o600);
    const s = await startTestServer({ ...FAST, clientSecretKeyFile: ownKey, webhookRetention: 1 });
    try {
      await s.tessera.engine.addWebhook('https://hooks.example/tessera', ['client.created'], { actor: 'test' });
      // The worker reads the key at its first attempt, after this.
      chmodSync(ownKey, 0o644);
      await s.createClient();
      await expect.poll(async () => (await s.tessera.store.listDeliveries({}))[0]?.status, { timeout: 20_000 }).toBe('failed');
      const [delivery] = await s.tessera.store.listDeliveries({});
      expect(delivery?.attempts).toBeGreaterThan(0);
      expect(delivery?.lastError).toMatch(/must be readable by its owner only/);
    } finally {
      await s.close();
    }
  });
});

describe('several instances on PostgreSQL', () => {
  let db: TestDatabase | undefined;
  const servers: TestServer[] = [];
  let receiver: Receiver | undefined;
  afterAll(async () => {
    await receiver?.close();
    await Promise.all(servers.map((s) => s.close()));
    await db?.drop();
  });

  it('two instances share one outbox: every event is delivered, each claimed by one instance at a time (one success per webhook-id)', async () => {
    db = await createTestDatabase('tessera_webhooks');
    for (let i = 0; i < 2; i++) servers.push(await startTestServer(FAST, { db: db.url }));
    const [one, two] = servers as [TestServer, TestServer];
    let secret = '';
    receiver = await startReceiver(() => secret);
    secret = (await one.tessera.engine.addWebhook(receiver.url, ['token.*', 'client.*', 'user.*'], { actor: 'test' })).secret;
    // Writes through both instances, the second learning of the subscription from the database.
    await lifecycle(one);
    await lifecycle(two);
    await allDelivered(one);
    const deliveries = await one.tessera.store.listDeliveries({ limit: 10_000 });
    // Each instance's lifecycle() events, 10 (as above).
    expect(deliveries.length).toBe(20);
    const ids = receiver.received.map((r) => r.id);
    expect(ids.sort()).toEqual(deliveries.map((d) => d.id).sort());
    // PostgreSQL's outbox (tessera_append_audit) names a rotation's pair too.
    const rotations = receiver.received.filter((r) => r.payload.type === 'token.rotated').map((r) => r.payload.data);
    expect(rotations).toHaveLength(2);
    for (const d of rotations) {
      const pair = await Promise.all([d.access_token_id, d.refresh_token_id].map((id) => one.tessera.store.getToken(String(id))));
      expect(pair.map((t) => [t?.kind, t?.parentId])).toEqual([['access', d.token_id], ['refresh', d.token_id]]);
    }
    expect(receiver.badSignatures).toBe(0);
  });
});
