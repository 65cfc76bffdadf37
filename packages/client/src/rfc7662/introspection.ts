/** Token introspection (RFC 7662) as a request/process pair. */
import { InvalidResponseError } from '../errors.js';
import { checkResponse, type HttpOptions, readJson } from '../http.js';
import type { Client, ClientAuth } from '../rfc6749/client-auth.js';
import { postToken, type TokenTypeHint } from '../rfc7009/revocation.js';
import type { AuthorizationServer } from '../rfc8414/metadata.js';

/** RFC 7662 §2.2: `active` is REQUIRED; every other member is OPTIONAL. */
export interface IntrospectionResponse {
  active: boolean;
  scope?: string;
  client_id?: string;
  username?: string;
  token_type?: string;
  exp?: number;
  iat?: number;
  nbf?: number;
  sub?: string;
  aud?: string | string[];
  iss?: string;
  jti?: string;
  [extension: string]: unknown;
}

/** RFC 7662 §2.1: POST the token, authenticated (the endpoint MUST require authorization). */
export function introspectionRequest(
  as: AuthorizationServer,
  client: Client,
  auth: ClientAuth,
  token: string,
  tokenTypeHint?: TokenTypeHint,
  options?: HttpOptions,
): Promise<Response> {
  return postToken('introspection_endpoint', as, client, auth, token, tokenTypeHint, options);
}

/** Validates an introspection response (RFC 7662 §2.2, §2.3). */
export async function processIntrospectionResponse(response: Response): Promise<IntrospectionResponse> {
  await checkResponse(response, 200);
  const body = await readJson(response);
  if (typeof body.active !== 'boolean') throw new InvalidResponseError("introspection response has no boolean 'active'", response.status);
  return body as IntrospectionResponse;
}
