import { OAuthError } from '@tessera/core';
import { allowedScope } from '../scope.js';
import type { TokenGrant } from './types.js';

/** RFC 6749 §4.4: the client acts on its own behalf; no refresh token (§4.4.3). */
export const clientCredentials: TokenGrant = {
  grantType: 'client_credentials',
  params: ['scope'],
  async handle({ engine, client, params, by, jkt, resource }) {
    // RFC 6749 §4.4: the client credentials grant MUST only be used by confidential clients.
    if (client.authMethod === 'none') throw new OAuthError('unauthorized_client', 'public clients cannot use client_credentials');
    return engine.issueClientCredentials(client, allowedScope(client, params.scope), by, jkt, resource);
  },
};
