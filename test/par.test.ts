/** Pushed authorization requests (RFC 9126) over HTTP: the push, the browser's request_uri, one-time use, require-PAR. */
import { describe, expect, it } from 'vitest';
import { Agent, field, type Page } from './agent.js';
import { expectError, pkce, REDIRECT_URI, sleep, useServer } from './flows.js';
import type { TestClient } from './helpers.js';

const URN = 'urn:ietf:params:oauth:request_uri:';

type Harness = ReturnType<typeof useServer>;

/** The authorization request a client pushes, with PKCE. */
function request(over: Record<string, string> = {}) {
  const p = pkce();
  return { p, params: { response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'read', state: 'pushed-state', code_challenge: p.challenge, code_challenge_method: 'S256', ...over } };
}

/** The browser at /authorize with the request_uri, signed in, at the consent page. */
async function consentPage(h: Harness, agent: Agent, c: TestClient, requestUri: string, extra: Record<string, string> = {}): Promise<Page> {
  const user = await h.user();
  const first = await agent.get(`/authorize?${new URLSearchParams({ client_id: c.id, request_uri: requestUri, ...extra })}`);
  expect(first.status).toBe(302);
  const login = await agent.get(first.location!);
  const posted = await agent.post('/login', { username: user.username, password: user.password, csrf: field(login.body, 'csrf'), return_to: field(login.body, 'return_to') });
  expect(posted.status).toBe(303);
  const consent = await agent.get(posted.location!);
  expect(consent.status).toBe(200);
  return consent;
}

const decide = (agent: Agent, consent: Page, decision: 'allow' | 'deny') =>
  agent.post('/consent', { csrf: field(consent.body, 'csrf'), request: field(consent.body, 'request'), decision });

function replyOf(page: Page): Record<string, string> {
  expect(page.location, `expected a redirect, got ${page.status}:\n${page.body}`).toBeDefined();
  const url = new URL(page.location!);
  expect(`${url.origin}${url.pathname}`).toBe(REDIRECT_URI);
  return Object.fromEntries(url.searchParams);
}

function expectErrorPage(page: Page, error: string): void {
  expect(page.status).toBe(400);
  expect(page.location).toBeUndefined();
  expect(page.body).toContain(`<code>${error}</code>`);
}

