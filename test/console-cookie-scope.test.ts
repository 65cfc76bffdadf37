/**
 * The console's cookie goes wherever the browser sends cookies for the host: cookies are not
 * isolated by port (RFC 6265 §8.5), and SameSite counts every port of 127.0.0.1 as the same
 * site. So any other listener on the admin listener's host (another user's process on a shared
 * machine, a native app's loopback redirect receiver, a local dev server) that the operator's
 * browser visits receives the session cookie. The cookie alone must not be a session that can
 * change anything: the CSRF token is handed out only by the sign-in itself, and the page keeps it
 * in storage of its own origin (port included), which no other listener can read.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type AdminServer, startAdminServer } from './admin-kit.js';
import { type Chromium, launchChromium } from './chromium.js';
import { signIn } from './console-kit.js';

let s: AdminServer & { closeAll(): Promise<void> };
let browser: Chromium;
let page: Page;
let other: Server;
let otherUrl: string;
/** Every Cookie header the other listener was sent. */
const seen: string[] = [];
const watched = { server: { url: '' }, serverErrors: [] as string[] };

beforeAll(async () => {
  s = await startAdminServer();
  watched.server.url = s.adminUrl;
  // Another process's web server on the same host: its page loads an image from itself.
  other = createServer((req, res) => {
    if (req.headers.cookie !== undefined) seen.push(req.headers.cookie);
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(req.url === '/' ? '<!doctype html><title>elsewhere</title><img src="/pixel" alt="">' : '');
  });
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
  browser = await launchChromium(watched);
  page = await browser.context.newPage();
});
afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => other?.close(resolve));
  await s?.closeAll();
  expect(watched.serverErrors).toEqual([]);
});

it('a session cookie leaked to another listener on the same host cannot change anything; the console, reloaded, still can', async () => {
  const token = await s.adminToken('ops');
  await signIn(page, s.adminUrl, token);
  await page.goto(`${otherUrl}/`);
  await expect.poll(() => seen.find((c) => c.includes('tessera_console='))).toBeDefined();
  const cookie = (seen.find((c) => c.includes('tessera_console=')) as string).split(';').map((c) => c.trim()).find((c) => c.startsWith('tessera_console=')) as string;

  // With the cookie alone: the session is live, but it does not say its CSRF token …
  const asked = await fetch(`${s.adminUrl}/console/session`, { headers: { cookie } });
  expect(asked.status).toBe(200);
  const body = (await asked.json()) as { name: string; csrf?: string };
  expect(body.name).toMatch(/^ops-/);
  expect(body.csrf).toBeUndefined();
  // … so nothing can be changed with it.
  const made = await fetch(`${s.adminUrl}/admin/api/v1/users`, {
    method: 'POST',
    headers: { cookie, 'x-csrf-token': String(body.csrf), 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'backdoor', password: 'correct horse battery staple 9' }),
  });
  expect(made.status).toBe(403);
  expect((await s.call(token, 'GET', '/users?q=backdoor')).body.items).toEqual([]);

  // The console itself, reloaded (a new document), still changes things: it kept its token.
  await page.goto(`${s.adminUrl}/console/users`);
  await page.getByTestId('admin-name').waitFor();
  await page.getByText('New user').click();
  await page.getByLabel('Username', { exact: true }).fill('made-after-reload');
  await page.getByLabel('Password', { exact: true }).fill('correct horse battery staple 9');
  await page.getByRole('button', { name: 'Create user' }).click();
  await expect.poll(async () => (await s.call(token, 'GET', '/users?q=made-after-reload')).body.items.length).toBe(1);

  // Signing out forgets it; a new sign-in gets a new one.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Admin token').waitFor();
  expect(await page.evaluate('Object.keys(localStorage).length + Object.keys(sessionStorage).length')).toBe(0);
});
