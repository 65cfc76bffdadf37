/**
 * What frees connections: header, request and keep-alive timeouts, a cap on open connections,
 * and sockets destroyed (not just ended) after a request node:http could not parse or that came
 * too slowly. A half-closed socket holds its file descriptor until the peer closes it.
 */
import { type ServerOptions, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ServerConfig } from '../config.js';
import type { PlainResponse } from './types.js';

export type ConnectionLimits = Pick<ServerConfig, 'headersTimeout' | 'requestTimeout' | 'keepAliveTimeout' | 'maxConnections'>;

/**
 * node:http's timeout options. requestTimeout counts until the request has fully arrived, not
 * until the response ends, so long-lived responses (the revocation stream) are not cut.
 */
export function timeoutOptions(limits: ConnectionLimits): ServerOptions {
  const { requestTimeout, keepAliveTimeout } = limits;
  // node:http refuses headersTimeout > requestTimeout: headers are part of the request.
  const headersTimeout = requestTimeout > 0 ? Math.min(limits.headersTimeout, requestTimeout) : limits.headersTimeout;
  // node:http looks for expired requests every connectionsCheckingInterval (30 s by default), so a
  // slow client could outlive the timeouts by that much: look often enough to keep them within 25 %.
  const enabled = [headersTimeout, requestTimeout].filter((t) => t > 0);
  const connectionsCheckingInterval = enabled.length > 0 ? Math.min(1000, Math.max(50, Math.floor(Math.min(...enabled) / 4))) : 30_000;
  return { headersTimeout, requestTimeout, keepAliveTimeout, connectionsCheckingInterval };
}

const ANSWERS: Record<string, readonly [number, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'the request did not arrive in time'],
  HPE_HEADER_OVERFLOW: [431, 'the request headers are too large'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'the chunk extensions are too large'],
};
const BAD_REQUEST = [400, 'malformed HTTP request'] as const;

/**
 * node:http's `clientError`: answers when nothing of a response was written yet, then destroys the
 * socket. `render` makes the answer as the listener's other errors are made (an RFC 6749 §5.2
 * error; on the admin listener an RFC 9457 problem). Returns the status sent, if any, for the
 * access log.
 */
export function answerClientError(
  err: NodeJS.ErrnoException, socket: Duplex, reqId: string, render: (status: number, description: string) => PlainResponse,
): number | undefined {
  // node:http's own handler checks the same: never write into a response already under way.
  const responding = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  let sent: number | undefined;
  if (err.code !== 'ECONNRESET' && socket.writable && !responding) {
    const [code, description] = ANSWERS[err.code ?? ''] ?? BAD_REQUEST;
    const { status, headers, body } = render(code, description);
    const lines = Object.entries({ ...headers, 'x-content-type-options': 'nosniff', 'x-request-id': reqId, connection: 'close', 'content-length': Buffer.byteLength(body) })
      .map(([name, value]) => `${name}: ${value}\r\n`);
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${lines.join('')}\r\n${body}`);
    sent = status;
  }
  // Destroyed, not ended: an ended socket stays half-open until the peer closes it.
  socket.destroy();
  return sent;
}
