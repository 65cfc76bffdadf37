/**
 * The plain request and response every endpoint speaks, so the same protocol code mounts on
 * node:http, Express, Fastify or Hono. Adapters fill these in; nothing below them sees a framework.
 */
export interface PlainRequest {
  method: string;
  /** The request target's path, as `url.pathname` has it: what routes are found by, without building `url`. */
  path: string;
  /** The whole request target (query included) as a URL; an adapter may build it only when it is read. */
  readonly url: URL;
  /** Header names in lower case; repeated headers joined with ', ' (set-cookie is never read). */
  headers: Readonly<Record<string, string | undefined>>;
  /** The parsed application/x-www-form-urlencoded body, or undefined when there was none. */
  body: URLSearchParams | undefined;
  /**
   * The parsed application/json body, on the routes that take one (JSON_ROUTES: RFC 7591 client
   * registration); undefined elsewhere, and when there was none.
   */
  json?: unknown;
  /** The peer's IP address (the socket's), when the adapter knows it. */
  remoteAddress?: string | undefined;
}

export interface PlainResponse {
  status: number;
  headers: Record<string, string | string[]>;
  body: string;
  /** The RFC 6749 §5.2 error code when this is an error answer: the access log records it. */
  error?: string;
  /** Who made the request when an operator's credential authenticated it (the admin API's `admin:NAME`): the access log records it, never the credential. */
  actor?: string;
  /**
   * A long-lived body (Server-Sent Events). When set, the adapter sends the headers, then writes
   * each chunk as it comes, and ends the response when the iterable ends. `signal` aborts when the
   * client goes away or the server drains; the iterable must then finish promptly.
   */
  stream?: (signal: AbortSignal) => AsyncIterable<string>;
}

export type Handler = (req: PlainRequest) => Promise<PlainResponse>;
