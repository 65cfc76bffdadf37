/** The token endpoint over HTTP: client authentication, grant dispatch, codes, refresh rotation, JWTs. */
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { expectError, forged, pkce, REDIRECT_URI, sleep, useServer } from './flows.js';

describe('client authentication (RFC 6749 §2.3)', () => {
  const h = useServer();
  const cc = { grant_type: 'client_credentials' };

  it('client_secret_basic: the secret in the Authorization header', async () => {
    const c = await h.client({ authMethod: 'client_secret_basic' });
    const res = await h.post('/token', cc, { authorization: c.basic });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ token_type: 'Bearer', scope: 'read write' });
  });

  it('client_secret_post: the secret in the form', async () => {
    const c = await h.client({ authMethod: 'client_secret_post' });
    const res = await h.post('/token', { ...cc, client_id: c.id, client_secret: c.secret! });
    expect(res.status).toBe(200);
  });

  it('none: a public client sends only its client_id, and PKCE protects its code', async () => {
    const c = await h.codeClient({ authMethod: 'none', grantTypes: ['authorization_code'] });
    expect(c.secret).toBeUndefined();
    const p = pkce();
    const code = await h.code(c, { pkce: p });
    const res = await h.post('/token', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: p.verifier, client_id: c.id });
    expect(res.status).toBe(200);
    expect(res.body.refresh_token).toBeUndefined();
  });

  it('RFC 6749 §4.4: a public client cannot use client_credentials', async () => {
    const c = await h.client({ authMethod: 'none', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI] });
    expectError(await h.post('/token', { ...cc, client_id: c.id }), 400, 'unauthorized_client');
  });

  it('RFC 6749 §4.4: client_credentials is refused to a public client even if registered with it', async () => {
    const c = await h.client({ authMethod: 'none', grantTypes: ['client_credentials'] });
    expectError(await h.post('/token', { ...cc, client_id: c.id }), 400, 'unauthorized_client');
  });

  it('RFC 6749 §5.2: a wrong secret with Basic is 401 invalid_client with WWW-Authenticate', async () => {
    const c = await h.client();
    const res = await h.post('/token', cc, { authorization: `Basic ${btoa(`${c.id}:wrong`)}` });
    expectError(res, 401, 'invalid_client');
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
  });

  it('RFC 6749 §5.2: a wrong secret in the form is 401 invalid_client', async () => {
    const c = await h.client({ authMethod: 'client_secret_post' });
    expectError(await h.post('/token', { ...cc, client_id: c.id, client_secret: 'wrong' }), 401, 'invalid_client');
  });

  it('RFC 6749 §2.3: two authentication methods in one request are invalid_request', async () => {
    const c = await h.client();
    expectError(await h.post('/token', { ...cc, client_id: c.id, client_secret: c.secret! }, { authorization: c.basic }), 400, 'invalid_request');
  });

  it('a client_id in the form that differs from the Basic one is invalid_request', async () => {
    const [a, b] = [await h.client(), await h.client()];
    expectError(await h.post('/token', { ...cc, client_id: b.id }, { authorization: a.basic }), 400, 'invalid_request');
  });

  it('RFC 6749 §2.3.1: a client with a secret may present it by Basic or in the form, whichever it registered', async () => {
    const basic = await h.client({ authMethod: 'client_secret_basic' });
    const post = await h.client({ authMethod: 'client_secret_post' });
    expect((await h.post('/token', { ...cc, client_id: basic.id, client_secret: basic.secret! })).status).toBe(200);
    expect((await h.post('/token', cc, { authorization: post.basic })).status).toBe(200);
    // The secret must still be right, whichever way it comes.
    expectError(await h.post('/token', { ...cc, client_id: basic.id, client_secret: 'wrong' }), 401, 'invalid_client');
    const wrong = await h.post('/token', cc, { authorization: `Basic ${btoa(`${post.id}:wrong`)}` });
    expectError(wrong, 401, 'invalid_client');
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
  });

  it('a client with a secret must send it, and a public client (none) must not: otherwise invalid_client', async () => {
    const basic = await h.client({ authMethod: 'client_secret_basic' });
    expectError(await h.post('/token', { ...cc, client_id: basic.id }), 401, 'invalid_client');
    const pub = await h.client({ authMethod: 'none', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI] });
    expectError(await h.post('/token', { ...cc, client_id: pub.id, client_secret: 'anything' }), 401, 'invalid_client');
    expectError(await h.post('/token', cc, { authorization: `Basic ${btoa(`${pub.id}:`)}` }), 401, 'invalid_client');
  });

  it('an unknown client and a request without credentials are 401 invalid_client', async () => {
    expectError(await h.post('/token', { ...cc, client_id: 'nobody', client_secret: 'x' }), 401, 'invalid_client');
    expectError(await h.post('/token', cc), 401, 'invalid_client');
  });
});

