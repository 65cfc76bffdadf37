/**
 * One suite, every adapter, each with its real framework on a real port: Express middleware,
 * Fastify hook, Hono middleware, and the plain Web Request function (served by
 * @hono/node-server as a bare fetch handler). Same routes, same answers (RFC 6750 §3), DPoP
 * (RFC 9449 §7) included: every adapter goes through verifyRequest.
 */
import { request } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { serve } from '@hono/node-server';
import { createGuard, type Guard, type GuardOptions, failureResponse, verifyRequest } from '@tessera/guard';
import { expressGuard } from '@tessera/guard/express';
import { fastifyGuard } from '@tessera/guard/fastify';
import { type GuardVariables, honoGuard } from '@tessera/guard/hono';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ath, type DpopKey, dpopKey, proof } from './dpop-kit.js';
import { useServer } from './flows.js';
import { accessToken, GUARD_SCOPE } from './guard-kit.js';

interface Mounted {
  url: string;
  close(): Promise<void>;
}

/** Each mounts GET /notes (scope read) and GET /admin (scope admin), answering { sub, scopes } from the accepted token. */
const adapters: Record<string, (guard: Guard) => Promise<Mounted>> = {
  async express(guard) {
    const app = express();
    app.get('/notes', expressGuard(guard, ['read']), (_req, res) => res.json({ sub: res.locals.auth.subject, scopes: res.locals.auth.scopes }));
    app.get('/admin', expressGuard(guard, ['admin']), (_req, res) => res.json({}));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
  },
  async fastify(guard) {
    const app = Fastify();
    app.get('/notes', { onRequest: fastifyGuard(guard, ['read']) }, async (req) => ({ sub: req.auth?.subject, scopes: req.auth?.scopes }));
    app.get('/admin', { onRequest: fastifyGuard(guard, ['admin']) }, async () => ({}));
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    return { url, close: () => app.close() };
  },
  async hono(guard) {
    const app = new Hono<{ Variables: GuardVariables }>();
    app.get('/notes', honoGuard(guard, ['read']), (c) => c.json({ sub: c.get('auth').subject, scopes: c.get('auth').scopes }));
    app.get('/admin', honoGuard(guard, ['admin']), (c) => c.json({}));
    return listen(app.fetch);
  },
  async web(guard) {
    return listen(async (request: Request) => {
      const path = new URL(request.url).pathname;
      const result = await verifyRequest(guard, request, path === '/admin' ? ['admin'] : ['read']);
      if (!result.ok) return failureResponse(result);
      return Response.json(path === '/admin' ? {} : { sub: result.token.subject, scopes: result.token.scopes });
    });
  },
};

function listen(fetch: (request: Request) => Response | Promise<Response>): Promise<Mounted> {
  return new Promise((resolve) => {
    const server = serve({ fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
      resolve({ url: `http://127.0.0.1:${info.port}`, close: () => new Promise((done) => server.close(() => done())) });
    });
  });
}

