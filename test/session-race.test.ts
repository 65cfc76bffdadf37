/**
 * What a browser session authorizes ends with the session, also when a request is in flight
 * (issue 9, defect 2). A consent POST or an authorization request reads the session, then writes
 * a grant, a code or a token: when `tessera user set-password` or `user delete` (another process,
 * on the same file) ends the user's sessions and revokes the user's grants in between, the request
 * must store nothing and send the browser to sign in again, never answer 500, and nothing it got
 * may work once the command has returned.
 *
 * Each consent POST is for a client the user has no grant with (fresh clients from a pool), so
 * every request in flight is between reading the session and writing a new grant: without the
 * check, the change commits inside that window on nearly every run.
 */
import type { AuditRecord } from '@tessera/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, field } from './agent.js';
import { PASSWORD, REDIRECT_URI } from './flows.js';
import { startTestServer, type TestClient, type TestServer } from './helpers.js';
import { raceAgainst } from './race.js';
import { runTessera } from './cli-kit.js';

/** Clients per race: more than the workers get through while the command runs. */
const POOL = 1500;
/** Audit events of what a session (or a code from it) creates. */
const ISSUED = new Set(['grant.created', 'grant.widened', 'code.issued', 'code.redeemed', 'token.issued']);

describe('a browser session ends what it authorizes, also in flight (issue 9, defect 2)', () => {
  let server: TestServer;
  let rs: TestClient;

  beforeAll(async () => {
    server = await startTestServer({ legacyGrants: ['implicit'] });
    rs = await server.createClient({ scope: 'tessera:introspect' });
  });
  afterAll(() => server?.close());

  const active = async (token: string) => (await server.post('/introspect', { token }, { authorization: rs.basic })).body.active as boolean;

  const authorizeQuery = (c: TestClient, responseType: 'code' | 'token') =>
    new URLSearchParams({ response_type: responseType, client_id: c.id, redirect_uri: REDIRECT_URI, scope: 'read', state: 's' });

  /** An agent signed in as the user, with its CSRF token. */
  async function signedIn(username: string, password = PASSWORD): Promise<{ agent: Agent; csrf: string }> {
    const agent = new Agent(server.url);
    const login = await agent.get(`/login?${new URLSearchParams({ return_to: '/authorize?x=1' })}`);
    const csrf = field(login.body, 'csrf');
    const res = await agent.post('/login', { username, password, csrf, return_to: '/authorize?x=1' });
    expect(res.status).toBe(303);
    return { agent, csrf };
  }

  /** The audit records about `userId` written after the record `event` about them (commit order). */
  async function writtenAfter(userId: string, event: string): Promise<AuditRecord[]> {
    const records = await server.tessera.store.readAudit(0, 1_000_000);
    const change = records.find((r) => r.event === event && r.userId === userId);
    expect(change).toBeDefined();
    return records.filter((r) => r.userId === userId && r.seq > (change?.seq ?? 0) && ISSUED.has(r.event));
  }

  async function pool(grantTypes: Array<'authorization_code' | 'implicit'>): Promise<TestClient[]> {
    const clients: TestClient[] = [];
    for (let i = 0; i < POOL; i++) clients.push(await server.createClient({ grantTypes, redirectUris: [REDIRECT_URI], authMethod: grantTypes.includes('implicit') ? 'none' : 'client_secret_basic' }));
    return clients;
  }

  /** A consent POST allowing `c`: the redirect's parameters, or 'login' when sent to sign in. */
  async function consent(agent: Agent, csrf: string, c: TestClient, responseType: 'code' | 'token'): Promise<URLSearchParams | 'login'> {
    const res = await agent.post('/consent', { csrf, request: authorizeQuery(c, responseType).toString(), decision: 'allow' });
    expect(res.status, res.body).toBe(303);
    if (res.location?.startsWith(`${server.url}/login?`)) return 'login';
    expect(res.location?.startsWith(REDIRECT_URI), res.location).toBe(true);
    const url = new URL(res.location as string);
    return responseType === 'token' ? new URLSearchParams(url.hash.slice(1)) : url.searchParams;
  }

  it('user set-password during consent POSTs: no grant, code or token is written after it, and no code it answered redeems', async () => {
    const clients = await pool(['authorization_code']);
    const user = await server.createUser();
    const { agent, csrf } = await signedIn(user.username);
    const queue = [...clients];
    let sentToLogin = 0;
    const codes = await raceAgainst(
      async () => {
        const c = queue.shift();
        if (!c) return null;
        const reply = await consent(agent, csrf, c, 'code');
        if (reply === 'login') {
          sentToLogin++;
          return undefined;
        }
        return { c, code: reply.get('code') as string };
      },
      async () => {
        const run = await runTessera(server.db, ['user', 'set-password', user.username, '--password-stdin'], 'a brand-new passphrase 42');
        expect(run.code, run.stderr).toBe(0);
      },
    );
    expect(queue.length, 'the pool of clients ran out before the change').toBeGreaterThan(0);
    const late = await writtenAfter(user.id, 'user.password_changed');
    let redeemed = 0;
    for (const { c, code } of codes) {
      const res = await server.post('/token', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI }, { authorization: c.basic });
      expect(res.status).toBeLessThan(500);
      if (res.status === 200) redeemed++;
    }
    console.log(`consent race: ${codes.length} codes, ${sentToLogin} sent to sign in, ${late.length} writes after set-password, ${redeemed} codes redeemed after it`);
    expect(late.map((r) => r.event)).toEqual([]);
    expect(redeemed).toBe(0);
  });

  it('user delete during consent POSTs for the implicit grant: no token it answered is active', async () => {
    const clients = await pool(['implicit']);
    const user = await server.createUser();
    const { agent, csrf } = await signedIn(user.username);
    const queue = [...clients];
    const tokens = await raceAgainst(
      async () => {
        const c = queue.shift();
        if (!c) return null;
        const reply = await consent(agent, csrf, c, 'token');
        return reply === 'login' ? undefined : (reply.get('access_token') as string);
      },
      async () => {
        const run = await runTessera(server.db, ['user', 'delete', user.username]);
        expect(run.code, run.stderr).toBe(0);
      },
    );
    expect(queue.length, 'the pool of clients ran out before the change').toBeGreaterThan(0);
    const late = await writtenAfter(user.id, 'user.deleted');
    let live = 0;
    for (const t of tokens) if (await active(t)) live++;
    console.log(`implicit consent race: ${tokens.length} tokens, ${late.length} writes after user delete, ${live} still active`);
    expect(late.map((r) => r.event)).toEqual([]);
    expect(live).toBe(0);
  });

  it('user set-password during code issuance from a live session (consent already given): no code is written after it', async () => {
    const c = await server.createClient({ grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI] });
    const user = await server.createUser();
    const { agent, csrf } = await signedIn(user.username);
    expect(await consent(agent, csrf, c, 'code')).not.toBe('login');
    const authorize = `/authorize?${authorizeQuery(c, 'code')}`;
    const codes = await raceAgainst(
      async () => {
        const res = await agent.get(authorize);
        // The change revokes the user's grants: a request that read the session just before it
        // ended finds no consent and shows the consent page, whose POST then finds the session gone.
        if (res.status === 200) {
          expect(res.body).toContain('Allow access?');
          return undefined;
        }
        expect(res.status, res.body).toBe(302);
        if (res.location?.startsWith(`${server.url}/login?`)) return undefined;
        return new URL(res.location as string).searchParams.get('code') as string;
      },
      async () => {
        const run = await runTessera(server.db, ['user', 'set-password', user.username, '--password-stdin'], 'another new passphrase 43');
        expect(run.code, run.stderr).toBe(0);
      },
    );
    const late = await writtenAfter(user.id, 'user.password_changed');
    let redeemed = 0;
    for (const code of codes) {
      const res = await server.post('/token', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI }, { authorization: c.basic });
      expect(res.status).toBeLessThan(500);
      if (res.status === 200) redeemed++;
    }
    console.log(`code issuance race: ${codes.length} codes, ${late.length} writes after set-password, ${redeemed} redeemed`);
    expect(late.map((r) => r.event)).toEqual([]);
    expect(redeemed).toBe(0);
    // Signing in with the new password works again.
    const again = await signedIn(user.username, 'another new passphrase 43');
    expect(await consent(again.agent, again.csrf, c, 'code')).not.toBe('login');
  });
});
