import { allowedScope } from '../scope.js';
import type { TokenGrant } from './types.js';

/** RFC 6749 §4.4: the client acts on its own behalf; no refresh token (§4.4.3). */
export const clientCredentials: TokenGrant = {
  grantType: 'client_credentials',
  params: ['scope'],
  handle: ({ engine, client, params, by }) => engine.issueClientCredentials(client, allowedScope(client, params.scope), by),
};
