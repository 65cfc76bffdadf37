/**
 * POST /register (RFC 7591 §3): a client registers itself. Gated by the `registration` setting:
 * 'token' wants a one-time initial access token as a Bearer token (RFC 7591 §3, minted by
 * `tessera client initial-token`), 'open' lets anyone register, 'off' leaves the route out.
 */
import { OAuthError } from '@tessera/core';
import type { ServerConfig } from '../config.js';
import { json } from '../http/respond.js';
import { PATHS } from '../http/routes.js';
import type { PlainRequest, PlainResponse } from '../http/types.js';
import type { LifecycleEngine } from '../lifecycle/engine.js';
import { bearerToken, invalidToken } from '../rfc6750/bearer.js';
import { checkedMetadata, clientInformation } from './client-metadata.js';

/** The client configuration endpoint of a client (RFC 7592 §2): registration_client_uri. */
export const registrationClientUri = (config: ServerConfig, clientId: string) => `${config.issuer}${PATHS.registration}/${encodeURIComponent(clientId)}`;

export function registrationEndpoint(engine: LifecycleEngine, config: ServerConfig) {
  return async (req: PlainRequest): Promise<PlainResponse> => {
    // RFC 7591 §3: the client sends an HTTP POST.
    if (req.method !== 'POST') throw new OAuthError('invalid_request', 'use POST', { status: 405, headers: { allow: 'POST' } });
    const by = { actor: 'registration', endpoint: PATHS.registration };
    const initial = config.registration === 'token' ? bearerToken(req) : undefined;
    // Checked before the initial access token is spent: a mistake in the metadata costs no token.
    const metadata = await checkedMetadata(req.json, config);
    // The token is spent in the write that creates the client: exactly when a client is created.
    const registered = await engine.registerClient({ ...metadata, tokenFormat: 'opaque', accessTtl: null, refreshTtl: null }, by, initial);
    if (registered === undefined) throw invalidToken('the initial access token is unknown, expired or already used');
    const { client, secret, registrationToken } = registered;
    const info = clientInformation(client, registrationClientUri(config, client.id), registrationToken);
    // RFC 7591 §3.2.1: the secret is shown once; 0 = it does not expire.
    const { client_id, ...rest } = info;
    return json(201, secret === undefined ? info : { client_id, client_secret: secret, client_secret_expires_at: 0, ...rest });
  };
}
