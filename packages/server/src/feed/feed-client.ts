/**
 * Who may read the revocation feed: a confidential client, authenticated as at the token
 * endpoint (RFC 6749 §2.3), whose registered scope includes `tessera:revocations`.
 */
import { OAuthError } from '@tessera/core';
import type { LifecycleEngine } from '../lifecycle/engine.js';
import type { PlainRequest } from '../http/types.js';
import { authenticateClient } from '../rfc6749/client-auth.js';
import type { ClientRecord } from '../store/types.js';

/** The registered scope that lets a client (a resource server's guard) read the revocation feed. */
export const REVOCATIONS_SCOPE = 'tessera:revocations';

export async function authenticateFeedClient(engine: LifecycleEngine, req: PlainRequest): Promise<ClientRecord> {
  if (req.method !== 'GET') throw new OAuthError('invalid_request', 'use GET', { status: 405, headers: { allow: 'GET' } });
  const client = await authenticateClient(engine, req, new URLSearchParams());
  if (client.authMethod === 'none') throw new OAuthError('invalid_client', 'public clients cannot read the revocation feed', { status: 401 });
  if (!hasFeedScope(client)) {
    throw new OAuthError('unauthorized_client', `the client is not registered with scope ${REVOCATIONS_SCOPE}`, { status: 403 });
  }
  return client;
}

const hasFeedScope = (client: ClientRecord) => client.scope.split(' ').includes(REVOCATIONS_SCOPE);

/**
 * Whether a stream opened by `authenticated` may stay open now that the client reads as `current`:
 * the client still exists, is confidential, has the same secret and still holds the scope.
 */
export function mayReadFeed(authenticated: ClientRecord, current: ClientRecord | undefined): boolean {
  return current !== undefined && current.authMethod !== 'none' && current.secretHash === authenticated.secretHash && hasFeedScope(current);
}

/** A feed position from a query parameter or the Last-Event-ID header: a non-negative integer, 0 if absent. */
export function cursorParam(value: string | null | undefined, name: string): number {
  if (value === null || value === undefined || value === '') return 0;
  if (!/^\d{1,15}$/.test(value)) throw new OAuthError('invalid_request', `${name} must be a feed cursor (a non-negative integer)`);
  return Number(value);
}
