/**
 * The lifecycle engine's rules seen from outside: revocation by target takes effect at once,
 * every event is audited without a credential in sight, and expired rows are swept.
 */
import { type RevocationEvent, startSweeper, verifyChain } from '@tessera/server';
import { describe, expect, it } from 'vitest';
import { expectError, forms, PASSWORD, pkce, sleep, useServer } from './flows.js';

describe('revocation by target through the engine', () => {
  const h = useServer();
  const cli = { actor: 'cli', reason: 'test' };

  it("revoke({ user }) makes all the user's tokens inactive at once, across clients, and only theirs", async () => {
    const [a, b] = [await h.codeClient(), await h.codeClient()];
    const [user, other] = [await h.user(), await h.user()];
    const ta = await h.userTokens(a, { user });
    const tb = await h.userTokens(b, { user });
    const keep = await h.userTokens(a, { user: other });
    const result = await h.engine.revoke({ user: user.id }, cli);
    expect(result).toMatchObject({ tokens: 4, grants: 2 });
    for (const t of [ta.access_token, ta.refresh_token!, tb.access_token, tb.refresh_token!]) expect(await h.active(t)).toBe(false);
    expect(await h.active(keep.access_token)).toBe(true);
    expectError(await h.refresh(a, ta.refresh_token!), 400, 'invalid_grant');
  });

  it("revoke({ client }) makes all the client's tokens inactive, user and client-credentials alike", async () => {
    const c = await h.codeClient({ grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'] });
    const other = await h.client();
    const user = await h.alice();
    const ut = await h.userTokens(c, { user });
    const ct = (await h.token(c, { grant_type: 'client_credentials' })).body;
    const keep = (await h.token(other, { grant_type: 'client_credentials' })).body;
    await h.engine.revoke({ client: c.id }, cli);
    for (const t of [ut.access_token, ut.refresh_token!, ct.access_token]) expect(await h.active(t)).toBe(false);
    expect((await h.introspect(c, ut.access_token)).body).toEqual({ active: false });
    expect(await h.active(keep.access_token)).toBe(true);
  });

  it('revoke({ grant }) makes the tokens of that grant inactive and leaves the same user\'s other grants', async () => {
    const [a, b] = [await h.codeClient(), await h.codeClient()];
    const user = await h.user();
    const t1 = await h.userTokens(a, { user });
    const t2 = await h.userTokens(a, { user });
    const tb = await h.userTokens(b, { user });
    const grantId = (await h.engine.findToken(t1.access_token))!.grantId;
    expect((await h.engine.findToken(t2.access_token))!.grantId).toBe(grantId);
    await h.engine.revoke({ grant: grantId }, cli);
    for (const t of [t1.access_token, t1.refresh_token!, t2.access_token, t2.refresh_token!]) expect(await h.active(t)).toBe(false);
    expect(await h.active(tb.access_token)).toBe(true);
    expect(await h.store.findGrant(a.id, user.id)).toBeUndefined();
  });

  it("deleting a client, deleting a user and changing a password revoke what they cover", async () => {
    const [a, b] = [await h.codeClient(), await h.codeClient()];
    const [u1, u2] = [await h.user(), await h.user()];
    const byClient = await h.userTokens(a, { user: u2 });
    const byUser = await h.userTokens(b, { user: u1 });
    const byPassword = await h.userTokens(b, { user: u2 });
    await h.engine.deleteClient(a.id, cli);
    expect(await h.active(byClient.access_token)).toBe(false);
    expect(await h.active(byPassword.access_token)).toBe(true);
    await h.engine.deleteUser(u1.id, cli);
    expect(await h.active(byUser.access_token)).toBe(false);
    expect(await h.active(byPassword.access_token)).toBe(true);
    await h.engine.setPassword(u2.id, 'another long passphrase', cli);
    expect(await h.active(byPassword.access_token)).toBe(false);
    expect(await h.engine.authenticateUser(u2.username, PASSWORD, { address: '127.0.0.1', endpoint: 'test' })).toBeUndefined();
  });

  it("every revocation is announced on the engine's 'revoked' event with what it covered", async () => {
    const c = await h.client();
    const { body } = await h.token(c, { grant_type: 'client_credentials' });
    const seen: RevocationEvent[] = [];
    const listener = (e: RevocationEvent) => seen.push(e);
    h.engine.on('revoked', listener);
    try {
      await h.revoke(c, body.access_token);
    } finally {
      h.engine.off('revoked', listener);
    }
    const expiresAt = (await h.engine.findToken(body.access_token))!.expiresAt;
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ reason: 'revoked by client', result: { tokens: 1, grants: 0, until: expiresAt } });
  });
});

describe('revocation of everything issued before an instant', () => {
  const h = useServer();

  it('revoke({ issuedBefore }) makes older tokens inactive and leaves newer ones', async () => {
    const c = await h.codeClient();
    const old = await h.userTokens(c);
    const oldOwn = (await h.token(await h.client(), { grant_type: 'client_credentials' })).body;
    await sleep(5);
    const cutoff = Date.now();
    await sleep(5);
    const fresh = await h.userTokens(c);
    await h.engine.revoke({ issuedBefore: cutoff }, { actor: 'cli', reason: 'key compromise' });
    for (const t of [old.access_token, old.refresh_token!, oldOwn.access_token]) expect(await h.active(t)).toBe(false);
    expect(await h.active(fresh.access_token)).toBe(true);
    expect(await h.active(fresh.refresh_token!)).toBe(true);
  });
});

