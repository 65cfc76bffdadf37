/**
 * The web console (issue 13, "Web console"), in a real browser (Chromium through playwright-core)
 * and over HTTP: signing in with an admin token, the overview showing what /stats says, a wrong
 * token refused, signing out; its security headers (CSP), cookie auth needing the CSRF header for
 * anything that changes state, a revoked admin token ending its sessions, and /console absent from
 * the public listener. Each page's screenshot lands in test-artifacts/console/.
 */
import { mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminServer, startAdminServer } from './admin-kit.js';
import { type Chromium, launchChromium } from './chromium.js';

const ARTIFACTS = join(import.meta.dirname, '..', 'test-artifacts', 'console');
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

let s: AdminServer & { closeAll(): Promise<void> };
let token: string;
let client: { client_id: string; client_secret: string };
const watched = { server: { url: '' }, serverErrors: [] as string[] };

async function issue(): Promise<void> {
  const res = await fetch(`${s.url}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${btoa(`${client.client_id}:${client.client_secret}`)}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&scope=read',
  });
  expect(res.status).toBe(200);
}

/** Signs in over HTTP as the page does; the session cookie and the CSRF token. */
async function session(value: string): Promise<{ cookie: string; csrf: string }> {
  const res = await fetch(`${s.adminUrl}/console/session`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: value }) });
  expect(res.status).toBe(200);
  const cookie = (res.headers.get('set-cookie') as string).split(';')[0] as string;
  return { cookie, csrf: ((await res.json()) as { csrf: string }).csrf };
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  s = await startAdminServer();
  watched.server.url = s.adminUrl;
  token = await s.adminToken('console');
  client = (await s.call(token, 'POST', '/clients', { name: 'console-svc', grant_types: ['client_credentials'], scope: 'read' })).body;
  for (let i = 0; i < 3; i++) await issue();
});
afterAll(async () => {
  await s?.closeAll();
  expect(watched.serverErrors).toEqual([]);
});

describe('over HTTP', () => {
  it('serves the page and its files with a strict Content-Security-Policy, nosniff and no referrer', async () => {
    const page = await fetch(`${s.adminUrl}/console`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toBe(CSP);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await page.text();
    // No inline script or style: everything the CSP allows is a file of the console's own.
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>|<style|\sstyle=/);
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1] as string;
    const js = await fetch(`${s.adminUrl}${script}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    // A client-side route is the page itself.
    expect((await fetch(`${s.adminUrl}/console/overview`)).status).toBe(200);
  });

  it('serves only the files the build made: no path reaches anything else', async () => {
    for (const path of ['/console/assets/../../package.json', '/console/assets/%2e%2e%2fpackage.json', '/console/assets/..%2F..%2Fdist%2Findex.js', '/console/assets/nope.js', '/console/assets/']) {
      const res = await fetch(`${s.adminUrl}${path}`);
      expect([200, 404], path).toContain(res.status);
      if (res.status === 200) expect(await res.text(), path).toContain('<div id="app">');
    }
  });

  it('/console is only on the admin listener, never the public one', async () => {
    for (const path of ['/console', '/console/session']) expect((await fetch(`${s.url}${path}`)).status, path).toBe(404);
  });

  it('a wrong admin token gets no session', async () => {
    const res = await fetch(`${s.adminUrl}/console/session`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=tsadm_nope' });
    expect(res.status).toBe(401);
    expect(res.headers.get('set-cookie')).toBeNull();
  });

  it('the session cookie is HttpOnly, SameSite=Strict, Path=/, and opaque (not the admin token)', async () => {
    const res = await fetch(`${s.adminUrl}/console/session`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }) });
    const cookie = res.headers.get('set-cookie') as string;
    expect(cookie).toMatch(/^tessera_console=[\w-]{40,}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    expect(cookie).not.toContain(token);
  });

  it('with the console cookie, a state-changing admin API call without the CSRF header is refused (403); with it, it goes through', async () => {
    const { cookie, csrf } = await session(token);
    expect((await fetch(`${s.adminUrl}/admin/api/v1/stats`, { headers: { cookie } })).status).toBe(200);
    const create = (headers: Record<string, string>) =>
      fetch(`${s.adminUrl}/admin/api/v1/clients`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', ...headers }, body: JSON.stringify({ name: 'csrf', grant_types: ['client_credentials'], scope: 'read' }) });
    expect((await create({})).status).toBe(403);
    expect((await create({ 'x-csrf-token': 'forged' })).status).toBe(403);
    expect((await create({ 'x-csrf-token': csrf })).status).toBe(201);
  });

  it('a sign-in posted from another site is refused', async () => {
    const res = await fetch(`${s.adminUrl}/console/session`, { method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }) });
    expect(res.status).toBe(403);
  });

  it('a sign-in from the console however the operator reached it (another host name, a tunnel) is accepted', async () => {
    const port = new URL(s.adminUrl).port;
    const body = new URLSearchParams({ token }).toString();
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${s.adminUrl}/console/session`, {
        method: 'POST',
        headers: { host: `localhost:${port}`, origin: `http://localhost:${port}`, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
      }, (res) => {
        res.resume();
        resolve(res.statusCode as number);
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(status).toBe(200);
  });

  it('a read-only admin token signs in and reads, and the API still refuses it any change (403)', async () => {
    const { cookie, csrf } = await session(await s.adminToken('viewer', { readOnly: true }));
    expect(((await (await fetch(`${s.adminUrl}/console/session`, { headers: { cookie } })).json()) as { read_only: boolean }).read_only).toBe(true);
    const res = await fetch(`${s.adminUrl}/admin/api/v1/clients`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(403);
  });

  it('two console cookies (one planted, e.g. by another port of the host) are ambiguous and count as none, as the public pages\' cookies do', async () => {
    const { cookie } = await session(token);
    expect((await fetch(`${s.adminUrl}/admin/api/v1/stats`, { headers: { cookie } })).status).toBe(200);
    const name = cookie.slice(0, cookie.indexOf('='));
    for (const both of [`${name}=planted; ${cookie}`, `${cookie}; ${name}=planted`]) {
      expect((await fetch(`${s.adminUrl}/admin/api/v1/stats`, { headers: { cookie: both } })).status, both).toBe(401);
    }
  });

  it('signing in again from a browser ends the session its cookie named: the old cookie no longer works', async () => {
    const first = await session(token);
    const res = await fetch(`${s.adminUrl}/console/session`, {
      method: 'POST', headers: { cookie: first.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }),
    });
    expect(res.status).toBe(200);
    const second = (res.headers.get('set-cookie') as string).split(';')[0] as string;
    expect((await fetch(`${s.adminUrl}/admin/api/v1/stats`, { headers: { cookie: first.cookie } })).status).toBe(401);
    expect((await fetch(`${s.adminUrl}/admin/api/v1/stats`, { headers: { cookie: second } })).status).toBe(200);
  });

  it('revoking the admin token ends its console sessions at once', async () => {
    const value = await s.adminToken('short');
    const { cookie } = await session(value);
    expect((await fetch(`${s.adminUrl}/admin/api/v1/stats`, { headers: { cookie } })).status).toBe(200);
    const id = (await s.tessera.store.listAdminTokens()).find((t) => value.includes(t.id))?.id as string;
    await s.tessera.engine.revokeAdminToken(id, { actor: 'test' });
    expect((await fetch(`${s.adminUrl}/admin/api/v1/stats`, { headers: { cookie } })).status).toBe(401);
    expect((await fetch(`${s.adminUrl}/console/session`, { headers: { cookie } })).status).toBe(401);
  });

  it('signing out needs the CSRF header, then ends the session', async () => {
    const { cookie, csrf } = await session(token);
    expect((await fetch(`${s.adminUrl}/console/session/logout`, { method: 'POST', headers: { cookie } })).status).toBe(403);
    const out = await fetch(`${s.adminUrl}/console/session/logout`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^tessera_console=; .*Max-Age=0/);
    expect((await fetch(`${s.adminUrl}/admin/api/v1/stats`, { headers: { cookie } })).status).toBe(401);
  });
});

