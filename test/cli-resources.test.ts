/**
 * The CLI's side of resource indicators (RFC 8707) and token exchange (RFC 8693): `client create
 * --resource` and `--grant-type urn:ietf:params:oauth:grant-type:token-exchange`, `client update
 * --resource`, `client show`, and what the server then allows, on a running server's data file.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runTessera } from './cli-kit.js';
import { startTestServer, type TestServer } from './helpers.js';

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const API = 'https://api.example/';
const REPORTS = 'urn:example:reports';

describe('client create/update/show --resource, and the token exchange grant type', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.close());

  const create = (args: string[]) => runTessera(server.db, ['client', 'create', '--name', 'api', '--scope', 'read', '--json', ...args]);
  const basicOf = (id: string, secret: string) => `Basic ${btoa(`${id}:${secret}`)}`;

  it('client create --resource (repeatable) registers the resources, which client show lists and /token then allows', async () => {
    const run = await create(['--grant-type', `client_credentials,${EXCHANGE}`, '--resource', API, '--resource', REPORTS]);
    expect(run.code, run.stderr).toBe(0);
    const created = JSON.parse(run.stdout);
    expect(created).toMatchObject({ grant_types: ['client_credentials', EXCHANGE], resources: [API, REPORTS] });
    const shown = await runTessera(server.db, ['client', 'show', created.client_id]);
    expect(shown.stdout).toMatch(new RegExp(`resources\\s+${API} ${REPORTS}`));
    const res = await server.post('/token', { grant_type: 'client_credentials', resource: REPORTS }, { authorization: basicOf(created.client_id, created.client_secret) });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  });

  it('client update --resource replaces the list, --resource none empties it; the server follows', async () => {
    const created = JSON.parse((await create(['--grant-type', 'client_credentials', '--resource', API])).stdout);
    const auth = { authorization: basicOf(created.client_id, created.client_secret) };
    const updated = await runTessera(server.db, ['client', 'update', created.client_id, '--resource', REPORTS, '--json']);
    expect(updated.code, updated.stderr).toBe(0);
    expect(JSON.parse(updated.stdout).resources).toEqual([REPORTS]);
    await vi.waitFor(async () => expect((await server.post('/token', { grant_type: 'client_credentials', resource: API }, auth)).body.error).toBe('invalid_target'), { timeout: 5000 });
    const emptied = await runTessera(server.db, ['client', 'update', created.client_id, '--resource', 'none', '--json']);
    expect(JSON.parse(emptied.stdout).resources).toEqual([]);
    await vi.waitFor(async () => expect((await server.post('/token', { grant_type: 'client_credentials', resource: REPORTS }, auth)).body.error).toBe('invalid_target'), { timeout: 5000 });
  });

  it('RFC 8707 §2: a --resource that is not an absolute URI, or has a fragment, exits 2 naming the flag', async () => {
    for (const bad of ['/relative', `${API}#part`]) {
      const run = await create(['--grant-type', 'client_credentials', '--resource', bad]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/--resource/);
    }
  });

  it('a public client cannot be registered for token exchange, by create or by update (exit 2)', async () => {
    const run = await create(['--grant-type', EXCHANGE, '--public']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/public client cannot use urn:ietf:params:oauth:grant-type:token-exchange/);
    const pub = JSON.parse((await runTessera(server.db, ['client', 'create', '--name', 'spa', '--scope', 'read', '--json', '--public', '--grant-type', 'authorization_code', '--redirect-uri', 'https://app.example/cb'])).stdout);
    const update = await runTessera(server.db, ['client', 'update', pub.client_id, '--grant-type', `authorization_code,${EXCHANGE}`]);
    expect(update.code).toBe(2);
  });

  it('tessera serve --help lists the resources setting with its flag and variable', async () => {
    const run = await runTessera(server.db, ['serve', '--help']);
    expect(run.stdout).toMatch(/--resources URIS .*RFC 8707.*env TESSERA_RESOURCES, file key resources; default none/);
  });
});