describe('audit log', () => {
  const h = useServer();

  it('records issued, rotated, reuse_detected, code.replayed and revoked with actor, reason and endpoint, and never a credential', async () => {
    const c = await h.codeClient();
    const own = await h.client({ authMethod: 'client_secret_post', tokenFormat: 'jwt' });
    const user = await h.alice();
    const actor = `client:${c.id}`;
    const secrets: string[] = [c.secret!, own.secret!, user.password];

    // issued + rotated, then reuse of the rotated token.
    const p = pkce();
    const code = await h.code(c, { pkce: p });
    secrets.push(code, p.verifier);
    const first = (await h.exchange(c, code, { verifier: p.verifier })).body;
    const second = (await h.refresh(c, first.refresh_token)).body;
    expectError(await h.refresh(c, first.refresh_token), 400, 'invalid_grant');
    // a replayed code.
    const p2 = pkce();
    const code2 = await h.code(c, { pkce: p2 });
    const third = (await h.exchange(c, code2, { verifier: p2.verifier })).body;
    expectError(await h.exchange(c, code2, { verifier: p2.verifier }), 400, 'invalid_grant');
    // revoked by the client, and by an operator.
    const fourth = await h.userTokens(c);
    await h.revoke(c, fourth.refresh_token!);
    const jwt = (await h.token(own, { grant_type: 'client_credentials' })).body;
    await h.engine.revoke({ client: own.id }, { actor: 'cli', reason: 'offboarded' });
    secrets.push(code2, p2.verifier, ...[first, second, third, fourth, jwt].flatMap((t) => [t.access_token, t.refresh_token].filter(Boolean)));

    const records = await h.store.readAudit(0, 100_000);
    expect(await verifyChain(records, await h.store.auditHeads())).toMatchObject({ ok: true });
    const mine = records.filter((r) => r.clientId === c.id);
    const find = (event: string, extra: Record<string, unknown> = {}) =>
      expect(mine.find((r) => r.event === event && Object.entries(extra).every(([k, v]) => (r as any)[k] === v)), event).toBeDefined();

    find('token.issued', { actor, endpoint: '/token' });
    find('code.redeemed', { actor, endpoint: '/token' });
    find('token.rotated', { actor, endpoint: '/token' });
    find('token.reuse_detected', { actor, endpoint: '/token', reason: 'refresh token reused' });
    find('code.replayed', { actor, endpoint: '/token', reason: 'authorization code replayed' });
    find('token.revoked', { actor, endpoint: '/token', reason: 'refresh token reused' });
    find('token.revoked', { actor, endpoint: '/token', reason: 'authorization code replayed' });
    find('token.revoked', { actor, endpoint: '/revoke', reason: 'revoked by client' });
    expect(records.find((r) => r.event === 'token.revoked' && r.clientId === own.id)).toMatchObject({ actor: 'cli', reason: 'offboarded' });
    for (const r of mine.filter((r) => r.event === 'token.issued')) {
      expect(r.tokenId).toBeTypeOf('string');
      expect(r.data).toMatchObject({ kind: expect.toBeOneOf(['access', 'refresh']), family: expect.any(String) });
    }

    const needles = secrets.flatMap(forms);
    expect(needles.length).toBeGreaterThan(20);
    for (const r of records) {
      const text = JSON.stringify(r);
      for (const n of needles) expect(text.includes(n), `audit record ${r.seq} (${r.event}) holds a credential`).toBe(false);
    }
    // Nor the stored secret hashes of the clients.
    for (const k of [c, own]) expect(records.some((r) => JSON.stringify(r).includes(k.client.secretHash!))).toBe(false);
  });
});

describe('expiry sweep', () => {
  const h = useServer();

  it('expired rows are swept, in batches, while live ones stay', async () => {
    const short = await h.client({ accessTtl: 1 });
    const long = await h.client();
    const c = await h.codeClient();
    const expiring = [
      (await h.token(short, { grant_type: 'client_credentials' })).body.access_token,
      (await h.token(short, { grant_type: 'client_credentials' })).body.access_token,
      (await h.token(short, { grant_type: 'client_credentials' })).body.access_token,
    ];
    const live = (await h.token(long, { grant_type: 'client_credentials' })).body.access_token;
    const codeClient = await h.userTokens(c);
    const liveCode = await h.code(c);
    for (const t of expiring) expect(await h.engine.findToken(t)).toBeDefined();
    await sleep(1100);
    // retention 0: sweep as soon as expired; batch 2 makes it loop.
    const sweeper = startSweeper(h.store, { batch: 2, interval: 3_600_000, retention: 0 });
    try {
      expect(await sweeper.sweepNow()).toBe(3);
    } finally {
      sweeper.stop();
    }
    for (const t of expiring) expect(await h.engine.findToken(t)).toBeUndefined();
    expect(await h.active(live)).toBe(true);
    expect(await h.active(codeClient.access_token)).toBe(true);
    expect(await h.active(codeClient.refresh_token!)).toBe(true);
    expect(await h.store.sweepExpired(Date.now(), 100)).toBe(0);
    const p = await h.exchange(c, liveCode, {});
    // The code was issued with a PKCE challenge we no longer have: refused, but still there (not swept).
    expectError(p, 400, 'invalid_grant');
    expect(p.body.error_description).toMatch(/code_verifier/);
  });
});
