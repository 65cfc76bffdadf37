/** Token introspection (RFC 7662) over HTTP. */
import { describe, expect, it } from 'vitest';
import { expectError, forged, sleep, useServer } from './flows.js';

describe('introspection endpoint (RFC 7662)', () => {
  const h = useServer();

  it('RFC 7662 §2.1: an unauthenticated request is 401 invalid_client', async () => {
    const c = await h.client();
    const { body } = await h.token(c, { grant_type: 'client_credentials' });
    expectError(await h.post('/introspect', { token: body.access_token }), 401, 'invalid_client');
    expectError(await h.post('/introspect', { token: body.access_token }, { authorization: `Basic ${btoa(`${c.id}:wrong`)}` }), 401, 'invalid_client');
  });

  it('RFC 7662 §2.2: an active user access token has every claim', async () => {
    const c = await h.codeClient();
    const user = await h.alice();
    const before = Math.floor(Date.now() / 1000);
    const tokens = await h.userTokens(c, { scope: 'read' });
    const res = await h.introspect(c, tokens.access_token);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const b = res.body;
    expect(b).toMatchObject({
      active: true, scope: 'read', client_id: c.id, username: user.username, sub: user.id,
      token_type: 'Bearer', aud: h.server.url, iss: h.server.url,
    });
    expect(b.jti).toBeTypeOf('string');
    expect(b.iat).toBeGreaterThanOrEqual(before);
    expect(b.exp - b.iat).toBe(3600);
    expect(Object.keys(b).sort()).toEqual(['active', 'aud', 'client_id', 'exp', 'iat', 'iss', 'jti', 'scope', 'sub', 'tessera_family', 'tessera_grant', 'token_type', 'username']);
  });

  it('an active answer names the grant and family, as a JWT access token does (tessera_grant, tessera_family)', async () => {
    const c = await h.codeClient();
    const tokens = await h.userTokens(c);
    const access = (await h.introspect(c, tokens.access_token)).body;
    const refresh = (await h.introspect(c, tokens.refresh_token!)).body;
    expect(access.tessera_grant).toBeTypeOf('string');
    expect(access.tessera_family).toBeTypeOf('string');
    expect([refresh.tessera_grant, refresh.tessera_family]).toEqual([access.tessera_grant, access.tessera_family]);
    const cc = await h.client();
    const { body } = await h.token(cc, { grant_type: 'client_credentials' });
    // A token of no family names its own id (README: the revocation feed).
    const own = (await h.introspect(cc, body.access_token)).body;
    expect(own.tessera_family).toBe(own.jti);
  });

  it('RFC 7662 §2.2: a client-credentials token has the client as sub and no username', async () => {
    const c = await h.client();
    const { body } = await h.token(c, { grant_type: 'client_credentials' });
    const res = await h.introspect(c, body.access_token);
    expect(res.body).toMatchObject({ active: true, sub: c.id, client_id: c.id, token_type: 'Bearer', scope: 'read write' });
    expect(res.body.username).toBeUndefined();
  });

  it('RFC 7662 §2.2: an active refresh token is reported as one', async () => {
    const c = await h.codeClient();
    const tokens = await h.userTokens(c);
    const res = await h.introspect(c, tokens.refresh_token!);
    expect(res.body).toMatchObject({ active: true, token_type: 'refresh_token', scope: 'read write' });
    expect(res.body.exp - res.body.iat).toBe(14 * 24 * 3600);
  });

  it('RFC 7662 §2.2: a revoked token is exactly {"active": false}', async () => {
    const c = await h.client();
    const { body } = await h.token(c, { grant_type: 'client_credentials' });
    await h.revoke(c, body.access_token);
    const res = await h.introspect(c, body.access_token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ active: false });
  });

  it('RFC 7662 §2.2: an unknown token is exactly {"active": false}', async () => {
    const c = await h.client();
    expect((await h.introspect(c, 'tsa_nothing')).body).toEqual({ active: false });
  });

  it('a value carrying a live token\'s id with other secret bits is {"active": false}: the id finds the row, the hash decides', async () => {
    const c = await h.codeClient();
    const jwt = await h.client({ tokenFormat: 'jwt' });
    const tokens = await h.userTokens(c);
    const { body } = await h.token(jwt, { grant_type: 'client_credentials' });
    for (const [client, value] of [[c, tokens.access_token], [c, tokens.refresh_token!], [jwt, body.access_token]] as const) {
      expect((await h.introspect(client, forged(value))).body).toEqual({ active: false });
      expect((await h.introspect(client, value)).body.active).toBe(true);
    }
  });

  it('RFC 7662 §2.2: a consumed refresh token is exactly {"active": false}', async () => {
    const c = await h.codeClient();
    const tokens = await h.userTokens(c);
    await h.refresh(c, tokens.refresh_token!);
    expect((await h.introspect(c, tokens.refresh_token!)).body).toEqual({ active: false });
  });

  it("RFC 7662 §4: another client's token is exactly {\"active\": false}", async () => {
    const [owner, other] = [await h.client(), await h.client()];
    const { body } = await h.token(owner, { grant_type: 'client_credentials' });
    expect((await h.introspect(other, body.access_token)).body).toEqual({ active: false });
    expect((await h.introspect(owner, body.access_token)).body.active).toBe(true);
  });

  it("a client registered with scope 'tessera:introspect' (a resource server) sees other clients' tokens", async () => {
    const owner = await h.codeClient();
    const rs = await h.client({ scope: 'tessera:introspect', grantTypes: ['client_credentials'] });
    const tokens = await h.userTokens(owner);
    const res = await h.introspect(rs, tokens.access_token);
    expect(res.body).toMatchObject({ active: true, client_id: owner.id });
  });

  it('RFC 7662 §2.1: a public client cannot introspect', async () => {
    const c = await h.codeClient({ authMethod: 'none' });
    const tokens = await h.userTokens(c);
    const res = await h.introspect(c, tokens.access_token);
    expectError(res, 401, 'invalid_client');
  });

  it('a missing token parameter is invalid_request', async () => {
    const c = await h.client();
    expectError(await h.as(c, '/introspect', {}), 400, 'invalid_request');
  });

  it('RFC 7662 §2.2: an expired token is exactly {"active": false}', async () => {
    const c = await h.client({ accessTtl: 1 });
    const { body } = await h.token(c, { grant_type: 'client_credentials' });
    expect(body.expires_in).toBe(1);
    expect((await h.introspect(c, body.access_token)).body.active).toBe(true);
    await sleep(1100);
    expect((await h.introspect(c, body.access_token)).body).toEqual({ active: false });
  });
});
