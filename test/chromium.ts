/**
 * Headless Chromium for the page tests (playwright-core driving the system's /usr/bin/chromium;
 * CI installs the Debian package `chromium`): a fresh profile, short timeouts, and every 5xx the
 * browser gets from the server counted against the test, as useServer() counts fetch's.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';

export interface Chromium {
  context: BrowserContext;
  /** Closes the browser and removes its profile. */
  close(): Promise<void>;
}

/** Whose 5xx answers count against the test: a useServer() harness, or any server and a list. */
export interface Watched {
  server: { url: string };
  serverErrors: string[];
}

export async function launchChromium(h: Watched): Promise<Chromium> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: the browser test needs Chromium (Debian: apt-get install chromium; .ci/run installs it)`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'tessera-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // Fail fast: every step here takes milliseconds when it works.
  context.setDefaultTimeout(5_000);
  // Anything the browser got from Tessera with a 5xx fails the test, as useServer() does for fetch.
  context.on('response', (res) => {
    if (res.url().startsWith(h.server.url) && res.status() >= 500) h.serverErrors.push(`browser ${res.request().method()} ${res.url()} → ${res.status()}`);
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown }[];
}

/** axe-core's serious and critical violations on the page as it is now (run through DevTools, not a page script: the CSP allows none). */
export async function axe(p: Page): Promise<string[]> {
  await p.evaluate(AXE);
  const violations = (await p.evaluate('axe.run(document, { resultTypes: ["violations"] }).then((r) => r.violations)')) as AxeViolation[];
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`);
}
