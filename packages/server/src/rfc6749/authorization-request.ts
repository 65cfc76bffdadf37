/**
 * The authorization request (RFC 6749 §4.1.1, §4.2.1), checked: the client and its redirect URI,
 * the response type, scope, PKCE (RFC 7636) and the OpenID Connect authentication parameters,
 * whether it came to the authorization endpoint directly or by a pushed request_uri (RFC 9126).
 */
import { OAuthError, readParams } from '@tessera/core';
import type { ServerConfig } from '../config.js';
import type { LifecycleEngine } from '../lifecycle/engine.js';
import type { KeyRing } from '../lifecycle/keys.js';
import { type AuthenticationParams, authenticationParams } from '../oidc/prompt.js';
import { checkChallenge } from '../rfc7636/pkce.js';
import { pushedRequest } from '../rfc9126/request-uri.js';
import { JKT } from '../rfc9449/dpop.js';
import type { ClientRecord } from '../store/types.js';
import { RedirectError, type Reply } from './authorization-response.js';
import { oneResource, requestedResources } from '../rfc8707/resource.js';
import { allowedScope } from './scope.js';

/** The longest state or nonce taken (characters): each is sent back to the client as it came. */
const MAX_ECHOED = 4096;

export interface AuthorizationRequest {
  client: ClientRecord;
  reply: Reply;
  responseType: 'code' | 'token';
  scope: string;
  /** RFC 8707 §2.1: the resources the request names (none: empty), each allowed for the client. */
  resources: string[];
  pkce: ReturnType<typeof checkChallenge>;
  /** OpenID Connect Core §3.1.2.1 nonce, carried by the code into the id_token. */
  nonce: string | null;
  /** RFC 9449 §10: the DPoP key the code is bound to (dpop_jkt, or the proof's key at PAR), or null. */
  dpopJkt: string | null;
  /** OpenID Connect Core §3.1.2.1 prompt, max_age, id_token_hint, login_hint (oidc/prompt.ts). */
  authentication: AuthenticationParams;
  /** The request's parameters as the browser sent them, to carry through the login and consent forms. */
  params: URLSearchParams;
  /**
   * The request_uri the request came by (RFC 9126 §4): its reference value, used up when the
   * request completes, and when it was pushed.
   */
  pushed: { value: string; at: number } | undefined;
}

/**
 * Validates an authorization request. A request_uri stands for the parameters its client pushed
 * (RFC 9126 §4): only those are used. Problems with client_id or redirect_uri (or the
 * request_uri) throw an OAuthError (shown on the error page); later ones a RedirectError (sent to
 * the client).
 */
export async function parseRequest(engine: LifecycleEngine, config: ServerConfig, keys: KeyRing, params: URLSearchParams): Promise<AuthorizationRequest> {
  const pushed = await pushedRequest(engine, params);
  const request = await checkRequest(engine, config, keys, pushed?.params ?? params, pushed === undefined ? 'direct' : 'pushed');
  return { ...request, params, pushed: pushed && { value: pushed.value, at: pushed.at } };
}

/**
 * Validates what an authorization request asks, whether it came to the authorization endpoint
 * (`direct`, or `pushed` earlier) or is being pushed to /par now (`push`, rfc9126/par.ts).
 */
