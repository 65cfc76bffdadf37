/**
 * Connections are freed (issue 9, defect 4): slow or half-sent requests are timed out, a request
 * node:http cannot parse gets its socket destroyed (not just ended), and beyond maxConnections new
 * connections are closed while the open ones are still served. Raw TCP sockets on loopback; the
 * server runs with short timeouts so each case takes well under a second.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers.js';

const TIMEOUTS = { headersTimeout: 300, requestTimeout: 600, keepAliveTimeout: 300 };
/** How long a test waits for the server to close a socket before calling it held (far above the timeouts). */
const HELD = 4000;

interface Raw {
  socket: Socket;
  /** Everything the server sent. */
  received(): string;
  /** Resolves with the milliseconds since connect when the socket closes, or 'held' after `HELD` ms. */
  closed(): Promise<number | 'held'>;
}

function open(url: string, options: { allowHalfOpen?: boolean } = {}): Promise<Raw> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect({ host: hostname, port: Number(port), allowHalfOpen: options.allowHalfOpen ?? false });
    let data = '';
    socket.on('data', (d) => { data += d; });
    socket.on('error', () => {});
    const whenClosed = new Promise<number>((r) => socket.once('close', () => r(performance.now() - started)));
    socket.once('connect', () =>
      resolve({
        socket,
        received: () => data,
        closed: () => Promise.race([whenClosed, new Promise<'held'>((r) => setTimeout(() => r('held'), HELD))]),
      }),
    );
    socket.once('error', reject);
  });
}

/** Sends one GET on the socket and resolves with the response head and body once a whole response arrived. */
function get(raw: Raw, path: string): Promise<string> {
  const before = raw.received().length;
  raw.socket.write(`GET ${path} HTTP/1.1\r\nhost: x\r\n\r\n`);
  return new Promise((resolve, reject) => {
    const check = () => {
      const text = raw.received().slice(before);
      const length = /content-length: (\d+)/i.exec(text)?.[1];
      const end = text.indexOf('\r\n\r\n');
      if (length !== undefined && end >= 0 && text.length >= end + 4 + Number(length)) {
        raw.socket.off('data', check);
        resolve(text);
      }
    };
    raw.socket.on('data', check);
    raw.socket.once('close', () => reject(new Error(`closed before a response: ${JSON.stringify(raw.received().slice(before))}`)));
  });
}

