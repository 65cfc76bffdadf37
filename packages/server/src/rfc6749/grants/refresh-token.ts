import { parseScope, required } from '@tessera/core';
import type { TokenGrant } from './types.js';

/** RFC 6749 §6, with rotation and reuse detection (RFC 9700 §4.14.2) in the engine. */
export const refreshToken: TokenGrant = {
  grantType: 'refresh_token',
  params: ['refresh_token', 'scope'],
  handle: ({ engine, client, params, by, jkt, resource }) =>
    engine.rotateRefresh(client, required(params.refresh_token, 'refresh_token'), params.scope === undefined ? undefined : parseScope(params.scope), by, jkt, resource),
};
