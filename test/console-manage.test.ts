/**
 * The web console's clients and users pages and a user's grants (issue 13, "Web console"), in
 * Chromium: search, create and delete behind a confirmation that says what will be revoked; each
 * grant's token family as a timeline (issued → rotated → revoked with its reason); revoking a
 * token, a grant or everything of a user, after which introspection says inactive; a read-only
 * token sees no write buttons. Screenshots in test-artifacts/console/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { randomBytes } from 'node:crypto';
import { tokenRecord, userRecord } from '@tessera/test-utils';
import type { GrantRecord } from '@tessera/server';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Chromium, launchChromium } from './chromium.js';
import * as kit from './console-kit.js';
import { useServer } from './flows.js';

const ARTIFACTS = join(import.meta.dirname, '..', 'test-artifacts', 'console');
const h = useServer({}, { adminPort: 0 });
let browser: Chromium;
let page: Page;
let adminUrl: string;
const adminToken = (name: string, readOnly = false) => kit.adminToken(h, name, readOnly);
const signIn = (token: string) => kit.signIn(page, adminUrl, token);
const signOut = () => kit.signOut(page);
const confirm = (action: string, reason?: string) => kit.confirm(page, action, reason);

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  adminUrl = h.server.adminUrl as string;
  browser = await launchChromium({ server: { url: adminUrl }, serverErrors: h.serverErrors });
  page = await browser.context.newPage();
});
afterAll(async () => {
  await browser?.close();
});

it("a user's grant shows its token family as a timeline, and revoking a token, then the grant, makes introspection say inactive, with the reason shown", async () => {
  const c = await h.codeClient({ name: 'timeline-app' });
  const user = await h.user();
  const first = await h.userTokens(c, { user });
  const rotated = await h.refresh(c, first.refresh_token as string);
  expect(rotated.status).toBe(200);
  const { access_token: access, refresh_token: refresh } = rotated.body as { access_token: string; refresh_token: string };

  await signIn(await adminToken('ops'));
  await page.getByRole('link', { name: 'Users' }).click();
  await page.getByLabel('Search users').fill(user.username);
  await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
  await page.getByRole('link', { name: user.username }).click();
  await page.getByRole('heading', { name: `User ${user.username}` }).waitFor();
  const grant = page.locator('article.grant');
  await expect.poll(() => grant.count()).toBe(1);
  // The family: the first refresh token rotated, its successor active.
  const family = await grant.locator('ol li').allTextContents();
  expect(family.filter((t) => t.startsWith('refresh token')).map((t) => (t.includes('→ rotated') ? 'rotated' : t.includes('active') ? 'active' : t))).toEqual(['rotated', 'active']);
  await page.screenshot({ path: join(ARTIFACTS, 'user.png'), fullPage: true });

  // The newest access token: the last active access token's Revoke button.
  const accessButtons = page.getByRole('button', { name: /^Revoke access token / });
  await accessButtons.last().click();
  expect(await confirm('Revoke token', 'laptop stolen')).toContain('revokes the access token');
  await page.getByRole('status').waitFor();
  expect(await h.active(access)).toBe(false);
  expect(await h.active(refresh)).toBe(true);

  await grant.getByRole('button', { name: 'Revoke grant' }).click();
  expect(await confirm('Revoke grant', 'account review')).toMatch(/revokes the grant to \S+ and its \d+ active tokens?/);
  await expect.poll(() => grant.locator('.state').first().textContent()).toBe('revoked');
  expect(await h.active(refresh)).toBe(false);
  const text = (await grant.textContent()) as string;
  expect(text).toContain('laptop stolen');
  expect(text).toContain('account review');
  await page.screenshot({ path: join(ARTIFACTS, 'user-revoked.png'), fullPage: true });
  await signOut();
});

it("a user's grants each show their own tokens, read in one request for the page; revoking all of them, behind a confirmation naming how many, leaves none active", async () => {
  const c = await h.codeClient({ name: 'all-app' });
  const user = await h.user();
  const a = await h.userTokens(c, { user });
  const b = await h.userTokens(await h.codeClient({ name: 'all-app-2' }), { user });
  await signIn(await adminToken('ops'));
  const tokenRequests: URL[] = [];
  const seen = (r: { url(): string }) => {
    const url = new URL(r.url());
    // The page's own count of the user's active tokens is another /tokens request: the grants' are by grant_id.
    if (url.pathname === '/admin/api/v1/tokens' && url.searchParams.has('grant_id')) tokenRequests.push(url);
  };
  page.on('request', seen);
  await page.goto(`${adminUrl}/console/users/${user.id}`);
  const grants = page.locator('article.grant');
  await expect.poll(() => grants.count()).toBe(2);
  await expect.poll(() => page.locator('article.grant li').count()).toBe(4);
  for (const article of await grants.all()) {
    const grantId = ((await article.getAttribute('data-testid')) as string).slice('grant-'.length);
    const stored = await h.store.pageTokens({ at: Date.now(), grantIds: [grantId], limit: 10 });
    expect(stored).toHaveLength(2);
    const shown = await article.locator('li').evaluateAll((items) => items.map((li) => li.getAttribute('data-testid')));
    expect(shown.sort()).toEqual(stored.map((t) => `token-${t.id}`).sort());
  }
  page.off('request', seen);
  expect(tokenRequests).toHaveLength(1);
  expect(tokenRequests[0]?.searchParams.getAll('grant_id')).toHaveLength(2);
  await page.getByRole('button', { name: `Revoke all of ${user.username}'s tokens` }).click();
  expect(await confirm('Revoke all')).toContain('revokes all 2 active grants and 4 active tokens');
  for (const t of [a.access_token, a.refresh_token, b.access_token, b.refresh_token]) expect(await h.active(t as string)).toBe(false);
  await signOut();
});

it("a grant with more tokens than the page reads at once does not hide another grant's tokens: each grant left without any gets a page of its own", async () => {
  const c = await h.codeClient({ name: 'crowded-app', grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'] });
  expect((await h.token(c, { grant_type: 'client_credentials', scope: 'read' })).status).toBe(200);
  const own = await h.store.findGrant(c.id, null);
  // 10,000 more tokens on the client's own grant, with ids before every id the server makes
  // (they start with the time, 01…): the grants' tokens are paged together in id order.
  for (let chunk = 0; chunk < 20; chunk++) {
    const tokens = Array.from({ length: 500 }, (_, i) => tokenRecord(own as GrantRecord, { id: `00${String(chunk * 500 + i).padStart(6, '0')}${randomBytes(12).toString('hex')}` }));
    expect(await h.store.issueTokens(tokens, [])).toBe('issued');
  }
  const user = await h.user();
  await h.userTokens(c, { user });
  await signIn(await adminToken('ops'));
  await page.goto(`${adminUrl}/console/clients/${c.id}`);
  const userGrant = page.locator(`article.grant[data-testid="grant-${(await h.store.findGrant(c.id, user.id))?.id}"]`);
  await expect.poll(() => userGrant.locator('li').count(), { timeout: 30_000 }).toBe(2);
  await signOut();
});

it('clients: search, create (the secret shown once), and delete behind a confirmation that says what it revokes', async () => {
  const target = await h.client({ name: `doomed-${crypto.randomUUID().slice(0, 6)}`, scope: 'read' });
  const issued = await h.token(target, { grant_type: 'client_credentials', scope: 'read' });
  expect(issued.status).toBe(200);
  await signIn(await adminToken('ops'));
  await page.getByRole('link', { name: 'Clients' }).click();
  await page.getByText('New client').click();
  await page.getByLabel('Name').fill('made-in-console');
  await page.getByRole('button', { name: 'Create client' }).click();
  await page.getByTestId('client-secret').waitFor();
  await page.getByLabel('Search clients').fill('made-in-console');
  await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
  await page.screenshot({ path: join(ARTIFACTS, 'clients.png'), fullPage: true });
  await page.getByLabel('Search clients').fill(target.client.name);
  await page.getByRole('button', { name: `Delete client ${target.client.name}` }).click();
  expect(await confirm('Delete client')).toContain('revokes 1 active token and 1 active grant');
  await expect.poll(() => page.locator('tbody tr').count()).toBe(0);
  expect(await h.active(issued.body.access_token)).toBe(false);
  await signOut();
});

it('users: the search goes to the server (q) and shows the answer to the last query typed, finding rows past the first page; "Load more" follows the cursor', async () => {
  const tag = `pg${crypto.randomUUID().slice(0, 6)}`;
  for (let i = 0; i < 60; i++) await h.store.createUser(userRecord({ username: `${tag}-${String(i).padStart(2, '0')}` }), { event: 'user.created', actor: 'test' });
  const last = `${tag}-59`;
  await signIn(await adminToken('ops'));
  const searches: string[] = [];
  const seen = (r: { url(): string }) => {
    const url = new URL(r.url());
    if (url.pathname === '/admin/api/v1/users') searches.push(url.searchParams.get('q') ?? '');
  };
  page.on('request', seen);
  await page.getByRole('link', { name: 'Users' }).click();
  // Typed a key at a time: the page asks after a pause in typing (how many requests that makes
  // depends on the machine's speed), and what it shows is the answer to the whole word, whatever
  // order the answers to shorter prefixes arrive in.
  await page.getByLabel('Search users').pressSequentially(last.toUpperCase(), { delay: 20 });
  await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
  await page.getByTestId(`user-row-${last}`).waitFor();
  const asked = searches.filter((q) => q !== '');
  expect(asked.at(-1)).toBe(last.toUpperCase());
  expect(asked.length).toBeLessThanOrEqual(last.length);
  await page.getByLabel('Search users').fill(tag);
  await expect.poll(() => page.locator('tbody tr').count()).toBe(50);
  expect(await page.locator('caption').textContent()).toBe(`50 users matching “${tag}” so far`);
  await page.getByRole('button', { name: 'Load more' }).click();
  await expect.poll(() => page.locator('tbody tr').count()).toBe(60);
  expect(await page.getByRole('button', { name: 'Load more' }).count()).toBe(0);
  expect((await page.locator('tbody tr th').allTextContents()).sort()).toEqual(Array.from({ length: 60 }, (_, i) => `${tag}-${String(i).padStart(2, '0')}`));
  page.off('request', seen);
  await signOut();
});

it('users: create, and delete behind a confirmation', async () => {
  await signIn(await adminToken('ops'));
  await page.getByRole('link', { name: 'Users' }).click();
  await page.getByText('New user').click();
  const username = `console-${crypto.randomUUID().slice(0, 6)}`;
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill('a long and unusual passphrase 42');
  await page.getByRole('button', { name: 'Create user' }).click();
  await page.getByTestId(`user-row-${username}`).waitFor();
  await page.screenshot({ path: join(ARTIFACTS, 'users.png'), fullPage: true });
  await page.getByRole('button', { name: `Delete user ${username}` }).click();
  expect(await confirm('Delete user')).toContain('revokes 0 active tokens and 0 active grants');
  await page.getByTestId(`user-row-${username}`).waitFor({ state: 'detached' });
  expect(await h.store.getUserByName(username)).toBeUndefined();
  await signOut();
});

it('a read-only admin token sees no create, delete or revoke buttons', async () => {
  const user = await h.user();
  await h.userTokens(await h.codeClient(), { user });
  await signIn(await adminToken('viewer', true));
  for (const path of ['/console/clients', '/console/users', `/console/users/${user.id}`]) {
    await page.goto(`${adminUrl}${path}`);
    await page.locator('h1').first().waitFor();
    await page.locator('table, article.grant').first().waitFor();
    expect(await page.getByRole('button', { name: /Delete|Revoke|Create/ }).count(), path).toBe(0);
    expect(await page.getByText(/New (client|user)/).count(), path).toBe(0);
  }
  await signOut();
});

/**
 * Signs in with a new admin token, runs `open` (which leaves a page that calls nothing more once
 * loaded), revokes the token through the engine, runs `act`, and expects the sign-in form, with no
 * error of the page's left on it.
 */
