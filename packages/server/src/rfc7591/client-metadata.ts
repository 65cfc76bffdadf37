/**
 * Client metadata (RFC 7591 §2) as sent to /register and PUT /register/{client_id}: checked
 * strictly, turned into a client registration, and shown back (RFC 7591 §3.2.1, RFC 7592 §3).
 */
import { formatScope, OAuthError, parseScope } from '@tessera/core';
import type { ServerConfig } from '../config.js';
import type { NewClient } from '../lifecycle/principals.js';
import { clientNameProblem } from '../lifecycle/client-rules.js';
import { registeredRedirectUriProblem } from '../rfc6749/redirect-uri.js';
import { SIGNING_ALGS } from '../lifecycle/keys.js';
import { enabledGrants } from '../rfc6749/token-endpoint.js';
import { checkedJwks, registeredJwksUri } from '../rfc7523/client-jwks.js';
import { type ClientAuthMethod, type ClientRecord, type GrantType, type SigningAlg, TOKEN_EXCHANGE_GRANT } from '../store/types.js';

/** What registration sets of a client: everything but the token format and lifetimes (server defaults). */
export type RegisteredMetadata = Omit<NewClient, 'tokenFormat' | 'accessTtl' | 'refreshTtl' | 'registrationTokenHash' | 'idTokenSignedResponseAlg'>
  & Pick<ClientRecord, 'idTokenSignedResponseAlg'>;

const bad = (description: string) => new OAuthError('invalid_client_metadata', description);
const badRedirect = (description: string) => new OAuthError('invalid_redirect_uri', description);

/** RFC 7591 §2.1: each response type and the grant type it goes with. */
const RESPONSE_GRANT: Readonly<Record<string, GrantType>> = { code: 'authorization_code', token: 'implicit' };

/** The authentication methods this server takes at its token endpoint, as metadata.ts lists them. */
export function supportedAuthMethods(config: ServerConfig): ClientAuthMethod[] {
  // client_secret_jwt only with a key to seal its secrets (config.clientSecretKeyFile).
  const jwt: ClientAuthMethod[] = config.clientSecretKeyFile === '' ? ['private_key_jwt'] : ['private_key_jwt', 'client_secret_jwt'];
  return ['client_secret_basic', 'client_secret_post', ...jwt, 'none'];
}

/** The grant types this server offers (metadata.ts lists the same). */
export function supportedGrantTypes(config: ServerConfig): GrantType[] {
  const grants = [...enabledGrants(config).keys()] as GrantType[];
  if (config.legacyGrants.includes('implicit')) grants.push('implicit');
  return grants;
}

function stringList(body: Record<string, unknown>, name: string): string[] | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw bad(`${name} must be an array of strings`);
  return [...new Set(value as string[])];
}

function string(body: Record<string, unknown>, name: string): string | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw bad(`${name} must be a string`);
  return value;
}

/**
 * RFC 7591 §2: checks the metadata and returns the registration it asks for. Unknown fields are
 * ignored (§2); absent ones take §2's defaults (`current` supplies the auth method on PUT, which
 * cannot change it). Throws invalid_redirect_uri or invalid_client_metadata (§3.2.2).
 */
