/**
 * Token requests for each grant: authorization code (RFC 6749 §4.1.3), refresh (§6), client
 * credentials (§4.4.2) and the legacy password grant (§4.3.2). Each returns the raw Response;
 * processTokenResponse validates it.
 */
import type { HttpOptions } from '../http.js';
import type { AuthorizationServer } from '../rfc8414/metadata.js';
import type { AuthorizationResponse } from './authorization.js';
import type { Client, ClientAuth } from './client-auth.js';
import { tokenRequest } from './token.js';

/**
 * RFC 6749 §4.1.3: exchanges the code from a validated authorization response. redirect_uri
 * MUST be the one sent in the authorization request; code_verifier is RFC 7636 §4.5.
 */
export function authorizationCodeGrantRequest(
  as: AuthorizationServer,
  client: Client,
  auth: ClientAuth,
  callback: AuthorizationResponse,
  redirectUri: string,
  codeVerifier: string,
  options?: HttpOptions,
): Promise<Response> {
  return tokenRequest(as, client, auth, { grant_type: 'authorization_code', code: callback.code, redirect_uri: redirectUri, code_verifier: codeVerifier }, options);
}

/**
 * What a token request may narrow: its scope, and (RFC 8707 §2.2) the resource the access token
 * is for, its audience.
 */
export interface TokenRequestParameters {
  scope?: string | undefined;
  resource?: string | undefined;
}

/** RFC 6749 §6: a new access token (and, with rotation, a new refresh token); `resource`: RFC 8707 §2.2. */
export function refreshTokenGrantRequest(
  as: AuthorizationServer,
  client: Client,
  auth: ClientAuth,
  refreshToken: string,
  parameters: TokenRequestParameters = {},
  options?: HttpOptions,
): Promise<Response> {
  return tokenRequest(as, client, auth, { grant_type: 'refresh_token', refresh_token: refreshToken, scope: parameters.scope, resource: parameters.resource }, options);
}

/** RFC 6749 §4.4.2: a token for the client itself (confidential clients only, §4.4); `resource`: RFC 8707 §2.2. */
export function clientCredentialsGrantRequest(
  as: AuthorizationServer,
  client: Client,
  auth: ClientAuth,
  parameters: TokenRequestParameters = {},
  options?: HttpOptions,
): Promise<Response> {
  return tokenRequest(as, client, auth, { grant_type: 'client_credentials', scope: parameters.scope, resource: parameters.resource }, options);
}

/**
 * RFC 6749 §4.3.2, the resource owner password credentials grant. Legacy: RFC 9700 §2.4 says it
 * MUST NOT be used (the client sees the user's password). Only for migrating old systems.
 */
export function passwordGrantRequest(
  as: AuthorizationServer,
  client: Client,
  auth: ClientAuth,
  username: string,
  password: string,
  parameters: { scope?: string | undefined } = {},
  options?: HttpOptions,
): Promise<Response> {
  return tokenRequest(as, client, auth, { grant_type: 'password', username, password, scope: parameters.scope }, options);
}
