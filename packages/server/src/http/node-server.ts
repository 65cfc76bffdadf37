/**
 * The node:http adapter: reads the body (with a size limit), builds the PlainRequest, writes
 * the PlainResponse with the headers every response carries (nosniff, X-Request-Id), frees
 * connections (connections.ts), and drains in-flight requests on close.
 */
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OAuthError } from '@tessera/core';
import { defaults } from '../config.js';
import { answerClientError, type ConnectionLimits, timeoutOptions } from './connections.js';
import { UnstorableText, unstorableText } from './json-text.js';
import { requestId } from './request-id.js';
import { isAdminPath, takesJson } from './routes.js';
import { errorResponse } from './respond.js';
import type { Handler, PlainRequest, PlainResponse } from './types.js';

export interface NodeServerOptions extends Partial<ConnectionLimits> {
  maxBodyBytes: number;
  /** Called with errors that became a 500, for logging. */
  onError?: (err: unknown, req: PlainRequest | undefined, reqId: string) => void;
  /**
   * Called once per answered request (when a stream ends, for streams), for the access log. Plain
   * fields only: never headers, the query string or the body, which carry credentials.
   */
  onResponse?: (entry: AccessEntry) => void;
  /** Called when a connection is closed on arrival because maxConnections are open. */
  onDrop?: () => void;
  /** How a thrown error is answered (default: the RFC 6749 §5.2 JSON error; the admin API's listener answers problem details). */
  errorResponse?: (err: unknown) => PlainResponse;
  /** Milliseconds a streaming response may wait for its client to take what was written (default STREAM_STALL_MS); past it the stream is ended. */
  streamStallTimeout?: number;
}

/**
 * How long a stream waits for a stalled client to drain what it was sent: a reader that takes
 * nothing for this long is gone or hostile, and must not keep its stream (nor what it may still be
 * sent, such as audit data after its credential is revoked) open forever.
 */
export const STREAM_STALL_MS = 30_000;

export interface AccessEntry {
  reqId: string;
  /** Absent when node:http could not parse the request (then `status` is its 400, 408 or 431). */
  method?: string;
  path?: string;
  status: number;
  /** The OAuth error code of an error answer (never its description, which may quote the request). */
  error?: string;
  /** Why node:http refused the request itself (HPE_* parse errors, ERR_HTTP_REQUEST_TIMEOUT). */
  code?: string;
  /** Milliseconds from the request's headers to the response handed to the socket (for a stream, to its end). */
  ms?: number;
  /** PlainResponse.actor: the admin token's name, as `admin:NAME`, on the admin listener. */
  actor?: string;
}

const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';

class BodyTooLarge extends Error {}
/** The client left, or a timeout destroyed its socket, before the body arrived: nobody to answer. */
class ClientGone extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > limit) return reject(new BodyTooLarge());
    // A form body almost always comes in one chunk: it is decoded as it is, not copied first.
    let first: Buffer | undefined;
    let more: Buffer[] | undefined;
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new BodyTooLarge());
        req.resume();
        return;
      }
      if (first === undefined) first = chunk;
      else if (more === undefined) more = [first, chunk];
      else more.push(chunk);
    });
    req.on('end', () => resolve(more !== undefined ? Buffer.concat(more).toString('utf8') : (first?.toString('utf8') ?? '')));
    req.on('error', () => reject(new ClientGone()));
  });
}

/**
 * The headers as PlainRequest has them. node:http already lower-cases the names and joins a
 * repeated header with ', '; only a few (set-cookie) stay arrays. Without those its own object
 * serves as it is; otherwise a copy joins them. Authorization is one of the fields node:http
 * keeps only the first of: repeated, its lines are joined here too (RFC 9110 §5.3), so that two
 * credentials are refused as malformed (RFC 6749 §2.3, RFC 6750 §3.1) rather than the first read
 * alone, which a proxy in front may have read otherwise.
 */
function plainHeaders(req: IncomingMessage): Record<string, string | undefined> {
  const { headers } = req;
  const authorization = repeatedAuthorization(req.rawHeaders);
  if (authorization === undefined && !hasArrays(headers)) return headers as Record<string, string | undefined>;
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) out[name] = Array.isArray(value) ? value.join(', ') : value;
  if (authorization !== undefined) out.authorization = authorization;
  return out;
}

function hasArrays(headers: IncomingHttpHeaders): boolean {
  for (const name in headers) if (Array.isArray(headers[name])) return true;
  return false;
}

/** Every Authorization line joined with ', ' when there is more than one; else undefined. */
function repeatedAuthorization(raw: string[]): string | undefined {
  let first = -1;
  let joined: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length !== 13 || name.toLowerCase() !== 'authorization') continue;
    if (first === -1) first = i;
    else joined = `${joined ?? raw[first + 1]}, ${raw[i + 1]}`;
  }
  return joined;
}

