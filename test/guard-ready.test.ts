/**
 * guard.ready() settles, and says why: it rejects at once, with a stable code, when the guard's
 * setup cannot work (wrong credentials, a missing scope, an issuer that differs from the
 * metadata's), and after readyTimeout when the server cannot be reached; the guard reports what
 * it does to a pino-shaped logger, never with a token or a secret in it (issue 9, defect 17).
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createGuard, type Guard, type GuardOptions } from '@tessera/guard';
import { afterEach, describe, expect, it } from 'vitest';
import { useServer } from './flows.js';
import { accessToken, accepts, recordingLogger, useGuards } from './guard-kit.js';
import { FeedProxy } from './guard-proxy.js';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('guard.ready() settles and names the cause', () => {
  const h = useServer();
  const guards = useGuards(h);
  const own: Guard[] = [];
  afterEach(async () => {
    await Promise.all(own.splice(0).map((g) => g.close()));
  });
  const create = (options: Partial<GuardOptions> & { client?: GuardOptions['client'] }) => {
    const g = createGuard({ issuer: h.server.url, audience: h.server.tessera.config.audience, reconnectMin: 20, reconnectMax: 200, ...options });
    own.push(g);
    return g;
  };

  it('a wrong client secret: ready() rejects with ERR_GUARD_CREDENTIALS (the feed answered 401), logged without the secret', { timeout: 10_000 }, async () => {
    const c = await guards.client();
    const { lines, logger } = recordingLogger();
    const secret = `wrong-${c.secret}`;
    const g = create({ client: { id: c.id, secret }, logger });
    const err = await g.ready().then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ name: 'GuardCredentialsError', code: 'ERR_GUARD_CREDENTIALS', fatal: true });
    expect((err as Error).message).toMatch(/revocation feed answered 401: invalid_client/);
    expect(g.status().feed).toMatchObject({ synced: false, stale: true, lastErrorCode: 'ERR_GUARD_CREDENTIALS' });
    expect(lines).toContainEqual(expect.objectContaining({ level: 'error', obj: expect.objectContaining({ event: 'feed.failed', code: 'ERR_GUARD_CREDENTIALS' }) }));
    const text = JSON.stringify(lines) + JSON.stringify(g.status()) + String(err);
    expect(text).not.toContain(secret);
    expect(text).not.toContain(c.secret!);
    // Meanwhile the guard fails closed.
    expect(await g.verifyToken(await accessToken(h, await h.client({ tokenFormat: 'jwt' })))).toMatchObject({ ok: false, status: 503 });
  });

  it('a client without scope tessera:revocations: ready() rejects with ERR_GUARD_FORBIDDEN (403)', { timeout: 10_000 }, async () => {
    const c = await h.client({ scope: 'tessera:introspect', grantTypes: ['client_credentials'] });
    const g = create({ client: { id: c.id, secret: c.secret! } });
    await expect(g.ready()).rejects.toMatchObject({ code: 'ERR_GUARD_FORBIDDEN', message: expect.stringMatching(/403: unauthorized_client.*tessera:revocations/) });
  });

  it('RFC 8414 §3.3: an issuer that differs from the metadata\'s (a trailing slash): ready() rejects with ERR_ISSUER_MISMATCH, with or without the feed', { timeout: 10_000 }, async () => {
    const c = await guards.client();
    const issuer = `${h.server.url}/`;
    const withFeed = create({ issuer, client: { id: c.id, secret: c.secret! } });
    await expect(withFeed.ready()).rejects.toMatchObject({ name: 'IssuerMismatchError', code: 'ERR_ISSUER_MISMATCH', message: expect.stringMatching(/trailing slash/) });
    const jwtOnly = create({ issuer, revocations: 'ignore' });
    await expect(jwtOnly.ready()).rejects.toMatchObject({ code: 'ERR_ISSUER_MISMATCH' });
  });

  it('an unreachable issuer: ready() rejects with ERR_GUARD_UNREACHABLE after readyTimeout, and the guard keeps trying', { timeout: 10_000 }, async () => {
    const { lines, logger } = recordingLogger();
    const issuer = `http://127.0.0.1:${await closedPort()}`;
    const g = create({ issuer, client: { id: 'rs', secret: 'rs-secret' }, readyTimeout: 300, logger });
    const started = performance.now();
    const err = await g.ready().then(() => undefined, (e: unknown) => e);
    console.log(`unreachable issuer: ready() rejected after ${Math.round(performance.now() - started)} ms (readyTimeout 300)`);
    expect(err).toMatchObject({ code: 'ERR_GUARD_UNREACHABLE', fatal: false, message: expect.stringMatching(/within 300 ms: .*cannot be reached.*ECONNREFUSED/) });
    const reconnects = g.status().feed!.reconnects;
    await expect.poll(() => g.status().feed!.reconnects).toBeGreaterThan(reconnects);
    // One warning for the cause, not one per retry.
    expect(lines.filter((l) => l.obj.event === 'feed.failed')).toHaveLength(1);
  });

  it('a feed that accepts the request and never answers: each page times out after `timeout`, garbage collections meanwhile included, and the guard retries', { timeout: 10_000 }, async () => {
    // Collected while the request waits: its timeout must still fire (an AbortSignal.timeout inside
    // AbortSignal.any did not, on Node 20, once collected: the guard then waited for ever).
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const silent = createHttpServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
    const collecting = setInterval(gc, 50);
    try {
      const endpoints = { jwks: `${base}/jwks`, introspection: `${base}/introspect`, feed: `${base}/feed`, stream: `${base}/stream` };
      const g = create({ issuer: base, endpoints, client: { id: 'rs', secret: 'rs-secret' }, timeout: 200 });
      await expect.poll(() => g.status().feed!.lastError, { timeout: 5_000 }).toEqual(expect.stringMatching(/revocation feed cannot be reached: timed out/));
      const reconnects = g.status().feed!.reconnects;
      await expect.poll(() => g.status().feed!.reconnects, { timeout: 5_000 }).toBeGreaterThan(reconnects);
    } finally {
      clearInterval(collecting);
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('closed before catching up: ready() rejects with ERR_GUARD_CLOSED', async () => {
    const g = create({ issuer: `http://127.0.0.1:${await closedPort()}`, client: { id: 'rs', secret: 'rs-secret' } });
    const ready = g.ready();
    await g.close();
    await expect(ready).rejects.toMatchObject({ code: 'ERR_GUARD_CLOSED' });
  });

  it('a healthy guard logs its catch-up, and no token ever appears in what it reports', async () => {
    const { lines, logger } = recordingLogger();
    const g = await guards.ready({ logger });
    expect(lines).toContainEqual(expect.objectContaining({ level: 'info', obj: expect.objectContaining({ event: 'feed.synced' }) }));
    const app = await h.client({ tokenFormat: 'jwt' });
    const tokens = [await accessToken(h, app), await accessToken(h, await h.client())];
    for (const t of tokens) expect(await accepts(g, t)).toBe(true);
    for (const t of tokens) await h.revoke(app, t);
    await expect.poll(() => accepts(g, tokens[0]!)).toBe(false);
    const text = JSON.stringify(lines) + JSON.stringify(g.status());
    for (const t of tokens) for (const part of t.split('.')) expect(text).not.toContain(part);
  });
});

describe('guard: what it reports when introspection fails', () => {
  const h = useServer();
  const guards = useGuards(h);

  it('introspection unreachable: opaque tokens get 503 (never an accept), one error is logged with the cause, no token in it', async () => {
    const proxy = await FeedProxy.start(h.server.url);
    try {
      const { lines, logger } = recordingLogger();
      const g = await guards.ready({ endpoints: { introspection: proxy.at('/introspect') }, logger });
      const app = await h.client();
      const tokens = [await accessToken(h, app), await accessToken(h, app)];
      proxy.takeDown('/introspect');
      for (const t of tokens) expect(await g.verifyToken(t)).toMatchObject({ ok: false, status: 503, description: 'the introspection endpoint cannot be asked now' });
      const failures = lines.filter((l) => l.obj.event === 'introspection.failed');
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatchObject({ level: 'error', obj: { code: 'ERR_GUARD_UNREACHABLE' }, msg: expect.stringMatching(/introspection endpoint cannot be reached/) });
      const text = JSON.stringify(lines);
      for (const t of tokens) expect(text).not.toContain(t);
      proxy.restore();
      expect(await accepts(g, tokens[0]!)).toBe(true);
    } finally {
      await proxy.close();
    }
  });
});

describe('guard errors are exported with stable codes', () => {
  it('every class carries its code', async () => {
    const guard = await import('@tessera/guard');
    const codes = [guard.GuardCredentialsError, guard.GuardForbiddenError, guard.IssuerMismatchError, guard.GuardConfigurationError, guard.GuardUnreachableError, guard.GuardClosedError, guard.GuardUnavailable]
      .map((E) => new E('x').code);
    expect(codes).toEqual(['ERR_GUARD_CREDENTIALS', 'ERR_GUARD_FORBIDDEN', 'ERR_ISSUER_MISMATCH', 'ERR_GUARD_CONFIGURATION', 'ERR_GUARD_UNREACHABLE', 'ERR_GUARD_CLOSED', 'ERR_GUARD_UNAVAILABLE']);
    for (const E of [guard.GuardCredentialsError, guard.GuardUnreachableError]) expect(new E('x')).toBeInstanceOf(guard.GuardError);
  });
});
