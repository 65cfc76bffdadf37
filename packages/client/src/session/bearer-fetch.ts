/** RFC 6750: presenting the access token to a resource server, and reading its answer. */
import { isInvalidToken } from '../rfc6750/challenge.js';

/** RFC 6750 §2.1: the token in the Authorization header (never in the URL, §2.3, RFC 9700 §4.3.2). */
export function withBearer(request: Request, accessToken: string): Request {
  const headers = new Headers(request.headers);
  headers.set('authorization', `Bearer ${accessToken}`);
  return new Request(request, { headers });
}

export interface BearerFetchSteps<T extends { access_token: string }> {
  fetch: typeof fetch;
  /** The token to present first (refreshed ahead of expiry). */
  token: () => Promise<T>;
  /** A new token replacing `stale`, or undefined when none can be had (no refresh token). */
  renew: (stale: T) => Promise<T> | undefined;
}

/**
 * Sends the request with the token; on a 401 whose challenge says invalid_token (RFC 6750 §3.1:
 * expired, revoked), gets a new token and retries, once. Any other answer is returned as is.
 */
export async function bearerFetch<T extends { access_token: string }>(steps: BearerFetchSteps<T>, request: Request): Promise<Response> {
  const token = await steps.token();
  const first = await steps.fetch(withBearer(request.clone(), token.access_token));
  if (!isInvalidToken(first)) return first;
  const renewed = steps.renew(token);
  if (renewed === undefined) return first;
  const next = await renewed;
  await first.body?.cancel();
  return steps.fetch(withBearer(request, next.access_token));
}
