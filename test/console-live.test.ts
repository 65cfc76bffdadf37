/**
 * The web console's live overview and its Webhooks page (issue 13), in Chromium: the overview
 * follows GET /admin/api/v1/events and changes without a reload when tokens are issued and
 * revoked; the Webhooks page adds a subscription to a receiver on 127.0.0.1 (the signing secret
 * shown once), a lifecycle event is delivered and shows in its deliveries, and removing it asks
 * first. axe-core finds no serious or critical violation on either page. Screenshots in
 * test-artifacts/console/. Every wait is for the DOM to change, never for a time.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Chromium, launchChromium } from './chromium.js';
import { useServer } from './flows.js';
import type { TestClient } from './helpers.js';
import { type Receiver, startReceiver } from './webhook-receiver.js';

const ARTIFACTS = join(import.meta.dirname, '..', 'test-artifacts', 'console');
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const keyFile = join(mkdtempSync(join(tmpdir(), 'tessera-console-live-')), 'seal.key');
writeFileSync(keyFile, randomBytes(32).toString('base64'), { mode: 0o600 });

const h = useServer({ clientSecretKeyFile: keyFile, webhookBackoff: 20, webhookBackoffMax: 100, webhookPollInterval: 20, webhookTimeout: 2000 }, { adminPort: 0 });
let browser: Chromium;
let page: Page;
let adminUrl: string;
let svc: TestClient;
let receiver: Receiver;
let secret = '';

async function adminToken(name: string, readOnly = false): Promise<string> {
  const made = await h.engine.createAdminToken({ name: `${name}-${crypto.randomUUID().slice(0, 8)}`, readOnly, expiresAt: null }, { actor: 'test' });
  return (made as { value: string }).value;
}

/** axe-core's serious and critical violations on the page as it is now (through DevTools: the CSP allows no page script). */
async function axe(p: Page): Promise<string[]> {
  await p.evaluate(AXE);
  const violations = (await p.evaluate('axe.run(document, { resultTypes: ["violations"] }).then((r) => r.violations)')) as { id: string; impact: string | null; help: string; nodes: { target: unknown }[] }[];
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`);
}

async function issue(): Promise<string> {
  const res = await h.token(svc, { grant_type: 'client_credentials', scope: 'read' });
  expect(res.status).toBe(200);
  return (res.body as { access_token: string }).access_token;
}

/** How long a DOM change may take to come (an upper bound for slow machines, not a timing assertion). */
const WAIT = { timeout: 15_000 };

const text = async (testId: string) => Number(await page.getByTestId(testId).first().textContent());

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  adminUrl = h.server.adminUrl as string;
  browser = await launchChromium({ server: { url: adminUrl }, serverErrors: h.serverErrors });
  page = await browser.context.newPage();
  svc = await h.client({ name: 'live-svc' });
  receiver = await startReceiver(() => secret);
  await issue();
  await page.goto(`${adminUrl}/console`);
  await page.getByLabel('Admin token').fill(await adminToken('live'));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('admin-name').waitFor();
});
afterAll(async () => {
  await browser?.close();
  await receiver?.close();
});

it('the overview changes without a reload as tokens are issued and revoked (the live event stream), and passes axe-core', async () => {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await expect.poll(() => page.getByTestId('live-state').textContent(), WAIT).toMatch(/^Live:/);
  const active = await text('tokens-active');
  // Marks this document: a reload would make a new one without it.
  await page.evaluate('window.tesseraSameDocument = true');
  const issued = [await issue(), await issue(), await issue()];
  await expect.poll(() => text('tokens-active'), WAIT).toBe(active + 3);
  await expect.poll(async () => (await page.getByTestId('live-issued').allTextContents()).reduce((n, t) => n + Number(t), 0), WAIT).toBe(3);
  expect(await page.getByTestId(`client-${svc.id}`).locator('td').first().textContent()).toBe(String(active + 3));
  expect(await page.getByTestId('recent-events').textContent()).toContain('token.issued');
  // A revocation does not say how many tokens it took: the page reads /stats again soon after it.
  const revoked = await text('tokens-revoked');
  expect((await h.revoke(svc, issued[0] as string)).status).toBe(200);
  await expect.poll(() => text('tokens-revoked'), WAIT).toBe(revoked + 1);
  await expect.poll(async () => (await page.getByTestId('live-revoked').allTextContents()).reduce((n, t) => n + Number(t), 0), WAIT).toBe(1);
  expect(await page.evaluate('window.tesseraSameDocument')).toBe(true);
  await page.screenshot({ path: join(ARTIFACTS, 'overview-live.png'), fullPage: true });
  expect(await axe(page)).toEqual([]);
  expect(errors).toEqual([]);
});

it('a refresh rotation, one token.rotated record naming the pair it issued (issue 14), moves the overview by one active and one rotated token without a reload', async () => {
  const app = await h.codeClient({ name: 'live-app' });
  const first = await h.userTokens(app);
  const appActive = async () => Number(await page.getByTestId(`client-${app.id}`).locator('td').first().textContent());
  // Both token.issued events of the first pair applied before the counts are read.
  await expect.poll(async () => (await page.getByTestId(`client-${app.id}`).count()) === 1 && (await appActive()), WAIT).toBe(2);
  const [active, rotated] = [await text('tokens-active'), await text('tokens-rotated')];
  await page.evaluate('window.tesseraSameDocument = true');
  expect((await h.refresh(app, first.refresh_token as string)).status).toBe(200);
  await expect.poll(() => text('tokens-rotated'), WAIT).toBe(rotated + 1);
  // Two issued, one consumed.
  expect(await text('tokens-active')).toBe(active + 1);
  expect(await appActive()).toBe(3);
  expect(await page.evaluate('window.tesseraSameDocument')).toBe(true);
});

it('the Webhooks page adds a subscription (secret shown once), shows its delivery of a lifecycle event, and removes it after confirming', async () => {
  await page.getByRole('link', { name: 'Webhooks' }).click();
  await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
  await page.getByLabel('Receiver URL').fill(receiver.url);
  await page.getByLabel('token.issued').check();
  await page.getByRole('button', { name: 'Add webhook' }).click();
  secret = (await page.getByTestId('webhook-secret').locator('code.value').textContent()) as string;
  expect(secret).toMatch(/^whsec_/);
  const [hook] = await h.store.listWebhooks();
  expect(hook).toMatchObject({ url: receiver.url, events: ['token.issued'] });
  await page.getByTestId(`webhook-${hook?.id}`).waitFor();
  expect(await axe(page)).toEqual([]);
  await page.screenshot({ path: join(ARTIFACTS, 'webhooks.png'), fullPage: true });

  const value = await issue();
  await page.getByTestId(`webhook-${hook?.id}`).getByRole('link', { name: 'Deliveries' }).click();
  // The newest page is read again by itself: the delivery shows once the receiver has it.
  const delivered = page.getByTestId('delivery-delivered');
  await delivered.first().waitFor(WAIT);
  expect(await delivered.first().locator('th, td').allTextContents()).toEqual(['token.issued', expect.any(String), 'delivered', '1', '204', '—', '—']);
  expect(receiver.received.map((r) => r.payload.type)).toEqual(['token.issued']);
  expect(receiver.badSignatures).toBe(0);
  expect(receiver.received[0]?.body).not.toContain(value);
  expect(await axe(page)).toEqual([]);
  await page.screenshot({ path: join(ARTIFACTS, 'webhook-deliveries.png'), fullPage: true });

  await page.getByRole('button', { name: `Remove the webhook to ${receiver.url}` }).click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  expect(await dialog.getByTestId('confirm-message').textContent()).toContain('pending ones included');
  expect(await axe(page)).toEqual([]);
  await dialog.getByRole('button', { name: 'Remove webhook' }).click();
  await dialog.waitFor({ state: 'hidden' });
  await page.getByTestId(`webhook-${hook?.id}`).waitFor({ state: 'detached' });
  expect(await h.store.listWebhooks()).toEqual([]);
});

it('a read-only admin token sees the subscriptions but no form to add one and no Remove button', async () => {
  await h.engine.addWebhook('https://hooks.example.com/tessera', ['user.*'], { actor: 'test' });
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Admin token').fill(await adminToken('viewer', true));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('admin-name').waitFor();
  await page.getByRole('link', { name: 'Webhooks' }).click();
  await page.locator('[data-testid^="webhook-"]').first().waitFor();
  expect(await page.getByRole('button', { name: 'Add webhook' }).count()).toBe(0);
  expect(await page.getByRole('button', { name: /^Remove/ }).count()).toBe(0);
});