describe('pushed authorization requests (RFC 9126)', () => {
  const h = useServer();

  it('RFC 9126 §2.2: an authenticated push gets 201 with a request_uri URN and expires_in, not cached; the metadata names the endpoint', async () => {
    const c = await h.codeClient();
    const res = await h.as(c, '/par', request().params);
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body.request_uri).toMatch(new RegExp(`^${URN}[A-Za-z0-9_-]{43}$`));
    expect(res.body.expires_in).toBe(300);
    const meta = await h.request('/.well-known/oauth-authorization-server');
    expect(meta.body).toMatchObject({ pushed_authorization_request_endpoint: `${h.server.url}/par`, require_pushed_authorization_requests: false });
  });

  it('RFC 9126 §4: the browser brings client_id and request_uri; the pushed request runs through login and consent to a code the PKCE verifier redeems', async () => {
    const c = await h.codeClient({ scope: 'read write' });
    const { p, params } = request();
    const pushed = await h.as(c, '/par', params);
    const agent = new Agent(h.server.url);
    const consent = await consentPage(h, agent, c, pushed.body.request_uri);
    expect(consent.body).toContain('<code>read</code>');
    expect(consent.body).not.toContain('<code>write</code>');
    const back = replyOf(await decide(agent, consent, 'allow'));
    expect(back).toMatchObject({ state: 'pushed-state', iss: h.server.url });
    const tokens = await h.exchange(c, back.code!, { verifier: p.verifier });
    expect(tokens.status).toBe(200);
    expect(tokens.body.scope).toBe('read');
  });

  it('RFC 9126 §4: parameters sent beside the request_uri are ignored; only the pushed ones count', async () => {
    const c = await h.codeClient({ scope: 'read write', redirectUris: [REDIRECT_URI, 'https://app.example/other'] });
    const pushed = await h.as(c, '/par', request().params);
    const agent = new Agent(h.server.url);
    const consent = await consentPage(h, agent, c, pushed.body.request_uri, { scope: 'write', state: 'forged', redirect_uri: 'https://app.example/other' });
    expect(consent.body).not.toContain('<code>write</code>');
    expect(replyOf(await decide(agent, consent, 'allow')).state).toBe('pushed-state');
  });

  it('RFC 9126 §4: a request_uri is answered once; the same one again gets the error page, not a second code', async () => {
    const c = await h.codeClient();
    const pushed = await h.as(c, '/par', request().params);
    const agent = new Agent(h.server.url);
    const consent = await consentPage(h, agent, c, pushed.body.request_uri);
    expect(replyOf(await decide(agent, consent, 'allow')).code).toMatch(/^tsc_/);
    // Consent is now stored: without one-time use, this would redirect with a second code.
    expectErrorPage(await agent.get(`/authorize?${new URLSearchParams({ client_id: c.id, request_uri: pushed.body.request_uri })}`), 'invalid_request_uri');
  });

  it('OIDC prompt=login in a pushed request: the signed-in user signs in again, once, then goes on (the pushed request cannot be rewritten on the way back)', async () => {
    const c = await h.codeClient({ scope: 'openid read' });
    const user = await h.user();
    const agent = await h.signedIn(user);
    const pushed = await h.as(c, '/par', request({ scope: 'openid read', prompt: 'login' }).params);
    const path = `/authorize?${new URLSearchParams({ client_id: c.id, request_uri: pushed.body.request_uri })}`;
    const first = await agent.get(path);
    expect(new URL(first.location!).pathname).toBe('/login');
    const login = await agent.get(first.location!);
    const posted = await agent.post('/login', { username: user.username, password: user.password, csrf: field(login.body, 'csrf'), return_to: field(login.body, 'return_to') });
    expect(posted.status).toBe(303);
    const consent = await agent.get(posted.location!);
    expect(consent.status, consent.location).toBe(200);
    expect(replyOf(await decide(agent, consent, 'allow')).code).toMatch(/^tsc_/);
  });

  it('a denied pushed request is used up too', async () => {
    const c = await h.codeClient();
    const pushed = await h.as(c, '/par', request().params);
    const agent = new Agent(h.server.url);
    const consent = await consentPage(h, agent, c, pushed.body.request_uri);
    expect(replyOf(await decide(agent, consent, 'deny'))).toMatchObject({ error: 'access_denied', state: 'pushed-state' });
    expectErrorPage(await decide(agent, consent, 'allow'), 'invalid_request_uri');
  });

  it('RFC 9126 §4: a request_uri unknown, malformed, or pushed by another client gets the error page, never a redirect', async () => {
    const c = await h.codeClient();
    const other = await h.codeClient();
    const pushed = await h.as(c, '/par', request().params);
    const agent = new Agent(h.server.url);
    for (const [clientId, uri] of [[other.id, pushed.body.request_uri], [c.id, `${URN}${'A'.repeat(43)}`], [c.id, 'https://attacker.example/request']]) {
      expectErrorPage(await agent.get(`/authorize?${new URLSearchParams({ client_id: clientId as string, request_uri: uri as string })}`), 'invalid_request_uri');
    }
    const noClient = await agent.get(`/authorize?${new URLSearchParams({ request_uri: pushed.body.request_uri })}`);
    expectErrorPage(noClient, 'invalid_request');
  });

  it('RFC 9126 §2.1: the push needs client authentication, POST, no request_uri; request objects are refused', async () => {
    const c = await h.codeClient();
    const { params } = request();
    expectError(await h.post('/par', { client_id: c.id, client_secret: 'wrong', ...params }), 401, 'invalid_client');
    expectError(await h.post('/par', params), 401, 'invalid_client');
    expect((await h.request('/par')).status).toBe(405);
    expectError(await h.as(c, '/par', { ...params, request_uri: `${URN}x` }), 400, 'invalid_request');
    expectError(await h.as(c, '/par', { ...params, request: 'eyJhbGciOiJub25lIn0.e30.' }), 400, 'request_not_supported');
  });

  it('RFC 9126 §2.3: a bad request fails at the push, as JSON to the client (not a redirect), and stores nothing', async () => {
    const c = await h.codeClient({ scope: 'read' });
    const before = (await h.store.auditHeads()).reduce((n, head) => n + head.records, 0);
    expectError(await h.as(c, '/par', request({ redirect_uri: 'https://attacker.example/cb' }).params), 400, 'invalid_request');
    expectError(await h.as(c, '/par', request({ response_type: 'token' }).params), 400, 'unsupported_response_type');
    expectError(await h.as(c, '/par', request({ scope: 'admin' }).params), 400, 'invalid_scope');
    expect((await h.store.auditHeads()).reduce((n, head) => n + head.records, 0)).toBe(before);
  });

  it('RFC 9126 §2.3: a pushed state or nonce over 4096 characters is invalid_request at the push, so no redirect echoes it', async () => {
    const c = await h.codeClient({ scope: 'read' });
    for (const name of ['state', 'nonce']) {
      const res = await h.as(c, '/par', request({ [name]: 'x'.repeat(4097) }).params);
      expectError(res, 400, 'invalid_request');
      expect(res.body.error_description).toBe(`${name} must be at most 4096 characters`);
    }
    const pushed = await h.as(c, '/par', request({ state: 'x'.repeat(4096), nonce: 'x'.repeat(4096) }).params);
    expect(pushed.status).toBe(201);
    const agent = new Agent(h.server.url);
    expect(replyOf(await decide(agent, await consentPage(h, agent, c, pushed.body.request_uri), 'allow')).state).toBe('x'.repeat(4096));
  });

  it('a public client pushes with its client_id and PKCE; the push is audited without the request_uri', async () => {
    const c = await h.codeClient({ authMethod: 'none' });
    const pushed = await h.as(c, '/par', request().params);
    expect(pushed.status).toBe(201);
    const records = await h.store.readAudit(0, 10_000);
    const record = records.filter((r) => r.event === 'request.pushed' && r.clientId === c.id);
    expect(record).toHaveLength(1);
    const value = (pushed.body.request_uri as string).slice(URN.length);
    expect(JSON.stringify(records)).not.toContain(value);
  });
});

