/**
 * Editing in the web console (issue 13, "Web console"), in Chromium: a client's page changes its
 * registration (what `tessera client show` and the audit log then say) and rotates its secret
 * behind a confirmation (the new secret shown once; the old one refused at /token, RFC 6749
 * §2.3.1); a user's page changes the profile and sets a password behind a confirmation; a
 * read-only token sees none of it; axe-core finds no serious or critical violation on these
 * pages, and the CSP refuses nothing on them. Screenshots in test-artifacts/console/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { axe, type Chromium, launchChromium } from './chromium.js';
import { runTessera } from './cli-kit.js';
import * as kit from './console-kit.js';
import { type Harness, useServer } from './flows.js';

const ARTIFACTS = join(import.meta.dirname, '..', 'test-artifacts', 'console');
const h: Harness = useServer({}, { adminPort: 0 });
let browser: Chromium;
let page: Page;
let adminUrl: string;
const pageErrors: string[] = [];
const signIn = async (readOnly = false) => kit.signIn(page, adminUrl, await kit.adminToken(h, readOnly ? 'viewer' : 'ops', readOnly));

/** A client_credentials request authenticated with HTTP Basic (RFC 6749 §2.3.1, §4.4): its status. */
const tokenStatus = async (clientId: string, secret: string) =>
  (await h.post('/token', { grant_type: 'client_credentials', scope: 'read' }, { authorization: `Basic ${btoa(`${clientId}:${secret}`)}` })).status;

const unique = (name: string) => `${name}-${crypto.randomUUID().slice(0, 6)}`;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  adminUrl = h.server.adminUrl as string;
  browser = await launchChromium({ server: { url: adminUrl }, serverErrors: h.serverErrors });
  page = await browser.context.newPage();
  // Nothing the CSP refused (an inline script or style would show here), no script error.
  page.on('console', (m) => {
    if (m.type() === 'error' && m.text().includes('Content Security Policy')) pageErrors.push(m.text());
  });
  page.on('pageerror', (err) => pageErrors.push(err.message));
});
// Each test signs in afresh, whatever the one before left.
beforeEach(() => browser.context.clearCookies());
afterAll(async () => {
  await browser?.close();
  expect(pageErrors).toEqual([]);
});

it("a client's name and scope edited on its page (reached from the clients list): the CLI shows the change, the audit log names the fields and the admin token; a refused change shows the API's problem", async () => {
  const c = await h.client({ name: unique('edit-me'), scope: 'read', grantTypes: ['client_credentials'] });
  await signIn();
  await page.getByRole('link', { name: 'Clients' }).click();
  await page.getByLabel('Search clients').fill(c.client.name);
  await page.getByRole('link', { name: c.client.name }).click();
  await page.getByRole('heading', { name: `Client ${c.client.name}` }).waitFor();
  expect(await page.getByTestId('registration').textContent()).toContain('client_secret_basic');

  await page.getByText('Edit registration').click();
  // The API's refusal (RFC 9457 detail) is shown, and nothing changes.
  await page.getByRole('checkbox', { name: 'client_credentials' }).uncheck();
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/grant_types/);
  await page.getByRole('checkbox', { name: 'client_credentials' }).check();

  const name = unique('edited');
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Scope').fill('read write');
  await page.screenshot({ path: join(ARTIFACTS, 'client-edit.png'), fullPage: true });
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect.poll(() => page.getByRole('status').textContent()).toContain('name, scope changed');
  await page.getByRole('heading', { name: `Client ${name}` }).waitFor();

  const shown = await runTessera(h.server.db, ['client', 'show', c.id, '--json']);
  expect(shown.code, shown.stderr).toBe(0);
  expect(JSON.parse(shown.stdout)).toMatchObject({ client_id: c.id, name, scope: 'read write', grant_types: ['client_credentials'] });
  const audit = (await h.store.readAudit(0, 100_000)).filter((r) => r.clientId === c.id && r.event === 'client.updated');
  expect(audit).toEqual([expect.objectContaining({ actor: expect.stringMatching(/^admin:ops-/), data: { fields: ['name', 'scope'] } })]);
  await kit.signOut(page);
});

