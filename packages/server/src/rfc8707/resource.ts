/**
 * Resource indicators (RFC 8707): the `resource` parameter of authorization and token requests
 * names where the access token will be used, and becomes its audience (`aud`). A resource is
 * allowed when the client is registered with it (`client create --resource`) or the server lists
 * it for every client (setting `resources`); any other is `invalid_target`.
 */
import { OAuthError } from '@tessera/core';
import type { ServerConfig } from '../config.js';
import type { ClientRecord } from '../store/types.js';

/** RFC 8707 §2: why a value cannot be a resource indicator, or undefined if it can. */
export function resourceProblem(value: string): string | undefined {
  // RFC 8707 §2: the value MUST be an absolute URI (RFC 3986 §4.3) and MUST NOT include a fragment.
  if (value.includes('#')) return 'must not have a fragment (RFC 8707 §2)';
  if (!URL.canParse(value) || !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(value)) return 'must be an absolute URI (RFC 8707 §2)';
  return undefined;
}

/** The resources the client may ask tokens for: its own and the server-wide ones. */
export function allowedResources(client: ClientRecord, config: Pick<ServerConfig, 'resources'>): ReadonlySet<string> {
  return new Set([...config.resources, ...client.resources]);
}

/**
 * The resources a request names (`resource`, which may repeat, RFC 8707 §2), each well formed and
 * allowed for the client, without duplicates; none: an empty list. Throws invalid_target.
 */
export function requestedResources(params: URLSearchParams, client: ClientRecord, config: Pick<ServerConfig, 'resources'>): string[] {
  // RFC 6749 §3.1: a parameter sent without a value is treated as omitted.
  const named = [...new Set(params.getAll('resource').filter((r) => r !== ''))];
  const allowed = allowedResources(client, config);
  for (const resource of named) {
    // The value is never echoed (no unvalidated input in error_description).
    const problem = resourceProblem(resource);
    if (problem !== undefined) throw new OAuthError('invalid_target', `each resource ${problem}`);
    // RFC 8707 §2: a resource the server will not issue a token for is invalid_target.
    if (!allowed.has(resource)) throw new OAuthError('invalid_target', 'a requested resource is not one this client may ask tokens for');
  }
  return named;
}

/**
 * The one resource a token request may name. RFC 8707 §2.2 lets a server issue one access token
 * for fewer resources than asked; Tessera's tokens have one audience each, so a token request
 * names at most one resource (an authorization request may name several: the client asks a token
 * for each in turn, with its refresh token).
 */
export function oneResource(resources: readonly string[]): string | undefined {
  if (resources.length > 1) throw new OAuthError('invalid_target', 'name at most one resource per token request: each access token has one audience');
  return resources[0];
}
