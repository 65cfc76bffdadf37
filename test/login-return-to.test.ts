/**
 * The login page's return_to (issue 9, defect 8): it ends up in a Location header, so a value
 * with CR/LF, NUL, DEL or characters outside Latin-1 used to make the redirect after a successful
 * login a 500. Such values, posted directly or planted in a login link sent to a victim, now lead
 * back to this server's /authorize with the query re-encoded, and nowhere else.
 */
import { describe, expect, it } from 'vitest';
import { Agent, field } from './agent.js';
import { pkce, REDIRECT_URI, useServer } from './flows.js';

const HOSTILE: Record<string, string> = {
  'CR/LF (header injection)': '\r\nset-cookie: planted=1\r\nx: y',
  NUL: '\u0000',
  DEL: '\u007f',
  'outside Latin-1': '\u2603\u{1F600}',
  'Latin-1 but not ASCII': 'é\u00ff',
  'a lone surrogate': '\ud800',
  'invalid UTF-8': '%FF%C0%80',
};

describe('login return_to with characters a header cannot hold', () => {
  const h = useServer();

  /** A real authorization request with `extra` appended raw (undecoded) to its query. */
  async function returnTo(extra: string) {
    const c = await h.codeClient();
    const { challenge } = pkce();
    const query = new URLSearchParams({ response_type: 'code', client_id: c.id, redirect_uri: REDIRECT_URI, state: 's1', code_challenge: challenge, code_challenge_method: 'S256' });
    return { c, value: `/authorize?${query}&x=${extra}` };
  }

  it('a return_to posted with CR/LF, NUL, DEL, non-Latin-1 or invalid UTF-8 redirects to this server\'s /authorize after login, never 500', async () => {
    const user = await h.alice();
    for (const [name, chars] of Object.entries(HOSTILE)) {
      const { value } = await returnTo(chars);
      const agent = new Agent(h.server.url);
      const login = await agent.get(`/login?return_to=${encodeURIComponent('/authorize?')}`);
      const posted = await agent.post('/login', { username: user.username, password: user.password, csrf: field(login.body, 'csrf'), return_to: value });
      expect(posted.status, name).toBe(303);
      const location = new URL(posted.location!);
      expect(location.origin, name).toBe(h.server.url);
      expect(location.pathname, name).toBe('/authorize');
      expect(posted.headers.get('location'), name).toMatch(/^[\x21-\x7e]+$/);
      expect(posted.headers.has('x'), name).toBe(false);
      expect(agent.cookies.has('planted'), name).toBe(false);
      // The authorization request carries on: consent is asked for the client, nothing lost.
      const consent = await agent.get(posted.location!);
      expect(consent.status, name).toBe(200);
      expect(field(consent.body, 'request'), name).toContain('code_challenge=');
    }
  });

  it('a planted login link whose return_to holds CR/LF, NUL, DEL, non-Latin-1 or invalid UTF-8 leads the victim to this server\'s /authorize, never 500', async () => {
    const user = await h.alice();
    for (const [name, chars] of Object.entries(HOSTILE)) {
      const { value } = await returnTo(chars);
      const victim = new Agent(h.server.url);
      const page = await victim.get(`/login?${new URLSearchParams({ return_to: value })}`);
      expect(page.status, name).toBe(200);
      // The victim signs in with the form as served.
      const posted = await victim.post('/login', { username: user.username, password: user.password, csrf: field(page.body, 'csrf'), return_to: field(page.body, 'return_to') });
      expect(posted.status, name).toBe(303);
      expect(new URL(posted.location!).origin, name).toBe(h.server.url);
      expect(new URL(posted.location!).pathname, name).toBe('/authorize');
      expect(posted.headers.get('location'), name).toMatch(/^[\x21-\x7e]+$/);
      expect(victim.cookies.has('planted'), name).toBe(false);
    }
  });

  it('return_to stays limited to /authorize and /device: other paths, hosts and schemes are refused before login', async () => {
    const agent = new Agent(h.server.url);
    for (const to of ['https://evil.example/authorize?x', '//evil.example/authorize?x', '/\\evil.example/authorize?', '/authorize', '/authorizex?', '/token?x', '\r\n/authorize?',
      '/device', '/devicex?', '/device_authorization?x', '//evil.example/device?']) {
      const page = await agent.get(`/login?return_to=${encodeURIComponent(to)}`);
      expect(page.status, to).toBe(400);
      expect(page.location).toBeUndefined();
    }
  });

  it('an ordinary return_to comes back unchanged', async () => {
    const user = await h.alice();
    const { value } = await returnTo('plain');
    const agent = new Agent(h.server.url);
    const page = await agent.get(`/login?return_to=${encodeURIComponent(value)}`);
    expect(field(page.body, 'return_to')).toBe(value);
    const posted = await agent.post('/login', { username: user.username, password: user.password, csrf: field(page.body, 'csrf'), return_to: value });
    expect(posted.headers.get('location')).toBe(value);
  });
});
