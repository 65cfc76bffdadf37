/** The plain Web adapter: a fetch-API Request in, a GuardResult out; a refusal as a Response. */
import type { Guard, GuardRequest } from '../guard.js';
import type { GuardFailure, GuardResult } from '../result.js';

/**
 * Verifies the request: its Authorization header with the Bearer scheme (RFC 6750 §2.1), or with
 * the DPoP scheme and its DPoP proof, checked against the request's method and URL (RFC 9449 §7).
 * `request` is a fetch-API Request, or anything with its `method`, `url` and `headers.get` (the
 * framework adapters pass such a view of their own requests). The URL must be the one the client
 * sent the request to: behind a proxy that rewrites it, give the guard `expectedOrigin` (then only
 * the URL's path is used), or pass a request whose `url` is the public one.
 */
export function verifyRequest(guard: Guard, request: GuardRequest, requiredScopes: readonly string[] = []): Promise<GuardResult> {
  return guard.verifyHttp(request, requiredScopes);
}

/** RFC 3986 §3.2.2-3.2.3: a host (IP literal or registered name) and an optional port, nothing else. */
const HOST_PORT = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]+)(?::[0-9]*)?$/;

/**
 * The headers of a node:http request as the guard reads them: every field, repeats joined with
 * commas (RFC 9110 §5.3). `headers` keeps only the first of a repeated field node:http does not
 * join, Authorization among them, so two Authorization headers would pass as one; joined, they
 * are refused as RFC 6750 §3.1 asks, as the Web adapter refuses them. (A request object without
 * headersDistinct, such as an injected test request's, is read from `headers`.)
 */
export function nodeHeaders(message: {
  headers: Record<string, string | string[] | undefined>;
  headersDistinct?: Record<string, string[] | undefined>;
}): GuardRequest['headers'] {
  return {
    get(name) {
      const value = message.headersDistinct?.[name] ?? message.headers[name];
      return Array.isArray(value) ? value.join(', ') : value;
    },
  };
}

/**
 * The URL of a request a framework describes by scheme, host and request target, for a DPoP
 * proof's htu (RFC 9449 §4.3 item 9); '' (which matches no htu) unless the host is a host[:port]:
 * a Host header carrying a path ("api.example/admin") would move the path the proof is checked
 * against ("http://api.example/admin/notes" for a request to /notes).
 */
export function frameworkUrl(scheme: string, host: string | undefined, target: string): string {
  return host !== undefined && HOST_PORT.test(host) ? `${scheme}://${host}${target}` : '';
}

/** The refusal as a Response: status, WWW-Authenticate (RFC 6750 §3, RFC 9449 §7.1), DPoP-Nonce when one is due, and a JSON body. */
export function failureResponse(failure: GuardFailure): Response {
  return new Response(JSON.stringify(failure.body), { status: failure.status, headers: { ...failure.headers, 'content-type': 'application/json' } });
}
