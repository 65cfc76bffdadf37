/** The authorization endpoint over HTTP, driven like a browser: login, consent, redirects, errors. */
import { describe, expect, it } from 'vitest';
import { Agent, field, type Page } from './agent.js';
import { expectError, pkce, REDIRECT_URI, useServer } from './flows.js';
import type { TestClient } from './helpers.js';

type Params = Record<string, string | undefined>;

function authorizePath(c: TestClient, params: Params = {}): string {
  const p = new URLSearchParams();
  const all: Params = { response_type: 'code', client_id: c.id, redirect_uri: REDIRECT_URI, state: 'st-123', ...params };
  for (const [k, v] of Object.entries(all)) if (v !== undefined) p.set(k, v);
  return `/authorize?${p}`;
}

/** GET /authorize → login page → sign in → back at /authorize; returns that last response. */
async function signIn(agent: Agent, path: string, user: { username: string; password: string }): Promise<Page> {
  const first = await agent.get(path);
  expect(first.status).toBe(302);
  const login = await agent.get(first.location!);
  expect(login.status).toBe(200);
  const posted = await agent.post('/login', { username: user.username, password: user.password, csrf: field(login.body, 'csrf'), return_to: field(login.body, 'return_to') });
  expect(posted.status).toBe(303);
  expect(new URL(posted.location!).pathname).toBe('/authorize');
  return agent.get(posted.location!);
}

async function decide(agent: Agent, consent: Page, decision: 'allow' | 'deny'): Promise<Page> {
  expect(consent.status).toBe(200);
  return agent.post('/consent', { csrf: field(consent.body, 'csrf'), request: field(consent.body, 'request'), decision });
}

/** The parameters of an authorization response, from the query (code) or the fragment (implicit). */
function reply(page: Page, where: 'query' | 'fragment' = 'query'): Record<string, string> {
  expect(page.location, `expected a redirect, got ${page.status}:\n${page.body}`).toBeDefined();
  const url = new URL(page.location!);
  expect(`${url.origin}${url.pathname}`).toBe(REDIRECT_URI);
  return Object.fromEntries(where === 'query' ? url.searchParams : new URLSearchParams(url.hash.slice(1)));
}

/** An error shown to the user, never redirected (RFC 6749 §4.1.2.1). */
function expectErrorPage(page: Page, error: string): void {
  expect(page.status).toBe(400);
  expect(page.location).toBeUndefined();
  expect(page.headers.get('content-type')).toMatch(/^text\/html/);
  expect(page.body).toContain(`<code>${error}</code>`);
}

