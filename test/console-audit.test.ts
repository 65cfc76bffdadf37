/**
 * The web console's audit log page (issue 13, "Web console"): the hash chains' verification
 * status with its age and "Verify now" (a read-only token, from the keyboard), and the API's
 * filters, in Chromium; and axe-core (WCAG rules) run on every page of the
 * console, with no serious or critical violation. Screenshots in test-artifacts/console/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { axe, type Chromium, launchChromium } from './chromium.js';
import * as kit from './console-kit.js';
import { useServer } from './flows.js';

const ARTIFACTS = join(import.meta.dirname, '..', 'test-artifacts', 'console');
const h = useServer({}, { adminPort: 0 });
let browser: Chromium;
let page: Page;
let adminUrl: string;
let userId: string;
const adminToken = (name: string) => kit.adminToken(h, name);

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  adminUrl = h.server.adminUrl as string;
  browser = await launchChromium({ server: { url: adminUrl }, serverErrors: h.serverErrors });
  page = await browser.context.newPage();
  const c = await h.codeClient({ name: 'audit-app' });
  const user = await h.user();
  userId = user.id;
  const t = await h.userTokens(c, { user });
  expect((await h.revoke(c, t.refresh_token as string)).status).toBe(200);
  const cc = await h.client({ name: 'audit-svc' });
  expect((await h.token(cc, { grant_type: 'client_credentials', scope: 'read' })).status).toBe(200);
});
afterAll(async () => {
  await browser?.close();
});

it('the audit page shows the hash chains verified, and its event filter shows only those records', async () => {
  await page.goto(`${adminUrl}/console/audit`);
  await page.getByLabel('Admin token').fill(await adminToken('auditor'));
  await page.getByRole('button', { name: 'Sign in' }).click();
  const verify = (await (await fetch(`${adminUrl}/admin/api/v1/audit/verify`, { headers: { authorization: `Bearer ${await adminToken('check')}` } })).json()) as { ok: boolean };
  expect(verify.ok).toBe(true);
  await expect.poll(() => page.getByTestId('chain').textContent()).toMatch(/^Verified (just now|\d+ s ago): \d+ records, hash chains intact \(none altered or missing\)\.$/);
  await expect.poll(() => page.getByTestId('audit-row').count()).toBeGreaterThan(3);
  await page.getByLabel('Event').fill('token.revoked');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect.poll(async () => [...new Set(await page.locator('[data-testid="audit-row"] th').allTextContents())]).toEqual(['token.revoked']);
  await page.screenshot({ path: join(ARTIFACTS, 'audit.png'), fullPage: true });
  await page.getByRole('button', { name: 'Clear' }).click();
  await page.getByLabel('User id').fill(userId);
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect.poll(async () => (await page.locator('[data-testid="audit-row"] td:nth-child(6)').allTextContents()).every((u) => u === userId)).toBe(true);
});

it("a read-only token's 'Verify now', pressed from the keyboard, shows a new full pass with its time; the rows stay; an edited record shows as broken", async () => {
  await kit.signOut(page);
  await kit.signIn(page, adminUrl, await kit.adminToken(h, 'reader', true));
  await page.goto(`${adminUrl}/console/audit`);
  const time = page.getByTestId('chain').locator('time');
  const shown = await time.getAttribute('datetime');
  expect(shown).not.toBeNull();
  await expect.poll(() => page.getByTestId('audit-row').count()).toBeGreaterThan(3);
  const rows = await page.getByTestId('audit-row').count();
  const pressed = Date.now();
  await page.getByRole('button', { name: 'Verify now' }).focus();
  await page.keyboard.press('Enter');
  // While the pass runs no time is shown; then the new pass's, begun after the press.
  await expect.poll(async () => Date.parse((await page.getByTestId('chain').innerHTML()).match(/datetime="([^"]+)"/)?.[1] ?? '0')).toBeGreaterThanOrEqual(pressed);
  expect(Date.parse(shown as string)).toBeLessThan(pressed);
  await expect.poll(() => page.getByTestId('chain').textContent()).toMatch(/^Verified (just now|\d+ s ago): \d+ records, hash chains intact/);
  // The button keeps the focus through the pass (aria-disabled while it runs, never disabled).
  expect(await page.evaluate('document.activeElement.textContent')).toBe('Verify now');
  expect(await page.getByTestId('audit-row').count()).toBe(rows);
  await page.screenshot({ path: join(ARTIFACTS, 'audit-verified.png'), fullPage: true });

  // A record edited in the database behind the server's back: the next pass says where, as an error.
  const db = new Database(h.server.db);
  try {
    const { seq, reason } = db.prepare("SELECT seq, reason FROM audit WHERE event = 'token.revoked'").get() as { seq: number; reason: string };
    db.prepare('UPDATE audit SET reason = ? WHERE seq = ?').run('nothing to see', seq);
    await page.getByRole('button', { name: 'Verify now' }).click();
    await expect.poll(() => page.getByTestId('chain').textContent()).toMatch(new RegExp(`: hash chain broken at record ${seq} \\(chain 0\\): record content altered\\.$`));
    expect(await page.getByTestId('chain').getAttribute('class')).toBe('error');
    await page.screenshot({ path: join(ARTIFACTS, 'audit-broken.png') });
    db.prepare('UPDATE audit SET reason = ? WHERE seq = ?').run(reason, seq);
    await page.getByRole('button', { name: 'Verify now' }).click();
    await expect.poll(() => page.getByTestId('chain').textContent()).toMatch(/hash chains intact/);
  } finally {
    db.close();
  }
});

it('every console page passes axe-core with no serious or critical violation', async () => {
  const found: Record<string, string[]> = {};
  // The sign-in page, in a fresh page without the session.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Admin token').waitFor();
  found['sign-in'] = await axe(page);
  await page.getByLabel('Admin token').fill(await adminToken('a11y'));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('admin-name').waitFor();
  const pages: [string, string, string][] = [
    ['overview', '/console', '[data-testid="tokens-active"]'],
    ['clients', '/console/clients', 'tbody tr'],
    ['users', '/console/users', 'tbody tr'],
    ['user', `/console/users/${userId}`, 'article.grant'],
    ['audit', '/console/audit', '[data-testid="audit-row"]'],
  ];
  for (const [name, path, ready] of pages) {
    await page.goto(`${adminUrl}${path}`);
    await page.locator(ready).first().waitFor();
    found[name] = await axe(page);
  }
  // A confirmation dialog, open, on a phone-sized screen.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${adminUrl}/console/clients`);
  await page.getByRole('button', { name: 'Delete client audit-svc' }).click();
  await page.getByRole('dialog').waitFor();
  found['confirmation (phone)'] = await axe(page);
  await page.screenshot({ path: join(ARTIFACTS, 'confirm-phone.png'), fullPage: true });
  await page.keyboard.press('Escape');
  await page.getByRole('dialog').waitFor({ state: 'hidden' });
  await page.setViewportSize({ width: 1280, height: 800 });
  expect(found).toEqual({ 'sign-in': [], overview: [], clients: [], users: [], user: [], audit: [], 'confirmation (phone)': [] });
  // axe ran: it found the pages' landmarks and checked them (a sanity check on the harness).
  expect(await page.evaluate('axe.run(document).then((r) => r.passes.length)')).toBeGreaterThan(10);
});
