/**
 * OpenID Connect RP-Initiated Logout 1.0 over HTTP (issue 11): /end_session asks the user, ends
 * the browser session (audited), and sends the browser back only to a registered
 * post_logout_redirect_uri; tokens stay unless logoutRevokesTokens is on.
 */
import { decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { Agent, field } from './agent.js';
import { type Harness, pkce, useServer } from './flows.js';
import type { TestClient } from './helpers.js';

const BYE = 'https://app.example/signed-out';

async function rp(h: Harness, idTokenSignedResponseAlg: 'RS256' | 'ES256' = 'RS256'): Promise<{
  c: TestClient; user: Awaited<ReturnType<Harness['user']>>; agent: Agent; tokens: { id_token: string; access_token: string };
}> {
  const c = await h.codeClient({ scope: 'openid', postLogoutRedirectUris: [BYE], idTokenSignedResponseAlg });
  const user = await h.user();
  const p = pkce();
  const code = await h.code(c, { user, scope: 'openid', pkce: p });
  const res = await h.exchange(c, code, { verifier: p.verifier });
  expect(res.status).toBe(200);
  return { c, user, agent: await h.signedIn(user), tokens: res.body };
}

/** Answers the confirmation page as the user. */
async function confirm(agent: Agent, page: { body: string }, decision: 'logout' | 'stay' = 'logout') {
  return agent.post('/end_session/confirm', { csrf: field(page.body, 'csrf'), request: field(page.body, 'request'), decision });
}

describe('OpenID Connect RP-Initiated Logout 1.0', () => {
  const h = useServer();

  it('§2–3: id_token_hint + registered post_logout_redirect_uri → confirmation page → session ended (audited) → back to the client with state', async () => {
    const { c, user, agent, tokens } = await rp(h);
    const page = await agent.get(`/end_session?${new URLSearchParams({ id_token_hint: tokens.id_token, post_logout_redirect_uri: BYE, state: 'bye-1' })}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('Sign out?');
    expect(page.body).toContain(user.username);
    expect(page.body).toContain(c.client.name);
    const done = await confirm(agent, page);
    expect(done.status).toBe(303);
    expect(done.location).toBe(`${BYE}?state=bye-1`);
    // The session cookie is cleared and the session is gone: /authorize asks to sign in again.
    expect(agent.cookies.has('tessera_session')).toBe(false);
    const again = await agent.get(`/authorize?${new URLSearchParams({ response_type: 'code', client_id: c.id, redirect_uri: c.client.redirectUris[0]!, scope: 'openid', code_challenge: pkce().challenge, code_challenge_method: 'S256' })}`);
    expect(again.location).toMatch(/\/login\?/);
    const audit = await h.store.readAudit(0, 1_000_000);
    expect(audit.filter((r) => r.event === 'session.ended' && r.userId === user.id)).toHaveLength(1);
    // logoutRevokesTokens is off by default: the client's tokens stay active.
    expect(await h.active(tokens.access_token)).toBe(true);
  });

  it('§2: with client_id and no hint it works too; "Stay signed in" keeps the session; without a redirect URI a signed-out page', async () => {
    const { c, agent } = await rp(h);
    const page = await agent.get(`/end_session?client_id=${c.id}`);
    const stay = await confirm(agent, page, 'stay');
    expect(stay.status).toBe(200);
    expect(stay.body).toContain('still signed in');
    expect(agent.cookies.has('tessera_session')).toBe(true);
    const out = await confirm(agent, await agent.get(`/end_session?client_id=${c.id}`));
    expect(out.status).toBe(200);
    expect(out.body).toContain('You are signed out');
  });

  it('§3: an unregistered post_logout_redirect_uri, one with no client named, a hint for another client, or a forged hint is an error page, never a redirect', async () => {
    const { c, agent, tokens } = await rp(h);
    const other = await h.codeClient({ scope: 'openid', postLogoutRedirectUris: ['https://other.example/bye'] });
    for (const params of [
      { client_id: c.id, post_logout_redirect_uri: 'https://evil.example/' },
      { post_logout_redirect_uri: BYE },
      { id_token_hint: tokens.id_token, client_id: other.id },
      { id_token_hint: `${tokens.id_token.slice(0, -4)}AAAA` },
      { id_token_hint: tokens.id_token, post_logout_redirect_uri: 'https://other.example/bye' },
      { client_id: 'no-such-client' },
    ] as Record<string, string>[]) {
      const res = await agent.get(`/end_session?${new URLSearchParams(params)}`);
      expect(res.status, JSON.stringify(params)).toBe(400);
      expect(res.location).toBeUndefined();
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    }
    // Nothing ended: still signed in.
    expect((await agent.get(`/end_session?client_id=${c.id}`)).body).toContain('Sign out?');
  });

  it('not signed in: a GET goes straight back to the registered URI; a cross-site POST (no Lax cookie) still gets the confirmation page', async () => {
    const { c } = await rp(h);
    const stranger = new Agent(h.server.url);
    const res = await stranger.get(`/end_session?${new URLSearchParams({ client_id: c.id, post_logout_redirect_uri: BYE, state: 's' })}`);
    expect(res.status).toBe(302);
    expect(res.location).toBe(`${BYE}?state=s`);
    const posted = await stranger.post('/end_session', { client_id: c.id, post_logout_redirect_uri: BYE });
    expect(posted.status).toBe(200);
    expect(posted.body).toContain('Sign out?');
  });

  it('§2: an id_token_hint of either algorithm names its client, RS256 (the default) and ES256 (a client registered for it)', async () => {
    for (const alg of ['RS256', 'ES256'] as const) {
      const { tokens } = await rp(h, alg);
      expect(decodeProtectedHeader(tokens.id_token).alg).toBe(alg);
      // No client_id: only the verified hint names the client whose URI this is.
      const res = await new Agent(h.server.url).get(`/end_session?${new URLSearchParams({ id_token_hint: tokens.id_token, post_logout_redirect_uri: BYE, state: alg })}`);
      expect(res.status, alg).toBe(302);
      expect(res.location).toBe(`${BYE}?state=${alg}`);
    }
  });

  it('the confirmation form is CSRF-protected: without the token or from another origin it is refused with 403', async () => {
    const { c, agent } = await rp(h);
    const page = await agent.get(`/end_session?client_id=${c.id}`);
    const forged = await agent.post('/end_session/confirm', { csrf: 'guess', request: field(page.body, 'request'), decision: 'logout' });
    expect(forged.status).toBe(403);
    const cross = await agent.post('/end_session/confirm', { csrf: field(page.body, 'csrf'), request: field(page.body, 'request'), decision: 'logout' }, { origin: 'https://evil.example' });
    expect(cross.status).toBe(403);
    expect(agent.cookies.has('tessera_session')).toBe(true);
  });

  it('Discovery: end_session_endpoint is advertised and served', async () => {
    const { body } = await h.request('/.well-known/openid-configuration');
    expect(body.end_session_endpoint).toBe(`${h.server.url}/end_session`);
  });
});

describe('logoutRevokesTokens: signing out revokes every grant and token of the user', () => {
  const h = useServer({ logoutRevokesTokens: true });

  it('after the confirmed sign-out the user\'s tokens are inactive, with a token.revoked audit record', async () => {
    const { agent, tokens, user } = await rp(h);
    await confirm(agent, await agent.get(`/end_session?${new URLSearchParams({ id_token_hint: tokens.id_token })}`));
    expect(await h.active(tokens.access_token)).toBe(false);
    const audit = await h.store.readAudit(0, 1_000_000);
    expect(audit.filter((r) => r.userId === user.id).map((r) => r.event).slice(-2)).toEqual(['session.ended', 'token.revoked']);
  });
});
