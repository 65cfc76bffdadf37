/**
 * The client's only door to the network: every request goes through `send` (injectable fetch,
 * transport checks, NetworkError), every response through `readJson` / `checkResponse`.
 */
import { ConfigurationError, InvalidResponseError, NetworkError, OAuthResponseError, redactSecrets, safeUrl } from './errors.js';
import type { DPoPKey } from './rfc9449/dpop.js';

export interface HttpOptions {
  /** A fetch implementation (defaults to the global fetch): for proxies, tracing, tests. */
  fetch?: typeof fetch;
  /** Aborts the request. */
  signal?: AbortSignal;
  /** Extra headers on every request (User-Agent, tracing). */
  headers?: Record<string, string>;
  /**
   * Allows plain-http URLs for hosts other than loopback. Insecure: OAuth credentials and tokens
   * then cross the network in clear text (RFC 6749 §10.9, RFC 6750 §5.3). Off by default.
   */
  allowInsecureRequests?: boolean;
  /** DPoP (RFC 9449): every request carries a proof made with this key, and a nonce retry is handled. */
  dpop?: DPoPKey;
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/**
 * RFC 6749 §3.1, §3.2, RFC 6750 §5.3: endpoints and resources MUST be reached over TLS. Loopback
 * hosts are exempt (nothing leaves the machine); anything else needs allowInsecureRequests.
 */
export function checkUrl(url: string | URL, options: HttpOptions = {}): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigurationError(`not an absolute URL: ${String(url).split(/[?#]/)[0]}`);
  }
  if (parsed.protocol === 'https:') return parsed;
  if (parsed.protocol === 'http:' && (LOOPBACK.test(parsed.hostname) || options.allowInsecureRequests === true)) return parsed;
  throw new ConfigurationError(`refusing ${parsed.protocol} URL ${safeUrl(parsed)}: use https (or set allowInsecureRequests)`);
}

/** Form parameters whose values are credentials (RFC 6749, 7009, 7523, 7662, 8628, 8693). */
const CREDENTIAL_PARAMS = ['client_secret', 'client_assertion', 'refresh_token', 'code', 'code_verifier', 'password', 'token', 'device_code', 'subject_token', 'actor_token'];

/**
 * What each response's request carried: its credentials (read only when an error answer is to be
 * blanked by value, checkResponse), and whether it had a DPoP proof.
 */
const sent = new WeakMap<Response, { credentials: () => string[]; dpop: boolean }>();

/** Whether the request `response` answers carried a DPoP proof (undefined: not sent by this module). */
export const sentWithDPoP = (response: Response): boolean | undefined => sent.get(response)?.dpop;

/** The credential values in a request: its form's, and its Authorization header's (a Basic secret, as sent and decoded; a token). */
function credentialsOf(body: unknown, headers: Headers): string[] {
  const values = body instanceof URLSearchParams ? CREDENTIAL_PARAMS.flatMap((name) => body.getAll(name)) : [];
  const [scheme = '', value = ''] = (headers.get('authorization') ?? '').split(/\s+/, 2);
  if (scheme.toLowerCase() !== 'basic') values.push(value);
  else {
    try {
      // RFC 6749 §2.3.1: form-urlencoded id and secret, joined by ':', in Base64.
      const secret = atob(value).split(':').slice(1).join(':');
      values.push(secret, new URLSearchParams(`s=${secret}`).get('s') ?? '');
    } catch {
      // Not Base64: not a secret this client sent.
    }
  }
  return values.filter((v) => v !== '');
}

/**
 * new Request(input, init), for session.fetch; a URL or init it refuses (a URL with user:password@,
 * say) is a ConfigurationError naming the URL without its userinfo or query: Request's own error
 * repeats the URL, credentials included.
 */
export function makeRequest(input: RequestInfo | URL, init?: RequestInit): Request {
  try {
    return new Request(input, init);
  } catch {
    throw new ConfigurationError(`cannot make a request to ${safeUrl(input instanceof Request ? input.url : String(input))}: the URL or init is not valid`);
  }
}

/**
 * Sends a request, turning a failure to get any response into a NetworkError (aborts pass
 * through). `accessToken`: the DPoP-bound token the request presents, for its proof's `ath`.
 */
export async function send(url: string | URL, init: RequestInit, options: HttpOptions = {}, accessToken?: string): Promise<Response> {
  const target = checkUrl(url, options);
  const headers = new Headers(options.headers);
  new Headers(init.headers).forEach((v, k) => {
    headers.set(k, v);
  });
  const signal = options.signal ?? init.signal ?? null;
  const go = (h: Headers) => (options.fetch ?? fetch)(target.href, { ...init, headers: h, signal });
  try {
    const response = await (options.dpop ? options.dpop.send(init.method ?? 'GET', target, headers, accessToken, go) : go(headers));
    sent.set(response, { credentials: () => credentialsOf(init.body, headers), dpop: options.dpop !== undefined });
    return response;
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw new NetworkError(target.href, err);
  }
}

/** POSTs an application/x-www-form-urlencoded body (RFC 6749 Appendix B), asking for JSON. */
export function postForm(url: string, body: URLSearchParams, headers: Headers, options: HttpOptions = {}): Promise<Response> {
  headers.set('content-type', 'application/x-www-form-urlencoded;charset=UTF-8');
  headers.set('accept', 'application/json');
  // Endpoints answer directly; a redirect is not followed (credentials would go along).
  return send(url, { method: 'POST', headers, body, redirect: 'manual' }, options);
}

/** The response's JSON object body, or InvalidResponseError. */
export async function readJson(response: Response): Promise<Record<string, unknown>> {
  let value: unknown;
  try {
    value = await response.json();
  } catch {
    throw new InvalidResponseError(`expected a JSON body (HTTP ${response.status})`, response.status);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidResponseError(`expected a JSON object (HTTP ${response.status})`, response.status);
  }
  return value as Record<string, unknown>;
}

/**
 * Throws unless the response has the expected status: an RFC 6749 §5.2 error body becomes an
 * OAuthResponseError carrying the status; anything else an InvalidResponseError.
 */
export async function checkResponse(response: Response, expected = 200): Promise<void> {
  if (response.status === expected) return;
  const body = await readJson(response).catch(() => undefined);
  const retryAfter = retryAfterSeconds(response.headers.get('retry-after'));
  if (body && typeof body.error === 'string') {
    const err = new OAuthResponseError(
      { error: body.error, error_description: optionalString(body.error_description), error_uri: optionalString(body.error_uri) },
      response.status,
      response.headers.get('www-authenticate') ?? undefined,
      retryAfter,
    );
    // What the request carried (a secret, a token) is blanked by value, however short.
    throw redactSecrets(err, sent.get(response)?.credentials() ?? []);
  }
  throw new InvalidResponseError(`unexpected HTTP ${response.status}`, response.status, retryAfter);
}

/** RFC 9110 §10.2.3 Retry-After: delay-seconds or an HTTP-date, as seconds from now (undefined if absent or unreadable). */
export function retryAfterSeconds(value: string | null): number | undefined {
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - Date.now()) / 1000);
}

export const optionalString = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** A required string member of a JSON response, or InvalidResponseError. */
export function requireString(body: Record<string, unknown>, name: string, status?: number): string {
  const value = body[name];
  if (typeof value !== 'string' || value === '') throw new InvalidResponseError(`response has no '${name}' string`, status);
  return value;
}