/**
 * A request target that is a path of unreserved characters and no dot segment: `new URL` would
 * give it back unchanged as the pathname (WHATWG URL: nothing to percent-encode, resolve or
 * normalise), so the URL object is built only if something asks for it. Anything else (a query,
 * %-escapes, dot segments, absolute-form) goes through the parser at once.
 */
const PLAIN_PATH = /^(?:\/[A-Za-z0-9_~-][A-Za-z0-9_.~-]*)+$|^\/$/;

/** node:http's request as a PlainRequest: `url` is parsed on first read (the token endpoints never read it). */
class NodePlainRequest implements PlainRequest {
  body: URLSearchParams | undefined;
  json?: unknown;
  private parsed: URL | undefined;

  constructor(
    readonly method: string,
    readonly path: string,
    private readonly target: string,
    private readonly base: string,
    readonly headers: Readonly<Record<string, string | undefined>>,
    readonly remoteAddress: string | undefined,
    parsed: URL | undefined,
  ) {
    this.parsed = parsed;
  }

  get url(): URL {
    this.parsed ??= new URL(this.target, this.base);
    return this.parsed;
  }
}

/** Turns a node request into a PlainRequest; throws OAuthError for bodies we refuse. */
export async function toPlainRequest(req: IncomingMessage, maxBodyBytes: number, base: string): Promise<PlainRequest> {
  const headers = plainHeaders(req);
  // Read now: once the body is read the peer may have closed, and a closed socket has no address.
  const remoteAddress = req.socket.remoteAddress;
  const method = req.method ?? 'GET';
  const target = req.url ?? '/';
  let url: URL | undefined;
  if (!PLAIN_PATH.test(target)) {
    try {
      url = new URL(target, base);
    } catch {
      throw new OAuthError('invalid_request', 'malformed request target');
    }
  }
  const path = url?.pathname ?? target;
  const request = new NodePlainRequest(method, path, target, base, headers, remoteAddress, url);
  const hasBody = headers['content-length'] !== undefined || headers['transfer-encoding'] !== undefined;
  if (hasBody && method !== 'GET' && method !== 'HEAD') {
    let raw: string;
    try {
      raw = await readBody(req, maxBodyBytes);
    } catch (err) {
      if (err instanceof BodyTooLarge) throw new OAuthError('invalid_request', 'request body too large', { status: 413 });
      throw err;
    }
    const contentType = headers['content-type'];
    const type = contentType === FORM ? FORM : (contentType ?? '').split(';')[0]?.trim().toLowerCase();
    if (takesJson(path)) {
      // RFC 7591 §3: a registration request is a JSON object; bad JSON is the client's metadata
      // error. An empty body (a GET or DELETE) leaves json undefined, for the endpoint to judge.
      if (raw.length === 0) return request;
      // The admin API answers these as problem details (admin/problem.ts), with the status set here.
      const error = isAdminPath(path) ? 'invalid_request' : 'invalid_client_metadata';
      if (type !== JSON_TYPE) throw new OAuthError(error, `content type must be ${JSON_TYPE}`, isAdminPath(path) ? { status: 415 } : undefined);
      try {
        request.json = JSON.parse(raw);
      } catch {
        throw new OAuthError(error, 'the request body is not JSON');
      }
      const unstorable = unstorableText(request.json);
      if (unstorable !== undefined) throw new UnstorableText(error, unstorable.pointer, unstorable.detail);
    } else if (raw.length > 0) {
      // RFC 6749 §3.2, §4.1.3: token requests are application/x-www-form-urlencoded.
      if (type !== FORM) throw new OAuthError('invalid_request', `content type must be ${FORM}`);
      request.body = new URLSearchParams(raw);
    } else {
      request.body = new URLSearchParams();
    }
  }
  return request;
}

/** Open streaming responses, per server, so that drain() can end them. */
const openStreams = new WeakMap<Server, Set<AbortController>>();

/** The longest path an access log line repeats: a request line may be 16 KiB. */
const LOGGED_PATH = 256;

/** What the access log says of a request's target: the path, never the query (it may carry credentials). */
function logPath(url: string | undefined): string {
  if (url === undefined) return '';
  const q = url.indexOf('?');
  return (q < 0 ? url : url.slice(0, q)).slice(0, LOGGED_PATH);
}

function write(server: Server, res: ServerResponse, response: PlainResponse, reqId: string, stallMs: number, onError: (err: unknown) => void, done?: () => void) {
  // Every response: nosniff (a browser must never read a JSON error as HTML or script) and its id.
  // A stream holds its connection to the end: close it then rather than keep it alive.
  if (response.stream) {
    res.setHeader('connection', 'close');
    res.writeHead(response.status, { ...response.headers, 'x-content-type-options': 'nosniff', 'x-request-id': reqId });
    pump(server, res, response.stream, stallMs).catch(onError).finally(done);
    return;
  }
  // With its length known the body goes out in one write with the head; without it node:http
  // would frame it as chunked (more bytes, more pieces to write). Written as the string: node:http
  // encodes it into the socket's write, with no Buffer of its own first. The headers object is the
  // response's own (respond.ts makes a fresh one each time): completed in place, not copied.
  const headers = response.headers as Record<string, string | string[] | number>;
  headers['content-length'] = Buffer.byteLength(response.body);
  headers['x-content-type-options'] = 'nosniff';
  headers['x-request-id'] = reqId;
  res.writeHead(response.status, headers);
  res.end(response.body);
  done?.();
}

