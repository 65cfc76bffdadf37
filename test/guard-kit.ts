/**
 * Guards for the guard suites, on top of flows.ts: guards for the test server (closed after each
 * test), a client holding the feed and introspection scopes, and waits that look at the guards'
 * state rather than at the clock.
 */
import { createGuard, type Guard, type GuardOptions } from '@tessera/guard';
import { decodeJwt } from 'jose';
import { afterEach, expect, vi } from 'vitest';
import type { Harness } from './flows.js';
import type { TestClient } from './helpers.js';

/** What a resource server's client registers: the feed, and introspection of any client's tokens. */
export const GUARD_SCOPE = 'tessera:revocations tessera:introspect';

export interface Guards {
  /** A guard on the test server; options override the defaults (fast reconnects for tests). */
  guard(options?: Partial<GuardOptions>): Promise<Guard>;
  /** A guard whose first catch-up is done. */
  ready(options?: Partial<GuardOptions>): Promise<Guard>;
  /** The guards' client (scope GUARD_SCOPE). */
  client(): Promise<TestClient>;
}

export function useGuards(h: Harness): Guards {
  const open: Guard[] = [];
  let feedClient: TestClient | undefined;
  afterEach(async () => {
    await Promise.all(open.splice(0).map((g) => g.close()));
  });
  const client = async () => {
    feedClient ??= await h.client({ scope: GUARD_SCOPE, grantTypes: ['client_credentials'] });
    return feedClient;
  };
  const guard = async (options: Partial<GuardOptions> = {}) => {
    const c = await client();
    const g = createGuard({
      issuer: h.server.url,
      audience: h.server.tessera.config.audience,
      client: { id: c.id, secret: c.secret as string },
      reconnectMin: 20,
      reconnectMax: 200,
      ...options,
    });
    open.push(g);
    return g;
  };
  return {
    guard,
    client,
    async ready(options) {
      const g = await guard(options);
      await g.ready();
      return g;
    },
  };
}

/** The server's latest feed cursor. */
export async function feedHead(h: Harness): Promise<number> {
  let cursor = 0;
  for (;;) {
    const page = await h.store.readFeed(cursor, 1000);
    if (page.length === 0) return cursor;
    cursor = page.at(-1)!.seq;
  }
}

/** Waits until every guard has applied every event the server has committed. */
export async function caughtUp(h: Harness, guards: Guard[]): Promise<void> {
  const head = await feedHead(h);
  await vi.waitFor(() => {
    for (const g of guards) expect(g.status().feed?.cursor).toBeGreaterThanOrEqual(head);
  }, { timeout: 5000, interval: 5 });
}

/** An access token from the client (client credentials), optionally narrowed to `scope`. */
export async function accessToken(h: Harness, c: TestClient, scope?: string): Promise<string> {
  const res = await h.token(c, { grant_type: 'client_credentials', ...(scope === undefined ? {} : { scope }) });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.access_token;
}

/** Whether the guard accepts the token (no scope required). */
export async function accepts(g: Guard, token: string): Promise<boolean> {
  return (await g.verifyToken(token)).ok;
}

export const claims = (jwt: string) => decodeJwt(jwt);

/** A pino-shaped logger that keeps every line, for the guard's `logger` option. */
export function recordingLogger() {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  const at = (level: string) => (obj: Record<string, unknown>, msg: string) => void lines.push({ level, obj, msg });
  return { lines, logger: { info: at('info'), warn: at('warn'), error: at('error') } };
}
