/**
 * Token exchange (RFC 8693) over HTTP, on SQLite and on PostgreSQL: a resource server trades the
 * user's token it was sent for a token to the API it calls next, as the user (impersonation) or
 * naming itself as actor (delegation, §4.1 act); the exchanged token belongs to the subject token's
 * grant, so revoking it reaches guards through the feed.
 */
import { decodeJwt } from 'jose';
import { dpopKey, proof } from './dpop-kit.js';
import { describe, expect, it, vi } from 'vitest';
import { caughtUp, useGuards } from './guard-kit.js';
import { expectError, forms, pkce, REDIRECT_URI, useServer } from './flows.js';
import type { TestClient } from './helpers.js';

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const JWT = 'urn:ietf:params:oauth:token-type:jwt';
const REFRESH_TOKEN = 'urn:ietf:params:oauth:token-type:refresh_token';
/** The API the front end calls (served by client `orders`), and those `orders` calls in turn. */
const ORDERS = 'https://orders.example/';
const BILLING = 'https://billing.example/';
const LEDGER = 'https://ledger.example/';

describe.each(['sqlite', 'postgres'] as const)('token exchange (RFC 8693) on %s', (store) => {
  const h = useServer({ registration: 'open' }, { store });
  const guards = useGuards(h);

  /**
   * The front end (a code client allowed tokens for ORDERS), and the resource servers ORDERS and
   * BILLING: each exchanges the tokens sent to it (its exchange audience) for tokens to the API it
   * calls next (its resource).
   */
  async function world() {
    const front = await h.codeClient({ tokenFormat: 'jwt', resources: [ORDERS] });
    const orders = await h.client({ tokenFormat: 'jwt', grantTypes: [EXCHANGE, 'client_credentials'], resources: [BILLING], exchangeAudiences: [ORDERS], scope: 'read write' });
    const billing = await h.client({ tokenFormat: 'jwt', grantTypes: [EXCHANGE, 'client_credentials'], resources: [LEDGER], exchangeAudiences: [BILLING], scope: 'read write' });
    const user = await h.user();
    const p = pkce();
    const code = await h.code(front, { user, pkce: p, resources: [ORDERS] });
    const res = await h.token(front, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: p.verifier, resource: ORDERS });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return { front, orders, billing, user, subject: res.body.access_token as string, refresh: res.body.refresh_token as string };
  }

  const exchange = (c: TestClient, form: Record<string, string>) =>
    h.token(c, { grant_type: EXCHANGE, subject_token_type: ACCESS_TOKEN, ...form });

  it('RFC 8693 §2.2.1: impersonation: the token sent to ORDERS becomes a token for BILLING, same subject, issued to ORDERS\' client, no refresh token', async () => {
    const w = await world();
    const res = await exchange(w.orders, { subject_token: w.subject, resource: BILLING });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toMatchObject({ issued_token_type: ACCESS_TOKEN, token_type: 'Bearer', scope: 'read write' });
    expect(res.body.expires_in).toBeGreaterThan(0);
    expect(res.body.refresh_token).toBeUndefined();
    const subject = decodeJwt(w.subject);
    const issued = decodeJwt(res.body.access_token);
    expect(issued).toMatchObject({ sub: w.user.id, aud: BILLING, client_id: w.orders.id, tessera_grant: subject.tessera_grant, tessera_family: subject.tessera_family });
    expect(issued.act).toBeUndefined();
    // RFC 8707 §2.2, RFC 7662: introspection says the same.
    expect((await h.introspect(w.orders, res.body.access_token)).body).toMatchObject({ active: true, aud: BILLING, sub: w.user.id, client_id: w.orders.id });
  });

  it('RFC 8693 §4.1: delegation: with its own actor token, the exchanging client is named in act; a second exchange nests the first actor', async () => {
    const w = await world();
    const actor = (await h.token(w.orders, { grant_type: 'client_credentials' })).body.access_token;
    const first = await exchange(w.orders, { subject_token: w.subject, resource: BILLING, actor_token: actor, actor_token_type: JWT });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(decodeJwt(first.body.access_token)).toMatchObject({ sub: w.user.id, aud: BILLING, act: { sub: w.orders.id, client_id: w.orders.id } });
    // BILLING, sent that token, passes it on to LEDGER naming itself: the earlier actor is nested.
    const billingActor = (await h.token(w.billing, { grant_type: 'client_credentials' })).body.access_token;
    const second = await exchange(w.billing, { subject_token: first.body.access_token, subject_token_type: JWT, audience: LEDGER, actor_token: billingActor, actor_token_type: ACCESS_TOKEN });
    expect(second.status, JSON.stringify(second.body)).toBe(200);
    const claims = decodeJwt(second.body.access_token);
    expect(claims).toMatchObject({ sub: w.user.id, aud: LEDGER, client_id: w.billing.id });
    expect(claims.act).toEqual({ sub: w.billing.id, client_id: w.billing.id, act: { sub: w.orders.id, client_id: w.orders.id } });
    expect((await h.introspect(w.billing, second.body.access_token)).body.act).toEqual(claims.act);
  });

  it('RFC 8693 §4.1 policy: an actor token the client got by exchanging a user\'s token is refused (invalid_request): a client names only itself or a user signed in to it as the actor', async () => {
    const w = await world();
    // ORDERS trades the user's token for one of its own (issued to ORDERS, on the front end's grant)...
    const impersonating = await exchange(w.orders, { subject_token: w.subject, resource: BILLING });
    expect(impersonating.status, JSON.stringify(impersonating.body)).toBe(200);
    // ...and must not present it as the actor for another user: that user never signed in to ORDERS.
    const other = await h.user();
    const p = pkce();
    const code = await h.code(w.front, { user: other, pkce: p, resources: [ORDERS] });
    const otherToken = (await h.token(w.front, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: p.verifier, resource: ORDERS })).body.access_token;
    const res = await exchange(w.orders, { subject_token: otherToken, resource: BILLING, actor_token: impersonating.body.access_token, actor_token_type: ACCESS_TOKEN });
    expectError(res, 400, 'invalid_request');
    expect(res.body.error_description).not.toContain(impersonating.body.access_token);
    // A token ORDERS exchanged from its own client_credentials token is still its own: a fine actor.
    const own = (await h.token(w.orders, { grant_type: 'client_credentials' })).body.access_token;
    const ownExchanged = (await exchange(w.orders, { subject_token: own, resource: BILLING })).body.access_token;
    const delegated = await exchange(w.orders, { subject_token: otherToken, resource: BILLING, actor_token: ownExchanged, actor_token_type: ACCESS_TOKEN });
    expect(delegated.status, JSON.stringify(delegated.body)).toBe(200);
    expect(decodeJwt(delegated.body.access_token).act).toEqual({ sub: w.orders.id, client_id: w.orders.id });
  });

  it('RFC 8693 §2.1: a client\'s own token (client_credentials) keeps that client as sub when another client exchanges it', async () => {
    const w = await world();
    const shop = await h.client({ tokenFormat: 'jwt', resources: [ORDERS] });
    const subject = (await h.token(shop, { grant_type: 'client_credentials', resource: ORDERS })).body.access_token;
    const res = await exchange(w.orders, { subject_token: subject, resource: BILLING });
    expect(decodeJwt(res.body.access_token)).toMatchObject({ sub: shop.id, client_id: w.orders.id, aud: BILLING });
    expect((await h.introspect(w.orders, res.body.access_token)).body).toMatchObject({ sub: shop.id, client_id: w.orders.id });
  });

  it('RFC 8693 §2.1: the scope may narrow the subject token\'s, never widen it (invalid_scope)', async () => {
    const w = await world();
    const narrowed = await exchange(w.orders, { subject_token: w.subject, resource: BILLING, scope: 'read' });
    expect(narrowed.status).toBe(200);
    expect(narrowed.body.scope).toBe('read');
    expect(decodeJwt(narrowed.body.access_token).scope).toBe('read');
    const sub = await exchange(w.orders, { subject_token: narrowed.body.access_token, resource: BILLING, scope: 'read write' });
    expectError(sub, 400, 'invalid_scope');
  });

  it('RFC 8693 policy: a client registered for a resource (--resource) may ask tokens for it, but not exchange the user\'s tokens sent to it (invalid_request); an exchange audience (--exchange-audience) allows that', async () => {
    const w = await world();
    // Registered for ORDERS, so it may call ORDERS: that alone never lets it exchange what users send to ORDERS.
    const caller = await h.client({ tokenFormat: 'jwt', grantTypes: [EXCHANGE, 'client_credentials'], resources: [ORDERS, BILLING], scope: 'read write' });
    expect((await h.token(caller, { grant_type: 'client_credentials', resource: ORDERS })).status).toBe(200);
    expectError(await exchange(caller, { subject_token: w.subject, resource: BILLING }), 400, 'invalid_request');
    expectError(await exchange(caller, { subject_token: w.subject }), 400, 'invalid_request');
    // ORDERS as its exchange audience, and no resource ORDERS: it may exchange the tokens sent to ORDERS.
    const server = await h.client({ tokenFormat: 'jwt', grantTypes: [EXCHANGE], resources: [BILLING], exchangeAudiences: [ORDERS], scope: 'read write' });
    const res = await exchange(server, { subject_token: w.subject, resource: BILLING });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(decodeJwt(res.body.access_token)).toMatchObject({ sub: w.user.id, aud: BILLING, client_id: server.id });
    // The new token's target is still limited by its resources: an exchange audience is no target.
    expectError(await exchange(server, { subject_token: w.subject, resource: ORDERS }), 400, 'invalid_target');
  });

  it('RFC 8693 §2.1, §2.2.2: audience may repeat: the same one twice is that one; two different ones are invalid_target (one audience per token), as two resources are', async () => {
    const w = await world();
    const form = (audiences: string[]) => {
      const body = new URLSearchParams({ grant_type: EXCHANGE, subject_token_type: ACCESS_TOKEN, subject_token: w.subject });
      for (const a of audiences) body.append('audience', a);
      return h.post('/token', body.toString(), { authorization: w.orders.basic });
    };
    const same = await form([BILLING, BILLING]);
    expect(same.status, JSON.stringify(same.body)).toBe(200);
    expect(decodeJwt(same.body.access_token).aud).toBe(BILLING);
    expectError(await form([BILLING, LEDGER]), 400, 'invalid_target');
  });

  it('RFC 8707 §2.2 with the user\'s consent: a client exchanging its own user\'s token may target only a resource the user authorized, as a refresh may (invalid_target otherwise)', async () => {
    const front = await h.codeClient({ tokenFormat: 'jwt', grantTypes: ['authorization_code', 'refresh_token', EXCHANGE], resources: [ORDERS, BILLING] });
    const p = pkce();
    const code = await h.code(front, { pkce: p, resources: [ORDERS] });
    const tokens = (await h.token(front, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: p.verifier, resource: ORDERS })).body;
    // The user authorized ORDERS only: a refresh cannot reach BILLING, and neither can an exchange.
    expectError(await h.token(front, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, resource: BILLING }), 400, 'invalid_target');
    expectError(await exchange(front, { subject_token: tokens.access_token, resource: BILLING }), 400, 'invalid_target');
    expectError(await exchange(front, { subject_token: tokens.access_token, audience: BILLING }), 400, 'invalid_target');
    const same = await exchange(front, { subject_token: tokens.access_token, resource: ORDERS });
    expect(same.status, JSON.stringify(same.body)).toBe(200);
    expect(decodeJwt(same.body.access_token).aud).toBe(ORDERS);
  });

  it('an exchanged token never outlives its subject token', async () => {
    const front = await h.codeClient({ tokenFormat: 'jwt', resources: [ORDERS], accessTtl: 60 });
    const orders = await h.client({ tokenFormat: 'jwt', grantTypes: [EXCHANGE], resources: [BILLING], exchangeAudiences: [ORDERS] });
    const p = pkce();
    const code = await h.code(front, { pkce: p, resources: [ORDERS] });
    const subject = (await h.token(front, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: p.verifier, resource: ORDERS })).body.access_token;
    const res = await exchange(orders, { subject_token: subject, resource: BILLING });
    expect(res.body.expires_in).toBeLessThanOrEqual(60);
    expect(decodeJwt(res.body.access_token).exp).toBeLessThanOrEqual(decodeJwt(subject).exp as number);
  });

  it('RFC 8693 §2.2.2: refused: a client not registered for the grant (unauthorized_client); a token sent elsewhere, a refresh token, a wrong type, a dead token, another client\'s actor (invalid_request); a target not allowed (invalid_target)', async () => {
    const w = await world();
    const plain = await h.client({ grantTypes: ['client_credentials'], resources: [ORDERS] });
    expectError(await exchange(plain, { subject_token: w.subject }), 400, 'unauthorized_client');
    // BILLING's client may exchange tokens sent to BILLING, not those sent to ORDERS.
    expectError(await exchange(w.billing, { subject_token: w.subject, resource: LEDGER }), 400, 'invalid_request');
    expectError(await exchange(w.orders, { subject_token: w.refresh }), 400, 'invalid_request');
    expectError(await exchange(w.orders, { subject_token: w.refresh, subject_token_type: REFRESH_TOKEN }), 400, 'invalid_request');
    expectError(await exchange(w.orders, { subject_token: w.subject, requested_token_type: REFRESH_TOKEN }), 400, 'invalid_request');
    expectError(await exchange(w.orders, { subject_token: w.subject, actor_token_type: ACCESS_TOKEN }), 400, 'invalid_request');
    const othersActor = (await h.token(w.billing, { grant_type: 'client_credentials' })).body.access_token;
    expectError(await exchange(w.orders, { subject_token: w.subject, actor_token: othersActor, actor_token_type: ACCESS_TOKEN }), 400, 'invalid_request');
    expectError(await exchange(w.orders, { subject_token: w.subject, resource: LEDGER }), 400, 'invalid_target');
    expectError(await exchange(w.orders, { subject_token: w.subject, audience: LEDGER }), 400, 'invalid_target');
    // An opaque token is no JWT.
    const opaqueFront = await h.client({ grantTypes: [EXCHANGE, 'client_credentials'] });
    const opaque = (await h.token(opaqueFront, { grant_type: 'client_credentials' })).body.access_token;
    expectError(await exchange(opaqueFront, { subject_token: opaque, subject_token_type: JWT }), 400, 'invalid_request');
    expect((await exchange(opaqueFront, { subject_token: opaque })).status).toBe(200);
    // Dead: revoked (RFC 7009), then expired or unknown alike.
    expect((await h.revoke(w.front, w.subject)).status).toBe(200);
    expectError(await exchange(w.orders, { subject_token: w.subject, resource: BILLING }), 400, 'invalid_request');
    expectError(await exchange(w.orders, { subject_token: `${w.subject.slice(0, -4)}AAAA`, resource: BILLING }), 400, 'invalid_request');
  });

  it('the exchanged token belongs to the subject token\'s grant: revoking the grant (as `token revoke --grant`) makes a guard streaming the feed refuse it', async () => {
    const w = await world();
    const exchanged = (await exchange(w.orders, { subject_token: w.subject, resource: BILLING })).body.access_token;
    const billingGuard = await guards.ready({ audience: BILLING });
    expect((await billingGuard.verifyToken(exchanged)).ok).toBe(true);
    await h.engine.revoke({ grant: decodeJwt(w.subject).tessera_grant as string }, { actor: 'cli' });
    await caughtUp(h, [billingGuard]);
    expect(await billingGuard.verifyToken(exchanged)).toMatchObject({ ok: false, error: 'invalid_token' });
    expect(await h.active(exchanged)).toBe(false);
  });

  it('revoking the subject token\'s client (as `token revoke --client`) makes a guard streaming the feed refuse the exchanged token: the feed names each grant with tokens exchanged for other clients', async () => {
    const w = await world();
    const exchanged = (await exchange(w.orders, { subject_token: w.subject, resource: BILLING })).body.access_token;
    const billingGuard = await guards.ready({ audience: BILLING });
    expect((await billingGuard.verifyToken(exchanged)).ok).toBe(true);
    // The exchanged token's client_id is ORDERS': the client event alone does not cover it.
    expect(decodeJwt(exchanged).client_id).toBe(w.orders.id);
    await h.engine.revoke({ client: w.front.id }, { actor: 'cli' });
    await caughtUp(h, [billingGuard]);
    expect(await h.active(exchanged)).toBe(false);
    expect(await billingGuard.verifyToken(exchanged)).toMatchObject({ ok: false, error: 'invalid_token' });
    // Tokens ORDERS got on its own grant are not the front end's: still accepted.
    const own = (await h.token(w.orders, { grant_type: 'client_credentials', resource: BILLING })).body.access_token;
    expect((await billingGuard.verifyToken(own)).ok).toBe(true);
  });

  it('revoking the user, or the exchanging client, revokes the exchanged token too; revoking the exchanging client leaves the subject token', async () => {
    const w = await world();
    const exchanged = (await exchange(w.orders, { subject_token: w.subject, resource: BILLING })).body.access_token;
    const guard = await guards.ready({ audience: BILLING });
    await h.engine.revoke({ client: w.orders.id }, { actor: 'cli' });
    await caughtUp(h, [guard]);
    expect((await guard.verifyToken(exchanged)).ok).toBe(false);
    expect(await h.active(w.subject)).toBe(true);
    const again = (await exchange(w.orders, { subject_token: w.subject, resource: BILLING })).body.access_token;
    expect(await h.active(again)).toBe(true);
    await h.engine.revoke({ user: w.user.id }, { actor: 'cli' });
    expect(await h.active(again)).toBe(false);
  });

  it('RFC 9449 §7.2 with RFC 8693: a DPoP-bound subject token is exchanged only with a proof of its key, and the new token is bound to it', async () => {
    const w = await world();
    const key = await dpopKey();
    const p = pkce();
    const code = await h.code(w.front, { user: w.user, pkce: p, resources: [ORDERS] });
    const proofAt = (k = key) => proof(k, { htm: 'POST', htu: `${h.server.url}/token` });
    const a = h.auth(w.front);
    const bound = await h.post('/token', { ...a.form, grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: p.verifier, resource: ORDERS }, { ...a.headers, dpop: proofAt() });
    expect(bound.body.token_type).toBe('DPoP');
    const form = { grant_type: EXCHANGE, subject_token_type: ACCESS_TOKEN, subject_token: bound.body.access_token, resource: BILLING };
    const o = h.auth(w.orders);
    // Without a proof (it would come back a bearer token), or with another key: refused.
    expectError(await h.post('/token', { ...o.form, ...form }, o.headers), 400, 'invalid_request');
    expectError(await h.post('/token', { ...o.form, ...form }, { ...o.headers, dpop: proofAt(await dpopKey()) }), 400, 'invalid_request');
    // With a proof of the subject token's key: a token bound to that key.
    const res = await h.post('/token', { ...o.form, ...form }, { ...o.headers, dpop: proofAt() });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.token_type).toBe('DPoP');
    expect(decodeJwt(res.body.access_token).cnf).toEqual({ jkt: key.jkt });
  });

  it('each exchange is audited with the tokens by id, never their values', async () => {
    const w = await world();
    const actor = (await h.token(w.orders, { grant_type: 'client_credentials' })).body.access_token;
    const res = await exchange(w.orders, { subject_token: w.subject, resource: BILLING, actor_token: actor, actor_token_type: ACCESS_TOKEN });
    const records = await h.store.readAudit(0, 100_000);
    const event = records.find((r) => r.event === 'token.exchanged' && r.tokenId === decodeJwt(res.body.access_token).jti);
    expect(event).toMatchObject({
      clientId: w.orders.id, userId: w.user.id, grantId: decodeJwt(w.subject).tessera_grant,
      data: { subject: decodeJwt(w.subject).jti, subject_client: w.front.id, actor: decodeJwt(actor).jti, aud: BILLING },
    });
    const log = JSON.stringify(records);
    for (const secret of [w.subject, actor, res.body.access_token].flatMap(forms)) expect(log).not.toContain(secret);
  });

  it('RFC 8414 §2 lists the grant type; RFC 7591: /register refuses it (invalid_client_metadata), who may exchange is the operator\'s call', async () => {
    const meta = await h.request('/.well-known/oauth-authorization-server');
    expect(meta.body.grant_types_supported).toContain(EXCHANGE);
    const res = await h.request('/register', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_types: [EXCHANGE], token_endpoint_auth_method: 'client_secret_basic', scope: 'openid' }),
    });
    expect({ status: res.status, error: res.body.error }).toEqual({ status: 400, error: 'invalid_client_metadata' });
  });

  it('RFC 7591 §2: /register ignores an exchange_audiences field: the client it registers has no exchange audience', async () => {
    const res = await h.request('/register', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic', scope: 'openid', exchange_audiences: [ORDERS], exchangeAudiences: [ORDERS] }),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.exchange_audiences).toBeUndefined();
    expect(await h.store.getClient(res.body.client_id)).toMatchObject({ grantTypes: ['client_credentials'], exchangeAudiences: [] });
  });

  it('RFC 7592 §2.2: a registered client that replaces its metadata (which cannot name token exchange) loses the exchange audiences an operator gave it with the grant', async () => {
    const registered = await h.request('/register', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic', scope: 'openid' }),
    });
    const id = registered.body.client_id as string;
    await h.engine.updateClient(id, { grantTypes: ['client_credentials', EXCHANGE], exchangeAudiences: [ORDERS] }, { actor: 'cli' });
    const put = await h.request(new URL(registered.body.registration_client_uri).pathname, {
      method: 'PUT', headers: { authorization: `Bearer ${registered.body.registration_access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: id, grant_types: ['client_credentials'], scope: 'openid' }),
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(await h.store.getClient(id)).toMatchObject({ grantTypes: ['client_credentials'], exchangeAudiences: [] });
  });
});

/**
 * RFC 9700 §4.14.2: reuse of a refresh token revokes its family, and the exchanged tokens belong to
 * the subject token's family. An exchange reads its subject token live, then writes: a revocation
 * of the subject (its family's, or its own) that commits in between must refuse the exchange, as
 * it would have a moment later, instead of leaving a live token in a revoked family.
 */
describe.each(['sqlite', 'postgres'] as const)('token exchange racing the revocation of its subject token on %s', (store) => {
  const h = useServer({}, { store });

  for (const how of ['refresh token reuse (the family)', 'RFC 7009 revocation of the subject token'] as const) {
    it(`${how}: committed while the exchange was being written, the exchange is refused`, async () => {
      const front = await h.codeClient({ tokenFormat: 'jwt', resources: [ORDERS] });
      const orders = await h.client({ tokenFormat: 'jwt', grantTypes: [EXCHANGE], exchangeAudiences: [ORDERS], scope: 'read write' });
      const user = await h.user();
      const p = pkce();
      const code = await h.code(front, { user, pkce: p, resources: [ORDERS] });
      const first = await h.token(front, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: p.verifier, resource: ORDERS });
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      // The exchange's write waits until the revocation has committed.
      let release!: () => void;
      const revoked = new Promise<void>((resolve) => {
        release = resolve;
      });
      let reached!: () => void;
      const writing = new Promise<void>((resolve) => {
        reached = resolve;
      });
      const issueInStore = h.store.issueTokens.bind(h.store);
      const spy = vi.spyOn(h.store, 'issueTokens').mockImplementation(async (...args) => {
        reached();
        await revoked;
        return issueInStore(...args);
      });
      try {
        const exchanging = h.token(orders, { grant_type: EXCHANGE, subject_token_type: ACCESS_TOKEN, subject_token: first.body.access_token });
        await writing;
        if (how === 'RFC 7009 revocation of the subject token') {
          expect((await h.revoke(front, first.body.access_token)).status).toBe(200);
        } else {
          expect((await h.refresh(front, first.body.refresh_token)).status).toBe(200);
          expectError(await h.refresh(front, first.body.refresh_token), 400, 'invalid_grant');
        }
        expect(await h.active(first.body.access_token)).toBe(false);
        release();
        const res = await exchanging;
        // RFC 8693 §2.2.2: a subject token revoked by then is invalid_request.
        expectError(res, 400, 'invalid_request');
      } finally {
        release();
        spy.mockRestore();
      }
    });
  }
});
