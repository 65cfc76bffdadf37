/**
 * Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3):
 * client_secret_basic, client_secret_post, or none (public clients). A client must use the
 * method it registered, and only one method per request (§2.3).
 */
import { OAuthError, basicChallenge, parseBasicAuth, readParams } from '@tessera/core';
import type { LifecycleEngine } from '../lifecycle/engine.js';
import type { PlainRequest } from '../http/types.js';
import type { ClientRecord } from '../store/types.js';

export async function authenticateClient(engine: LifecycleEngine, req: PlainRequest, body: URLSearchParams): Promise<ClientRecord> {
  const basic = parseBasicAuth(req.headers.authorization);
  const { client_id, client_secret } = readParams(body, ['client_id', 'client_secret'] as const);
  const usedBasic = basic !== undefined;
  const fail = (description: string) =>
    // RFC 6749 §5.2: 401 with WWW-Authenticate when the client tried the Authorization header.
    new OAuthError('invalid_client', description, usedBasic || req.headers.authorization !== undefined ? basicChallenge() : { status: 401 });

  if (usedBasic && client_secret !== undefined) throw new OAuthError('invalid_request', 'use one client authentication method, not several');
  if (usedBasic && client_id !== undefined && client_id !== basic.id) throw new OAuthError('invalid_request', 'client_id does not match the Authorization header');

  const id = basic?.id ?? client_id;
  if (id === undefined) throw fail('client authentication required');
  const client = await engine.store.getClient(id);
  if (!client) throw fail('client authentication failed');

  const method = usedBasic ? 'client_secret_basic' : client_secret !== undefined ? 'client_secret_post' : 'none';
  if (method !== client.authMethod) throw fail(`client must authenticate with ${client.authMethod}`);
  if (method === 'none') return client;
  const secret = basic?.secret ?? (client_secret as string);
  if (!engine.clientSecretMatches(client, secret)) throw fail('client authentication failed');
  return client;
}
