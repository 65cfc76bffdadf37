/** Token revocation (RFC 7009) as a request/process pair. */
import { checkResponse, type HttpOptions, postForm } from '../http.js';
import type { Client, ClientAuth } from '../rfc6749/client-auth.js';
import { endpoint } from '../rfc8414/discovery.js';
import type { AuthorizationServer } from '../rfc8414/metadata.js';

/** RFC 7009 §2.1: `token_type_hint` values the RFC defines; servers may define more. */
export type TokenTypeHint = 'access_token' | 'refresh_token' | (string & {});

/** RFC 7009 §2.1: POST the token, with client authentication and an optional hint. */
export function revocationRequest(
  as: AuthorizationServer,
  client: Client,
  auth: ClientAuth,
  token: string,
  tokenTypeHint?: TokenTypeHint,
  options?: HttpOptions,
): Promise<Response> {
  return postToken('revocation_endpoint', as, client, auth, token, tokenTypeHint, options);
}

/**
 * The request RFC 7009 §2.1 and RFC 7662 §2.1 share: `token` and an optional `token_type_hint`,
 * form-encoded, with client authentication, to the named endpoint.
 */
export async function postToken(
  name: 'revocation_endpoint' | 'introspection_endpoint',
  as: AuthorizationServer,
  client: Client,
  auth: ClientAuth,
  token: string,
  tokenTypeHint?: TokenTypeHint,
  options?: HttpOptions,
): Promise<Response> {
  const body = new URLSearchParams({ token });
  if (tokenTypeHint !== undefined) body.set('token_type_hint', tokenTypeHint);
  const headers = new Headers();
  await auth(as, client, body, headers);
  return postForm(endpoint(as, name), body, headers, options);
}

/**
 * RFC 7009 §2.2: 200 means revoked (or already invalid: the server answers the same, and the
 * client ignores the body); §2.2.1 errors become OAuthResponseError.
 */
export async function processRevocationResponse(response: Response): Promise<void> {
  await checkResponse(response, 200);
  await response.body?.cancel();
}