async function revokedThen(open: () => Promise<void>, act: () => Promise<void>) {
  const value = await adminToken('revoked-midway');
  await signIn(value);
  await open();
  const id = (await h.store.listAdminTokens()).find((t) => value.includes(t.id))?.id as string;
  expect(await h.engine.revokeAdminToken(id, { actor: 'test' })).toMatchObject({ id });
  await act();
  await page.getByLabel('Admin token').waitFor();
  expect(await page.getByRole('alert').count()).toBe(0);
  expect(await page.getByRole('dialog').count()).toBe(0);
}

/** A list page with its rows shown: the clients, or the users found by `search`. */
async function openList(name: 'Clients' | 'Users', search?: string) {
  await page.getByRole('link', { name, exact: true }).click();
  await page.locator('tbody tr').first().waitFor();
  if (search !== undefined) {
    await page.getByLabel(`Search ${name.toLowerCase()}`).fill(search);
    // The answer to this search (not the first page's, which may have one row too).
    await expect.poll(() => page.locator('caption').textContent()).toBe(`1 ${name === 'Clients' ? 'client' : 'user'} matching “${search}”`);
  }
}

it('an admin token revoked while the console is open: opening another page (its first call answers 401) goes back to the sign-in form', async () => {
  const user = await h.user();
  await h.userTokens(await h.codeClient(), { user });
  const link = (name: string) => () => page.getByRole('link', { name, exact: true }).click();
  await revokedThen(() => openList('Clients'), link('Users'));
  await revokedThen(() => openList('Users', user.username), link('Clients'));
  await revokedThen(() => openList('Clients'), link('Overview'));
  await revokedThen(() => openList('Clients'), link('Audit log'));
  await revokedThen(() => openList('Clients'), link('Webhooks'));
  // A user's page: its own data and its grants.
  await revokedThen(() => openList('Users', user.username), link(user.username));
});

