/** HTTP hygiene: body limits, content types, methods, malformed input, unknown paths, concurrency. */
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { expectError, useServer } from './flows.js';

/** A raw request with full control of headers and body (fetch would fix them up). */
function raw(url: string, options: { method?: string; path: string; headers?: Record<string, string | number | string[]>; body?: string | Buffer }) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: any }>((resolve, reject) => {
    const req = request(`${url}${options.path}`, { method: options.method ?? 'POST', headers: options.headers ?? {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {}
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('HTTP hygiene', () => {
  const h = useServer();
  const form = { 'content-type': 'application/x-www-form-urlencoded' };

  it('RFC 9112 §6.3: a JSON or HTML response states its Content-Length (UTF-8 bytes) rather than chunked framing', async () => {
    const c = await h.client();
    const token = await raw(h.server.url, { path: '/token', headers: { ...form, authorization: c.basic }, body: 'grant_type=client_credentials' });
    const page = await raw(h.server.url, { method: 'GET', path: '/authorize?client_id=n%C3%B6pe' });
    for (const res of [token, page]) {
      expect(res.headers['transfer-encoding']).toBeUndefined();
      const text = typeof res.body === 'string' ? res.body : JSON.stringify(res.body);
      expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(text));
    }
    expect(token.status).toBe(200);
  });

  it('RFC 6749 §2.3, RFC 9110 §5.3: two Authorization fields at /token (the right credentials in the first) → 401 invalid_client, never the first read alone', async () => {
    const c = await h.client();
    const other = await h.client();
    // node:http sends an array value as one header line per element.
    for (const second of [other.basic, c.basic, 'Bearer x']) {
      const res = await raw(h.server.url, { path: '/token', headers: { ...form, authorization: [c.basic, second] }, body: 'grant_type=client_credentials' });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_client');
      expect(res.headers['cache-control']).toBe('no-store');
    }
    const once = await raw(h.server.url, { path: '/token', headers: { ...form, authorization: c.basic }, body: 'grant_type=client_credentials' });
    expect(once.status).toBe(200);
  });

  it('a body over 64 KiB is 413', async () => {
    const c = await h.client();
    const big = `grant_type=client_credentials&pad=${'a'.repeat(65 * 1024)}`;
    const res = await h.post('/token', big, { authorization: c.basic });
    expectError(res, 413, 'invalid_request');
  });

  it('a chunked body over 64 KiB is 413 too', async () => {
    const body = Buffer.from(`grant_type=client_credentials&pad=${'a'.repeat(70 * 1024)}`);
    const res = await raw(h.server.url, { path: '/token', headers: { ...form, 'transfer-encoding': 'chunked' }, body });
    expect(res.status).toBe(413);
    expect(res.body.error).toBe('invalid_request');
  });

  it('a body of exactly 64 KiB is read', async () => {
    const c = await h.client();
    const head = 'grant_type=client_credentials&pad=';
    const res = await h.post('/token', head + 'a'.repeat(64 * 1024 - head.length), { authorization: c.basic });
    expect(res.status).toBe(200);
  });

  it('RFC 6749 §3.2: a JSON body is 400 invalid_request', async () => {
    const c = await h.client();
    const res = await h.request('/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: c.basic },
      body: JSON.stringify({ grant_type: 'client_credentials' }),
    });
    expectError(res, 400, 'invalid_request');
  });

  it('a form body without a content type is 400 invalid_request', async () => {
    const c = await h.client();
    const res = await raw(h.server.url, { path: '/token', headers: { authorization: c.basic }, body: 'grant_type=client_credentials' });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
  });

  it('a content type with a charset parameter is accepted', async () => {
    const c = await h.client();
    const res = await h.post('/token', { grant_type: 'client_credentials' }, { authorization: c.basic, 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' });
    expect(res.status).toBe(200);
  });

  it('RFC 6749 §3.2: GET /token is 405 with an invalid_request JSON body', async () => {
    const c = await h.client();
    const res = await h.request('/token?grant_type=client_credentials', { headers: { authorization: c.basic } });
    expectError(res, 405, 'invalid_request');
    expect(res.headers.get('allow')).toBe('POST');
  });

  it('GET /revoke and GET /introspect are 405 too', async () => {
    for (const path of ['/revoke', '/introspect']) expectError(await h.request(path), 405, 'invalid_request');
  });

  it('RFC 6749 §5.2: a malformed Basic header is 401 invalid_client with WWW-Authenticate', async () => {
    const c = await h.client();
    const headers = [
      'Basic !!!',
      'Basic',
      `Basic ${btoa('no-colon')}`,
      `Basic ${btoa('%E0%A4%A:%ZZ')}`,
      `Basic ${btoa(`${c.id}`)}===`,
      'Bearer abc',
      `basic ${btoa(`${c.id}:`)}`,
    ];
    for (const authorization of headers) {
      const res = await h.post('/token', { grant_type: 'client_credentials' }, { authorization });
      expectError(res, 401, 'invalid_client');
      expect(res.headers.get('www-authenticate'), authorization).toMatch(/^Basic realm=/);
    }
  });

  it('garbage percent-encoding in the body is answered per parameter, never a crash', async () => {
    const c = await h.client();
    const cases: [string, number, string | undefined][] = [
      ['grant_type=client_credentials&scope=%ZZ', 400, 'invalid_scope'],
      ['grant_type=client_credentials&scope=%E0%A4%A', 400, 'invalid_scope'],
      ['grant_type=client_credentials&scope=%00', 400, 'invalid_scope'],
      ['grant_type=%', 400, 'unsupported_grant_type'],
      ['&&&=&=&grant_type', 400, 'invalid_request'],
      // Garbage in a parameter nobody reads is ignored.
      ['%%%=%%%&grant_type=client_credentials', 200, undefined],
    ];
    for (const [body, status, error] of cases) {
      const res = await h.post('/token', body, { authorization: c.basic });
      expect({ body, status: res.status, error: res.body.error }).toEqual({ body, status, error });
    }
  });

  it('raw invalid UTF-8 in the body is a 4xx', async () => {
    const c = await h.client();
    const body = Buffer.concat([Buffer.from('grant_type=client_credentials&scope='), Buffer.from([0xff, 0xfe, 0xc3])]);
    const res = await raw(h.server.url, { path: '/token', headers: { ...form, authorization: c.basic, 'content-length': body.length }, body });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_scope');
  });

  it('an unknown path is 404 JSON', async () => {
    for (const [path, method] of [['/nope', 'GET'], ['/token/', 'POST'], ['/.well-known/openid-configuration/', 'GET']] as const) {
      const res = await h.request(path, { method });
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.body).toEqual({ error: 'not_found' });
    }
  });

  it('a malformed request target is a 4xx', async () => {
    const res = await raw(h.server.url, { method: 'GET', path: '//[' });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });

  it('error responses carry no internals: only error and error_description', async () => {
    const c = await h.client();
    const res = await h.token(c, { grant_type: 'nope' });
    expect(Object.keys(res.body).sort()).toEqual(['error', 'error_description']);
  });
});

describe('concurrency', () => {
  const h = useServer();

  it('RFC 9700 §4.14.2: 50 parallel refreshes of one token: exactly one 200, the rest invalid_grant, then the family is revoked', async () => {
    const c = await h.codeClient();
    const first = await h.userTokens(c);
    const results = await Promise.all(Array.from({ length: 50 }, () => h.refresh(c, first.refresh_token!)));
    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    for (const r of results.filter((r) => r.status !== 200)) expectError(r, 400, 'invalid_grant');
    const winner = ok[0]!.body;
    for (const t of [first.access_token, winner.access_token, winner.refresh_token]) expect(await h.active(t)).toBe(false);
    expectError(await h.refresh(c, winner.refresh_token), 400, 'invalid_grant');
  });

  it('50 parallel exchanges of one code: exactly one 200, and its tokens end up revoked', async () => {
    const c = await h.codeClient();
    const code = await h.code(c, { pkce: null });
    const results = await Promise.all(Array.from({ length: 50 }, () => h.exchange(c, code)));
    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    for (const r of results.filter((r) => r.status !== 200)) expectError(r, 400, 'invalid_grant');
    expect(await h.active(ok[0]!.body.access_token)).toBe(false);
  });

  it('parallel traffic of many clients is all 2xx', async () => {
    const clients = await Promise.all(Array.from({ length: 10 }, () => h.client()));
    const results = await Promise.all(clients.flatMap((c) => Array.from({ length: 10 }, () => h.token(c, { grant_type: 'client_credentials' }))));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(new Set(results.map((r) => r.body.access_token)).size).toBe(100);
  });
});