export async function checkedMetadata(json: unknown, config: ServerConfig, current?: ClientRecord): Promise<RegisteredMetadata> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('the request body must be a JSON object');
  const body = json as Record<string, unknown>;

  const authMethod = (string(body, 'token_endpoint_auth_method') ?? current?.authMethod ?? 'client_secret_basic') as ClientAuthMethod;
  if (!supportedAuthMethods(config).includes(authMethod)) throw bad(`token_endpoint_auth_method must be one of ${supportedAuthMethods(config).join(', ')}`);
  if (current !== undefined && authMethod !== current.authMethod) throw bad('token_endpoint_auth_method cannot change: register a new client instead');

  // RFC 7591 §2: grant_types defaults to authorization_code, response_types to code.
  const grantTypes = (stringList(body, 'grant_types') ?? ['authorization_code']) as GrantType[];
  // Never the legacy grants (RFC 9700 §2.4, §2.1.2), even where the operator enabled them for
  // clients they registered: a stranger's client would collect users' passwords or take tokens in
  // the fragment. Nor token exchange (RFC 8693): who may exchange whose tokens is the operator's
  // call (client create --exchange-audience); no registration field sets exchange audiences
  // (an unknown one such as exchange_audiences is ignored, §2).
  const offered: GrantType[] = supportedGrantTypes(config).filter((g) => g !== 'password' && g !== 'implicit' && g !== TOKEN_EXCHANGE_GRANT);
  // Descriptions never repeat what the request sent (they name the field and the allowed values).
  if (grantTypes.some((g) => !offered.includes(g))) throw bad(`grant_types names a grant type this server does not offer; it offers ${offered.join(', ')}`);
  if (grantTypes.length === 0) throw bad('grant_types must name at least one grant type');
  const responseTypes = stringList(body, 'response_types') ?? (grantTypes.includes('authorization_code') ? ['code'] : []);
  // RFC 7591 §2.1: response types and grant types must agree, both ways.
  for (const r of responseTypes) {
    const grant = RESPONSE_GRANT[r];
    if (grant === undefined || !offered.includes(grant)) throw bad('response_types names a response type registered clients cannot have; they may have code');
    if (!grantTypes.includes(grant)) throw bad(`response_types '${r}' needs grant_types ${grant} (RFC 7591 §2.1)`);
  }
  for (const [r, grant] of Object.entries(RESPONSE_GRANT)) {
    if (grantTypes.includes(grant) && !responseTypes.includes(r)) throw bad(`grant_types ${grant} needs response_types '${r}' (RFC 7591 §2.1)`);
  }
  if (authMethod === 'none' && grantTypes.includes('client_credentials')) {
    throw bad('a public client (token_endpoint_auth_method none) cannot use client_credentials: it has no credentials');
  }

  const redirectUris = stringList(body, 'redirect_uris') ?? [];
  for (const uri of redirectUris) {
    const problem = registeredRedirectUriProblem(uri);
    if (problem !== undefined) throw badRedirect(`each of redirect_uris ${problem}`);
  }
  // RFC 7591 §2: redirect-based flows need their redirection endpoints registered.
  const redirecting = grantTypes.filter((g) => g === 'authorization_code' || g === 'implicit');
  if (redirecting.length > 0 && redirectUris.length === 0) throw badRedirect(`${redirecting.join(' and ')} needs at least one redirect_uris entry`);

  // OpenID Connect RP-Initiated Logout 1.0 §3.1: where /end_session may send the browser, under the same rules.
  const postLogoutRedirectUris = stringList(body, 'post_logout_redirect_uris') ?? [];
  for (const uri of postLogoutRedirectUris) {
    const problem = registeredRedirectUriProblem(uri);
    if (problem !== undefined) throw bad(`each of post_logout_redirect_uris ${problem}`);
  }

  // OpenID Connect Dynamic Client Registration 1.0 §2: RS256 when omitted; an algorithm the
  // server does not sign with is an error (§3.3), never a silent substitute. Never none.
  const idTokenAlg = string(body, 'id_token_signed_response_alg') ?? 'RS256';
  if (!(SIGNING_ALGS as readonly string[]).includes(idTokenAlg)) throw bad(`id_token_signed_response_alg must be one of ${SIGNING_ALGS.join(', ')}`);

  // Optional here (RFC 7591 §2); given, the rule every way of registering a client applies.
  const name = string(body, 'client_name') ?? '';
  const nameProblem = name === '' ? undefined : clientNameProblem(name, 'client_name');
  if (nameProblem !== undefined) throw bad(nameProblem);

  const allowed = parseScope(config.registrationScopes);
  const scopeText = string(body, 'scope');
  let scopes: Set<string>;
  try {
    scopes = scopeText === undefined ? allowed : parseScope(scopeText);
  } catch {
    throw bad('scope is malformed (RFC 6749 §3.3)');
  }
  if ([...scopes].some((s) => !allowed.has(s))) throw bad(`scope names a scope not available to registered clients; ask for some of: ${formatScope(allowed)}`);
  if (scopes.size === 0) throw bad('scope must name at least one scope');

  // RFC 9449 §5.2: dpop_bound_access_tokens, a boolean, false when absent.
  const dpop = body.dpop_bound_access_tokens ?? false;
  if (typeof dpop !== 'boolean') throw bad('dpop_bound_access_tokens must be a boolean');

  const keys = await clientKeys(body, authMethod);
  return {
    name, authMethod, grantTypes, redirectUris, postLogoutRedirectUris, scope: formatScope(scopes), idTokenSignedResponseAlg: idTokenAlg as SigningAlg,
    dpopBoundAccessTokens: dpop, ...keys,
  };
}

