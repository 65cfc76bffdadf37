/**
 * `npm run bench:client` (issue 12), run small, its counts asserted: 8 processes × 50 concurrent
 * requests through the file lock and 4 Chromium tabs through Web Locks, each group sharing one
 * rotating refresh token of a server whose access tokens live 4 s. No invalid_grant anywhere
 * (Tessera detects no reuse, no session gets one), and no more refreshes than the margin rule
 * allows for the time it ran: one refresh per expiry. Counts only: no timing is asserted.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

interface Part {
  elapsed: number;
  refreshes: number;
  refreshesHeard: number;
  reuses: number;
  invalidGrant: number;
  served: number;
  rejected: number;
  errors: Record<string, number>;
  bound: number;
}

it('8 processes × 50 (file lock) and 4 Chromium tabs (Web Locks) on one rotating refresh token each: 0 invalid_grant, refreshes within one per expiry', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['bench/client.js', '--json', '--duration', '8', '--ttl', '4'], { cwd: root, timeout: 150_000 });
  const { results } = JSON.parse(stdout) as { results: Record<'processes' | 'tabs', Part> };
  for (const [name, r] of Object.entries(results)) {
    expect({ name, invalidGrant: r.invalidGrant, reuses: r.reuses, errors: r.errors }).toEqual({ name, invalidGrant: 0, reuses: 0, errors: {} });
    // Tokens did expire and were refreshed, each by one holder: every refresh Tessera performed is one a session made and stored.
    expect(r.refreshes).toBeGreaterThanOrEqual(1);
    expect(r.refreshesHeard).toBe(r.refreshes);
    expect(r.refreshes).toBeLessThanOrEqual(r.bound);
    expect(r.served).toBeGreaterThan(0);
  }
  expect(Object.keys(results).sort()).toEqual(['processes', 'tabs']);
}, 180_000);