describe('pushed requests expire (RFC 9126 §2.2, parTtl)', () => {
  const h = useServer({ parTtl: 1 });

  it('after expires_in the request_uri is no longer known', async () => {
    const c = await h.codeClient();
    const pushed = await h.as(c, '/par', request().params);
    expect(pushed.body.expires_in).toBe(1);
    await sleep(1100);
    expectErrorPage(await new Agent(h.server.url).get(`/authorize?${new URLSearchParams({ client_id: c.id, request_uri: pushed.body.request_uri })}`), 'invalid_request_uri');
  });
});

describe('require pushed authorization requests (RFC 9126 §5, --require-par)', () => {
  const h = useServer({ requirePar: true });

  it('a request not pushed is sent back to the client with invalid_request; a pushed one goes through; the metadata says so', async () => {
    const c = await h.codeClient();
    const { params } = request();
    const agent = new Agent(h.server.url);
    const direct = await agent.get(`/authorize?${new URLSearchParams({ client_id: c.id, ...params })}`);
    expect(replyOf(direct)).toMatchObject({ error: 'invalid_request', state: 'pushed-state' });
    const pushed = await h.as(c, '/par', params);
    expect(pushed.status).toBe(201);
    await consentPage(h, agent, c, pushed.body.request_uri);
    expect((await h.request('/.well-known/oauth-authorization-server')).body.require_pushed_authorization_requests).toBe(true);
  });
});
