/**
 * Issue 9, defect 11: every response carries `X-Content-Type-Options: nosniff` (JSON, pages,
 * redirects, 404, errors, the revocation stream, node:http's own 400/408), and no error_description
 * repeats what the request sent, so a browser can never be talked into reading an error as markup.
 */
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Agent } from './agent.js';
import { REDIRECT_URI, useServer } from './flows.js';

/** In every value the tests send; no error description may contain it. */
const MARK = 'q9z';
const SCRIPT = `<script>${MARK}</script>`;

/** A raw exchange over TCP, for what fetch cannot send: returns all the server wrote before closing. */
function raw(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(request));
    let data = '';
    socket.on('data', (d) => { data += d; });
    socket.on('close', () => resolve(data));
    socket.on('error', reject);
  });
}

describe('X-Content-Type-Options: nosniff on every response', () => {
  const h = useServer({ maxBodyBytes: 1024, feedHeartbeat: 100 });

  it('JSON, public JSON, pages, redirects, 404, 405, 413, OAuth errors, /healthz and the revocation stream all carry nosniff', async () => {
    const app = await h.client();
    const reader = await h.client({ scope: 'tessera:revocations' });
    const code = await h.codeClient();
    const agent = new Agent(h.server.url);
    const authorize = `/authorize?${new URLSearchParams({ response_type: 'code', client_id: code.id, redirect_uri: REDIRECT_URI, code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' })}`;
    const responses: Array<[string, Response | { status: number; headers: Headers }]> = [
      ['GET /', await fetch(`${h.server.url}/`)],
      ['metadata', await fetch(`${h.server.url}/.well-known/oauth-authorization-server`)],
      ['jwks', await fetch(`${h.server.url}/jwks`)],
      ['404', await fetch(`${h.server.url}/nope`)],
      ['healthz', await fetch(`${h.server.url}/healthz`)],
      ['token 200', await fetch(`${h.server.url}/token`, { method: 'POST', headers: { authorization: app.basic, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' })],
      ['token 400', await fetch(`${h.server.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=nope' })],
      ['token 401', await fetch(`${h.server.url}/token`, { method: 'POST', headers: { authorization: 'Basic Zm9vOmJhcg==', 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' })],
      ['token 405', await fetch(`${h.server.url}/token`)],
      ['token 413', await fetch(`${h.server.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'x'.repeat(4096) })],
      ['token wrong content type', await fetch(`${h.server.url}/token`, { method: 'POST', headers: { 'content-type': 'text/html' }, body: 'grant_type=x' })],
      ['authorize redirect to login', await agent.get(authorize)],
      ['login page', await agent.get(`/login?return_to=${encodeURIComponent(authorize)}`)],
      ['error page', await agent.get('/authorize?client_id=nope')],
    ];
    const stream = await fetch(`${h.server.url}/revocations/stream`, { headers: { authorization: reader.basic } });
    responses.push(['revocation stream', stream]);
    await stream.body?.cancel();
    for (const [name, res] of responses) expect(res.headers.get('x-content-type-options'), name).toBe('nosniff');
  });

  it("node:http's own answers to malformed requests carry nosniff and no-store", async () => {
    for (const request of ['NOT HTTP\r\n\r\n', 'GET / HTTP/1.1\r\nhost: x\r\nbad header\r\n\r\n', `GET / HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`]) {
      const answer = await raw(h.server.url, request);
      expect(answer, request.slice(0, 30)).toMatch(/^HTTP\/1\.1 4\d\d /);
      expect(answer).toMatch(/\r\nx-content-type-options: nosniff\r\n/i);
      expect(answer).toMatch(/\r\ncache-control: no-store\r\n/i);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error).toBe('invalid_request');
    }
  });
});

describe('error descriptions never repeat the request', () => {
  const h = useServer({ legacyGrants: ['password'] });

  const descriptions: string[] = [];
  function seen(res: { status: number; body: any }, what: string) {
    expect(res.status, what).toBeLessThan(500);
    if (typeof res.body?.error_description === 'string') descriptions.push(res.body.error_description);
    expect(JSON.stringify(res.body), what).not.toContain(MARK);
  }

  it("the token endpoint: grant_type '<script>…' and hostile scope, code, token values are refused without being echoed", async () => {
    const app = await h.client({ grantTypes: ['client_credentials', 'authorization_code', 'refresh_token', 'password'], redirectUris: [REDIRECT_URI] });
    const auth = { authorization: app.basic };
    for (const grant_type of [SCRIPT, 'client_credentials', 'authorization_code', 'refresh_token', 'password']) {
      for (const value of [SCRIPT, `"${MARK}"`, `${MARK}\u0000`]) {
        const form = { grant_type, scope: value, code: value, redirect_uri: value, code_verifier: value, refresh_token: value, username: value, password: value };
        seen(await h.post('/token', form, auth), `${grant_type} with ${JSON.stringify(value)}`);
      }
    }
    // A scope that is well-formed (RFC 6749 §3.3 allows < and >) but not registered.
    seen(await h.post('/token', { grant_type: 'client_credentials', scope: SCRIPT }, auth), 'unregistered scope');
    expect(descriptions.length).toBeGreaterThan(10);
  });

  it('revocation and introspection: a hostile token_type_hint or token is not echoed', async () => {
    const app = await h.client({ scope: 'tessera:introspect' });
    for (const path of ['/revoke', '/introspect']) {
      seen(await h.post(path, { token: SCRIPT, token_type_hint: SCRIPT }, { authorization: app.basic }), path);
    }
  });

  it('a refresh asking for a scope never granted is refused without naming it', async () => {
    const c = await h.codeClient({ scope: `read ${SCRIPT}` });
    const tokens = await h.userTokens(c, { scope: 'read' });
    seen(await h.refresh(c, tokens.refresh_token as string, `read ${SCRIPT}`), 'refresh widening scope');
  });

  it('the authorization endpoint: a hostile response_type or scope is refused at the redirect URI without being echoed', async () => {
    const c = await h.codeClient();
    const agent = new Agent(h.server.url);
    for (const [name, value] of [['response_type', SCRIPT], ['scope', SCRIPT], ['scope', `"${MARK}"`], ['code_challenge_method', SCRIPT]] as const) {
      const query = new URLSearchParams({ response_type: 'code', client_id: c.id, redirect_uri: REDIRECT_URI, code_challenge: 'x'.repeat(43), code_challenge_method: 'S256', [name]: value });
      const res = await agent.get(`/authorize?${query}`);
      expect(res.status, name).toBeLessThan(500);
      const description = res.location ? new URL(res.location).searchParams.get('error_description') : res.body;
      expect(description ?? '', name).not.toContain(MARK);
    }
  });
});