describe('grant dispatch and parameters (RFC 6749 §5.2)', () => {
  const h = useServer();

  it('a grant type the client did not register is unauthorized_client', async () => {
    const c = await h.client({ grantTypes: ['client_credentials'] });
    expectError(await h.token(c, { grant_type: 'authorization_code', code: 'x', redirect_uri: REDIRECT_URI }), 400, 'unauthorized_client');
  });

  it('an unknown grant type is unsupported_grant_type', async () => {
    const c = await h.client();
    expectError(await h.token(c, { grant_type: 'urn:example:magic' }), 400, 'unsupported_grant_type');
  });

  it('a missing grant_type is invalid_request', async () => {
    const c = await h.client();
    expectError(await h.token(c, {}), 400, 'invalid_request');
  });

  it('RFC 9700 §2.4: the password grant is off by default (unsupported_grant_type)', async () => {
    const c = await h.client({ grantTypes: ['password'] });
    const user = await h.alice();
    expectError(await h.token(c, { grant_type: 'password', username: user.username, password: user.password }), 400, 'unsupported_grant_type');
  });

  it('RFC 6749 §3.3: a scope outside the registration is invalid_scope', async () => {
    const c = await h.client({ scope: 'read' });
    expectError(await h.token(c, { grant_type: 'client_credentials', scope: 'read admin' }), 400, 'invalid_scope');
    expectError(await h.token(c, { grant_type: 'client_credentials', scope: 'bad"scope' }), 400, 'invalid_scope');
  });

  it('RFC 6749 §3.3: a narrower scope is granted as asked', async () => {
    const c = await h.client({ scope: 'read write' });
    const res = await h.token(c, { grant_type: 'client_credentials', scope: 'write' });
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('write');
  });

  it('RFC 6749 §3.2: repeated parameters are invalid_request', async () => {
    const c = await h.client({ authMethod: 'client_secret_post' });
    const auth = `client_id=${encodeURIComponent(c.id)}&client_secret=${encodeURIComponent(c.secret!)}`;
    expectError(await h.post('/token', `grant_type=client_credentials&grant_type=client_credentials&${auth}`), 400, 'invalid_request');
    expectError(await h.post('/token', `grant_type=client_credentials&scope=read&scope=write&${auth}`), 400, 'invalid_request');
    expectError(await h.post('/token', `grant_type=client_credentials&${auth}&client_id=${encodeURIComponent(c.id)}`), 400, 'invalid_request');
  });

  it('RFC 6749 §3.1: a parameter sent without a value is treated as omitted', async () => {
    const c = await h.client();
    const res = await h.token(c, { grant_type: 'client_credentials', scope: '' });
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('read write');
  });

  it('RFC 6749 §4.4.3: client_credentials issues no refresh token, even to a client allowed refresh_token', async () => {
    const c = await h.client({ grantTypes: ['client_credentials', 'refresh_token'] });
    const res = await h.token(c, { grant_type: 'client_credentials' });
    expect(res.status).toBe(200);
    expect(res.body.refresh_token).toBeUndefined();
  });
});

