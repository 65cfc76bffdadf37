/**
 * Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3):
 * client_secret_basic, client_secret_post, private_key_jwt and client_secret_jwt (RFC 7523 §2.2,
 * in rfc7523/), or none (public clients). A client registered for a JWT method authenticates with
 * nothing else. A confidential client may
 * present its secret by either secret method, whichever it registered: the secret is the same and
 * refusing one gains nothing, while client libraries (Authlib's revoke_token, introspect_token)
 * pick Basic on their own. A public client (`none`) sends no secret, and a client with a secret
 * must send it. Only one method per request (§2.3).
 */
import { OAuthError, basicChallenge, parseBasicAuth, readParams } from '@tessera/core';
import type { LifecycleEngine } from '../lifecycle/engine.js';
import type { PlainRequest } from '../http/types.js';
import type { ClientRecord } from '../store/types.js';
import { assertedClientId, CLIENT_ASSERTION_TYPE } from '../rfc7523/client-assertion.js';

/** The parameters that authenticate a client in a form body, client_id aside (it names the client). */
export const AUTHENTICATION_PARAMS = ['client_secret', 'client_assertion', 'client_assertion_type'] as const;
const CREDENTIAL_PARAMS = ['client_id', ...AUTHENTICATION_PARAMS] as const;

/** RFC 7523 §2.2: the methods that authenticate with a client_assertion, and with nothing else. */
const byAssertionOnly = (client: ClientRecord): boolean => client.authMethod === 'private_key_jwt' || client.authMethod === 'client_secret_jwt';

/**
 * RFC 6749 §5.2: invalid_client is a 401, with WWW-Authenticate when the client tried the
 * Authorization header.
 */
const invalidClient = (description: string, triedHeader: boolean) =>
  new OAuthError('invalid_client', description, triedHeader ? basicChallenge() : { status: 401 });

export async function authenticateClient(engine: LifecycleEngine, req: PlainRequest, body: URLSearchParams): Promise<ClientRecord> {
  const authorization = req.headers.authorization;
  const basic = parseBasicAuth(authorization);
  const { client_id, client_secret, client_assertion, client_assertion_type } = readParams(body, CREDENTIAL_PARAMS);
  // Basic credentials or any other Authorization header: either way the challenge is owed.
  const triedHeader = authorization !== undefined;

  if (client_assertion !== undefined || client_assertion_type !== undefined) {
    // RFC 6749 §2.3: one method per request.
    if (basic !== undefined || client_secret !== undefined) throw new OAuthError('invalid_request', 'use one client authentication method, not several');
    return byAssertion(engine, client_id, client_assertion, client_assertion_type, triedHeader);
  }
  if (basic !== undefined && client_secret !== undefined) throw new OAuthError('invalid_request', 'use one client authentication method, not several');
  if (basic !== undefined && client_id !== undefined && client_id !== basic.id) throw new OAuthError('invalid_request', 'client_id does not match the Authorization header');

  const id = basic?.id ?? client_id;
  if (id === undefined) throw invalidClient('client authentication required', triedHeader);
  const client = await engine.getClient(id);
  if (!client) throw invalidClient('client authentication failed', triedHeader);

  // Registered for an assertion: its secret, if any, is the assertion's key, never sent itself.
  if (byAssertionOnly(client)) {
    throw invalidClient(`client must authenticate with ${client.authMethod}`, triedHeader);
  }
  const method = basic !== undefined ? 'client_secret_basic' : client_secret !== undefined ? 'client_secret_post' : 'none';
  // A public client stays strict: it has no secret, so one sent is a mistake worth reporting.
  if ((method === 'none') !== (client.authMethod === 'none')) throw invalidClient(`client must authenticate with ${client.authMethod}`, triedHeader);
  if (method === 'none') return client;
  const secret = basic?.secret ?? (client_secret as string);
  if (!engine.clientSecretMatches(client, secret)) throw invalidClient('client authentication failed', triedHeader);
  return client;
}

/** RFC 7521 §4.2, RFC 7523 §2.2: client_assertion_type and client_assertion; client_id optional, and then the assertion's sub. */
async function byAssertion(
  engine: LifecycleEngine, clientId: string | undefined, assertion: string | undefined, type: string | undefined, triedHeader: boolean,
): Promise<ClientRecord> {
  if (assertion === undefined) throw new OAuthError('invalid_request', "missing parameter 'client_assertion'");
  if (type === undefined) throw new OAuthError('invalid_request', "missing parameter 'client_assertion_type'");
  try {
    if (type !== CLIENT_ASSERTION_TYPE) throw invalidClient(`client_assertion_type must be ${CLIENT_ASSERTION_TYPE}`, false);
    const id = assertedClientId(assertion);
    if (clientId !== undefined && clientId !== id) throw invalidClient('client_id does not match the client_assertion', false);
    const client = await engine.getClient(id);
    if (!client) throw invalidClient('client authentication failed', false);
    if (!byAssertionOnly(client)) {
      throw invalidClient(`client must authenticate with ${client.authMethod}`, false);
    }
    await engine.verifyClientAssertion(client, assertion);
    return client;
  } catch (err) {
    // RFC 6749 §5.2: a request that also carried an Authorization header is owed the challenge.
    if (triedHeader && err instanceof OAuthError && err.error === 'invalid_client') throw invalidClient(err.error_description ?? 'client authentication failed', true);
    throw err;
  }
}