describe('timeouts free the connections of slow and half-sent requests', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(TIMEOUTS);
  });
  afterAll(() => server?.close());

  it('slowloris: headers trickled in and never finished get 408 and the socket is closed after headersTimeout', async () => {
    const clients = await Promise.all(Array.from({ length: 40 }, () => open(server.url)));
    const tricklers = clients.map((c) => {
      c.socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n');
      return setInterval(() => c.socket.writable && c.socket.write('x-slow: y\r\n'), 50);
    });
    const times = await Promise.all(clients.map((c) => c.closed()));
    for (const t of tricklers) clearInterval(t);
    console.log(`slowloris: 40 sockets closed after ${Math.round(Math.min(...(times as number[])))}–${Math.round(Math.max(...(times as number[])))} ms (headersTimeout ${TIMEOUTS.headersTimeout} ms)`);
    expect(times).not.toContain('held');
    expect(clients[0]?.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('a connection that never sends a byte is closed after headersTimeout', async () => {
    const idle = await open(server.url);
    const t = await idle.closed();
    console.log(`idle socket closed after ${typeof t === 'number' ? Math.round(t) : t} ms`);
    expect(t).not.toBe('held');
  });

  it('a half-sent body (Content-Length never reached) gets 408 and the socket is closed after requestTimeout', async () => {
    const c = await open(server.url);
    c.socket.write('POST /token HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\ngrant_type=');
    const t = await c.closed();
    console.log(`half-sent body: socket closed after ${typeof t === 'number' ? Math.round(t) : t} ms (requestTimeout ${TIMEOUTS.requestTimeout} ms)`);
    expect(t).not.toBe('held');
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(c.received()).toMatch(/cache-control: no-store/i);
  });

  it('a malformed request gets 400 and its socket is destroyed, even if the peer never closes its side', async () => {
    // A peer that keeps its side open: before the fix the server only ended (half-closed) the
    // socket and kept reading, holding the descriptor for as long as the peer liked.
    const c = await open(server.url, { allowHalfOpen: true });
    c.socket.write('NOT HTTP AT ALL\r\n\r\n');
    await new Promise((r) => c.socket.once('end', r));
    expect(c.received()).toMatch(/^HTTP\/1\.1 400 /);
    // A destroyed socket answers further bytes with a reset; a half-closed one takes them in silence.
    const poke = setInterval(() => c.socket.writable && c.socket.write('more\r\n'), 50);
    const t = await c.closed();
    clearInterval(poke);
    expect(t).not.toBe('held');
  });

  it('requests node:http cannot take are answered in the listener\'s error shape: RFC 6749 §5.2 JSON on the server, RFC 9457 problems on the admin listener, both no-store', async () => {
    const admin = await startTestServer(TIMEOUTS, { adminPort: 0 });
    try {
      for (const [url, type] of [[server.url, 'application/json'], [admin.adminUrl as string, 'application/problem+json']] as const) {
        const tooLarge = await open(url);
        tooLarge.socket.write(`GET /admin/api/v1/clients HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
        await tooLarge.closed();
        const malformed = await open(url);
        malformed.socket.write('NOT HTTP AT ALL\r\n\r\n');
        await malformed.closed();
        for (const [raw, status] of [[tooLarge, 431], [malformed, 400]] as const) {
          const text = raw.received();
          expect(text, url).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
          expect(text).toMatch(new RegExp(`content-type: ${type.replace('+', '\\+')}\r\n`, 'i'));
          expect(text).toMatch(/cache-control: no-store/i);
          const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
          expect(body).toMatchObject(type === 'application/json' ? { error: 'invalid_request' } : { status, title: expect.any(String) });
        }
      }
    } finally {
      await admin.close();
    }
  });

  it('an idle keep-alive connection is closed after keepAliveTimeout (node:http adds 1 s of grace)', async () => {
    const c = await open(server.url);
    expect(await get(c, '/healthz')).toMatch(/^HTTP\/1\.1 200 /);
    const t = await c.closed();
    console.log(`idle keep-alive closed after ${typeof t === 'number' ? Math.round(t) : t} ms`);
    expect(t).not.toBe('held');
  });
});

describe('the revocation stream outlives requestTimeout', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ ...TIMEOUTS, feedHeartbeat: 100 });
  });
  afterAll(() => server?.close());

  it('an open stream keeps receiving heartbeats and events long after requestTimeout', async () => {
    const reader = await server.createClient({ scope: 'tessera:revocations' });
    const res = await fetch(`${server.url}/revocations/stream`, { headers: { authorization: reader.basic } });
    expect(res.status).toBe(200);
    const body = res.body!.getReader();
    let text = '';
    const deadline = performance.now() + TIMEOUTS.requestTimeout * 3;
    while (performance.now() < deadline) {
      const { value, done } = await body.read();
      expect(done).toBe(false);
      text += new TextDecoder().decode(value);
    }
    expect(text).toContain(': heartbeat');
    const app = await server.createClient();
    const token = await server.post('/token', { grant_type: 'client_credentials' }, { authorization: app.basic });
    await server.post('/revoke', { token: token.body.access_token }, { authorization: app.basic });
    while (!text.includes('event: ')) {
      const { value, done } = await body.read();
      expect(done).toBe(false);
      text += new TextDecoder().decode(value);
    }
    await body.cancel();
  });
});

describe('the connection limit', () => {
  let server: TestServer;
  const maxConnections = 5;
  beforeAll(async () => {
    server = await startTestServer({ maxConnections });
  });
  afterAll(() => server?.close());

  it('beyond maxConnections new connections are closed at once, while the open ones are still answered', async () => {
    const held = await Promise.all(Array.from({ length: maxConnections }, () => open(server.url)));
    for (const c of held) expect(await get(c, '/healthz')).toMatch(/^HTTP\/1\.1 200 /);
    const extra = await open(server.url);
    extra.socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
    expect(await extra.closed()).not.toBe('held');
    expect(extra.received()).toBe('');
    // The connections already open are served as before.
    for (const c of held) expect(await get(c, '/healthz')).toMatch(/^HTTP\/1\.1 200 /);
    // And once one closes there is room again.
    held[0]?.socket.destroy();
    await held[0]?.closed();
    await new Promise((r) => setTimeout(r, 50));
    const next = await open(server.url);
    expect(await get(next, '/healthz')).toMatch(/^HTTP\/1\.1 200 /);
    for (const c of [...held, next]) c.socket.destroy();
  });
});
