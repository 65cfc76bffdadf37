/**
 * The device authorization grant (RFC 8628) over HTTP: the device authorization endpoint, the
 * /device page where the signed-in user enters the code and decides, and the token endpoint's
 * polling answers. Every error has its test; tokens are issued on the user's grant as the code flow
 * issues them, and each device code is redeemed at most once.
 */
import { existsSync, readFileSync } from 'node:fs';
import { hashSecret, type SessionRecord, type UserRecord } from '@tessera/server';
import { describe, expect, it } from 'vitest';
import { Agent, field } from './agent.js';
import { expectError, forged, forms, type Harness, sleep, useServer } from './flows.js';
import { DEVICE_GRANT, decide, deviceClient, enterCode, poll, startDevice } from './device-kit.js';

const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;
/** The row id a device code carries (secrets.secretFor: prefix, 32 hex digits, secret). */
const idOf = (deviceCode: string) => deviceCode.slice(4, 36);

/** The browser session the user is signed in through (h.signedIn), as the /device page finds it. */
async function sessionOf(h: Harness, user: UserRecord & { password: string }): Promise<SessionRecord> {
  const agent = await h.signedIn(user);
  const session = await h.store.findSessionByHash(hashSecret(agent.cookies.get('tessera_session') ?? ''));
  if (!session) throw new Error('the signed-in agent has no live session');
  return session;
}

/** The events of the client's audit records, in order. */
const clientEvents = async (h: Harness, clientId: string) => (await h.store.readAudit(0, 1_000_000)).filter((r) => r.clientId === clientId).map((r) => r.event);

describe('device authorization endpoint (RFC 8628 §3.1–3.2)', () => {
  const h = useServer({ deviceCodeInterval: 1 });

  it('RFC 8628 §3.2: answers device_code, user_code, verification_uri(_complete), expires_in and interval, with no-store', async () => {
    const c = await deviceClient(h);
    const res = await h.as(c, '/device_authorization', { scope: 'read' });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toEqual({
      device_code: expect.stringMatching(/^tsd_[0-9a-f]{32}[\w-]{43}$/),
      user_code: expect.stringMatching(USER_CODE),
      verification_uri: `${h.server.url}/device`,
      verification_uri_complete: `${h.server.url}/device?user_code=${res.body.user_code}`,
      expires_in: 600,
      interval: 1,
    });
  });

  it('RFC 8628 §3.1: a public client (auth method none) gets a device code with its client_id alone', async () => {
    const c = await deviceClient(h, { authMethod: 'none', grantTypes: [DEVICE_GRANT] });
    expect(c.secret).toBeUndefined();
    const started = await startDevice(h, c);
    expect(started.user_code).toMatch(USER_CODE);
  });

  it('RFC 8628 §3.1: the client authenticates as at the token endpoint: none, a wrong secret or an unknown client is 401 invalid_client', async () => {
    const c = await deviceClient(h);
    expectError(await h.post('/device_authorization', {}), 401, 'invalid_client');
    expectError(await h.post('/device_authorization', { client_id: c.id }), 401, 'invalid_client');
    expectError(await h.post('/device_authorization', { client_id: c.id, client_secret: 'wrong' }), 401, 'invalid_client');
    expectError(await h.post('/device_authorization', { client_id: 'nobody', client_secret: 'x' }), 401, 'invalid_client');
  });

  it('RFC 6749 §5.2: a client not registered for the device grant is unauthorized_client', async () => {
    const c = await h.client({ grantTypes: ['client_credentials'] });
    expectError(await h.as(c, '/device_authorization', {}), 400, 'unauthorized_client');
  });

  it('RFC 8628 §3.2: a scope the client did not register is invalid_scope; a repeated parameter is invalid_request', async () => {
    const c = await deviceClient(h);
    expectError(await h.as(c, '/device_authorization', { scope: 'admin' }), 400, 'invalid_scope');
    expectError(await h.post('/device_authorization', 'scope=read&scope=write', { authorization: c.basic }), 400, 'invalid_request');
  });

  it('RFC 8628 §3.1: only POST', async () => {
    const res = await h.request('/device_authorization');
    expectError(res, 405, 'invalid_request');
    expect(res.headers.get('allow')).toBe('POST');
  });

  it('RFC 8414: the metadata lists device_authorization_endpoint and the device_code grant type', async () => {
    const meta = (await h.request('/.well-known/oauth-authorization-server')).body;
    expect(meta.device_authorization_endpoint).toBe(`${h.server.url}/device_authorization`);
    expect(meta.grant_types_supported).toContain(DEVICE_GRANT);
  });
});