it('rotating a secret in the console: a confirmation (grace, revoke), the new secret shown once in a read-only field; the old secret is refused at /token, the new one works', async () => {
  const c = await h.client({ name: unique('rotate-me'), scope: 'read', grantTypes: ['client_credentials'] });
  const issued = await h.token(c, { grant_type: 'client_credentials', scope: 'read' });
  expect(issued.status).toBe(200);
  await signIn();
  await page.goto(`${adminUrl}/console/clients/${c.id}`);
  await page.getByRole('button', { name: 'Rotate secret' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Also revoke every token and grant the client holds').check();
  await page.screenshot({ path: join(ARTIFACTS, 'client-rotate.png'), fullPage: true });
  expect(await kit.confirm(page, 'Rotate secret')).toContain('The old secret stops working at once');

  const field = page.getByTestId('client-secret');
  const fresh = await field.inputValue();
  expect(fresh).toMatch(/^tss_/);
  expect(await field.getAttribute('readonly')).not.toBeNull();
  // The next step is to copy it: the field has the focus.
  await expect.poll(() => page.evaluate('document.activeElement?.id')).toBe('one-time-secret');
  expect(await page.locator('.one-time-secret').textContent()).toContain('shown only this once');
  expect(await page.getByRole('status').first().textContent()).toMatch(/The old secret no longer works\. Revoked 1 token and 1 grant\./);
  await page.screenshot({ path: join(ARTIFACTS, 'client-secret.png'), fullPage: true });

  expect(await tokenStatus(c.id, c.secret as string)).toBe(401);
  expect(await tokenStatus(c.id, fresh)).toBe(200);
  expect(await h.active(issued.body.access_token)).toBe(false);

  // Once: gone with Done, and not on the page when it is loaded again.
  await page.getByRole('button', { name: 'Done' }).click();
  expect(await page.getByTestId('client-secret').count()).toBe(0);
  await page.reload();
  await page.getByRole('heading', { name: `Client ${c.client.name}` }).waitFor();
  expect(await page.content()).not.toContain(fresh);

  // Again, from the keyboard, with a grace period: both secrets work until it ends.
  await page.getByRole('button', { name: 'Rotate secret' }).focus();
  await page.keyboard.press('Enter');
  await page.getByLabel('Grace period for the old secret (seconds, optional)').waitFor();
  expect(await page.evaluate('document.activeElement?.id')).toBe('rotate-grace');
  await page.keyboard.type('600');
  await page.keyboard.press('Enter');
  await dialog.waitFor({ state: 'hidden' });
  const newest = await page.getByTestId('client-secret').inputValue();
  expect(newest).not.toBe(fresh);
  expect(await page.getByRole('status').first().textContent()).toContain('The old secret keeps working until');
  expect(await tokenStatus(c.id, fresh)).toBe(200);
  expect(await tokenStatus(c.id, newest)).toBe(200);
  expect(JSON.stringify(await h.store.readAudit(0, 100_000))).not.toContain(newest.slice(4));
  await kit.signOut(page);
});

it("a user's profile edited on their page, and a new password set behind a confirmation that revokes their tokens; a weak one is refused with the policy's reason", async () => {
  const user = await h.user();
  const tokens = await h.userTokens(await h.codeClient(), { user });
  const before = await h.store.getUser(user.id);
  await signIn();
  await page.goto(`${adminUrl}/console/users/${user.id}`);
  await page.getByText('Edit user').click();
  await page.getByLabel('Name', { exact: true }).fill('Alice Example');
  await page.getByLabel('Email', { exact: true }).fill('alice@example.com');
  await page.getByLabel('Email verified').check();
  await page.screenshot({ path: join(ARTIFACTS, 'user-edit.png'), fullPage: true });
  await page.getByRole('button', { name: 'Save profile' }).click();
  await expect.poll(() => page.getByRole('status').textContent()).toContain('name, email, email_verified changed');
  expect(await h.store.getUser(user.id)).toMatchObject({ name: 'Alice Example', email: 'alice@example.com', emailVerified: true });
  expect(await h.active(tokens.access_token)).toBe(true);

  await page.getByLabel('New password').fill('password');
  await page.getByRole('button', { name: 'Set password…' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByRole('button', { name: 'Set password' }).click();
  await expect.poll(() => dialog.getByRole('alert').textContent()).toMatch(/common|short|password/i);
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'hidden' });
  expect((await h.store.getUser(user.id))?.passwordHash).toBe(before?.passwordHash);

  await page.getByLabel('New password').fill('a different long passphrase 77');
  await page.getByRole('button', { name: 'Set password…' }).click();
  expect(await kit.confirm(page, 'Set password')).toContain('revokes all their grants and tokens');
  await expect.poll(() => page.getByRole('status').textContent()).toMatch(/revoked 2 tokens and 1 grant/);
  expect((await h.store.getUser(user.id))?.passwordHash).not.toBe(before?.passwordHash);
  expect(await h.active(tokens.access_token)).toBe(false);
  await kit.signOut(page);
});

it("a client's page shows its grants as token-family timelines (a user's code-flow grant after a refresh); revoking a token there, behind a confirmation, makes it inactive at /introspect (RFC 7662 §2.2)", async () => {
  const c = await h.codeClient({ name: unique('timeline') });
  const user = await h.user();
  const first = await h.userTokens(c, { user });
  const refreshed = await h.refresh(c, first.refresh_token as string);
  expect(refreshed.status).toBe(200);
  // The introspection answer names the token's id (jti) and grant (tessera_grant).
  const reader = await h.client({ scope: 'tessera:introspect', grantTypes: ['client_credentials'] });
  const about = (await h.introspect(reader, refreshed.body.access_token)).body;
  expect(about).toMatchObject({ active: true, jti: expect.any(String), tessera_grant: expect.any(String) });
  await signIn();
  await page.goto(`${adminUrl}/console/clients/${c.id}`);
  const article = page.getByTestId(`grant-${about.tessera_grant}`);
  await article.waitFor();
  expect(await article.getByRole('heading').textContent()).toContain(user.id);
  // The family: the first access and refresh tokens (the refresh token rotated), then the new pair.
  expect((await article.locator('li .state').allTextContents()).sort()).toEqual(['active', 'active', 'active', 'rotated']);
  await page.screenshot({ path: join(ARTIFACTS, 'client-grants.png'), fullPage: true });

  await article.getByRole('button', { name: `Revoke access token ${about.jti}` }).click();
  expect(await kit.confirm(page, 'Revoke token', 'leaked in a log')).toContain('access token');
  expect(await h.active(refreshed.body.access_token)).toBe(false);
  await expect.poll(() => page.getByTestId(`token-${about.jti}`).textContent()).toMatch(/revoked .*leaked in a log \(admin:ops-/);
  await kit.signOut(page);
});

it('a read-only admin token sees the client and user pages without edit, rotate or password controls', async () => {
  const c = await h.client({ name: unique('look-only') });
  const user = await h.user();
  await signIn(true);
  for (const path of [`/console/clients/${c.id}`, `/console/users/${user.id}`]) {
    await page.goto(`${adminUrl}${path}`);
    await page.locator('h1').first().waitFor();
    await page.locator('h2').first().waitFor();
    expect(await page.getByRole('button', { name: /Rotate|Save|Set password|Revoke/ }).count(), path).toBe(0);
    expect(await page.getByText(/Edit (registration|user)/).count(), path).toBe(0);
  }
  await kit.signOut(page);
});

it('the client page, its edit form, the rotation dialog, the new secret and the user edit form pass axe-core with no serious or critical violation', async () => {
  const c = await h.client({ name: unique('a11y') });
  const user = await h.user();
  await signIn();
  const found: Record<string, string[]> = {};
  await page.goto(`${adminUrl}/console/clients/${c.id}`);
  await page.getByTestId('registration').waitFor();
  found.client = await axe(page);
  await page.getByText('Edit registration').click();
  found['client edit'] = await axe(page);
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByRole('button', { name: 'Rotate secret' }).click();
  await page.getByRole('dialog').waitFor();
  found['rotation (phone)'] = await axe(page);
  await kit.confirm(page, 'Rotate secret');
  await page.getByTestId('client-secret').waitFor();
  found['new secret (phone)'] = await axe(page);
  await page.screenshot({ path: join(ARTIFACTS, 'client-secret-phone.png'), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`${adminUrl}/console/users/${user.id}`);
  await page.getByText('Edit user').click();
  found['user edit'] = await axe(page);
  expect(found).toEqual({ client: [], 'client edit': [], 'rotation (phone)': [], 'new secret (phone)': [], 'user edit': [] });
  await kit.signOut(page);
});
