/** RFC 6750 and RFC 9449 §7: presenting the access token to a resource server, and reading its answer. */
import { isInvalidToken } from '../rfc6750/challenge.js';
import type { DPoPKey } from '../rfc9449/dpop.js';
import { untilAborted } from './refresh-retry.js';

type Token = { access_token: string; token_type: string };

/**
 * RFC 6750 §2.1: the token in the Authorization header (never in the URL, §2.3, RFC 9700
 * §4.3.2); a DPoP-bound token under the DPoP scheme with a proof naming it (RFC 9449 §7.1).
 * Sends a copy of `request`, which stays unread for a retry.
 */
function present(steps: { fetch: typeof fetch; dpop?: DPoPKey | undefined }, request: Request, token: Token): Promise<Response> {
  const dpop = token.token_type.toLowerCase() === 'dpop' ? steps.dpop : undefined;
  const headers = new Headers(request.headers);
  headers.set('authorization', `${dpop ? 'DPoP' : 'Bearer'} ${token.access_token}`);
  const go = (h: Headers) => steps.fetch(new Request(request.clone(), { headers: h }));
  return dpop ? dpop.send(request.method, new URL(request.url), headers, token.access_token, go) : go(headers);
}

export interface BearerFetchSteps<T extends Token> {
  fetch: typeof fetch;
  /** The session's DPoP key, for tokens bound to it. */
  dpop?: DPoPKey | undefined;
  /** The token to present first (refreshed ahead of expiry). */
  token: () => Promise<T>;
  /** A new token replacing `stale`, or undefined when none can be had (no refresh token). */
  renew: (stale: T) => Promise<T | undefined>;
}

/**
 * Sends the request with the token; on a 401 whose challenge says invalid_token (RFC 6750 §3.1:
 * expired, revoked), gets a new token and retries, once. Any other answer is returned as is.
 */
export async function bearerFetch<T extends Token>(steps: BearerFetchSteps<T>, request: Request): Promise<Response> {
  const token = await untilAborted(() => steps.token(), request.signal);
  const first = await present(steps, request, token);
  if (!isInvalidToken(first, token.token_type.toLowerCase() === 'dpop' && steps.dpop ? 'dpop' : 'bearer')) return first;
  const next = await untilAborted(() => steps.renew(token), request.signal);
  if (next === undefined) return first;
  await first.body?.cancel();
  return present(steps, request, next);
}