describe('authorization code flow through login and consent (RFC 6749 §4.1, RFC 7636)', () => {
  const h = useServer();

  it('login, consent, then a code and state at the exact redirect URI, exchanged with the PKCE verifier', async () => {
    const c = await h.codeClient({ scope: 'read write' });
    const user = await h.user();
    const agent = new Agent(h.server.url);
    const p = pkce();
    const consent = await signIn(agent, authorizePath(c, { scope: 'read', code_challenge: p.challenge, code_challenge_method: 'S256' }), user);
    expect(consent.body).toContain('<code>read</code>');
    expect(consent.body).not.toContain('<code>write</code>');
    const back = reply(await decide(agent, consent, 'allow'));
    // RFC 6749 §4.1.2: code and the exact state; RFC 9207: iss.
    expect(back).toMatchObject({ state: 'st-123', iss: h.server.url });
    const res = await h.exchange(c, back.code!, { verifier: p.verifier });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ token_type: 'Bearer', scope: 'read' });
    expect(res.body.refresh_token).toMatch(/^tsr_/);
    const info = await h.introspect(c, res.body.access_token);
    expect(info.body).toMatchObject({ active: true, username: user.username, sub: user.id, client_id: c.id, scope: 'read' });
  });

  it('consent is remembered per user × client and asked again only when the scopes widen', async () => {
    const c = await h.codeClient({ scope: 'read write' });
    const user = await h.user();
    const agent = new Agent(h.server.url);
    const consent = await signIn(agent, authorizePath(c, { scope: 'read', code_challenge: pkce().challenge, code_challenge_method: 'S256' }), user);
    reply(await decide(agent, consent, 'allow'));

    const again = await agent.get(authorizePath(c, { scope: 'read', code_challenge: pkce().challenge, code_challenge_method: 'S256' }));
    expect(again.status).toBe(302);
    expect(reply(again).code).toMatch(/^tsc_/);

    const wider = await agent.get(authorizePath(c, { scope: 'read write', code_challenge: pkce().challenge, code_challenge_method: 'S256' }));
    expect(wider.status).toBe(200);
    expect(wider.body).toContain('Allow access?');
    reply(await decide(agent, wider, 'allow'));
    const grant = await h.store.findGrant(c.id, user.id);
    expect(grant?.scope).toBe('read write');
  });

  it('a user who denies sends access_denied with the state back to the client (§4.1.2.1)', async () => {
    const c = await h.codeClient();
    const agent = new Agent(h.server.url);
    const consent = await signIn(agent, authorizePath(c), await h.user());
    expect(reply(await decide(agent, consent, 'deny'))).toMatchObject({ error: 'access_denied', state: 'st-123' });
  });

  it('a wrong password shows the login page again with one message for unknown users and wrong passwords', async () => {
    const c = await h.codeClient();
    const user = await h.user();
    const agent = new Agent(h.server.url);
    const login = await agent.get((await agent.get(authorizePath(c))).location!);
    const form = { csrf: field(login.body, 'csrf'), return_to: field(login.body, 'return_to') };
    const wrong = await agent.post('/login', { ...form, username: user.username, password: 'nope' });
    const unknown = await agent.post('/login', { ...form, username: 'nobody', password: 'nope' });
    for (const page of [wrong, unknown]) {
      expect(page.status).toBe(401);
      expect(page.body).toContain('role="alert">Wrong username or password.');
    }
    expect(agent.cookies.has('tessera_session')).toBe(false);
  });

  it('the redirect URI keeps its own query component (§3.1.2)', async () => {
    const withQuery = `${REDIRECT_URI}?tenant=a`;
    const c = await h.codeClient({ redirectUris: [withQuery] });
    const agent = new Agent(h.server.url);
    const consent = await signIn(agent, authorizePath(c, { redirect_uri: withQuery }), await h.user());
    const to = new URL((await decide(agent, consent, 'allow')).location!);
    expect(to.searchParams.get('tenant')).toBe('a');
    expect(to.searchParams.get('code')).toMatch(/^tsc_/);
  });

  it('the code is bound to its redirect URI and PKCE verifier at the token endpoint', async () => {
    const c = await h.codeClient();
    const agent = new Agent(h.server.url);
    const p = pkce();
    const consent = await signIn(agent, authorizePath(c, { code_challenge: p.challenge, code_challenge_method: 'S256' }), await h.user());
    const { code } = reply(await decide(agent, consent, 'allow'));
    expectError(await h.exchange(c, code!, { verifier: pkce().verifier }), 400, 'invalid_grant');
  });

  it('pages are plain accessible forms, never cached or framed', async () => {
    const c = await h.codeClient();
    const agent = new Agent(h.server.url);
    const login = await agent.get((await agent.get(authorizePath(c))).location!);
    expect(login.body).toMatch(/<html lang="en">/);
    expect(login.body).toContain('<label for="username">');
    expect(login.body).toContain('<label for="password">');
    expect(login.body).toContain('autocomplete="current-password"');
    expect(login.headers.get('cache-control')).toBe('no-store');
    expect(login.headers.get('x-frame-options')).toBe('DENY');
    expect(login.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });
});