describe('password grant when enabled as legacy (RFC 6749 §4.3)', () => {
  // Sign-in throttling counts attempts in flight as failures: 10 free, so 8 concurrent ones pass.
  const h = useServer({ legacyGrants: ['password'], signInFreeFailures: 10 });

  it('issues tokens for the right password, refresh token included when the client may refresh', async () => {
    const c = await h.client({ grantTypes: ['password', 'refresh_token'] });
    const user = await h.alice();
    const res = await h.token(c, { grant_type: 'password', username: user.username, password: user.password, scope: 'read' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ token_type: 'Bearer', scope: 'read' });
    expect(res.body.refresh_token).toMatch(/^tsr_/);
    const info = await h.introspect(c, res.body.access_token);
    expect(info.body).toMatchObject({ active: true, username: user.username, sub: user.id });
  });

  it('a wrong password or unknown user is invalid_grant', async () => {
    const c = await h.client({ grantTypes: ['password'] });
    const user = await h.alice();
    expectError(await h.token(c, { grant_type: 'password', username: user.username, password: 'wrong' }), 400, 'invalid_grant');
    expectError(await h.token(c, { grant_type: 'password', username: 'nobody', password: 'wrong' }), 400, 'invalid_grant');
  });

  it('concurrent first password requests of a user share one grant (RFC 6749 §1.3: one authorization)', async () => {
    const c = await h.client({ grantTypes: ['password'], tokenFormat: 'jwt' });
    // A user without failed sign-ins (the throttle holds a failing account to one attempt at a time).
    const user = await h.user();
    const all = await Promise.all(Array.from({ length: 8 }, () => h.token(c, { grant_type: 'password', username: user.username, password: user.password })));
    const grants = new Set(all.map((r) => decodeJwt(r.body.access_token).tessera_grant));
    expect(grants.size).toBe(1);
  });

  it('a client not registered for password is unauthorized_client', async () => {
    const c = await h.client({ grantTypes: ['client_credentials'] });
    const user = await h.alice();
    expectError(await h.token(c, { grant_type: 'password', username: user.username, password: user.password }), 400, 'unauthorized_client');
  });
});