it('an admin token revoked while a confirmation is open: confirming it (its call answers 401) goes back to the sign-in form, and nothing is revoked or deleted', async () => {
  const target = await h.client({ name: `kept-${crypto.randomUUID().slice(0, 6)}`, scope: 'read' });
  const issued = await h.token(target, { grant_type: 'client_credentials', scope: 'read' });
  expect(issued.status).toBe(200);
  const user = await h.user();
  const tokens = await h.userTokens(await h.codeClient(), { user });
  const dialog = page.getByRole('dialog');

  // Deleting a client (list.tsx's confirmation).
  await revokedThen(
    async () => {
      await openList('Clients', target.client.name);
      await page.getByRole('button', { name: `Delete client ${target.client.name}` }).click();
      await dialog.getByTestId('confirm-message').waitFor();
    },
    () => dialog.getByRole('button', { name: 'Delete client' }).click(),
  );
  expect(await h.active(issued.body.access_token)).toBe(true);

  // Revoking a grant and everything of a user (the user page's and its grants' confirmations).
  for (const [button, action] of [[/^Revoke grant/, 'Revoke grant'], [`Revoke all of ${user.username}'s tokens`, 'Revoke all']] as const) {
    await revokedThen(
      async () => {
        await openList('Users', user.username);
        await page.getByRole('link', { name: user.username }).click();
        await page.locator('article.grant').first().waitFor();
        await page.getByRole('button', { name: button }).first().click();
        await dialog.getByTestId('confirm-message').waitFor();
      },
      async () => {
        await dialog.getByLabel('Reason (kept in the audit log)').fill('never sent');
        await dialog.getByRole('button', { name: action }).click();
      },
    );
  }
  expect(await h.active(tokens.access_token)).toBe(true);

  // Asking to delete: the counts the confirmation reads first answer 401.
  await revokedThen(
    () => openList('Users', user.username),
    () => page.getByRole('button', { name: `Delete user ${user.username}` }).click(),
  );
  expect(await h.store.getUser(user.id)).toBeDefined();
});