describe('in Chromium', () => {
  let browser: Chromium;
  let page: Page;
  beforeAll(async () => {
    browser = await launchChromium(watched);
    page = await browser.context.newPage();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('a wrong token is refused with a message; no session starts', async () => {
    await page.goto(`${s.adminUrl}/console`);
    await page.getByLabel('Admin token').fill('tsadm_wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('unknown, revoked or expired');
    await page.screenshot({ path: join(ARTIFACTS, 'sign-in-refused.png'), fullPage: true });
  });

  it('signs in with an admin token and the overview shows what /stats says, refreshed as tokens are issued', async () => {
    const violations: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' && m.text().includes('Content Security Policy')) violations.push(m.text());
    });
    page.on('pageerror', (err) => violations.push(err.message));
    await page.goto(`${s.adminUrl}/console`);
    await page.screenshot({ path: join(ARTIFACTS, 'sign-in.png'), fullPage: true });
    // Keyboard only: the field, then the button.
    await page.getByLabel('Admin token').focus();
    await page.keyboard.type(token);
    await page.keyboard.press('Enter');
    await page.getByTestId('admin-name').waitFor();
    expect(await page.context().cookies()).toEqual([expect.objectContaining({ name: 'tessera_console', httpOnly: true, sameSite: 'Strict' })]);

    const check = async () => {
      const stats = (await s.call(token, 'GET', '/stats')).body;
      await expect.poll(() => page.getByTestId('tokens-active').textContent(), { timeout: 8_000 }).toBe(String(stats.tokens.active));
      for (const state of ['rotated', 'expired', 'revoked']) expect(await page.getByTestId(`tokens-${state}`).textContent()).toBe(String(stats.tokens[state]));
      const row = page.getByTestId(`client-${client.client_id}`);
      const mine = stats.tokens_by_client.find((c: { client_id: string }) => c.client_id === client.client_id);
      expect(await row.locator('td').allTextContents()).toEqual([String(mine.active), String(mine.total)]);
      return stats;
    };
    const before = await check();
    await issue();
    await issue();
    // /stats answers with the last count (counted_at) while it counts anew: the new tokens show up in the next count.
    await expect.poll(async () => (await s.call(token, 'GET', '/stats')).body.tokens.active, { timeout: 8_000 }).toBe(before.tokens.active + 2);
    const after = await check();
    expect(after.tokens.active).toBe(before.tokens.active + 2);
    await page.screenshot({ path: join(ARTIFACTS, 'overview.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(ARTIFACTS, 'overview-phone.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });
    // Nothing the CSP refused (an inline script or style would show here), no script error.
    expect(violations).toEqual([]);
  });

  it('signs out: back to the sign-in form, and the old cookie no longer works', async () => {
    const cookie = (await page.context().cookies()).find((c) => c.name === 'tessera_console')?.value as string;
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Admin token').waitFor();
    expect((await fetch(`${s.adminUrl}/admin/api/v1/stats`, { headers: { cookie: `tessera_console=${cookie}` } })).status).toBe(401);
    expect((await page.context().cookies()).filter((c) => c.name === 'tessera_console')).toEqual([]);
    await page.reload();
    await page.getByLabel('Admin token').waitFor();
  });

  it('a read-only admin token is shown as read-only', async () => {
    await page.getByLabel('Admin token').fill(await s.adminToken('viewer', { readOnly: true }));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.locator('.badge').textContent()).resolves.toBe('read-only');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Admin token').waitFor();
  });

  it('a page path whose id is not valid percent-encoding shows Not found, never a script error', async () => {
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.getByLabel('Admin token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('admin-name').waitFor();
    for (const path of ['clients/%E0%A4%A', 'users/%', 'webhooks/%ZZ']) {
      await page.goto(`${s.adminUrl}/console/${path}`);
      await page.getByRole('heading', { name: 'Not found' }).waitFor();
    }
    expect(errors).toEqual([]);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Admin token').waitFor();
  });
});
