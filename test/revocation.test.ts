/** Token revocation (RFC 7009) over HTTP. */
import { describe, expect, it } from 'vitest';
import { expectError, useServer } from './flows.js';

describe('revocation endpoint (RFC 7009)', () => {
  const h = useServer();

  it('RFC 7009 §2.1: a client revokes its own access token, which becomes inactive', async () => {
    const c = await h.client();
    const { body } = await h.token(c, { grant_type: 'client_credentials' });
    const res = await h.revoke(c, body.access_token);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await h.active(body.access_token)).toBe(false);
  });

  it('RFC 7009 §2.1: revoking a refresh token also invalidates the access tokens of its grant', async () => {
    const c = await h.codeClient();
    const first = await h.userTokens(c);
    const rotated = await h.refresh(c, first.refresh_token!);
    expect((await h.revoke(c, rotated.body.refresh_token, 'refresh_token')).status).toBe(200);
    for (const t of [first.access_token, rotated.body.access_token, rotated.body.refresh_token]) expect(await h.active(t)).toBe(false);
    expectError(await h.refresh(c, rotated.body.refresh_token), 400, 'invalid_grant');
  });

  it('RFC 7009 §2.1: revoking an access token leaves its refresh token usable', async () => {
    const c = await h.codeClient();
    const first = await h.userTokens(c);
    expect((await h.revoke(c, first.access_token, 'access_token')).status).toBe(200);
    expect(await h.active(first.access_token)).toBe(false);
    expect(await h.active(first.refresh_token!)).toBe(true);
  });

  it('RFC 6749 §2.3.1: a client_secret_post client may revoke and introspect with Basic (as Authlib does by default)', async () => {
    const c = await h.client({ authMethod: 'client_secret_post' });
    const { body } = await h.token(c, { grant_type: 'client_credentials' });
    const seen = await h.post('/introspect', { token: body.access_token }, { authorization: c.basic });
    expect(seen.status).toBe(200);
    expect(seen.body).toMatchObject({ active: true, client_id: c.id });
    expect((await h.post('/revoke', { token: body.access_token }, { authorization: c.basic })).status).toBe(200);
    expect(await h.active(body.access_token)).toBe(false);
  });

  it('RFC 6749 §2.3.1: a client_secret_basic client may revoke and introspect with the secret in the form', async () => {
    const c = await h.client({ authMethod: 'client_secret_basic' });
    const { body } = await h.token(c, { grant_type: 'client_credentials' });
    const creds = { client_id: c.id, client_secret: c.secret! };
    expect((await h.post('/introspect', { ...creds, token: body.access_token })).body).toMatchObject({ active: true });
    expect((await h.post('/revoke', { ...creds, token: body.access_token })).status).toBe(200);
    expect(await h.active(body.access_token)).toBe(false);
    // RFC 6749 §2.3: never both methods in one request.
    expectError(await h.post('/revoke', { ...creds, token: body.access_token }, { authorization: c.basic }), 400, 'invalid_request');
  });

  it('RFC 7009 §2.2: revoking an unknown token returns 200', async () => {
    const c = await h.client();
    const res = await h.revoke(c, 'tsa_never-issued');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
  });

  it('RFC 7009 §2.2: revoking an already revoked token returns 200', async () => {
    const c = await h.client();
    const { body } = await h.token(c, { grant_type: 'client_credentials' });
    expect((await h.revoke(c, body.access_token)).status).toBe(200);
    expect((await h.revoke(c, body.access_token)).status).toBe(200);
    expect(await h.active(body.access_token)).toBe(false);
  });

  it("RFC 7009 §2.1: another client's token is refused and stays active", async () => {
    const [owner, other] = [await h.client(), await h.client()];
    const { body } = await h.token(owner, { grant_type: 'client_credentials' });
    const res = await h.revoke(other, body.access_token);
    expect(res.status).toBe(400);
    expectError(res, 400, ['invalid_request', 'unauthorized_client', 'invalid_grant']);
    expect(await h.active(body.access_token)).toBe(true);
  });

  it('RFC 7009 §2.1: a wrong token_type_hint still revokes the token [refresh hint on an access token]', async () => {
    const c = await h.client();
    const { body } = await h.token(c, { grant_type: 'client_credentials' });
    expect((await h.revoke(c, body.access_token, 'refresh_token')).status).toBe(200);
    expect(await h.active(body.access_token)).toBe(false);
  });

  it('RFC 7009 §2.1: a wrong token_type_hint still revokes the token [access hint on a refresh token]', async () => {
    const c = await h.codeClient();
    const first = await h.userTokens(c);
    expect((await h.revoke(c, first.refresh_token!, 'access_token')).status).toBe(200);
    expect(await h.active(first.refresh_token!)).toBe(false);
    expect(await h.active(first.access_token)).toBe(false);
  });

  it('RFC 7009 §2.2.1: an unsupported token_type_hint is unsupported_token_type, and nothing is revoked', async () => {
    const c = await h.client();
    const { body } = await h.token(c, { grant_type: 'client_credentials' });
    expectError(await h.revoke(c, body.access_token, 'id_token'), 400, 'unsupported_token_type');
    expect(await h.active(body.access_token)).toBe(true);
  });

  it('RFC 7009 §2.1: an unauthenticated request is 401 invalid_client, and nothing is revoked', async () => {
    const c = await h.client();
    const { body } = await h.token(c, { grant_type: 'client_credentials' });
    expectError(await h.post('/revoke', { token: body.access_token }), 401, 'invalid_client');
    const wrong = await h.post('/revoke', { token: body.access_token }, { authorization: `Basic ${btoa(`${c.id}:wrong`)}` });
    expectError(wrong, 401, 'invalid_client');
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic/);
    expect(await h.active(body.access_token)).toBe(true);
  });

  it('a missing token parameter is invalid_request', async () => {
    const c = await h.client();
    expectError(await h.as(c, '/revoke', {}), 400, 'invalid_request');
  });

  it('RFC 7009 §2.1: a public client revokes its own tokens with its client_id', async () => {
    const c = await h.codeClient({ authMethod: 'none' });
    const first = await h.userTokens(c);
    expect((await h.revoke(c, first.refresh_token!)).status).toBe(200);
    expect(await h.active(first.access_token)).toBe(false);
  });

  it('RFC 7009 §2.1: a JWT access token is revoked like an opaque one', async () => {
    const c = await h.client({ tokenFormat: 'jwt' });
    const { body } = await h.token(c, { grant_type: 'client_credentials' });
    expect((await h.revoke(c, body.access_token)).status).toBe(200);
    expect(await h.active(body.access_token)).toBe(false);
  });
});
