/** Steps the console's Chromium tests share: admin tokens, signing in and out, answering a confirmation. */
import type { Page } from 'playwright-core';
import type { Harness } from './flows.js';

/** A new admin token's value (a unique name from `name`). */
export async function adminToken(h: Harness, name: string, readOnly = false): Promise<string> {
  const made = await h.engine.createAdminToken({ name: `${name}-${crypto.randomUUID().slice(0, 8)}`, readOnly, expiresAt: null }, { actor: 'test' });
  return (made as { value: string }).value;
}

export async function signIn(page: Page, adminUrl: string, token: string): Promise<void> {
  await page.goto(`${adminUrl}/console`);
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('admin-name').waitFor();
}

export async function signOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Admin token').waitFor();
}

/** Confirms the open dialog (with a reason when asked) and returns what it said would happen. */
export async function confirm(page: Page, action: string, reason?: string): Promise<string> {
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  const message = (await dialog.getByTestId('confirm-message').textContent()) as string;
  if (reason !== undefined) await dialog.getByLabel('Reason (kept in the audit log)').fill(reason);
  await dialog.getByRole('button', { name: action }).click();
  await dialog.waitFor({ state: 'hidden' });
  return message;
}