/**
 * Whether `res` drains within `ms` (false: it did not, or `signal` aborted first). A timer of its
 * own: an AbortSignal.timeout inside AbortSignal.any is held only weakly on Node 20, so a garbage
 * collection before it fires cancels it (nodejs/node#57736), and a stalled reader would be waited
 * for for ever.
 */
async function drainedWithin(res: ServerResponse, ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), ms);
  timer.unref();
  const abort = () => stop.abort();
  signal.addEventListener('abort', abort, { once: true });
  try {
    return await once(res, 'drain', { signal: stop.signal }).then(() => true, () => false);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', abort);
  }
}

/** Writes a streaming body, honouring backpressure, until it ends, the client leaves or stalls for `stallMs`, or the server drains. */
async function pump(server: Server, res: ServerResponse, stream: NonNullable<PlainResponse['stream']>, stallMs: number) {
  const controller = new AbortController();
  const open = openStreams.get(server) ?? new Set();
  openStreams.set(server, open);
  open.add(controller);
  res.on('close', () => controller.abort());
  // A client gone while the handler ran has closed already: its 'close' will not come again.
  if (res.destroyed || res.socket === null || res.socket.destroyed) controller.abort();
  res.flushHeaders();
  try {
    for await (const chunk of stream(controller.signal)) {
      if (controller.signal.aborted) break;
      if (res.write(chunk)) continue;
      if (await drainedWithin(res, stallMs, controller.signal)) continue;
      // Stalled past stallMs: its connection is dropped, with whatever it has not taken (gone or drained: just ended).
      if (!controller.signal.aborted) res.destroy();
      break;
    }
  } finally {
    open.delete(controller);
    res.end();
  }
}

export function createNodeServer(handler: Handler, options: NodeServerOptions): Server {
  const { onError, onResponse } = options;
  const toError = options.errorResponse ?? errorResponse;
  const limits: ConnectionLimits = {
    headersTimeout: options.headersTimeout ?? defaults.headersTimeout,
    requestTimeout: options.requestTimeout ?? defaults.requestTimeout,
    keepAliveTimeout: options.keepAliveTimeout ?? defaults.keepAliveTimeout,
    maxConnections: options.maxConnections ?? defaults.maxConnections,
  };
  const stallMs = options.streamStallTimeout ?? STREAM_STALL_MS;
  let base = 'http://localhost';
  const server = createServer(timeoutOptions(limits), (req, res) => {
    const started = onResponse === undefined ? 0 : performance.now();
    const reqId = requestId(req.headers['x-request-id'] as string | undefined);
    let plain: PlainRequest | undefined;
    const send = (response: PlainResponse) => {
      // Draining (close() was called): end a keep-alive connection after this response instead
      // of letting it idle until keepAliveTimeout, so close() resolves once requests finish.
      if (!server.listening) res.setHeader('connection', 'close');
      const done = onResponse && (() => onResponse({ reqId, method: req.method, path: logPath(req.url), status: response.status, error: response.error, actor: response.actor, ms: Math.round((performance.now() - started) * 100) / 100 }));
      write(server, res, response, reqId, stallMs, (err) => onError?.(err, plain, reqId), done);
    };
    toPlainRequest(req, options.maxBodyBytes, base)
      .then((p) => {
        plain = p;
        return handler(p);
      })
      .then(
        (response) => send(response),
        (err: unknown) => {
          if (err instanceof ClientGone) return;
          const response = toError(err);
          if (response.status >= 500) onError?.(err, plain, reqId);
          if (response.status === 413) res.setHeader('connection', 'close');
          send(response);
        },
      )
      .catch((err: unknown) => {
        onError?.(err, plain, reqId);
        if (!res.headersSent) send(toError(err));
        else res.destroy();
      });
  });
  // Beyond this node:net closes new connections on arrival; those open keep being served.
  server.maxConnections = limits.maxConnections;
  server.on('drop', () => options.onDrop?.());
  server.on('listening', () => {
    const address = server.address() as AddressInfo | null;
    if (address && typeof address === 'object') base = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    const reqId = requestId(undefined);
    const status = answerClientError(err, socket, reqId, (code, description) => toError(new OAuthError('invalid_request', description, { status: code })));
    if (status !== undefined) onResponse?.({ reqId, status, error: 'invalid_request', code: err.code });
  });
  return server;
}

/** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes idle sockets. */
export function drain(server: Server, graceMs = 10_000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    // Streams never finish on their own: end them, so their connections can close.
    for (const controller of openStreams.get(server) ?? []) controller.abort();
    server.closeIdleConnections();
  });
}
