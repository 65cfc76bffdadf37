/**
 * A streaming response (the admin event stream, the revocation feed) whose client stops reading:
 * once what was written fills the socket, the node:http adapter waits for 'drain' at most
 * streamStallTimeout, then drops the connection and ends the stream, so a stalled reader cannot
 * hold a stream slot, nor go on being sent data its credential may no longer read.
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createNodeServer, drain, type PlainResponse } from '@tessera/server';
import { afterAll, beforeAll, expect, it } from 'vitest';

let server: Server;
let ended: Promise<void>;
let endStream!: () => void;
let sent = 0;

// A garbage collection while the stream waits for 'drain' (a server collects all the time).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

beforeAll(async () => {
  ended = new Promise((resolve) => (endStream = resolve));
  const chunk = 'x'.repeat(1 << 20);
  const stream = async function* (signal: AbortSignal) {
    try {
      // Endless: only the adapter ends it.
      while (!signal.aborted) {
        sent += chunk.length;
        yield chunk;
      }
    } finally {
      endStream();
    }
  };
  server = createNodeServer(async (): Promise<PlainResponse> => ({ status: 200, headers: { 'content-type': 'text/event-stream' }, body: '', stream }), {
    maxBodyBytes: 1024, streamStallTimeout: 300,
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
});
afterAll(async () => {
  await drain(server, 1000);
});

it('a stream whose client reads nothing is ended once it stalls past streamStallTimeout, garbage collections meanwhile included: the connection is closed and the stream\'s finally runs', async () => {
  const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write('GET /events HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
  // Never read: the kernel's buffers fill, then node:http's, then write() asks for 'drain'.
  socket.pause();
  socket.on('error', () => {});
  // Collected while it waits: its stall timer must still fire (an AbortSignal.timeout inside
  // AbortSignal.any did not, on Node 20, once collected: the stream then waited for ever).
  const collecting = setInterval(gc, 50);
  await ended.finally(() => clearInterval(collecting));
  // Reading again: what the server had sent, then the end of a connection it closed.
  const closed = once(socket, 'close');
  socket.resume();
  await closed;
  expect(sent).toBeGreaterThan(0);
}, 10_000);
