/** The token endpoint (RFC 6749 §3.2): one request builder for every grant, one response check. */
import { epochSeconds } from '../encoding.js';
import { InvalidResponseError } from '../errors.js';
import { checkResponse, type HttpOptions, optionalString, postForm, readJson, requireString, sentWithDPoP } from '../http.js';
import { endpoint } from '../rfc8414/discovery.js';
import type { ServerClock } from '../session/server-clock.js';
import type { AuthorizationServer } from '../rfc8414/metadata.js';
import type { Client, ClientAuth } from './client-auth.js';

/** An access token as a session presents it: the session's main one, or one for a resource. */
export interface AccessToken {
  access_token: string;
  /** "Bearer" (RFC 6750) or "DPoP" (RFC 9449, bound to the session's DPoP key). */
  token_type: string;
  expires_in?: number;
  /** Epoch seconds at which it expires (see TokenSet.expires_at). */
  expires_at?: number;
  scope?: string;
}

/** A token response (RFC 6749 §5.1), plus `expires_at` computed on receipt. JSON-serialisable. */
export interface TokenSet {
  access_token: string;
  /** "Bearer" (RFC 6750) or "DPoP" (RFC 9449, bound to the session's DPoP key); other types are refused. */
  token_type: string;
  expires_in?: number;
  /**
   * Epoch seconds at which the access token expires: the receipt time plus expires_in, on the
   * local clock, or on the server's (its Date header) when a ServerClock was given and the two
   * differ by 2 s or more.
   */
  expires_at?: number;
  refresh_token?: string;
  scope?: string;
  id_token?: string;
  /**
   * Access tokens for resources (RFC 8707) other than the one the grant's own token is for, by
   * resource URI: obtained by the session with its refresh token (§2.2) or client credentials,
   * and kept with the set (never sent by a server: a token response's field of this name is dropped).
   */
  resource_tokens?: Record<string, AccessToken>;
  [extension: string]: unknown;
}

/** POSTs a grant to the token endpoint with client authentication (RFC 6749 §3.2, §2.3). */
export async function tokenRequest(
  as: AuthorizationServer,
  client: Client,
  auth: ClientAuth,
  parameters: Record<string, string | undefined>,
  options: HttpOptions = {},
): Promise<Response> {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) if (value !== undefined) body.set(name, value);
  const headers = new Headers();
  await auth(as, client, body, headers);
  // RFC 6749 §3.2: the client MUST use POST.
  return postForm(endpoint(as, 'token_endpoint'), body, headers, options);
}

/**
 * Validates a token response (RFC 6749 §5.1); errors (§5.2) become OAuthResponseError. With a
 * `clock`, the response's Date header updates it and `expires_at` is on the server's clock.
 */
export async function processTokenResponse(response: Response, clock?: ServerClock): Promise<TokenSet> {
  clock?.observe(response);
  await checkResponse(response, 200);
  const body = await readJson(response);
  const status = response.status;
  const access_token = requireString(body, 'access_token', status);
  const token_type = requireString(body, 'token_type', status);
  // RFC 6749 §7.1: the client MUST NOT use a token whose type it does not understand: Bearer
  // (RFC 6750) or DPoP (RFC 9449 §5), only for a request that sent a proof (a client without a
  // key would present it as a Bearer token).
  const type = token_type.toLowerCase();
  if ((type !== 'bearer' && type !== 'dpop') || (type === 'dpop' && sentWithDPoP(response) === false)) {
    throw new InvalidResponseError(`unsupported token_type '${token_type}'`, status);
  }
  // expires_at is the client's own (computed below), not an RFC 6749 member: a server's is dropped.
  const { resource_tokens: _notTheServers, expires_at: _notAMember, ...fields } = body;
  const token: TokenSet = { ...fields, access_token, token_type };
  if (body.expires_in !== undefined) {
    // §5.1: a number of seconds. A string of digits (some servers send one) is read as that number;
    // anything else (null, "", true, "0x10", a negative) would be coerced to a wrong lifetime.
    const raw = body.expires_in;
    const expiresIn = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isFinite(expiresIn) || expiresIn < 0) throw new InvalidResponseError('expires_in is not a number of seconds', status);
    token.expires_in = expiresIn;
    token.expires_at = clock === undefined ? epochSeconds() + expiresIn : Math.floor(clock.now() + expiresIn);
  }
  for (const name of ['refresh_token', 'scope', 'id_token'] as const) {
    if (body[name] !== undefined && optionalString(body[name]) === undefined) throw new InvalidResponseError(`${name} is not a string`, status);
  }
  // An empty refresh token is none, and must not replace the one the session holds.
  if (body.refresh_token === '') throw new InvalidResponseError('refresh_token is empty', status);
  return token;
}
