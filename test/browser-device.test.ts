/**
 * The device flow's verification page (RFC 8628 §3.3) in a real browser (headless Chromium,
 * chromium.ts): the user opens verification_uri, signs in, comes back to the page, types the code
 * as people do, sees the client and the code on the consent page, and decides; the device's poll
 * then gets the answer.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Chromium, launchChromium } from './chromium.js';
import { expectError, useServer } from './flows.js';
import { deviceClient, poll, startDevice } from './device-kit.js';

describe('the device verification page in a real browser (RFC 8628 §3.3)', () => {
  const h = useServer({ deviceCodeInterval: 1 });
  let browser: Chromium;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    browser = await launchChromium(h);
    context = browser.context;
  });

  afterAll(async () => {
    await browser?.close();
  });

  beforeEach(async () => {
    await context.clearCookies();
    page = await context.newPage();
  });

  afterEach(async () => {
    await page?.close();
  });

  async function signIn(user: { username: string; password: string }): Promise<void> {
    await expect.poll(() => new URL(page.url()).pathname).toBe('/login');
    await page.getByLabel('Username').fill(user.username);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  it('a user opens verification_uri, signs in, types the code in lower case with a space, allows, and the device gets tokens', async () => {
    const c = await deviceClient(h, { name: 'Living-room TV' });
    const started = await startDevice(h, c, { scope: 'read' });
    const user = await h.user();
    await page.goto(started.verification_uri);
    await signIn(user);
    await page.getByRole('heading', { name: 'Connect a device' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/device');
    await page.getByLabel('Code').fill(started.user_code.toLowerCase().replace('-', ' '));
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    // The code as the device shows it, and the client by name, so the user can check both (RFC 8628 §5.4).
    await expect.poll(() => page.getByText(started.user_code, { exact: true }).count()).toBe(1);
    await expect.poll(() => page.getByText('Living-room TV', { exact: true }).count()).toBe(1);
    expect(await page.getByRole('listitem').allTextContents()).toEqual(['read']);
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.getByRole('heading', { name: 'Device connected' }).waitFor();
    const res = await poll(h, c, started.device_code);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ token_type: 'Bearer', scope: 'read' });
  });

  it('verification_uri_complete fills the code in; Deny tells the device access_denied', async () => {
    const c = await deviceClient(h);
    const started = await startDevice(h, c);
    await page.goto(started.verification_uri_complete);
    await signIn(await h.user());
    await page.getByRole('heading', { name: 'Connect a device' }).waitFor();
    expect(await page.getByLabel('Code').inputValue()).toBe(started.user_code);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.getByRole('heading', { name: 'Access denied' }).waitFor();
    expectError(await poll(h, c, started.device_code), 400, 'access_denied');
  });

  it('a wrong code is announced on the page (role alert), and the form is there to try again', async () => {
    await page.goto(`${h.server.url}/device`);
    await signIn(await h.user());
    await page.getByLabel('Code').fill('BBBB-BBBB');
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('not valid');
    expect(await page.getByLabel('Code').inputValue()).toBe('BBBB-BBBB');
  });
});
