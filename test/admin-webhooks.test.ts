/**
 * The admin API's lifecycle webhooks (issue 13: "Subscribe a URL to event types … in the console;
 * deliveries are visible in the console and the CLI"): /webhooks and /deliveries with the rules of
 * `tessera webhook …`: the signing secret in the answer to POST only (never listed, never
 * audited), 422 without clientSecretKeyFile, audited as admin:NAME, deliveries newest first and
 * paged with a cursor, read-only tokens refused any change.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminServer, startAdminServer } from './admin-kit.js';
import { type Receiver, startReceiver } from './webhook-receiver.js';

const keyFile = join(mkdtempSync(join(tmpdir(), 'tessera-admin-webhooks-')), 'seal.key');
writeFileSync(keyFile, randomBytes(32).toString('base64'), { mode: 0o600 });

let s: AdminServer & { closeAll(): Promise<void> };
let token: string;
let receiver: Receiver;
let secret = '';

const problem = (res: { status: number; headers: Headers; body: any }, status: number) => {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(res.body).toMatchObject({ status, title: expect.any(String) });
};

beforeAll(async () => {
  s = await startAdminServer(undefined, { clientSecretKeyFile: keyFile, webhookBackoff: 20, webhookBackoffMax: 100, webhookPollInterval: 20, webhookTimeout: 2000 });
  token = await s.adminToken('hooks');
  receiver = await startReceiver(() => secret);
});
afterAll(async () => {
  await receiver?.close();
  await s?.closeAll();
});

describe('/admin/api/v1/webhooks', () => {
  it('POST subscribes a URL (patterns expanded) and answers the signing secret once: never listed, never in the audit log, audited as admin:NAME', async () => {
    const res = await s.call(token, 'POST', '/webhooks', { url: receiver.url, events: ['token.issued', 'client.*'] });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id: expect.any(String), url: receiver.url, events: ['token.issued', 'client.created', 'client.updated', 'client.secret_rotated', 'client.deleted'] });
    expect(res.body.secret).toMatch(/^whsec_/);
    const listed = await s.call(token, 'GET', '/webhooks');
    expect(listed.body.items).toEqual([{ id: res.body.id, url: receiver.url, events: res.body.events, created_at: expect.any(String) }]);
    const audit = await s.call(token, 'GET', '/audit?event=webhook.created');
    expect(audit.body.items).toMatchObject([{ actor: expect.stringMatching(/^admin:hooks-/), endpoint: 'POST /admin/api/v1/webhooks' }]);
    expect(JSON.stringify(audit.body)).not.toContain(res.body.secret.slice(6));
    expect((await s.call(token, 'DELETE', `/webhooks/${res.body.id}`)).status).toBe(204);
  });

  it('bad URLs and unknown events are 400 problems pointing at the field; a read-only token is refused (403)', async () => {
    for (const [body, pointer] of [
      [{ url: 'ftp://hooks.example.com', events: ['*'] }, '/body/url'],
      [{ url: 'https://user:pw@hooks.example.com', events: ['*'] }, '/body/url'],
      [{ url: 'https://hooks.example.com', events: ['token.nope'] }, '/body/events'],
      [{ url: 'https://hooks.example.com', events: [] }, '/body/events'],
    ] as const) {
      const res = await s.call(token, 'POST', '/webhooks', body);
      problem(res, 400);
      expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toContain(pointer);
    }
    const viewer = await s.adminToken('viewer', { readOnly: true });
    problem(await s.call(viewer, 'POST', '/webhooks', { url: 'https://hooks.example.com', events: ['*'] }), 403);
    expect((await s.call(viewer, 'GET', '/webhooks')).status).toBe(200);
  });

  it('DELETE removes a subscription (audited); an unknown id is a 404 problem', async () => {
    const made = (await s.call(token, 'POST', '/webhooks', { url: 'https://hooks.example.com/x', events: ['user.*'] })).body;
    expect((await s.call(token, 'DELETE', `/webhooks/${made.id}`)).status).toBe(204);
    problem(await s.call(token, 'DELETE', `/webhooks/${made.id}`), 404);
    problem(await s.call(token, 'GET', `/webhooks/${made.id}/deliveries`), 404);
    const deleted = (await s.call(token, 'GET', '/audit?event=webhook.deleted')).body.items.filter((r: { data: { webhook: string } }) => r.data.webhook === made.id);
    expect(deleted).toMatchObject([{ actor: expect.stringMatching(/^admin:hooks-/) }]);
  });

  it("a subscription's deliveries: status, attempts and the receiver's status code, newest first, paged by cursor without repeats", async () => {
    const made = (await s.call(token, 'POST', '/webhooks', { url: receiver.url, events: ['client.created'] })).body;
    secret = made.secret;
    for (let i = 0; i < 3; i++) expect((await s.call(token, 'POST', '/clients', { name: `hooked-${i}`, grant_types: ['client_credentials'], scope: 'read' })).status).toBe(201);
    await expect.poll(async () => (await s.call(token, 'GET', `/webhooks/${made.id}/deliveries?status=delivered`)).body.items.length, { timeout: 20_000 }).toBe(3);
    const all = (await s.call(token, 'GET', `/webhooks/${made.id}/deliveries`)).body;
    expect(all.next_cursor).toBeNull();
    expect(all.items[0]).toMatchObject({ webhook_id: made.id, event: 'client.created', status: 'delivered', attempts: 1, last_status: 204, last_error: null, next_attempt_at: null });
    expect(all.items.map((d: { at: string }) => d.at)).toEqual([...all.items.map((d: { at: string }) => d.at)].sort().reverse());
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: { id: string }[]; next_cursor: string | null } = (await s.call(token, 'GET', `/webhooks/${made.id}/deliveries?limit=1${cursor ? `&cursor=${cursor}` : ''}`)).body;
      paged.push(...page.items.map((d) => d.id));
      cursor = page.next_cursor;
    } while (cursor !== null);
    expect(paged).toEqual(all.items.map((d: { id: string }) => d.id));
    expect((await s.call(token, 'GET', `/deliveries?webhook_id=${made.id}`)).body.items).toEqual(all.items);
    expect(receiver.badSignatures).toBe(0);
    problem(await s.call(token, 'GET', `/webhooks/${made.id}/deliveries?cursor=bm9wZQ`), 400);
    problem(await s.call(token, 'GET', '/deliveries?status=lost'), 400);
  });
});

describe('without clientSecretKeyFile', () => {
  it('POST /webhooks is a 422 problem naming the setting, as `tessera webhook add` refuses', async () => {
    const plain = await startAdminServer();
    try {
      const res = await plain.call(await plain.adminToken('ops'), 'POST', '/webhooks', { url: 'https://hooks.example.com', events: ['*'] });
      problem(res, 422);
      expect(res.body.detail).toContain('clientSecretKeyFile');
    } finally {
      await plain.closeAll();
    }
  });
});
