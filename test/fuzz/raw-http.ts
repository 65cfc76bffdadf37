/**
 * HTTP/1.1 over a bare socket: the request goes out byte for byte (fetch would normalise the
 * target, refuse bytes in headers and re-encode the body), and the response is parsed by hand.
 */
import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  /** Header names lower-cased; a repeated header's values joined with ', '. */
  headers: Record<string, string>;
  body: Buffer;
  /** True when the response was an event stream whose body was cut off after the head. */
  streaming: boolean;
}

/** Sends the bytes and reads one response (the request should carry `connection: close`). */
export function rawRequest(port: number, bytes: Buffer, options: { head?: boolean; timeoutMs?: number } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let head: { status: number; headers: Record<string, string>; bodyStart: number } | undefined;
    const timer = setTimeout(() => finish(new Error(`no complete answer within ${options.timeoutMs ?? 10_000} ms`)), options.timeoutMs ?? 10_000);
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) return reject(err);
      if (!head) return reject(new Error(`connection closed without a response head: ${JSON.stringify(data.toString('latin1').slice(0, 200))}`));
      const raw = data.subarray(head.bodyStart);
      const body = head.headers['transfer-encoding'] === 'chunked' ? dechunk(raw) : raw;
      resolve({ status: head.status, headers: head.headers, body, streaming: (head.headers['content-type'] ?? '').startsWith('text/event-stream') });
    };
    const progress = () => {
      if (!head) {
        const end = data.indexOf('\r\n\r\n');
        if (end < 0) return;
        head = parseHead(data.subarray(0, end).toString('latin1'), end + 4);
      }
      // An event stream never ends by itself: its head is the answer.
      if ((head.headers['content-type'] ?? '').startsWith('text/event-stream')) return finish();
      if (options.head || head.status === 204 || head.status === 304) return finish();
      const length = head.headers['content-length'];
      if (length !== undefined && data.length - head.bodyStart >= Number(length)) finish();
      if (head.headers['transfer-encoding'] === 'chunked' && data.subarray(head.bodyStart).includes('0\r\n\r\n')) finish();
    };
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      try {
        progress();
      } catch (err) {
        finish(err as Error);
      }
    });
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    // A server that closes while we still write (a 413, a parse error) answers all the same.
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? finish() : finish(err)));
    socket.write(bytes);
  });
}

/** A chunked body (RFC 9112 §7.1) as its bytes; chunk extensions and trailers are dropped. */
function dechunk(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    const size = eol < 0 ? 0 : Number.parseInt(raw.subarray(at, eol).toString('latin1'), 16);
    if (!(size > 0)) return Buffer.concat(parts);
    parts.push(raw.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

function parseHead(text: string, bodyStart: number) {
  const [statusLine = '', ...lines] = text.split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!match) throw new Error(`not an HTTP status line: ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { status: Number(match[1]), headers, bodyStart };
}
