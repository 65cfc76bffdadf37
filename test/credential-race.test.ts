/**
 * A credential change ends what was checked with the old credential, also when the check is still
 * in flight (issue 9, defect 2). A password check takes ~70 ms of scrypt: requests keep signing in
 * with the old password, back to back, while `tessera user set-password` (another process, on the
 * same file) changes it, so some request is always between its check and its write when the
 * change commits. Whatever those requests got must be dead once the command has returned.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, field } from './agent.js';
import { REDIRECT_URI } from './flows.js';
import { startTestServer, type TestClient, type TestServer } from './helpers.js';
import { raceAgainst } from './race.js';
import { runTessera } from './cli-kit.js';

const NEW_PASSWORD = 'a brand-new passphrase 42';



describe('a credential change ends requests checked with the old credential (issue 9, defect 2)', () => {
  let server: TestServer;
  let rs: TestClient;

  beforeAll(async () => {
    server = await startTestServer({ legacyGrants: ['password'] });
    rs = await server.createClient({ scope: 'tessera:introspect' });
  });
  afterAll(() => server?.close());

  const active = async (token: string) => (await server.post('/introspect', { token }, { authorization: rs.basic })).body.active as boolean;

  it('user set-password during password grants in flight: no token obtained with the old password stays active', async () => {
    const c = await server.createClient({ grantTypes: ['password', 'refresh_token'] });
    const user = await server.createUser();
    const tokens = await raceAgainst(
      async () => {
        const res = await server.post('/token', { grant_type: 'password', username: user.username, password: user.password }, { authorization: c.basic });
        expect(res.status).toBeLessThan(500);
        return res.status === 200 ? (res.body as { access_token: string; refresh_token: string }) : undefined;
      },
      async () => {
        const run = await runTessera(server.db, ['user', 'set-password', user.username, '--password-stdin'], NEW_PASSWORD);
        expect(run.code, run.stderr).toBe(0);
      },
    );
    const live = [];
    for (const t of tokens) if ((await active(t.access_token)) || (await active(t.refresh_token))) live.push(t);
    console.log(`password grant race: ${tokens.length} token responses, ${live.length} still active after set-password`);
    expect(live).toEqual([]);
    // The new password works, once the back-off that the old password's failures in flight may
    // have started is over (the sign-in throttle answers 429 with Retry-After meanwhile).
    const grant = () => server.post('/token', { grant_type: 'password', username: user.username, password: NEW_PASSWORD }, { authorization: c.basic });
    let fresh = await grant();
    if (fresh.status === 429) {
      await new Promise((resolve) => setTimeout(resolve, Number(fresh.headers.get('retry-after')) * 1000));
      fresh = await grant();
    }
    expect(fresh.status).toBe(200);
  });

  it('user set-password during logins in flight: no browser session obtained with the old password stays signed in', async () => {
    const c = await server.createClient({ grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI] });
    const user = await server.createUser();
    const authorize = `/authorize?${new URLSearchParams({ response_type: 'code', client_id: c.id, redirect_uri: REDIRECT_URI, scope: 'read' })}`;
    const sessions = await raceAgainst(
      async () => {
        const agent = new Agent(server.url);
        const login = await agent.get(`/login?${new URLSearchParams({ return_to: authorize })}`);
        const res = await agent.post('/login', { username: user.username, password: user.password, csrf: field(login.body, 'csrf'), return_to: authorize });
        expect(res.status).toBeLessThan(500);
        return res.status === 303 ? agent : undefined;
      },
      async () => {
        const run = await runTessera(server.db, ['user', 'set-password', user.username, '--password-stdin'], NEW_PASSWORD);
        expect(run.code, run.stderr).toBe(0);
      },
    );
    let signedIn = 0;
    // A live session gets the consent page; an ended one is sent to the login page.
    for (const agent of sessions) if ((await agent.get(authorize)).status === 200) signedIn++;
    console.log(`login race: ${sessions.length} sessions, ${signedIn} still signed in after set-password`);
    expect(signedIn).toBe(0);
  });

  it('client rotate-secret during client_credentials in flight: nothing is issued for the old secret after the rotation', async () => {
    const c = await server.createClient({ grantTypes: ['client_credentials'] });
    let rotated: { client_id: string; client_secret: string } | undefined;
    await raceAgainst(
      async () => {
        const res = await server.post('/token', { grant_type: 'client_credentials' }, { authorization: c.basic });
        expect(res.status).toBeLessThan(500);
        return res.status === 200 ? res.body.access_token : undefined;
      },
      async () => {
        const run = await runTessera(server.db, ['client', 'rotate-secret', c.id, '--json']);
        expect(run.code, run.stderr).toBe(0);
        rotated = JSON.parse(run.stdout);
      },
    );
    expect(rotated?.client_id).toBe(c.id);
    expect(rotated?.client_secret).toMatch(/^tss_/);
    // The audit log is in commit order: every token issued to the client came before the rotation.
    const records = await server.tessera.store.readAudit(0, 100_000);
    const rotation = records.find((r) => r.event === 'client.secret_rotated' && r.clientId === c.id);
    expect(rotation).toBeDefined();
    const after = records.filter((r) => r.event === 'token.issued' && r.clientId === c.id && r.seq > (rotation?.seq ?? 0));
    expect(after).toEqual([]);
    // The old secret is refused, the new one works.
    const old = await server.post('/token', { grant_type: 'client_credentials' }, { authorization: c.basic });
    expect(old.status).toBe(401);
    const basic = `Basic ${btoa(`${encodeURIComponent(c.id)}:${encodeURIComponent(rotated?.client_secret ?? '')}`)}`;
    expect((await server.post('/token', { grant_type: 'client_credentials' }, { authorization: basic })).status).toBe(200);
  });

  it('client rotate-secret refuses a public client and an unknown id (exit 1), and never prints a secret then', async () => {
    const pub = await server.createClient({ authMethod: 'none', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI] });
    const refused = await runTessera(server.db, ['client', 'rotate-secret', pub.id]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/public/);
    expect(refused.stdout).toBe('');
    expect((await runTessera(server.db, ['client', 'rotate-secret', 'nobody'])).code).toBe(1);
  });
});
