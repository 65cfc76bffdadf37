/**
 * A webhook receiver for tests: node:http on 127.0.0.1, verifying each request's Standard
 * Webhooks signature with the subscription's secret, as a real receiver would.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';

export interface Received {
  id: string;
  headers: Record<string, string>;
  timestamp: number;
  body: string;
  payload: { type: string; timestamp: string; data: Record<string, string> };
  /** The status the receiver answered with. */
  answered: number;
}

/** Standard Webhooks: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}"> under the secret's bytes (after whsec_). */
export function verify(secret: string, id: string, timestamp: string, body: string, header: string): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = Buffer.from(createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64'));
  return header.split(' ').some((sig) => {
    const [version, value] = sig.split(',');
    const given = Buffer.from(value ?? '');
    return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** What it answers from now on. */
  status: number;
  /** Requests whose signature did not verify (answered 400). */
  badSignatures: number;
  close(): Promise<void>;
}

/** Listens on `port` (0: any free one) and answers `status` to every signed POST. */
export function startReceiver(secret: () => string, port = 0, status = 204): Promise<Receiver> {
  const receiver: Receiver = {
    url: '', port, received: [], status, badSignatures: 0,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const id = String(req.headers['webhook-id']);
      const timestamp = String(req.headers['webhook-timestamp']);
      if (!verify(secret(), id, timestamp, body, String(req.headers['webhook-signature'] ?? ''))) {
        receiver.badSignatures++;
        res.writeHead(400).end();
        return;
      }
      receiver.received.push({ id, headers: req.headers as Record<string, string>, timestamp: Number(timestamp), body, payload: JSON.parse(body), answered: receiver.status });
      res.writeHead(receiver.status).end();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      receiver.port = (server.address() as { port: number }).port;
      receiver.url = `http://127.0.0.1:${receiver.port}/hooks`;
      resolve(receiver);
    });
  });
}