describe('JWT access tokens (RFC 9068)', () => {
  const h = useServer();

  it('RFC 9068 §2.1–2.2: typ at+jwt, signed by a key in /jwks.json, with iss, aud, sub, client_id, iat, exp, jti, scope', async () => {
    const c = await h.codeClient({ tokenFormat: 'jwt' });
    const user = await h.alice();
    const body = await h.userTokens(c, { scope: 'read' });
    const jwks = createRemoteJWKSet(new URL(`${h.server.url}/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(body.access_token, jwks, {
      issuer: h.server.url,
      audience: h.server.url,
      typ: 'at+jwt',
    });
    expect(protectedHeader).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    expect(decodeProtectedHeader(body.access_token).kid).toBeTypeOf('string');
    expect(payload).toMatchObject({ iss: h.server.url, aud: h.server.url, sub: user.id, client_id: c.id, scope: 'read' });
    expect(payload.exp! - payload.iat!).toBe(3600);
    expect(Math.abs(payload.iat! - Date.now() / 1000)).toBeLessThan(30);
    expect(payload.jti).toBeTypeOf('string');
    const info = await h.introspect(c, body.access_token);
    expect(info.body).toMatchObject({ active: true, jti: payload.jti, exp: payload.exp, iat: payload.iat });
  });

  it('concurrent first client_credentials requests share the client\'s one grant', async () => {
    const c = await h.client({ tokenFormat: 'jwt' });
    const all = await Promise.all(Array.from({ length: 20 }, () => h.token(c, { grant_type: 'client_credentials' })));
    expect(all.map((r) => r.status)).toEqual(Array(20).fill(200));
    const grants = new Set(all.map((r) => decodeJwt(r.body.access_token).tessera_grant));
    expect(grants.size).toBe(1);
    const later = await h.token(c, { grant_type: 'client_credentials' });
    expect(decodeJwt(later.body.access_token).tessera_grant).toBe([...grants][0]);
  });

  it('RFC 9068 §2.2: a client-credentials JWT has the client as sub', async () => {
    const c = await h.client({ tokenFormat: 'jwt' });
    const res = await h.token(c, { grant_type: 'client_credentials' });
    const jwks = createRemoteJWKSet(new URL(`${h.server.url}/jwks.json`));
    const { payload } = await jwtVerify(res.body.access_token, jwks, { issuer: h.server.url, audience: h.server.url, typ: 'at+jwt' });
    expect(payload).toMatchObject({ sub: c.id, client_id: c.id, scope: 'read write' });
    // A client-credentials token descends from no authorization: it is a family of its own.
    expect(payload.tessera_family).toBe(payload.jti);
  });
});

describe('authorization code exchange (RFC 6749 §4.1.3, RFC 7636)', () => {
  const h = useServer();

  it('RFC 7636 §4.6: a code with an S256 challenge is exchanged with its verifier', async () => {
    const c = await h.codeClient();
    const p = pkce();
    const code = await h.code(c, { pkce: p, scope: 'read' });
    const res = await h.exchange(c, code, { verifier: p.verifier });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'read' });
    expect(res.body.access_token).toMatch(/^tsa_/);
    expect(res.body.refresh_token).toMatch(/^tsr_/);
    expect(await h.active(res.body.access_token)).toBe(true);
  });

  it('RFC 6749 §4.1.2: a replayed code is invalid_grant and revokes every token it produced', async () => {
    const c = await h.codeClient();
    const p = pkce();
    const code = await h.code(c, { pkce: p });
    const first = await h.exchange(c, code, { verifier: p.verifier });
    expect(first.status).toBe(200);
    const rotated = await h.refresh(c, first.body.refresh_token);
    expect(rotated.status).toBe(200);
    expectError(await h.exchange(c, code, { verifier: p.verifier }), 400, 'invalid_grant');
    for (const t of [first.body.access_token, rotated.body.access_token, rotated.body.refresh_token]) expect(await h.active(t)).toBe(false);
  });

  it('RFC 7636 §4.6: a wrong or missing code_verifier is invalid_grant, and the code is not spent', async () => {
    const c = await h.codeClient();
    const p = pkce();
    const code = await h.code(c, { pkce: p });
    expectError(await h.exchange(c, code, { verifier: pkce().verifier }), 400, 'invalid_grant');
    expectError(await h.exchange(c, code), 400, 'invalid_grant');
    expect((await h.exchange(c, code, { verifier: p.verifier })).status).toBe(200);
  });

  it('RFC 9700 §2.1.1: a code_verifier for a code issued without a challenge is invalid_grant', async () => {
    const c = await h.codeClient();
    const code = await h.code(c, { pkce: null });
    expectError(await h.exchange(c, code, { verifier: pkce().verifier }), 400, 'invalid_grant');
  });

  it('RFC 6749 §4.1.3: a redirect_uri different from the authorization request is invalid_grant', async () => {
    const c = await h.codeClient({ redirectUris: [REDIRECT_URI, 'https://app.example/other'] });
    const p = pkce();
    const code = await h.code(c, { pkce: p });
    expectError(await h.exchange(c, code, { verifier: p.verifier, redirectUri: 'https://app.example/other' }), 400, 'invalid_grant');
    expectError(await h.token(c, { grant_type: 'authorization_code', code, code_verifier: p.verifier }), 400, 'invalid_grant');
  });

  it('RFC 6749 §4.1.3: a code issued to another client is invalid_grant and stays usable by its owner', async () => {
    const [owner, thief] = [await h.codeClient(), await h.codeClient()];
    const p = pkce();
    const code = await h.code(owner, { pkce: p });
    expectError(await h.exchange(thief, code, { verifier: p.verifier }), 400, 'invalid_grant');
    expect((await h.exchange(owner, code, { verifier: p.verifier })).status).toBe(200);
  });

  it('an unknown code and a missing code are refused', async () => {
    const c = await h.codeClient();
    expectError(await h.exchange(c, 'tsc_not-a-code'), 400, 'invalid_grant');
    expectError(await h.token(c, { grant_type: 'authorization_code', redirect_uri: REDIRECT_URI }), 400, 'invalid_request');
  });

  it('a code carrying a real code\'s id with other secret bits is invalid_grant, and the real code is not spent', async () => {
    const c = await h.codeClient();
    const p = pkce();
    const code = await h.code(c, { pkce: p });
    expectError(await h.exchange(c, forged(code), { verifier: p.verifier }), 400, 'invalid_grant');
    expect((await h.exchange(c, code, { verifier: p.verifier })).status).toBe(200);
  });

  it('a code whose grant was revoked before the exchange is invalid_grant', async () => {
    const c = await h.codeClient();
    const user = await h.user();
    const p = pkce();
    const code = await h.code(c, { pkce: p, user });
    await h.engine.revoke({ user: user.id }, { actor: 'test' });
    expectError(await h.exchange(c, code, { verifier: p.verifier }), 400, 'invalid_grant');
  });
});

describe.concurrent('lifetimes', () => {
  const h = useServer({ codeTtl: 1 });

  it('RFC 6749 §4.1.2: an expired code is invalid_grant', async () => {
    const c = await h.codeClient();
    const p = pkce();
    const code = await h.code(c, { pkce: p });
    await sleep(1100);
    expectError(await h.exchange(c, code, { verifier: p.verifier }), 400, 'invalid_grant');
  });

  it('RFC 6749 §6: an expired refresh token is invalid_grant', async () => {
    const c = await h.codeClient({ refreshTtl: 1 });
    const first = await h.userTokens(c);
    await sleep(1100);
    expectError(await h.refresh(c, first.refresh_token!), 400, 'invalid_grant');
  });
});

describe('refresh token rotation (RFC 6749 §6, RFC 9700 §4.14.2)', () => {
  const h = useServer();

  it('RFC 9700 §4.14.2: refreshing returns a new refresh token and consumes the old one', async () => {
    const c = await h.codeClient();
    const first = await h.userTokens(c);
    const res = await h.refresh(c, first.refresh_token!);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ token_type: 'Bearer', scope: 'read write' });
    expect(res.body.refresh_token).toMatch(/^tsr_/);
    expect(res.body.refresh_token).not.toBe(first.refresh_token);
    expect(await h.active(first.refresh_token!)).toBe(false);
    expect(await h.active(res.body.refresh_token)).toBe(true);
    expect(await h.active(res.body.access_token)).toBe(true);
  });

  it('a rotation is one audit record: token.rotated names the refresh token consumed, its data the pair issued (issue 14)', async () => {
    const c = await h.codeClient();
    const first = await h.userTokens(c);
    expect((await h.refresh(c, first.refresh_token!)).status).toBe(200);
    const mine = (await h.store.readAudit(0, 100_000)).filter((r) => r.clientId === c.id);
    const rotated = mine.filter((r) => r.event === 'token.rotated');
    expect(rotated).toHaveLength(1);
    const [record] = rotated;
    const old = await h.store.getToken(record!.tokenId!);
    expect(old).toMatchObject({ kind: 'refresh', consumedAt: expect.any(Number) });
    const data = record!.data as { family: string; access: { id: string; scope: string }; refresh: { id: string; scope: string } };
    expect(data.family).toBe(old!.familyId);
    for (const [kind, named] of [['access', data.access], ['refresh', data.refresh]] as const) {
      const t = await h.store.getToken(named.id);
      expect(t).toMatchObject({ kind, parentId: old!.id, familyId: old!.familyId, scope: named.scope, consumedAt: null, revokedAt: null });
      expect(named).toMatchObject({ format: t!.format, exp: t!.expiresAt });
      // The pair has no token.issued of its own.
      expect(mine.filter((r) => r.tokenId === named.id)).toEqual([]);
    }
  });

  it('RFC 9700 §4.14.2: a reused refresh token is invalid_grant and revokes its whole family', async () => {
    const c = await h.codeClient();
    const first = await h.userTokens(c);
    const second = await h.refresh(c, first.refresh_token!);
    const third = await h.refresh(c, second.body.refresh_token);
    expect(third.status).toBe(200);
    expectError(await h.refresh(c, first.refresh_token!), 400, 'invalid_grant');
    for (const t of [first.access_token, second.body.access_token, third.body.access_token, third.body.refresh_token]) {
      expect(await h.active(t)).toBe(false);
    }
    expectError(await h.refresh(c, third.body.refresh_token), 400, 'invalid_grant');
  });

  it('RFC 9700 §4.14.2: reuse revokes only that family, not the same user\'s other sessions', async () => {
    const c = await h.codeClient();
    const user = await h.user();
    const laptop = await h.userTokens(c, { user });
    const phone = await h.userTokens(c, { user });
    await h.refresh(c, laptop.refresh_token!);
    expectError(await h.refresh(c, laptop.refresh_token!), 400, 'invalid_grant');
    expect(await h.active(phone.access_token)).toBe(true);
    expect((await h.refresh(c, phone.refresh_token!)).status).toBe(200);
  });

  it('RFC 6749 §6: a narrower scope is granted, and the new refresh token keeps the original scope', async () => {
    const c = await h.codeClient();
    const first = await h.userTokens(c);
    const narrow = await h.refresh(c, first.refresh_token!, 'read');
    expect(narrow.status).toBe(200);
    expect(narrow.body.scope).toBe('read');
    expect((await h.introspect(c, narrow.body.access_token)).body.scope).toBe('read');
    expect((await h.introspect(c, narrow.body.refresh_token)).body.scope).toBe('read write');
    const wide = await h.refresh(c, narrow.body.refresh_token, 'write');
    expect(wide.status).toBe(200);
    expect(wide.body.scope).toBe('write');
    const all = await h.refresh(c, wide.body.refresh_token);
    expect(all.body.scope).toBe('read write');
  });

  it('RFC 6749 §6: a scope wider than the original is invalid_scope, and the token is not spent', async () => {
    const c = await h.codeClient({ scope: 'read write admin' });
    const first = await h.userTokens(c, { scope: 'read' });
    expectError(await h.refresh(c, first.refresh_token!, 'read write'), 400, 'invalid_scope');
    expect(await h.active(first.refresh_token!)).toBe(true);
    expect((await h.refresh(c, first.refresh_token!)).status).toBe(200);
  });

  it('a refresh token carrying a live one\'s id with other secret bits is invalid_grant, and the real one still rotates', async () => {
    const c = await h.codeClient();
    const first = await h.userTokens(c);
    expectError(await h.refresh(c, forged(first.refresh_token!)), 400, 'invalid_grant');
    expect((await h.refresh(c, first.refresh_token!)).status).toBe(200);
  });

  it("RFC 6749 §6: another client's refresh token is invalid_grant, and stays valid for its owner", async () => {
    const [owner, thief] = [await h.codeClient(), await h.codeClient()];
    const first = await h.userTokens(owner);
    expectError(await h.refresh(thief, first.refresh_token!), 400, 'invalid_grant');
    expect(await h.active(first.refresh_token!)).toBe(true);
    expect((await h.refresh(owner, first.refresh_token!)).status).toBe(200);
  });

  it('an access token, an unknown string or a missing refresh_token are refused', async () => {
    const c = await h.codeClient();
    const first = await h.userTokens(c);
    expectError(await h.refresh(c, first.access_token), 400, 'invalid_grant');
    expectError(await h.refresh(c, 'tsr_unknown'), 400, 'invalid_grant');
    expectError(await h.token(c, { grant_type: 'refresh_token' }), 400, 'invalid_request');
  });

  it('a client not registered for refresh_token is unauthorized_client', async () => {
    const c = await h.codeClient();
    const other = await h.client({ grantTypes: ['client_credentials'] });
    const first = await h.userTokens(c);
    expectError(await h.refresh(other, first.refresh_token!), 400, 'unauthorized_client');
  });

  it('a refresh token of a revoked grant is invalid_grant', async () => {
    const c = await h.codeClient();
    const first = await h.userTokens(c);
    expect((await h.revoke(c, first.refresh_token!)).status).toBe(200);
    expectError(await h.refresh(c, first.refresh_token!), 400, 'invalid_grant');
  });
});

describe('refresh reuse grace window', () => {
  const h = useServer({ refreshReuseGrace: 30 });

  it('RFC 9700 §4.14.2 (benign retry): within refreshReuseGrace the consumed token may be presented again', async () => {
    const c = await h.codeClient();
    const first = await h.userTokens(c);
    const a = await h.refresh(c, first.refresh_token!);
    expect(a.status).toBe(200);
    const retry = await h.refresh(c, first.refresh_token!);
    expect(retry.status).toBe(200);
    expect(retry.body.refresh_token).not.toBe(a.body.refresh_token);
    expect(await h.active(retry.body.access_token)).toBe(true);
    const audit = await h.store.readAudit(0, 10_000);
    expect(audit.some((r) => r.event === 'token.rotated_in_grace')).toBe(true);
  });

  it('two refreshes of one token at once within refreshReuseGrace: one audited token.rotated, the other token.rotated_in_grace (each as it was when claimed)', async () => {
    const c = await h.codeClient();
    const first = await h.userTokens(c);
    // Both read the token unconsumed; only one claims it so.
    const both = await Promise.all([h.refresh(c, first.refresh_token!), h.refresh(c, first.refresh_token!)]);
    expect(both.map((r) => r.status)).toEqual([200, 200]);
    const rotations = (await h.store.readAudit(0, 100_000)).filter((r) => r.clientId === c.id && r.event.startsWith('token.rotated'));
    expect(rotations.map((r) => r.event).sort()).toEqual(['token.rotated', 'token.rotated_in_grace']);
  });
});

describe.each(['sqlite', 'postgres'] as const)('authorization code replayed again and again on %s (RFC 6749 §4.1.2)', (store) => {
  const h = useServer({}, { store });

  it('every replay is invalid_grant; the first revokes what the code produced and is audited, later ones write nothing', async () => {
    const c = await h.codeClient();
    const p = pkce();
    const code = await h.code(c, { pkce: p });
    const first = await h.exchange(c, code, { verifier: p.verifier });
    expect(first.status).toBe(200);
    const records = async () => (await h.store.readAudit(0, 100_000)).filter((r) => r.clientId === c.id).length;
    const before = await records();
    expectError(await h.exchange(c, code, { verifier: p.verifier }), 400, 'invalid_grant');
    expect(await h.active(first.body.access_token)).toBe(false);
    expect(await h.active(first.body.refresh_token)).toBe(false);
    const afterFirst = await records();
    // code.replayed and token.revoked.
    expect(afterFirst - before).toBe(2);
    for (let i = 0; i < 5; i++) expectError(await h.exchange(c, code, { verifier: p.verifier }), 400, 'invalid_grant');
    expect(await records()).toBe(afterFirst);
  });
});
