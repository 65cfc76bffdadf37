import { OAuthError, formatScope, normalizeScope, parseScope } from '@tessera/core';
import type { ClientRecord } from '../store/types.js';

/**
 * RFC 6749 §3.3: the requested scope, limited to what the client registered. An absent scope
 * means the client's registered scope.
 */
export function allowedScope(client: ClientRecord, requested: string | undefined): string {
  if (requested === undefined) return normalizeScope(client.scope);
  const registered = parseScope(client.scope);
  const scopes = parseScope(requested);
  for (const s of scopes) if (!registered.has(s)) throw new OAuthError('invalid_scope', 'the requested scope is not registered for this client');
  return formatScope(scopes);
}
