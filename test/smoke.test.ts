import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers.js';

let server: TestServer;
beforeAll(async () => { server = await startTestServer(); });
afterAll(() => server.close());

describe('token endpoint', () => {
  it('RFC 6749 §4.4: client_credentials issues an access token and no refresh token', async () => {
    const c = await server.createClient();
    const res = await server.post('/token', { grant_type: 'client_credentials' }, { authorization: c.basic });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'read write' });
    expect(res.body.refresh_token).toBeUndefined();
  });
});
