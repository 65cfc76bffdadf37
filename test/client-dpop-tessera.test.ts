/**
 * DPoP (RFC 9449) with all three packages against each other: @tessera/client with `dpop: true`,
 * Tessera's server, and an API behind @tessera/guard's verifyRequest. A public client's code is
 * bound by dpop_jkt, its refresh token to the key; session.fetch presents the token with a proof.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyRequest } from '@tessera/guard';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sessionFor, signIn } from './client/tessera.js';
import { useServer } from './flows.js';
import { useGuards } from './guard-kit.js';

const h = useServer({ dpopNonce: true });
const guards = useGuards(h);
let api: Server;
let apiUrl: string;
const answers: { status: number; error?: string }[] = [];
/** The guard the API checks requests with, made by the test (guards.ready closes it after the test). */
let current: ReturnType<typeof guards.ready>;

beforeAll(async () => {
  api = createServer(async (req, res) => {
    const request = new Request(`${apiUrl}${req.url}`, { method: req.method, headers: req.headers as Record<string, string> });
    const result = await verifyRequest(await current, request, ['read']);
    answers.push(result.ok ? { status: 200 } : { status: result.status, error: result.error });
    if (result.ok) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jkt: result.token.jkt }));
    else res.writeHead(result.status, result.headers).end();
  });
  api.listen(0, '127.0.0.1');
  await once(api, 'listening');
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => api.close(() => resolve())));

it('a public client with dpop: true: code bound by dpop_jkt, DPoP tokens, a key-bound refresh, and session.fetch through the guard; the server\'s nonces are fetched and used', async () => {
  current = guards.ready({ dpopNonce: true });
  const c = await h.codeClient({ authMethod: 'none', tokenFormat: 'jwt', scope: 'read' });
  const session = sessionFor(h, c, { dpop: true });
  const token = await signIn(h, session);
  expect(token.token_type).toBe('DPoP');
  const jkt = (decodeJwt(token.access_token).cnf as { jkt: string }).jkt;
  expect(jkt).toMatch(/^[\w-]{43}$/);

  // RFC 9449 §5: the public client's refresh token is bound to the key; the session proves it.
  const refreshed = await session.refresh();
  expect(refreshed.token_type).toBe('DPoP');
  expect((decodeJwt(refreshed.access_token).cnf as { jkt: string }).jkt).toBe(jkt);

  const res = await session.fetch(`${apiUrl}/notes`);
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ jkt });
  // The guard asked for its nonce once (401 use_dpop_nonce), the session retried with it.
  expect(answers).toEqual([{ status: 401, error: 'use_dpop_nonce' }, { status: 200 }]);
  answers.length = 0;
  expect((await session.fetch(`${apiUrl}/notes`)).status).toBe(200);
  expect(answers).toEqual([{ status: 200 }]);
});