describe('errors the user sees and errors the client hears (RFC 6749 §4.1.2.1)', () => {
  const h = useServer();

  it('an unknown client_id is an error page, not a redirect', async () => {
    const agent = new Agent(h.server.url);
    expectErrorPage(await agent.get(`/authorize?response_type=code&client_id=nope&redirect_uri=${encodeURIComponent(REDIRECT_URI)}`), 'invalid_client');
  });

  it('RFC 9700 §2.1: a redirect_uri that is not an exact match is an error page, not a redirect', async () => {
    const c = await h.codeClient();
    const agent = new Agent(h.server.url);
    for (const uri of ['https://evil.example/cb', `${REDIRECT_URI}/`, `${REDIRECT_URI}?x=1`, REDIRECT_URI.toUpperCase()]) {
      expectErrorPage(await agent.get(authorizePath(c, { redirect_uri: uri })), 'invalid_request');
    }
  });

  it('a missing client_id or redirect_uri is an error page', async () => {
    const c = await h.codeClient();
    const agent = new Agent(h.server.url);
    expectErrorPage(await agent.get(authorizePath(c, { client_id: undefined })), 'invalid_request');
    expectErrorPage(await agent.get(authorizePath(c, { redirect_uri: undefined })), 'invalid_request');
  });

  it('a repeated redirect_uri is an error page; other repeated parameters go back as invalid_request (§3.1)', async () => {
    const c = await h.codeClient();
    const agent = new Agent(h.server.url);
    expectErrorPage(await agent.get(`${authorizePath(c)}&redirect_uri=${encodeURIComponent(REDIRECT_URI)}`), 'invalid_request');
    expect(reply(await agent.get(`${authorizePath(c)}&scope=read&scope=write`))).toMatchObject({ error: 'invalid_request', state: 'st-123' });
  });

  it('a state or nonce over 4096 characters goes back as invalid_request, without the state it cannot echo (§4.1.2.1)', async () => {
    const c = await h.codeClient();
    const agent = new Agent(h.server.url);
    const long = reply(await agent.get(authorizePath(c, { state: 's'.repeat(4097) })));
    expect(long).toMatchObject({ error: 'invalid_request', error_description: 'state must be at most 4096 characters' });
    expect(long.state).toBeUndefined();
    expect(reply(await agent.get(authorizePath(c, { nonce: 'n'.repeat(4097) })))).toMatchObject({ error: 'invalid_request', state: 'st-123' });
    // 4096 is taken: on to the login page.
    expect(new URL((await agent.get(authorizePath(c, { state: 's'.repeat(4096), nonce: 'n'.repeat(4096) }))).location!).pathname).toBe('/login');
  });

  it('a missing or unknown response_type is sent back to the client with the state', async () => {
    const c = await h.codeClient();
    const agent = new Agent(h.server.url);
    expect(reply(await agent.get(authorizePath(c, { response_type: undefined })))).toMatchObject({ error: 'invalid_request', state: 'st-123' });
    expect(reply(await agent.get(authorizePath(c, { response_type: 'code id_token' })))).toMatchObject({ error: 'unsupported_response_type', state: 'st-123' });
  });

  it('Multiple Response Type Encoding §2.1: response_mode=fragment puts the code in the fragment; an unknown mode is invalid_request in the query', async () => {
    const c = await h.codeClient({ scope: 'read' });
    const user = await h.user();
    const agent = new Agent(h.server.url);
    const p = pkce();
    const consent = await signIn(agent, authorizePath(c, { scope: 'read', response_mode: 'fragment', code_challenge: p.challenge, code_challenge_method: 'S256' }), user);
    const to = await decide(agent, consent, 'allow');
    expect(new URL(to.location!).search).toBe('');
    const back = reply(to, 'fragment');
    expect(back).toMatchObject({ state: 'st-123', iss: h.server.url });
    expect((await h.exchange(c, back.code!, { verifier: p.verifier })).body).toMatchObject({ token_type: 'Bearer' });
    expect(reply(await agent.get(authorizePath(c, { response_mode: 'web_message' })))).toMatchObject({ error: 'invalid_request', state: 'st-123' });
    expect(reply(await agent.get(authorizePath(c, { response_mode: 'fragment', scope: 'admin' })), 'fragment')).toMatchObject({ error: 'invalid_scope', state: 'st-123' });
  });

  it('Form Post Response Mode §2: response_mode=form_post answers with a self-posting form to the redirect URI, errors included', async () => {
    const c = await h.codeClient({ scope: 'read' });
    const agent = new Agent(h.server.url);
    const page = await agent.get(authorizePath(c, { response_mode: 'form_post', scope: 'admin', state: 'a"<b' }));
    expect(page.status).toBe(200);
    expect(page.location).toBeUndefined();
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'sha256-[A-Za-z0-9+/]+=*'/);
    expect(page.body).toContain(`<form method="post" action="${REDIRECT_URI}">`);
    expect(page.body).toContain('<input type="hidden" name="error" value="invalid_scope">');
    // Values are escaped: the state cannot break out of its attribute.
    expect(page.body).toContain('<input type="hidden" name="state" value="a&quot;&lt;b">');
    expect(page.body).toContain(`<input type="hidden" name="iss" value="${h.server.url}">`);
  });

  it('OpenID Connect Core §3.1.2.6: a request object (request=) is refused with request_not_supported, not ignored', async () => {
    const c = await h.codeClient();
    const agent = new Agent(h.server.url);
    expect(reply(await agent.get(authorizePath(c, { request: 'eyJhbGciOiJub25lIn0.eyJzY29wZSI6IndyaXRlIn0.' })))).toMatchObject({ error: 'request_not_supported', state: 'st-123' });
  });

  it('a client not registered for the code grant gets unauthorized_client', async () => {
    const c = await h.client({ grantTypes: ['client_credentials'], redirectUris: [REDIRECT_URI] });
    const agent = new Agent(h.server.url);
    expect(reply(await agent.get(authorizePath(c)))).toMatchObject({ error: 'unauthorized_client' });
  });

  it('a scope the client did not register is invalid_scope', async () => {
    const c = await h.codeClient({ scope: 'read' });
    const agent = new Agent(h.server.url);
    expect(reply(await agent.get(authorizePath(c, { scope: 'read admin' })))).toMatchObject({ error: 'invalid_scope', state: 'st-123' });
  });

  it('RFC 7636 §4.4.1: a public client without code_challenge gets invalid_request', async () => {
    const c = await h.codeClient({ authMethod: 'none' });
    const agent = new Agent(h.server.url);
    expect(reply(await agent.get(authorizePath(c)))).toMatchObject({ error: 'invalid_request', state: 'st-123' });
  });

  it('RFC 9700 §2.1.1: PKCE plain is refused unless configured; unknown methods always', async () => {
    const c = await h.codeClient();
    const agent = new Agent(h.server.url);
    const challenge = pkce().verifier;
    expect(reply(await agent.get(authorizePath(c, { code_challenge: challenge, code_challenge_method: 'plain' })))).toMatchObject({ error: 'invalid_request' });
    expect(reply(await agent.get(authorizePath(c, { code_challenge: challenge })))).toMatchObject({ error: 'invalid_request' });
    expect(reply(await agent.get(authorizePath(c, { code_challenge: challenge, code_challenge_method: 'S512' })))).toMatchObject({ error: 'invalid_request' });
  });

  it('login only returns to this server\'s authorization endpoint (no open redirect)', async () => {
    const agent = new Agent(h.server.url);
    for (const to of ['https://evil.example/', '//evil.example/authorize?x', '/token?x', '']) {
      expectErrorPage(await agent.get(`/login?return_to=${encodeURIComponent(to)}`), 'invalid_request');
    }
  });

  it('other methods are 405 with Allow', async () => {
    const res = await fetch(`${h.server.url}/authorize`, { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, POST');
  });
});

describe('CSRF protection of the login and consent forms', () => {
  const h = useServer();

  async function loginForm(agent: Agent, c: TestClient) {
    const login = await agent.get((await agent.get(authorizePath(c))).location!);
    return { csrf: field(login.body, 'csrf'), return_to: field(login.body, 'return_to') };
  }

  it('a login POST without the CSRF token, with a wrong one, or without the cookie is refused with 403', async () => {
    const c = await h.codeClient();
    const user = await h.user();
    const agent = new Agent(h.server.url);
    const form = { ...(await loginForm(agent, c)), username: user.username, password: user.password };
    expect((await agent.post('/login', { ...form, csrf: '' })).status).toBe(403);
    expect((await agent.post('/login', { ...form, csrf: `${form.csrf}x` })).status).toBe(403);
    const stranger = new Agent(h.server.url);
    expect((await stranger.post('/login', form)).status).toBe(403);
    expect(agent.cookies.has('tessera_session')).toBe(false);
  });

  it('a POST from another origin is refused even with a valid token', async () => {
    const c = await h.codeClient();
    const user = await h.user();
    const agent = new Agent(h.server.url);
    const form = { ...(await loginForm(agent, c)), username: user.username, password: user.password };
    expect((await agent.post('/login', form, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await agent.post('/login', form, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await agent.post('/login', form, { origin: h.server.url })).status).toBe(303);
  });

  it('a consent POST without the CSRF token issues no code and records no grant', async () => {
    const c = await h.codeClient();
    const user = await h.user();
    const agent = new Agent(h.server.url);
    const consent = await signIn(agent, authorizePath(c), user);
    const res = await agent.post('/consent', { request: field(consent.body, 'request'), decision: 'allow' });
    expect(res.status).toBe(403);
    expect(res.location).toBeUndefined();
    expect(await h.store.findGrant(c.id, user.id)).toBeUndefined();
  });
});

describe('browser sessions end with the user', () => {
  const h = useServer();

  it('deleting the user or changing the password signs them out', async () => {
    const c = await h.codeClient();
    for (const end of ['password', 'delete'] as const) {
      const user = await h.user();
      const agent = new Agent(h.server.url);
      reply(await decide(agent, await signIn(agent, authorizePath(c), user), 'allow'));
      expect((await agent.get(authorizePath(c))).location).toContain(REDIRECT_URI);
      if (end === 'password') await h.engine.setPassword(user.id, 'another long passphrase', { actor: 'test' });
      else await h.engine.deleteUser(user.id, { actor: 'test' });
      expect(new URL((await agent.get(authorizePath(c))).location!).pathname).toBe('/login');
    }
  });
});

describe('the implicit grant is legacy: off by default (RFC 9700 §2.1.2)', () => {
  const off = useServer();

  it('response_type=token is unsupported_response_type (in the fragment the client reads) when the server has not enabled it', async () => {
    const c = await off.codeClient({ grantTypes: ['authorization_code', 'implicit'] });
    const agent = new Agent(off.server.url);
    expect(reply(await agent.get(authorizePath(c, { response_type: 'token' })), 'fragment')).toMatchObject({ error: 'unsupported_response_type', state: 'st-123' });
  });
});

describe('the implicit grant when the server enables it (RFC 6749 §4.2)', () => {
  const h = useServer({ legacyGrants: ['implicit'] });

  it('a client not registered for implicit gets unauthorized_client in the fragment', async () => {
    const c = await h.codeClient();
    const agent = new Agent(h.server.url);
    expect(reply(await agent.get(authorizePath(c, { response_type: 'token' })), 'fragment')).toMatchObject({ error: 'unauthorized_client', state: 'st-123' });
  });

  it('a registered client gets an access token, and no refresh token, in the fragment (§4.2.2)', async () => {
    const c = await h.client({ authMethod: 'none', grantTypes: ['implicit'], redirectUris: [REDIRECT_URI], scope: 'read' });
    const agent = new Agent(h.server.url);
    const consent = await signIn(agent, authorizePath(c, { response_type: 'token' }), await h.user());
    const to = await decide(agent, consent, 'allow');
    expect(new URL(to.location!).search).toBe('');
    const token = reply(to, 'fragment');
    expect(token).toMatchObject({ token_type: 'Bearer', scope: 'read', state: 'st-123', expires_in: '3600' });
    expect(token.refresh_token).toBeUndefined();
    expect(await h.active(token.access_token!)).toBe(true);
  });

  it('Multiple Response Type Encoding §2.1: an access token is never put in the query (response_mode=query is invalid_request, in the fragment)', async () => {
    const c = await h.client({ authMethod: 'none', grantTypes: ['implicit'], redirectUris: [REDIRECT_URI], scope: 'read' });
    const agent = new Agent(h.server.url);
    const to = await agent.get(authorizePath(c, { response_type: 'token', response_mode: 'query' }));
    expect(new URL(to.location!).search).toBe('');
    expect(reply(to, 'fragment')).toMatchObject({ error: 'invalid_request', state: 'st-123' });
  });
});