describe('guard adapters', () => {
  const h = useServer();
  const tokens = { read: '', revoked: '', client: '', bound: '' };
  let guard: Guard;
  let guardOptions: GuardOptions;
  let key: DpopKey;

  // One guard for every adapter, created after the revocation: its first catch-up holds it.
  beforeAll(async () => {
    const app = await h.client({ tokenFormat: 'jwt', scope: 'read write' });
    tokens.client = app.id;
    tokens.read = await accessToken(h, app, 'read');
    tokens.revoked = await accessToken(h, app, 'read');
    await h.revoke(app, tokens.revoked);
    key = await dpopKey();
    const a = h.auth(app);
    tokens.bound = (await h.post('/token', { grant_type: 'client_credentials', scope: 'read' }, { ...a.headers, dpop: proof(key, { htm: 'POST', htu: `${h.server.url}/token` }) })).body.access_token;
    const rs = await h.client({ scope: GUARD_SCOPE });
    guardOptions = { issuer: h.server.url, audience: h.server.tessera.config.audience, client: { id: rs.id, secret: rs.secret! }, realm: 'notes' };
    guard = createGuard(guardOptions);
    await guard.ready();
  });
  afterAll(() => guard?.close());

  for (const [name, mount] of Object.entries(adapters)) {
    describe(name, () => {
      let mounted: Mounted;
      beforeAll(async () => {
        mounted = await mount(guard);
      });
      afterAll(() => mounted?.close());
      const get = (path: string, authorization?: string) => fetch(mounted.url + path, { headers: authorization === undefined ? {} : { authorization } });

      it('a valid token with the scope reaches the handler, which sees the accepted token', async () => {
        const res = await get('/notes', `Bearer ${tokens.read}`);
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({ sub: tokens.client, scopes: ['read'] });
      });

      it('RFC 6750 §3.1: no token → 401 with a bare Bearer challenge', async () => {
        const res = await get('/notes');
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer realm="notes"');
      });

      it('RFC 6750 §3.1: a malformed Authorization header → 400 invalid_request', async () => {
        const res = await get('/notes', 'Bearer two tokens');
        expect(res.status).toBe(400);
        expect(await res.json()).toMatchObject({ error: 'invalid_request' });
      });

      it('RFC 6750 §3.1, RFC 9110 §5.3: two Authorization header lines (a valid token in the first) → 400 invalid_request, never the first alone', async () => {
        const { hostname, port } = new URL(mounted.url);
        const head = await new Promise<string>((resolve, reject) => {
          let text = '';
          const socket = connect(Number(port), hostname, () => {
            socket.end(`GET /notes HTTP/1.1\r\nhost: ${hostname}:${port}\r\nauthorization: Bearer ${tokens.read}\r\nauthorization: Bearer other\r\nconnection: close\r\n\r\n`);
          });
          socket.on('data', (d) => { text += d; });
          socket.on('end', () => resolve(text));
          socket.on('error', reject);
        });
        expect(head).toMatch(/^HTTP\/1\.1 400 /);
      });

      it('RFC 6750 §3.1: a revoked token → 401 invalid_token in the challenge and the body', async () => {
        const res = await get('/notes', `Bearer ${tokens.revoked}`);
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="notes", error="invalid_token"/);
        expect(res.headers.get('cache-control')).toBe('no-store');
        expect(await res.json()).toEqual({ error: 'invalid_token', error_description: 'the token was revoked' });
      });

      it('RFC 6750 §3.1: a token without the route\'s scope → 403 insufficient_scope naming it', async () => {
        const res = await get('/admin', `Bearer ${tokens.read}`);
        expect(res.status).toBe(403);
        expect(res.headers.get('www-authenticate')).toMatch(/error="insufficient_scope".*scope="admin"/);
        expect(await res.json()).toMatchObject({ error: 'insufficient_scope', scope: 'admin' });
      });

      it('RFC 9449 §7: a DPoP-bound token with a proof over the adapter\'s method and URL reaches the handler; the proof again is a replay; as Bearer the token is refused with a DPoP challenge', async () => {
        const url = `${mounted.url}/notes?q=1`;
        const dpop = proof(key, { htm: 'GET', htu: url, ath: ath(tokens.bound) });
        const ok = await fetch(url, { headers: { authorization: `DPoP ${tokens.bound}`, dpop } });
        expect(ok.status).toBe(200);
        expect(await ok.json()).toEqual({ sub: tokens.client, scopes: ['read'] });
        const again = await fetch(url, { headers: { authorization: `DPoP ${tokens.bound}`, dpop } });
        expect(again.status).toBe(401);
        expect(again.headers.get('www-authenticate')).toMatch(/^DPoP realm="notes", error="invalid_dpop_proof", .*algs="ES256 PS256 RS256 EdDSA Ed25519"$/);
        const asBearer = await get('/notes', `Bearer ${tokens.bound}`);
        expect(asBearer.status).toBe(401);
        expect(asBearer.headers.get('www-authenticate')).toMatch(/^DPoP realm="notes", error="invalid_token"/);
      });

      it('RFC 9449 §4.3 item 9: a proof for another URL of the adapter (htu) is refused', async () => {
        const res = await fetch(`${mounted.url}/notes`, { headers: { authorization: `DPoP ${tokens.bound}`, dpop: proof(key, { htm: 'GET', htu: `${mounted.url}/admin`, ath: ath(tokens.bound) }) } });
        expect(res.status).toBe(401);
        expect(await res.json()).toMatchObject({ error: 'invalid_dpop_proof' });
      });
    });
  }

  for (const name of ['express', 'fastify'] as const) {
    it(`${name}: RFC 9449 §4.3 item 9: a Host header with a path in it cannot move the path htu is checked against (a proof for /admin/notes is refused at /notes)`, async () => {
      const mounted = await adapters[name]!(guard);
      try {
        const { host, port } = new URL(mounted.url);
        const send = (hostHeader: string, htu: string) => new Promise<number>((resolve, reject) => {
          const headers = { host: hostHeader, authorization: `DPoP ${tokens.bound}`, dpop: proof(key, { htm: 'GET', htu, ath: ath(tokens.bound) }) };
          request({ host: '127.0.0.1', port, path: '/notes', headers }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          }).on('error', reject).end();
        });
        expect(await send(`${host}/admin`, `http://${host}/admin/notes`)).toBe(401);
        expect(await send(host, `http://${host}/notes`)).toBe(200);
      } finally {
        await mounted.close();
      }
    });
  }

  describe('expectedOrigin: the app behind a TLS-terminating proxy, reached at http://127.0.0.1', () => {
    let proxied: Guard;
    beforeAll(async () => {
      proxied = createGuard({ ...guardOptions, expectedOrigin: 'https://api.example.com' });
      await proxied.ready();
    });
    afterAll(() => proxied?.close());

    for (const [name, mount] of Object.entries(adapters)) {
      it(`${name}: RFC 9449 §4.3 item 9: htu is expectedOrigin with the request's path (query ignored); a proof for the app's own URL, or another path, is refused`, async () => {
        const mounted = await mount(proxied);
        try {
          const send = (htu: string) => fetch(`${mounted.url}/notes?page=2`, { headers: { authorization: `DPoP ${tokens.bound}`, dpop: proof(key, { htm: 'GET', htu, ath: ath(tokens.bound) }) } });
          const ok = await send('https://api.example.com/notes');
          expect(ok.status).toBe(200);
          expect(await ok.json()).toEqual({ sub: tokens.client, scopes: ['read'] });
          for (const htu of [`${mounted.url}/notes`, `${mounted.url}/notes?page=2`, 'http://api.example.com/notes', 'https://api.example.com/admin']) {
            const refused = await send(htu);
            expect(refused.status, htu).toBe(401);
            expect(await refused.json()).toEqual({ error: 'invalid_dpop_proof', error_description: 'the DPoP proof htu does not match the request URI' });
          }
        } finally {
          await mounted.close();
        }
      });
    }
  });

  it('Express behind a proxy: with `trust proxy`, htu is the URL the client used (X-Forwarded-Proto and -Host), not the one the app listens on', async () => {
    const app = express();
    app.set('trust proxy', 'loopback');
    app.get('/notes', expressGuard(guard, ['read']), (_req, res) => res.json({ sub: res.locals.auth.subject }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const local = `http://127.0.0.1:${(server.address() as AddressInfo).port}/notes`;
    try {
      const send = (htu: string) => fetch(local, {
        headers: { authorization: `DPoP ${tokens.bound}`, 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example', dpop: proof(key, { htm: 'GET', htu, ath: ath(tokens.bound) }) },
      });
      expect((await send('https://api.example/notes')).status).toBe(200);
      expect((await send(local)).status).toBe(401);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