export async function checkRequest(
  engine: LifecycleEngine, config: ServerConfig, keys: KeyRing, params: URLSearchParams, via: 'direct' | 'pushed' | 'push',
): Promise<Omit<AuthorizationRequest, 'params' | 'pushed'>> {
  const { client_id, redirect_uri } = readParams(params, ['client_id', 'redirect_uri'] as const);
  if (client_id === undefined) throw new OAuthError('invalid_request', 'The request names no client (client_id is missing).');
  const client = await engine.getClient(client_id);
  if (!client) throw new OAuthError('invalid_client', 'The application that sent you here is not registered.');
  // RFC 9700 §2.1: redirect URIs are compared by exact string match. We require the parameter
  // (RFC 6749 §3.1.2.3 lets a single registered URI stand in; being explicit is safer).
  if (redirect_uri === undefined) throw new OAuthError('invalid_request', 'The request names no redirect_uri.');
  if (!client.redirectUris.includes(redirect_uri)) throw new OAuthError('invalid_request', 'The redirect_uri is not registered for this application.');

  const responseTypeRaw = params.getAll('response_type');
  const modeRaw = params.getAll('response_mode');
  const mode = modeRaw.length === 1 ? modeRaw[0] : undefined;
  // OAuth 2.0 Multiple Response Type Encoding Practices §2.1 and Form Post Response Mode §2:
  // response_mode picks how a code comes back; a token comes in the fragment unless posted
  // (response_mode=query is refused below). An unknown mode's error comes back the default way.
  const token = responseTypeRaw.length === 1 && responseTypeRaw[0] === 'token';
  const asked = mode === 'fragment' || mode === 'form_post' ? mode : undefined;
  const stateRaw = params.getAll('state');
  // A state too long to echo is not echoed: the error below goes back without it.
  const state = stateRaw.length === 1 && stateRaw[0]!.length <= MAX_ECHOED ? stateRaw[0] : undefined;
  const reply: Reply = { redirectUri: redirect_uri, mode: asked ?? (token ? 'fragment' : 'query'), state };
  try {
    // RFC 9126 §5: a server that requires pushed requests refuses any other.
    if (via === 'direct' && config.requirePar) throw new OAuthError('invalid_request', 'this server takes authorization requests pushed to its PAR endpoint only (RFC 9126)');
    // OpenID Connect Core §6, §3.1.2.6: request objects are not supported, and saying so beats ignoring one.
    if (params.has('request')) throw new OAuthError('request_not_supported', 'request objects (the request parameter, RFC 9101) are not supported');
    const p = readParams(params, [
      'response_type', 'response_mode', 'scope', 'state', 'code_challenge', 'code_challenge_method', 'nonce', 'prompt', 'max_age', 'id_token_hint',
      'login_hint', 'dpop_jkt',
    ] as const);
    // state (RFC 6749 §4.1.2) and nonce come back in the redirect and the id_token: bounded as a
    // browser's request line bounds a direct request, so a pushed one (RFC 9126, up to the body
    // limit) cannot make a Location header or id_token that proxies and clients refuse.
    for (const name of ['state', 'nonce'] as const) {
      if ((p[name]?.length ?? 0) > MAX_ECHOED) throw new OAuthError('invalid_request', `${name} must be at most ${MAX_ECHOED} characters`);
    }
    // OpenID Connect Core §3.1.2.1: a string the id_token echoes; stored with the code, so text
    // (no control character, NUL included, nor a lone surrogate), as every client sends.
    if (p.nonce !== undefined && /[\p{Cc}\p{Cs}]/u.test(p.nonce)) throw new OAuthError('invalid_request', 'nonce must be text without control characters');
    // RFC 9449 §10: dpop_jkt is a JWK SHA-256 thumbprint (RFC 7638), base64url.
    if (p.dpop_jkt !== undefined && !JKT.test(p.dpop_jkt)) throw new OAuthError('invalid_request', 'dpop_jkt must be a JWK SHA-256 thumbprint (RFC 7638), base64url');
    if (p.response_type === undefined) throw new OAuthError('invalid_request', 'response_type is required');
    if (mode !== undefined && mode !== 'query' && asked === undefined) throw new OAuthError('invalid_request', 'response_mode must be query, fragment or form_post');
    let responseType: 'code' | 'token';
    if (p.response_type === 'code') {
      if (!client.grantTypes.includes('authorization_code')) throw new OAuthError('unauthorized_client', 'this client may not use the authorization code grant');
      responseType = 'code';
    } else if (p.response_type === 'token' && config.legacyGrants.includes('implicit')) {
      // RFC 9700 §2.1.2: the implicit grant SHOULD NOT be used; it is off unless the server
      // enables it and the client is registered for it.
      if (!client.grantTypes.includes('implicit')) throw new OAuthError('unauthorized_client', 'this client may not use the implicit grant');
      // RFC 9449 §5.2: its tokens must be DPoP-bound, and no proof comes to the authorization endpoint.
      if (client.dpopBoundAccessTokens) throw new OAuthError('unauthorized_client', 'this client requires DPoP-bound tokens, which the implicit grant cannot issue');
      // Multiple Response Type Encoding Practices §2.1: an access token never goes in the query, where logs and Referer keep it.
      if (mode === 'query') throw new OAuthError('invalid_request', 'response_mode=query cannot carry an access token');
      responseType = 'token';
    } else {
      throw new OAuthError('unsupported_response_type', 'the response_type is not supported');
    }
    const scope = allowedScope(client, p.scope);
    const resources = requestedResources(params, client, config);
    // A token straight from here (legacy implicit) has one audience, as at the token endpoint.
    if (responseType === 'token') oneResource(resources);
    let pkce: AuthorizationRequest['pkce'];
    if (responseType === 'code') {
      pkce = checkChallenge(p.code_challenge, p.code_challenge_method, config.allowPlainPkce);
      // RFC 7636 §4.4.1, RFC 9700 §2.1.1: public clients MUST use PKCE.
      if (!pkce && client.authMethod === 'none') throw new OAuthError('invalid_request', 'code_challenge is required for public clients');
    }
    const authentication = await authenticationParams(p, client.id, config.issuer, keys);
    return { client, reply, responseType, scope, resources, pkce, nonce: p.nonce ?? null, dpopJkt: p.dpop_jkt ?? null, authentication };
  } catch (err) {
    // A push hears of every error itself (RFC 9126 §2.3); a browser is sent back to the client.
    if (err instanceof OAuthError && via !== 'push') throw new RedirectError(reply, err);
    throw err;
  }
}