it("an admin token revoked while a form is open: submitting it (its call answers 401) goes back to the sign-in form, and nothing changes", async () => {
  const target = await h.client({ name: `unedited-${crypto.randomUUID().slice(0, 6)}`, scope: 'read' });
  const user = await h.user();

  // A client's registration edited on its page.
  await revokedThen(
    async () => {
      await openList('Clients', target.client.name);
      await page.getByRole('link', { name: target.client.name }).click();
      await page.getByRole('heading', { name: `Client ${target.client.name}` }).waitFor();
      await page.getByText('Edit registration').click();
      await page.getByLabel('Name').fill('never saved');
    },
    () => page.getByRole('button', { name: 'Save changes' }).click(),
  );
  expect((await h.store.getClient(target.id))?.name).toBe(target.client.name);

  // A user's profile edited on their page.
  await revokedThen(
    async () => {
      await openList('Users', user.username);
      await page.getByRole('link', { name: user.username }).click();
      await page.getByRole('heading', { name: `User ${user.username}` }).waitFor();
      await page.getByText('Edit user').click();
      await page.getByLabel('Name', { exact: true }).fill('Never Saved');
    },
    () => page.getByRole('button', { name: 'Save profile' }).click(),
  );
  expect((await h.store.getUser(user.id))?.name ?? null).toBe(user.name ?? null);

  // The lists' create forms.
  const username = `never-${crypto.randomUUID().slice(0, 6)}`;
  await revokedThen(
    async () => {
      await openList('Users');
      await page.getByText('New user').click();
      await page.getByLabel('Username').fill(username);
      await page.getByLabel('Password').fill('a long and unusual passphrase 42');
    },
    () => page.getByRole('button', { name: 'Create user' }).click(),
  );
  expect(await h.store.getUserByName(username)).toBeUndefined();
  await revokedThen(
    async () => {
      await openList('Clients');
      await page.getByText('New client').click();
      await page.getByLabel('Name').fill(username);
    },
    () => page.getByRole('button', { name: 'Create client' }).click(),
  );
  expect((await h.store.listClients()).filter((c) => c.name === username)).toEqual([]);
});
