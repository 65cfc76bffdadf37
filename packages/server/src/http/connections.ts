/**
 * What frees connections: header, request and keep-alive timeouts, a cap on open connections,
 * and sockets destroyed (not just ended) after a request node:http could not parse or that came
 * too slowly. A half-closed socket holds its file descriptor until the peer closes it.
 */
import type { ServerOptions } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ServerConfig } from '../config.js';

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

const ANSWERS: Record<string, readonly [number, string, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'the request did not arrive in time'],
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'the request headers are too large'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'Payload Too Large', 'the chunk extensions are too large'],
};
const BAD_REQUEST = [400, 'Bad Request', 'malformed HTTP request'] as const;

/**
 * node:http's `clientError`: answers with an RFC 6749 §5.2 error when nothing of a response was
 * written yet, then destroys the socket. Returns the status sent, if any, for the access log.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex, reqId: string): number | undefined {
  // node:http's own handler checks the same: never write into a response already under way.
  const responding = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  let sent: number | undefined;
  if (err.code !== 'ECONNRESET' && socket.writable && !responding) {
    const [status, reason, description] = ANSWERS[err.code ?? ''] ?? BAD_REQUEST;
    const body = JSON.stringify({ error: 'invalid_request', error_description: description });
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncache-control: no-store\r\nx-content-type-options: nosniff\r\nx-request-id: ${reqId}\r\nconnection: close\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    );
    sent = status;
  }
  // Destroyed, not ended: an ended socket stays half-open until the peer closes it.
  socket.destroy();
  return sent;
}
