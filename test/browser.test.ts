/**
 * The authorization endpoint's login and consent pages in a real browser (headless Chromium via
 * playwright-core): the pages are found by their accessible names, the browser follows the real
 * redirects, and the client's redirect URI is a real callback server on loopback. CI installs
 * Chromium (Debian package `chromium`, at /usr/bin/chromium).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hashSecret } from '@tessera/server';
import { decodeJwt } from 'jose';
import type { BrowserContext, Page, Response } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Chromium, launchChromium } from './chromium.js';
import { type Pkce, pkce, useServer } from './flows.js';
import type { TestClient } from './helpers.js';

const SESSION_COOKIE = 'tessera_session';

/** A node:http server on loopback answering every page request with `body`; it keeps the URLs of the pages it was asked for. */
interface Site {
  /** The origin the browser is sent to (host as given, port as bound). */
  origin: string;
  requests: URL[];
  close(): Promise<void>;
}

async function startSite(host: 'localhost' | '127.0.0.1', body: (url: URL) => string): Promise<Site> {
  const requests: URL[] = [];
  let origin = '';
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', origin);
    // Chromium asks for a favicon when it likes: not a page the test sent it to.
    if (url.pathname === '/favicon.ico') {
      res.writeHead(404).end();
      return;
    }
    requests.push(url);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(body(url));
  });
  // Bound to 127.0.0.1 either way; `host` only names the origin the browser sees. Chromium resolves
  // localhost to loopback itself, so http://localhost:PORT reaches this socket from another site.
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  origin = `http://${host}:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // The browser keeps connections alive; close() alone would wait for them.
        server.closeAllConnections();
      }),
  };
}

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

describe('login and consent in a real browser (RFC 6749 §4.1, RFC 7636)', () => {
  const h = useServer();
  let browser: Chromium;
  let context: BrowserContext;
  let page: Page;
  /** The client's redirect URI: a real server on another port, not a mock. */
  let callback: Site;
  let redirectUri: string;

  beforeAll(async () => {
    callback = await startSite('127.0.0.1', () => '<!doctype html><title>callback</title><p>Back at the client.</p>');
    redirectUri = `${callback.origin}/cb`;
    browser = await launchChromium(h);
    context = browser.context;
  });

  afterAll(async () => {
    await browser?.close();
    await callback?.close();
  });

  beforeEach(async () => {
    // Each test starts signed out, in a fresh tab.
    await context.clearCookies();
    page = await context.newPage();
    callback.requests.length = 0;
  });

  afterEach(async () => {
    await page?.close();
  });

  function authorizeUrl(c: TestClient, p: { scope: string; state: string; challenge: Pkce; redirectUri?: string; extra?: Record<string, string> }): string {
    const query = new URLSearchParams({
      ...p.extra,
      response_type: 'code',
      client_id: c.id,
      redirect_uri: p.redirectUri ?? redirectUri,
      scope: p.scope,
      state: p.state,
      code_challenge: p.challenge.challenge,
      code_challenge_method: 'S256',
    });
    return `${h.server.url}/authorize?${query}`;
  }

  const atCallback = (url: URL) => url.origin === callback.origin && url.pathname === '/cb';

  /**
   * Fills the login form the way a user does, by the fields' labels, and checks the status the
   * POST got (303 to go on to consent; 401 for wrong credentials).
   */
  async function signIn(user: { username: string; password: string }, status: 303 | 401 = 303): Promise<void> {
    await expect.poll(() => new URL(page.url()).pathname).toBe('/login');
    await page.getByLabel('Username').fill(user.username);
    await page.getByLabel('Password').fill(user.password);
    const posted = page.waitForResponse((r) => r.url() === `${h.server.url}/login` && r.request().method() === 'POST');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const res = await posted;
    if (res.status() !== status) {
      await page.waitForLoadState();
      const said = await page.getByRole('alert').allTextContents();
      const origin = await res.request().headerValue('origin');
      expect.fail(`POST /login from the login page answered ${res.status()}, not ${status} (request Origin: ${origin}; page says: ${said.join(' ') || '-'})`);
    }
  }

  /** The consent page's heading and the scopes it lists. */
  async function consentScopes(): Promise<string[]> {
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/authorize');
    return page.getByRole('listitem').allTextContents();
  }

  /** Clicks Allow and waits for the browser to arrive at the client; returns the query it arrived with. */
  async function allow(): Promise<URLSearchParams> {
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(atCallback);
    return new URL(page.url()).searchParams;
  }

  async function sessionCookies() {
    return (await context.cookies(h.server.url)).filter((c) => c.name === SESSION_COOKIE);
  }

  it('a user signs in, sees the requested scopes, allows, and the client gets a code and its state, exchanged with the PKCE verifier', async () => {
    const c = await h.codeClient({ redirectUris: [redirectUri], scope: 'read write' });
    const user = await h.user();
    const p = pkce();
    await page.goto(authorizeUrl(c, { scope: 'read', state: 'st-browser-1', challenge: p }));
    await signIn(user);
    expect(await consentScopes()).toEqual(['read']);
    await expect.poll(() => page.getByText(user.username, { exact: true }).count()).toBe(1);

    const back = await allow();
    expect(back.get('state')).toBe('st-browser-1');
    expect(back.get('iss')).toBe(h.server.url);
    const code = back.get('code');
    expect(code).toMatch(/^tsc_/);
    // The callback server itself received that query: the browser really went there.
    expect(callback.requests.map((u) => u.searchParams.get('code'))).toEqual([code]);

    const res = await h.exchange(c, code!, { verifier: p.verifier, redirectUri });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ token_type: 'Bearer', scope: 'read' });
    expect(res.body.access_token).toEqual(expect.any(String));
    expect(res.body.refresh_token).toMatch(/^tsr_/);
    expect((await h.introspect(c, res.body.access_token)).body).toMatchObject({ active: true, username: user.username, client_id: c.id });
  });

  it('Form Post Response Mode §2: response_mode=form_post makes the browser POST code, state and iss to the redirect URI, under a CSP that runs only that script', async () => {
    const c = await h.codeClient({ redirectUris: [redirectUri], scope: 'read' });
    const p = pkce();
    await page.goto(authorizeUrl(c, { scope: 'read', state: 'st-posted', challenge: p, extra: { response_mode: 'form_post' } }));
    await signIn(await h.user());
    await consentScopes();
    const posted = page.waitForRequest((r) => atCallback(new URL(r.url())) && r.method() === 'POST');
    const blocked: string[] = [];
    page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) blocked.push(m.text()); });
    await page.getByRole('button', { name: 'Allow' }).click();
    const request = await posted;
    // The browser lands on the client's page before the test goes on (a tab closed mid-navigation can hang).
    await page.waitForURL(atCallback);
    expect(new URL(request.url()).search).toBe('');
    const form = new URLSearchParams(request.postData() ?? '');
    expect(form.get('state')).toBe('st-posted');
    expect(form.get('iss')).toBe(h.server.url);
    expect(blocked).toEqual([]);
    const res = await h.exchange(c, form.get('code')!, { verifier: p.verifier, redirectUri });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  });

  it('consent is remembered: the same scopes go straight to the client, wider scopes ask again', async () => {
    const c = await h.codeClient({ redirectUris: [redirectUri], scope: 'read write' });
    const user = await h.user();
    await page.goto(authorizeUrl(c, { scope: 'read', state: 'first', challenge: pkce() }));
    await signIn(user);
    expect(await consentScopes()).toEqual(['read']);
    await allow();

    // Same scopes: /authorize redirects at once; the browser never renders a Tessera page.
    const again = await page.goto(authorizeUrl(c, { scope: 'read', state: 'second', challenge: pkce() }));
    expect(atCallback(new URL(page.url()))).toBe(true);
    expect(chain(again).map((u) => `${u.origin}${u.pathname}`)).toEqual([`${h.server.url}/authorize`, redirectUri]);
    expect(new URL(page.url()).searchParams.get('state')).toBe('second');
    expect(new URL(page.url()).searchParams.get('code')).toMatch(/^tsc_/);

    // Wider scopes: the consent page again, listing both.
    await page.goto(authorizeUrl(c, { scope: 'read write', state: 'third', challenge: pkce() }));
    expect(await consentScopes()).toEqual(['read', 'write']);
    expect((await allow()).get('state')).toBe('third');
    expect((await h.store.findGrant(c.id, user.id))?.scope).toBe('read write');
  });

  it('a wrong password shows an alert and stays on the login page, signed out', async () => {
    const c = await h.codeClient({ redirectUris: [redirectUri] });
    const user = await h.user();
    await page.goto(authorizeUrl(c, { scope: 'read', state: 's', challenge: pkce() }));
    await signIn({ username: user.username, password: 'not the password' }, 401);
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toBe('Wrong username or password.');
    expect(new URL(page.url()).pathname).toBe('/login');
    expect(new URL(page.url()).origin).toBe(h.server.url);
    // The form is there to try again, with the username kept and the password not.
    expect(await page.getByLabel('Username').inputValue()).toBe(user.username);
    expect(await page.getByLabel('Password').inputValue()).toBe('');
    expect(await sessionCookies()).toEqual([]);
    expect(callback.requests).toEqual([]);
  });

  it('a login form posted from another site is refused with 403 and sets no session, even with valid credentials and a leaked CSRF token', async () => {
    const c = await h.codeClient({ redirectUris: [redirectUri] });
    const user = await h.user();
    // The browser has been on the real login page (so it holds the CSRF cookie), and the attacker
    // even knows that page's form values.
    await page.goto(authorizeUrl(c, { scope: 'read', state: 's', challenge: pkce() }));
    await expect.poll(() => new URL(page.url()).pathname).toBe('/login');
    const form: Record<string, string> = {
      username: user.username,
      password: user.password,
      csrf: await page.locator('input[name="csrf"]').inputValue(),
      return_to: await page.locator('input[name="return_to"]').inputValue(),
    };
    expect((await context.cookies(h.server.url)).map((k) => k.name)).toContain('tessera_csrf');

    // localhost is another site than 127.0.0.1 (and another origin).
    const inputs = Object.entries(form).map(([k, v]) => `<input type="hidden" name="${k}" value="${escapeAttr(v)}">`).join('');
    const attacker = await startSite('localhost', () =>
      `<!doctype html><title>win a prize</title><form method="post" action="${h.server.url}/login">${inputs}</form><script>document.forms[0].submit()</script>`,
    );
    try {
      const posted = page.waitForResponse((r) => r.url() === `${h.server.url}/login` && r.request().method() === 'POST');
      await page.goto(`${attacker.origin}/`);
      const res: Response = await posted;
      expect(await res.request().headerValue('origin')).toBe(attacker.origin);
      expect(res.status()).toBe(403);
      expect(attacker.requests).toHaveLength(1);
      await page.waitForURL(`${h.server.url}/login`);
      await page.getByRole('alert').waitFor();
      expect(await sessionCookies()).toEqual([]);
      expect(res.headers()['set-cookie'] ?? '').not.toContain(SESSION_COOKIE);
      expect(callback.requests).toEqual([]);
    } finally {
      await attacker.close();
    }
  });

  it('an unregistered redirect_uri shows the error page and the browser stays on Tessera (RFC 6749 §4.1.2.1, no open redirect)', async () => {
    const c = await h.codeClient({ redirectUris: [redirectUri] });
    const res = await page.goto(authorizeUrl(c, { scope: 'read', state: 's', challenge: pkce(), redirectUri: `${callback.origin}/elsewhere` }));
    expect(res?.status()).toBe(400);
    expect(chain(res)).toHaveLength(1);
    expect(new URL(page.url()).origin).toBe(h.server.url);
    expect(new URL(page.url()).pathname).toBe('/authorize');
    await page.getByRole('heading', { name: 'This request cannot continue' }).waitFor();
    expect(await page.getByRole('alert').textContent()).toBe('The redirect_uri is not registered for this application.');
    expect(await page.getByText('invalid_request', { exact: true }).count()).toBe(1);
    expect(callback.requests).toEqual([]);
  });

  it('RP-Initiated Logout 1.0: the confirmation page signs the user out and the browser lands on the registered post_logout_redirect_uri with state', async () => {
    const bye = `${callback.origin}/bye`;
    const c = await h.codeClient({ redirectUris: [redirectUri], postLogoutRedirectUris: [bye], scope: 'openid' });
    const user = await h.user();
    const p = pkce();
    await page.goto(authorizeUrl(c, { scope: 'openid', state: 'in', challenge: p }));
    await signIn(user);
    await consentScopes();
    const back = await allow();
    const tokens = await h.exchange(c, back.get('code')!, { verifier: p.verifier, redirectUri });
    expect(await sessionCookies()).toHaveLength(1);

    await page.goto(`${h.server.url}/end_session?${new URLSearchParams({ id_token_hint: tokens.body.id_token, post_logout_redirect_uri: bye, state: 'out' })}`);
    await page.getByRole('heading', { name: 'Sign out?' }).waitFor();
    await expect.poll(() => page.getByText(user.username, { exact: true }).count()).toBe(1);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL((url) => url.origin === callback.origin && url.pathname === '/bye');
    expect(new URL(page.url()).searchParams.get('state')).toBe('out');
    expect(await sessionCookies()).toEqual([]);
    // Signed out for real: the next authorization request asks to sign in.
    await page.goto(authorizeUrl(c, { scope: 'openid', state: 'again', challenge: pkce() }));
    await expect.poll(() => new URL(page.url()).pathname).toBe('/login');
  });

  it('OIDC Core §3.1.2.1 prompt=login: a signed-in user with consent is shown the login page again, and the id_token carries the new sign-in time', async () => {
    const c = await h.codeClient({ redirectUris: [redirectUri], scope: 'openid' });
    const user = await h.user();
    await page.goto(authorizeUrl(c, { scope: 'openid', state: 'first', challenge: pkce() }));
    await signIn(user);
    await consentScopes();
    await allow();
    const [first] = await sessionCookies();
    // Signed in, consent given: without prompt the browser would go straight back to the client.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const p = pkce();
    await page.goto(`${authorizeUrl(c, { scope: 'openid', state: 'again', challenge: p })}&prompt=login&login_hint=${encodeURIComponent(user.username)}`);
    await expect.poll(() => new URL(page.url()).pathname).toBe('/login');
    // login_hint: the username is filled in.
    expect(await page.getByLabel('Username').inputValue()).toBe(user.username);
    await signIn(user);
    // The consent stands, so the fresh sign-in goes straight on to the client.
    await page.waitForURL(atCallback);
    const back = new URL(page.url()).searchParams;
    expect(back.get('state')).toBe('again');
    const [second] = await sessionCookies();
    expect(second?.value).not.toBe(first?.value);
    const res = await h.exchange(c, back.get('code')!, { verifier: p.verifier, redirectUri });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const claims = decodeJwt(res.body.id_token);
    const session = await h.store.findSessionByHash(hashSecret(second?.value ?? ''));
    expect(claims.auth_time).toBe(Math.floor((session?.createdAt ?? 0) / 1000));
  });
});

/** The URLs a navigation went through, first request first (redirects included). */
function chain(res: Response | null): URL[] {
  const urls: URL[] = [];
  for (let req = res?.request() ?? null; req; req = req.redirectedFrom()) urls.unshift(new URL(req.url()));
  return urls;
}