describe('device flow: the user approves, the device polls (RFC 8628 §3.3–3.5)', () => {
  const h = useServer({ deviceCodeInterval: 1 });

  it('RFC 8628 §3.5: polling before the user decided is authorization_pending', async () => {
    const c = await deviceClient(h);
    const started = await startDevice(h, c);
    expectError(await poll(h, c, started.device_code), 400, 'authorization_pending');
  });

  it('RFC 8628 §3.5: polling faster than the interval gets slow_down, and the interval grows by 5 s for later polls', async () => {
    const c = await deviceClient(h);
    const started = await startDevice(h, c);
    expectError(await poll(h, c, started.device_code), 400, 'authorization_pending');
    expectError(await poll(h, c, started.device_code), 400, 'slow_down');
    expect(await h.store.getDeviceCode(idOf(started.device_code))).toMatchObject({ interval: 6 });
    expectError(await poll(h, c, started.device_code), 400, 'slow_down');
    expect(await h.store.getDeviceCode(idOf(started.device_code))).toMatchObject({ interval: 11 });
  });

  it('RFC 8628 §3.5: polling no faster than the interval stays authorization_pending', async () => {
    const c = await deviceClient(h);
    const started = await startDevice(h, c);
    expectError(await poll(h, c, started.device_code), 400, 'authorization_pending');
    await sleep(1100);
    expectError(await poll(h, c, started.device_code), 400, 'authorization_pending');
    expect(await h.store.getDeviceCode(idOf(started.device_code))).toMatchObject({ interval: 1 });
  });

  it('RFC 8628 §3.4: once approved, tokens on the user\'s grant (a refresh token too), the same grant the code flow uses', async () => {
    const c = await h.client({ grantTypes: [DEVICE_GRANT, 'authorization_code', 'refresh_token'], redirectUris: ['https://app.example/cb'], scope: 'read write' });
    const user = await h.user();
    const started = await startDevice(h, c, { scope: 'read' });
    const done = await decide(await h.signedIn(user), started.user_code, 'allow');
    expect(done.body).toContain('Device connected');
    const res = await poll(h, c, started.device_code);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String), refresh_token: expect.any(String), scope: 'read', expires_in: expect.any(Number) });
    expect(await h.active(res.body.access_token)).toBe(true);
    const deviceToken = await h.engine.findToken(res.body.access_token);
    expect(deviceToken).toMatchObject({ userId: user.id, clientId: c.id, familyId: idOf(started.device_code) });
    // The code flow for the same user and client lands on the same grant: one live grant per pair.
    const viaCode = await h.userTokens(c, { user, scope: 'read' });
    expect((await h.engine.findToken(viaCode.access_token))?.grantId).toBe(deviceToken?.grantId);
    // The refresh token rotates as any other.
    const refreshed = await h.refresh(c, res.body.refresh_token);
    expect(refreshed.status).toBe(200);
  });

  it('without refresh_token registered, only an access token', async () => {
    const c = await deviceClient(h, { grantTypes: [DEVICE_GRANT] });
    const started = await startDevice(h, c);
    await decide(await h.signedIn(await h.alice()), started.user_code, 'allow');
    const res = await poll(h, c, started.device_code);
    expect(res.status).toBe(200);
    expect(res.body.refresh_token).toBeUndefined();
  });

  it('a device code is redeemed once: polling again after the tokens is invalid_grant', async () => {
    const c = await deviceClient(h);
    const started = await startDevice(h, c);
    await decide(await h.signedIn(await h.alice()), started.user_code, 'allow');
    expect((await poll(h, c, started.device_code)).status).toBe(200);
    expectError(await poll(h, c, started.device_code), 400, 'invalid_grant');
  });

  it('two pollers racing an approved device code: exactly one gets tokens, the other invalid_grant', async () => {
    const c = await deviceClient(h);
    const started = await startDevice(h, c);
    await decide(await h.signedIn(await h.alice()), started.user_code, 'allow');
    const results = await Promise.all(Array.from({ length: 6 }, () => poll(h, c, started.device_code)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    for (const r of results.filter((r) => r.status !== 200)) expectError(r, 400, 'invalid_grant');
    expect(await h.store.listTokens({ clientId: c.id })).toHaveLength(2);
  });

  it('RFC 8628 §3.5: after the user denied, polling is access_denied (400)', async () => {
    const c = await deviceClient(h);
    const started = await startDevice(h, c);
    const done = await decide(await h.signedIn(await h.alice()), started.user_code, 'deny');
    expect(done.body).toContain('Access denied');
    expectError(await poll(h, c, started.device_code), 400, 'access_denied');
    expect(await h.store.listTokens({ clientId: c.id })).toHaveLength(0);
  });

  it('RFC 8628 §3.4: a device code of another client, a forged one or none is refused', async () => {
    const c = await deviceClient(h);
    const other = await deviceClient(h);
    const started = await startDevice(h, c);
    expectError(await poll(h, other, started.device_code), 400, 'invalid_grant');
    expectError(await poll(h, c, forged(started.device_code)), 400, 'invalid_grant');
    expectError(await poll(h, c, 'not-a-device-code'), 400, 'invalid_grant');
    expectError(await h.token(c, { grant_type: DEVICE_GRANT }), 400, 'invalid_request');
  });

  it('RFC 6749 §5.2: a client not registered for the device grant polling is unauthorized_client', async () => {
    const c = await deviceClient(h);
    const started = await startDevice(h, c);
    const other = await h.client({ grantTypes: ['client_credentials'] });
    expectError(await h.token(other, { grant_type: DEVICE_GRANT, device_code: started.device_code }), 400, 'unauthorized_client');
  });

  it('a grant revoked after approval (the user changed their password) yields invalid_grant, no tokens', async () => {
    const c = await deviceClient(h);
    const user = await h.user();
    const started = await startDevice(h, c);
    await decide(await h.signedIn(user), started.user_code, 'allow');
    await h.engine.setPassword(user.id, 'another long passphrase 42', { actor: 'test' });
    expectError(await poll(h, c, started.device_code), 400, 'invalid_grant');
    expect(await h.store.listTokens({ clientId: c.id, activeAt: Date.now() })).toHaveLength(0);
  });

  it('approval, denial and redemption are audited; no device code or user code (nor their hashes) enters the audit log', async () => {
    const c = await deviceClient(h);
    const user = await h.user();
    const approved = await startDevice(h, c);
    const denied = await startDevice(h, c);
    const agent = await h.signedIn(user);
    await decide(agent, approved.user_code, 'allow');
    await decide(agent, denied.user_code, 'deny');
    expect((await poll(h, c, approved.device_code)).status).toBe(200);
    const audit = await h.store.readAudit(0, 1_000_000);
    const events = audit.filter((r) => r.clientId === c.id).map((r) => r.event);
    expect(events).toEqual(expect.arrayContaining(['device.authorization_started', 'grant.created', 'device.approved', 'device.denied', 'device.redeemed', 'token.issued']));
    expect(audit.find((r) => r.event === 'device.approved' && r.clientId === c.id)).toMatchObject({ userId: user.id, tokenId: idOf(approved.device_code), endpoint: '/device' });
    const text = JSON.stringify(audit);
    for (const started of [approved, denied]) {
      const bare = started.user_code.replace('-', '');
      for (const secret of [...forms(started.device_code), ...forms(bare), started.user_code]) expect(text).not.toContain(secret);
    }
  });
});

