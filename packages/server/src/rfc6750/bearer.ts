/** Bearer tokens in the Authorization header (RFC 6750 §2.1), for the endpoints that take one. */
import { OAuthError } from '@tessera/core';
import type { PlainRequest } from '../http/types.js';

/** RFC 6750 §2.1: b64token syntax. */
export const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

/**
 * RFC 6750 §3.1: invalid_token is a 401 with a WWW-Authenticate Bearer challenge naming it (also
 * for an absent token here: every caller of these endpoints is expected to send one).
 */
export function invalidToken(description: string): OAuthError {
  return new OAuthError('invalid_token', description, {
    headers: { 'www-authenticate': `Bearer realm="tessera", error="invalid_token", error_description="${description}"` },
  });
}

/** The bearer token the request carries; throws invalid_token when there is none or it is malformed. */
export function bearerToken(req: PlainRequest): string {
  const header = req.headers.authorization;
  if (header === undefined) throw invalidToken('a bearer token is required');
  const match = BEARER.exec(header);
  if (!match?.[1]) throw invalidToken('malformed bearer token');
  return match[1];
}
