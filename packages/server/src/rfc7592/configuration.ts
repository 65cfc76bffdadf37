/**
 * The client configuration endpoint (RFC 7592 §2), /register/{client_id}: a registered client
 * reads (GET), replaces (PUT) or deletes (DELETE) its registration with its registration access
 * token (RFC 7592 §3), the one /register gave it. The token is kept on PUT, not rotated.
 */
import { OAuthError } from '@tessera/core';
import type { ServerConfig } from '../config.js';
import { json } from '../http/respond.js';
import { PATHS } from '../http/routes.js';
import type { PlainRequest, PlainResponse } from '../http/types.js';
import type { LifecycleEngine } from '../lifecycle/engine.js';
import { bearerToken, invalidToken } from '../rfc6750/bearer.js';
import { checkedMetadata, clientInformation } from '../rfc7591/client-metadata.js';
import { registrationClientUri } from '../rfc7591/register.js';
import type { ClientRecord } from '../store/types.js';

/** RFC 7592 §2.2: fields the server assigns; a PUT that names them is refused. */
const SERVER_FIELDS = ['registration_access_token', 'registration_client_uri', 'client_id_issued_at', 'client_secret_expires_at'] as const;

export function configurationEndpoint(engine: LifecycleEngine, config: ServerConfig) {
  return async (req: PlainRequest): Promise<PlainResponse> => {
    const token = bearerToken(req);
    let clientId: string;
    try {
      clientId = decodeURIComponent(req.path.slice(PATHS.registration.length + 1));
    } catch {
      throw invalidToken('the registration access token does not match this client');
    }
    const client = await engine.getClient(clientId);
    // RFC 7592 §2.1, §2.2, §2.3: an unknown client and a wrong token answer alike (401), so the
    // endpoint tells nothing of which clients exist. The token is compared in constant time.
    if (client === undefined || !engine.registrationTokenMatches(client, token)) {
      throw invalidToken('the registration access token does not match this client');
    }
    const by = { actor: `client:${client.id}`, endpoint: PATHS.registration };
    const uri = registrationClientUri(config, client.id);
    if (req.method === 'GET') return json(200, clientInformation(client, uri, token));
    if (req.method === 'PUT') return json(200, clientInformation(await replace(engine, config, client, req.json, by), uri, token));
    if (req.method === 'DELETE') {
      // RFC 7592 §2.3: the client and everything issued to it are gone, as with `client delete`.
      await engine.deleteClient(client.id, { ...by, reason: 'client deleted its registration' });
      return { status: 204, headers: { 'cache-control': 'no-store', pragma: 'no-cache' }, body: '' };
    }
    throw new OAuthError('invalid_request', 'use GET, PUT or DELETE', { status: 405, headers: { allow: 'GET, PUT, DELETE' } });
  };
}

/** RFC 7592 §2.2: the metadata sent replaces the registration (omitted fields take their defaults). */
async function replace(engine: LifecycleEngine, config: ServerConfig, client: ClientRecord, body: unknown, by: { actor: string; endpoint: string }) {
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const fields = body as Record<string, unknown>;
    // RFC 7592 §2.2: the request MUST include client_id, the same as in the URI.
    if (fields.client_id !== client.id) throw new OAuthError('invalid_request', 'client_id must be given and be this client\'s');
    for (const name of SERVER_FIELDS) if (name in fields) throw new OAuthError('invalid_request', `${name} is assigned by the server and must not be sent`);
    // RFC 7592 §2.2: a client_secret, if sent, must be the current one; the secret never changes here.
    if (fields.client_secret !== undefined && (typeof fields.client_secret !== 'string' || !engine.clientSecretMatches(client, fields.client_secret))) {
      throw new OAuthError('invalid_request', 'client_secret does not match this client\'s');
    }
  }
  const { name, grantTypes, redirectUris, postLogoutRedirectUris, scope, idTokenSignedResponseAlg, jwks, jwksUri, dpopBoundAccessTokens } = await checkedMetadata(body, config, client);
  // The same engine path as `client update`: the client_id, secret, grants and tokens stay.
  // The metadata never has the token exchange grant (checkedMetadata): exchange audiences an
  // operator gave the client with it go too, as `client update` would insist (RFC 8693).
  const updated = await engine.updateClient(client.id, {
    name, grantTypes, redirectUris, postLogoutRedirectUris, scope, idTokenSignedResponseAlg, jwks: jwks ?? null, jwksUri: jwksUri ?? null, dpopBoundAccessTokens,
    ...(client.exchangeAudiences.length === 0 ? {} : { exchangeAudiences: [] }),
  }, by);
  if (updated === undefined) throw invalidToken('the registration access token does not match this client');
  return updated;
}
