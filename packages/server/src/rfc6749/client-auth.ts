/**
 * Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3):
 * client_secret_basic, client_secret_post, or none (public clients). A confidential client may
 * present its secret by either secret method, whichever it registered: the secret is the same and
 * refusing one gains nothing, while client libraries (Authlib's revoke_token, introspect_token)
 * pick Basic on their own. A public client (`none`) sends no secret, and a client with a secret
 * must send it. Only one method per request (§2.3).
 */
import { OAuthError, basicChallenge, parseBasicAuth, readParams } from '@tessera/core';
import type { LifecycleEngine } from '../lifecycle/engine.js';
import type { PlainRequest } from '../http/types.js';
import type { ClientRecord } from '../store/types.js';

const CREDENTIAL_PARAMS = ['client_id', 'client_secret'] as const;

/**
 * RFC 6749 §5.2: invalid_client is a 401, with WWW-Authenticate when the client tried the
 * Authorization header.
 */
const invalidClient = (description: string, triedHeader: boolean) =>
  new OAuthError('invalid_client', description, triedHeader ? basicChallenge() : { status: 401 });

export async function authenticateClient(engine: LifecycleEngine, req: PlainRequest, body: URLSearchParams): Promise<ClientRecord> {
  const authorization = req.headers.authorization;
  const basic = parseBasicAuth(authorization);
  const { client_id, client_secret } = readParams(body, CREDENTIAL_PARAMS);
  // Basic credentials or any other Authorization header: either way the challenge is owed.
  const triedHeader = authorization !== undefined;

  if (basic !== undefined && client_secret !== undefined) throw new OAuthError('invalid_request', 'use one client authentication method, not several');
  if (basic !== undefined && client_id !== undefined && client_id !== basic.id) throw new OAuthError('invalid_request', 'client_id does not match the Authorization header');

  const id = basic?.id ?? client_id;
  if (id === undefined) throw invalidClient('client authentication required', triedHeader);
  const client = await engine.getClient(id);
  if (!client) throw invalidClient('client authentication failed', triedHeader);

  const method = basic !== undefined ? 'client_secret_basic' : client_secret !== undefined ? 'client_secret_post' : 'none';
  // A public client stays strict: it has no secret, so one sent is a mistake worth reporting.
  if ((method === 'none') !== (client.authMethod === 'none')) throw invalidClient(`client must authenticate with ${client.authMethod}`, triedHeader);
  if (method === 'none') return client;
  const secret = basic?.secret ?? (client_secret as string);
  if (!engine.clientSecretMatches(client, secret)) throw invalidClient('client authentication failed', triedHeader);
  return client;
}