describe('device and user codes are stored only as hashes', () => {
  const h = useServer({ deviceCodeInterval: 1 });

  it('neither the device code nor the user code (with or without its dash) is in the database file or its WAL', async () => {
    const c = await deviceClient(h);
    const started = await startDevice(h, c);
    await decide(await h.signedIn(await h.alice()), started.user_code, 'allow');
    expect((await poll(h, c, started.device_code)).status).toBe(200);
    const bytes = Buffer.concat([h.server.db, `${h.server.db}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f)));
    for (const value of [started.device_code, started.user_code, started.user_code.replace('-', '')]) expect(bytes.includes(value), value).toBe(false);
    // The stored hash is there: the check above reads the right file.
    const row = await h.store.getDeviceCode(idOf(started.device_code));
    expect(bytes.includes(row!.hash)).toBe(true);
  });
});

describe('device codes expire (RFC 8628 §3.5 expired_token)', () => {
  const h = useServer({ deviceCodeTtl: 1, deviceCodeInterval: 1 });

  it('RFC 8628 §3.5: polling with an expired device code is expired_token; the page no longer accepts its user code', async () => {
    const c = await deviceClient(h);
    const started = await startDevice(h, c);
    expect(started.expires_in).toBe(1);
    await sleep(1100);
    expectError(await poll(h, c, started.device_code), 400, 'expired_token');
    const page = await enterCode(await h.signedIn(await h.alice()), started.user_code);
    expect(page.status).toBe(400);
  });

  it('approving a device code that expired after it was found does not widen the grant (consent is stored only with the approval)', async () => {
    const c = await deviceClient(h);
    const user = await h.user();
    const session = await sessionOf(h, user);
    await decide(await h.signedIn(user), (await startDevice(h, c, { scope: 'read' })).user_code, 'allow');
    const grant = await h.store.findGrant(c.id, user.id);
    expect(grant?.scope).toBe('read');
    const started = await startDevice(h, c, { scope: 'read write' });
    const found = await h.engine.findDeviceRequest(started.user_code, user, '127.0.0.1', '/device');
    expect(found).toBeDefined();
    await sleep(1100);
    const before = (await clientEvents(h, c.id)).length;
    expect(await h.engine.decideDevice(found!, user, session, true, { actor: `user:${user.id}`, endpoint: '/device' })).toBe(false);
    expect(await h.store.getGrant(grant!.id)).toEqual(grant);
    expect((await clientEvents(h, c.id)).length).toBe(before);
  });

  it('the sweeper removes expired device codes', async () => {
    const c = await deviceClient(h);
    const started = await startDevice(h, c);
    await sleep(1100);
    expect(await h.store.getDeviceCode(idOf(started.device_code))).toBeDefined();
    await h.store.sweepExpired(Date.now(), 1000);
    expect(await h.store.getDeviceCode(idOf(started.device_code))).toBeUndefined();
  });
});

describe('the /device page (RFC 8628 §3.3)', () => {
  const h = useServer({ deviceCodeInterval: 1 });

  it('a user not signed in is sent to sign in and brought back to the page with the code from verification_uri_complete', async () => {
    const c = await deviceClient(h);
    const started = await startDevice(h, c);
    const user = await h.user();
    const agent = new Agent(h.server.url);
    const first = await agent.get(started.verification_uri_complete);
    expect(first.status).toBe(302);
    const login = await agent.get(first.location!);
    expect(login.status).toBe(200);
    const back = await agent.post('/login', { username: user.username, password: user.password, csrf: field(login.body, 'csrf'), return_to: field(login.body, 'return_to') });
    expect(back.status).toBe(303);
    expect(back.location).toBe(`${h.server.url}/device?user_code=${started.user_code}`);
    const entry = await agent.get(back.location!);
    expect(entry.status).toBe(200);
    expect(field(entry.body, 'user_code')).toBe(started.user_code);
  });

  it('RFC 8628 §6.1: the code is accepted in lower case, without its dash or with spaces', async () => {
    const c = await deviceClient(h);
    const agent = await h.signedIn(await h.alice());
    for (const typed of [(s: string) => s.toLowerCase(), (s: string) => s.replace('-', ''), (s: string) => ` ${s.replace('-', ' ')} `]) {
      const started = await startDevice(h, c);
      const consent = await enterCode(agent, typed(started.user_code));
      expect(consent.status, consent.body).toBe(200);
      expect(consent.body).toContain('Allow access?');
      expect(consent.body).toContain(started.user_code);
    }
  });

  it('consent is asked on every device authorization, even when the grant already covers the scope (RFC 8628 §5.4)', async () => {
    const c = await deviceClient(h);
    const agent = await h.signedIn(await h.alice());
    await decide(agent, (await startDevice(h, c)).user_code, 'allow');
    const again = await enterCode(agent, (await startDevice(h, c)).user_code);
    expect(again.body).toContain('Allow access?');
  });

  it('a wrong code shows the page again with an error (400); a code already decided cannot be decided again', async () => {
    const c = await deviceClient(h);
    const agent = await h.signedIn(await h.alice());
    const wrong = await enterCode(agent, 'BBBB-BBBB');
    expect(wrong.status).toBe(400);
    expect(wrong.body).toContain('not valid');
    const started = await startDevice(h, c);
    const consent = await enterCode(agent, started.user_code);
    const form = { csrf: field(consent.body, 'csrf'), user_code: started.user_code };
    expect((await agent.post('/device', { ...form, decision: 'allow' })).status).toBe(200);
    expect((await agent.post('/device', { ...form, decision: 'deny' })).status).toBe(400);
    expect((await poll(h, c, started.device_code)).status).toBe(200);
  });

  it('the form is protected against CSRF: no token, or a POST from another origin, is 403', async () => {
    const c = await deviceClient(h);
    const started = await startDevice(h, c);
    const agent = await h.signedIn(await h.alice());
    const entry = await agent.get('/device');
    expect((await agent.post('/device', { user_code: started.user_code, decision: 'allow' })).status).toBe(403);
    expect((await agent.post('/device', { csrf: field(entry.body, 'csrf'), user_code: started.user_code, decision: 'allow' }, { origin: 'https://evil.example' })).status).toBe(403);
    expectError(await poll(h, c, started.device_code), 400, 'authorization_pending');
  });

  it('the page has the login page\'s security headers', async () => {
    const agent = await h.signedIn(await h.alice());
    const page = await agent.get('/device');
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('a bad decision value is 400; other methods 405; a hostile or huge user_code never makes a 500', async () => {
    const c = await deviceClient(h);
    const started = await startDevice(h, c);
    const agent = await h.signedIn(await h.alice());
    const entry = await agent.get('/device');
    expect((await agent.post('/device', { csrf: field(entry.body, 'csrf'), user_code: started.user_code, decision: 'maybe' })).status).toBe(400);
    expect((await h.request('/device', { method: 'PUT' })).status).toBe(405);
    for (const typed of ['\r\n\u0000', 'x'.repeat(10_000), '\ud800', '<script>']) {
      const page = await enterCode(agent, typed);
      expect(page.status).toBeLessThan(500);
      expect(page.body).not.toContain('<script>');
    }
    const out = new Agent(h.server.url);
    expect((await out.get(`/device?user_code=${encodeURIComponent('\r\nx: y')}`)).status).toBe(302);
  });
});

describe('approval is one transaction: consent (the grant) and the device code\'s approval commit together or not at all', () => {
  const h = useServer({ deviceCodeInterval: 1 });

  it('approving a device code that another request decided meanwhile stores no grant and no approval, and says so (false)', async () => {
    const c = await deviceClient(h);
    const user = await h.user();
    const session = await sessionOf(h, user);
    const started = await startDevice(h, c);
    const by = { actor: `user:${user.id}`, endpoint: '/device' };
    // Two requests (two tabs) found the code pending; the other one denies first.
    const stale = await h.engine.findDeviceRequest(started.user_code, user, '127.0.0.1', '/device');
    const other = await h.engine.findDeviceRequest(started.user_code, user, '127.0.0.1', '/device');
    expect(await h.engine.decideDevice(other!, user, session, false, by)).toBe(true);
    expect(await h.engine.decideDevice(stale!, user, session, true, by)).toBe(false);
    expect(await h.store.findGrant(c.id, user.id)).toBeUndefined();
    const events = await clientEvents(h, c.id);
    expect(events).toContain('device.denied');
    expect(events).not.toContain('grant.created');
    expect(events).not.toContain('device.approved');
    expectError(await poll(h, c, started.device_code), 400, 'access_denied');
  });
});

describe('user-code guessing is throttled (RFC 8628 §5.1)', () => {
  const h = useServer({ signInFreeFailures: 2, signInBackoff: 60 });

  it('past the free failures, wrong codes from one user get 429 with Retry-After, and then even the right code waits; failures are audited', async () => {
    const c = await deviceClient(h);
    const started = await startDevice(h, c);
    const agent = await h.signedIn(await h.user());
    expect((await enterCode(agent, 'BBBB-BBBB')).status).toBe(400);
    expect((await enterCode(agent, 'CCCC-CCCC')).status).toBe(400);
    const throttled = await enterCode(agent, 'DDDD-DDDD');
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(throttled.body).toContain('Too many wrong codes');
    expect((await enterCode(agent, started.user_code)).status).toBe(429);
    // Another user, from the same address, is not held back by this one's failures (free per address: 20).
    const other = await h.signedIn(await h.user());
    expect((await enterCode(other, started.user_code)).status).toBe(200);
    // Each failure checked is audited with the user and the address, never what was typed; refusals are counted, not recorded one by one.
    const failed = (await h.store.readAudit(0, 1_000_000)).filter((r) => r.event === 'device.user_code_failed');
    expect(failed).toHaveLength(2);
    expect(failed[1]).toMatchObject({ endpoint: '/device', data: { address: '127.0.0.1', failures: 2 } });
    expect(JSON.stringify(failed)).not.toMatch(/BBBB|CCCC|DDDD/);
  });

  it('a right code entered between wrong ones wipes out no failures: a user with a pending code of their own still gets 429 after the free failures', async () => {
    const c = await deviceClient(h);
    // An attacker's own device authorization: anyone may start one, and entering its code (without deciding) leaves it pending.
    const own = await startDevice(h, c);
    const agent = await h.signedIn(await h.user());
    const statuses: number[] = [];
    for (const guess of ['EEEE-EEEE', 'FFFF-FFFF', 'GGGG-GGGG']) {
      statuses.push((await enterCode(agent, guess)).status);
      expect((await enterCode(agent, own.user_code)).status).not.toBe(400);
    }
    expect(statuses).toEqual([400, 400, 429]);
  });
});
