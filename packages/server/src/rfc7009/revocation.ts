/**
 * Token revocation (RFC 7009). token_type_hint is only a hint: every token is found by its
 * hash, whatever its kind (§2.1).
 */
import { OAuthError, readParams, required } from '@tessera/core';
import type { LifecycleEngine } from '../lifecycle/engine.js';
import { json } from '../http/respond.js';
import { PATHS } from '../http/routes.js';
import type { PlainRequest, PlainResponse } from '../http/types.js';
import { authenticateClient } from '../rfc6749/client-auth.js';

const TOKEN_PARAMS = ['token', 'token_type_hint'] as const;
const HINTS = new Set(['access_token', 'refresh_token']);

export function revocationEndpoint(engine: LifecycleEngine) {
  return async (req: PlainRequest): Promise<PlainResponse> => {
    // RFC 7009 §2.1: the client uses POST.
    if (req.method !== 'POST') throw new OAuthError('invalid_request', 'use POST', { status: 405, headers: { allow: 'POST' } });
    const body = req.body ?? new URLSearchParams();
    const client = await authenticateClient(engine, req, body);
    const { token, token_type_hint } = readParams(body, TOKEN_PARAMS);
    const value = required(token, 'token');
    // RFC 7009 §2.2.1: an unknown hint value is unsupported_token_type.
    if (token_type_hint !== undefined && !HINTS.has(token_type_hint)) {
      throw new OAuthError('unsupported_token_type', 'token_type_hint must be access_token or refresh_token');
    }
    await engine.revokeByValue(client, value, { actor: `client:${client.id}`, endpoint: PATHS.revocation, reason: 'revoked by client' });
    // RFC 7009 §2.2: 200 whether or not the token was valid.
    return json(200, {});
  };
}
