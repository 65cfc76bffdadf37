/**
 * `tessera webhook add|list|remove|deliveries` (issue 13): bad URLs and events exit 2 with a
 * message; the signing secret is printed once and is nowhere else (list, deliveries, audit); a
 * subscription added by the CLI beside a running `tessera serve` gets the server's events, signed.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { clientToken, serve, tempDir, tessera } from './cli-kit.js';
import { type Receiver, startReceiver } from './webhook-receiver.js';

const dir = tempDir();
const keyFile = join(dir, 'seal.key');
writeFileSync(keyFile, randomBytes(32).toString('base64'), { mode: 0o600 });
const env = { TESSERA_DB: join(dir, 'data', 'tessera.db'), TESSERA_CLIENT_SECRET_KEY_FILE: keyFile };
const run = (args: string[]) => tessera(args, { env });
const json = async (args: string[]) => {
  const r = await run([...args, '--json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
};

describe('tessera webhook', () => {
  let receiver: Receiver | undefined;
  afterAll(() => receiver?.close());

  it('refuses a bad URL, an unknown event, no event, and a missing sealing key: exit 2 with a message, nothing stored', async () => {
    for (const [args, message] of [
      [['webhook', 'add', 'not a url', '--event', '*'], /not an absolute URL/],
      [['webhook', 'add', 'ftp://hooks.example.com/', '--event', '*'], /must be an http or https URL/],
      [['webhook', 'add', 'https://user:pw@hooks.example.com/', '--event', '*'], /must not carry credentials/],
      [['webhook', 'add', 'https://hooks.example.com/', '--event', 'token.minted'], /unknown event 'token.minted'/],
      [['webhook', 'add', 'https://hooks.example.com/'], /missing required option --event/],
      [['webhook', 'deliveries', '--status', 'lost'], /--status must be one of pending, delivered, failed/],
    ] as const) {
      const r = await run([...args]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    const noKey = await tessera(['webhook', 'add', 'https://hooks.example.com/', '--event', '*'], { env: { TESSERA_DB: env.TESSERA_DB } });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/webhooks need the key that seals their signing secrets: set TESSERA_CLIENT_SECRET_KEY_FILE/);
  });

  it('serve with a sealing key file it cannot use (group-readable, or missing) refuses to start, saying why, rather than answer 500s later', async () => {
    const wide = join(dir, 'wide.key');
    writeFileSync(wide, randomBytes(32).toString('base64'), { mode: 0o644 });
    for (const [file, message] of [[wide, /wide\.key must be readable by its owner only \(chmod 600\)/], [join(dir, 'missing.key'), /cannot read the client secret key file .*missing\.key \(ENOENT\)/]] as const) {
      const r = await tessera(['serve', '--port', '0'], { env: { ...env, TESSERA_CLIENT_SECRET_KEY_FILE: file } });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(message);
    }
  });

  it('add prints the id and the secret once; list, deliveries and remove show the rest, never the secret', async () => {
    const added = await json(['webhook', 'add', 'https://hooks.example.com/tessera', '--event', 'client.*,user.created']);
    expect(added).toMatchObject({ id: expect.any(String), url: 'https://hooks.example.com/tessera', secret: expect.stringMatching(/^whsec_/) });
    expect(added.events).toEqual(['client.created', 'client.updated', 'client.secret_rotated', 'client.deleted', 'user.created']);
    expect(await json(['webhook', 'list'])).toEqual([{ id: added.id, url: added.url, events: added.events, created_at: expect.any(String) }]);

    await json(['client', 'create', '--name', 'svc', '--grant-type', 'client_credentials', '--scope', 'read']);
    const pending = await json(['webhook', 'deliveries', added.id, '--status', 'pending']);
    expect(pending).toMatchObject([{ webhook_id: added.id, event: 'client.created', status: 'pending', attempts: 0, last_status: null, next_attempt_at: expect.any(String) }]);
    expect(await json(['webhook', 'deliveries', '--status', 'delivered'])).toEqual([]);
    const table = await run(['webhook', 'deliveries']);
    expect(table.stdout).toMatch(/client\.created\s+\S+\s+pending\s+0/);

    const everything = [(await run(['webhook', 'list'])).stdout, table.stdout, (await run(['audit'])).stdout].join('\n');
    expect(everything).not.toContain(added.secret.slice(6));
    expect((await run(['webhook', 'remove', added.id])).code).toBe(0);
    const again = await run(['webhook', 'remove', added.id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/no webhook with id/);
    expect(await json(['webhook', 'deliveries'])).toEqual([]);
  });

  it('a subscription added by the CLI while the server runs receives the server\'s events, signed with the secret it printed', async () => {
    let secret = '';
    receiver = await startReceiver(() => secret);
    const server = await serve(['--webhook-poll-interval', '20', '--webhook-backoff', '20', '--webhook-backoff-max', '100'], { env });
    try {
      const added = await json(['webhook', 'add', receiver.url, '--event', 'token.issued']);
      secret = added.secret;
      const client = await json(['client', 'create', '--name', 'svc2', '--grant-type', 'client_credentials', '--scope', 'read']);
      const issued = await clientToken(server.url, client);
      await expect.poll(() => receiver?.received.length, { timeout: 20_000 }).toBe(1);
      expect(receiver.received[0]?.payload).toMatchObject({ type: 'token.issued', data: { client_id: client.client_id } });
      expect(receiver.received[0]?.body).not.toContain(issued.body.access_token);
      expect(receiver.badSignatures).toBe(0);
      await expect.poll(async () => (await json(['webhook', 'deliveries', added.id]))[0]?.status, { timeout: 20_000 }).toBe('delivered');
    } finally {
      await server.stop();
    }
  });
});
