/**
 * The CLI's side of resource indicators (RFC 8707) and token exchange (RFC 8693): `client create
 * --resource`, `--exchange-audience` and `--grant-type urn:ietf:params:oauth:grant-type:token-exchange`,
 * `client update --resource` and `--exchange-audience`, `client show`, and what the server then
 * allows, on a running server's data file.
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

  it('RFC 8693: client create --exchange-audience (repeatable) registers the audiences a token exchange client may exchange tokens of, apart from its resources; show and list show them', async () => {
    const run = await create(['--grant-type', EXCHANGE, '--resource', REPORTS, '--exchange-audience', API, '--exchange-audience', REPORTS]);
    expect(run.code, run.stderr).toBe(0);
    const created = JSON.parse(run.stdout);
    expect(created).toMatchObject({ resources: [REPORTS], exchange_audiences: [API, REPORTS] });
    const shown = await runTessera(server.db, ['client', 'show', created.client_id]);
    expect(shown.stdout).toMatch(new RegExp(`exchange_audiences\\s+${API} ${REPORTS}`));
    const listed = JSON.parse((await runTessera(server.db, ['client', 'list', '--json'])).stdout);
    expect(listed.find((c: { client_id: string }) => c.client_id === created.client_id)).toMatchObject({ exchange_audiences: [API, REPORTS] });
    // Without the flag: none.
    const plain = JSON.parse((await create(['--grant-type', 'client_credentials', '--resource', API])).stdout);
    expect(plain.exchange_audiences).toEqual([]);
  });

  it('RFC 8693 policy: --resource alone does not let a client exchange the tokens sent to that resource (invalid_request); client update --exchange-audience does, and --exchange-audience none takes it back (audited)', async () => {
    const shop = JSON.parse((await create(['--grant-type', 'client_credentials', '--resource', API])).stdout);
    const subject = (await server.post('/token', { grant_type: 'client_credentials', resource: API }, { authorization: basicOf(shop.client_id, shop.client_secret) })).body.access_token;
    const api = JSON.parse((await create(['--grant-type', EXCHANGE, '--resource', API, '--resource', REPORTS])).stdout);
    const exchange = () => server.post('/token', {
      grant_type: EXCHANGE, subject_token: subject, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token', resource: REPORTS,
    }, { authorization: basicOf(api.client_id, api.client_secret) });
    expect(await exchange()).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    const updated = await runTessera(server.db, ['client', 'update', api.client_id, '--exchange-audience', API, '--json']);
    expect(updated.code, updated.stderr).toBe(0);
    expect(JSON.parse(updated.stdout)).toMatchObject({ resources: [API, REPORTS], exchange_audiences: [API] });
    await vi.waitFor(async () => expect((await exchange()).status).toBe(200), { timeout: 5000 });
    const emptied = await runTessera(server.db, ['client', 'update', api.client_id, '--exchange-audience', 'none', '--json']);
    expect(JSON.parse(emptied.stdout)).toMatchObject({ resources: [API, REPORTS], exchange_audiences: [] });
    await vi.waitFor(async () => expect((await exchange()).body.error).toBe('invalid_request'), { timeout: 5000 });
    const audit = (await server.tessera.store.readAudit(0, 100_000)).filter((r) => r.event === 'client.updated' && r.clientId === api.client_id);
    expect(audit.map((r) => r.data)).toEqual([{ fields: ['exchangeAudiences'] }, { fields: ['exchangeAudiences'] }]);
  });

  it('RFC 8693: --exchange-audience on a client without the token exchange grant type exits 2 with a clear message, by create or by update (also when update drops the grant type)', async () => {
    const run = await create(['--grant-type', 'client_credentials', '--exchange-audience', API]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--exchange-audience is only for clients registered for token exchange \(--grant-type urn:ietf:params:oauth:grant-type:token-exchange\)/);
    const cc = JSON.parse((await create(['--grant-type', 'client_credentials'])).stdout);
    const added = await runTessera(server.db, ['client', 'update', cc.client_id, '--exchange-audience', API]);
    expect(added.code).toBe(2);
    expect(added.stderr).toMatch(/--exchange-audience is only for clients registered for token exchange/);
    const exchanger = JSON.parse((await create(['--grant-type', `client_credentials,${EXCHANGE}`, '--exchange-audience', API])).stdout);
    const dropped = await runTessera(server.db, ['client', 'update', exchanger.client_id, '--grant-type', 'client_credentials']);
    expect(dropped.code).toBe(2);
    expect(dropped.stderr).toMatch(/--exchange-audience none empties them/);
    const both = await runTessera(server.db, ['client', 'update', exchanger.client_id, '--grant-type', 'client_credentials', '--exchange-audience', 'none', '--json']);
    expect(both.code, both.stderr).toBe(0);
    expect(JSON.parse(both.stdout)).toMatchObject({ grant_types: ['client_credentials'], exchange_audiences: [] });
    // Nothing was written by the refused commands.
    expect(await server.tessera.store.getClient(cc.client_id)).toMatchObject({ exchangeAudiences: [] });
  });

  it('RFC 8707 §2 rules for --exchange-audience too: one that is not an absolute URI, or has a fragment, exits 2 naming the flag, by create or by update', async () => {
    const exchanger = JSON.parse((await create(['--grant-type', EXCHANGE])).stdout);
    for (const bad of ['/relative', `${API}#part`, 'not a uri']) {
      const run = await create(['--grant-type', EXCHANGE, '--exchange-audience', bad]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/^tessera: --exchange-audience must (be an absolute URI|not have a fragment) \(RFC 8707 §2\)/);
      const update = await runTessera(server.db, ['client', 'update', exchanger.client_id, '--exchange-audience', bad]);
      expect(update.code).toBe(2);
      expect(update.stderr).toMatch(/^tessera: --exchange-audience must (be an absolute URI|not have a fragment) \(RFC 8707 §2\)/);
    }
  });

  it('tessera serve --help lists the resources setting with its flag and variable', async () => {
    const run = await runTessera(server.db, ['serve', '--help']);
    expect(run.stdout).toMatch(/--resources URIS .*RFC 8707.*env TESSERA_RESOURCES, file key resources; default none/);
  });
});
