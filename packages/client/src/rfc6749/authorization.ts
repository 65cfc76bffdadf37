/**
 * The authorization request (RFC 6749 §4.1.1, with RFC 7636 PKCE) and the validation of the
 * authorization response that comes back to the redirect URI (§4.1.2, RFC 9207).
 */
import { AuthorizationResponseError, InvalidResponseError, StateMismatchError } from '../errors.js';
import { endpoint } from '../rfc8414/discovery.js';
import type { AuthorizationServer } from '../rfc8414/metadata.js';
import { checkIssuer } from '../rfc9207/iss.js';
import type { Client } from './client-auth.js';

export interface AuthorizationParameters {
  redirect_uri: string;
  scope?: string | undefined;
  state?: string | undefined;
  code_challenge?: string | undefined;
  code_challenge_method?: 'S256' | undefined;
  /** RFC 8707 §2.1: the resource(s) the tokens are for; several are sent as repeated parameters. */
  resource?: string | readonly string[] | undefined;
  /** Any other parameter (prompt, login_hint, …). */
  [extra: string]: string | readonly string[] | undefined;
}

/** The URL to send the user agent to (RFC 6749 §4.1.1). */
export function buildAuthorizationUrl(as: AuthorizationServer, client: Client, parameters: AuthorizationParameters): URL {
  const url = new URL(endpoint(as, 'authorization_endpoint'));
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', client.client_id);
  for (const [name, value] of Object.entries(parameters)) {
    if (typeof value === 'string') url.searchParams.set(name, value);
    else if (value !== undefined) for (const v of value) url.searchParams.append(name, v);
  }
  return url;
}

/** What a successful authorization response carries. */
export interface AuthorizationResponse {
  code: string;
  state: string | undefined;
  iss: string | undefined;
}

/**
 * Validates the redirect URI the user agent came back to, in the order that keeps an attacker's
 * response from being processed: issuer (RFC 9207 §2.4), then state (RFC 6749 §10.12), then
 * error (§4.1.2.1), then code (§4.1.2).
 */
export function validateAuthorizationResponse(as: AuthorizationServer, callback: string | URL, expectedState: string | undefined): AuthorizationResponse {
  let params: URLSearchParams;
  try {
    params = new URL(callback).searchParams;
  } catch {
    throw new InvalidResponseError('the callback is not an absolute URL');
  }
  const single = (name: string): string | undefined => {
    const all = params.getAll(name);
    // RFC 6749 §3.1: response parameters MUST NOT be included more than once.
    if (all.length > 1) throw new InvalidResponseError(`authorization response repeats '${name}'`);
    return all[0] === '' ? undefined : all[0];
  };
  const iss = single('iss');
  checkIssuer(as, iss);
  const state = single('state');
  // RFC 6749 §10.12: the state MUST match, for errors as for codes (an injected error is an attack too).
  if (state !== expectedState) throw new StateMismatchError(expectedState === undefined ? 'unexpected state in the authorization response' : 'state does not match the authorization request');
  const error = single('error');
  if (error !== undefined) {
    throw new AuthorizationResponseError({ error, error_description: single('error_description'), error_uri: single('error_uri') }, state);
  }
  const code = single('code');
  if (code === undefined) throw new InvalidResponseError('authorization response has neither code nor error');
  return { code, state, iss };
}