/** RFC 7591 §2: jwks or jwks_uri (never both), for private_key_jwt only (RFC 7523 §2.2). */
async function clientKeys(body: Record<string, unknown>, authMethod: ClientAuthMethod): Promise<{ jwks: string | null; jwksUri: string | null }> {
  const jwks = body.jwks ?? undefined;
  const jwksUri = string(body, 'jwks_uri');
  if (jwks !== undefined && jwksUri !== undefined) throw bad('give jwks or jwks_uri, not both (RFC 7591 §2)');
  if (authMethod !== 'private_key_jwt') {
    if (jwks !== undefined || jwksUri !== undefined) throw bad('jwks and jwks_uri are for token_endpoint_auth_method private_key_jwt');
    return { jwks: null, jwksUri: null };
  }
  if (jwksUri !== undefined) {
    try {
      return { jwks: null, jwksUri: registeredJwksUri(jwksUri) };
    } catch (err) {
      throw bad(`jwks_uri ${(err as Error).message}`);
    }
  }
  if (jwks === undefined) throw bad('private_key_jwt needs jwks or jwks_uri');
  if (typeof jwks !== 'object' || jwks === null || Array.isArray(jwks)) throw bad('jwks must be a JWK Set (a JSON object)');
  try {
    return { jwks: await checkedJwks(JSON.stringify(jwks)), jwksUri: null };
  } catch (err) {
    throw bad(`jwks: ${(err as Error).message}`);
  }
}

/** RFC 7591 §3.2.1, RFC 7592 §3: the client's registered metadata as the wire shows it. */
export function clientInformation(client: ClientRecord, registrationClientUri: string, registrationToken: string) {
  const responseTypes = Object.entries(RESPONSE_GRANT).filter(([, g]) => client.grantTypes.includes(g)).map(([r]) => r);
  return {
    client_id: client.id,
    client_id_issued_at: Math.floor(client.createdAt / 1000),
    registration_access_token: registrationToken,
    registration_client_uri: registrationClientUri,
    ...(client.name === '' ? {} : { client_name: client.name }),
    token_endpoint_auth_method: client.authMethod,
    grant_types: client.grantTypes,
    response_types: responseTypes,
    redirect_uris: client.redirectUris,
    ...(client.postLogoutRedirectUris.length === 0 ? {} : { post_logout_redirect_uris: client.postLogoutRedirectUris }),
    scope: client.scope,
    id_token_signed_response_alg: client.idTokenSignedResponseAlg,
    ...(client.jwks === null ? {} : { jwks: JSON.parse(client.jwks) as unknown }),
    ...(client.jwksUri === null ? {} : { jwks_uri: client.jwksUri }),
    // RFC 9449 §5.2 (false, its default, goes unsaid).
    ...(client.dpopBoundAccessTokens ? { dpop_bound_access_tokens: true } : {}),
  };
}
