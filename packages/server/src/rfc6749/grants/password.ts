import { OAuthError, required } from '@tessera/core';
import { allowedScope } from '../scope.js';
import { PATHS } from '../../http/routes.js';
import type { TokenGrant } from './types.js';

/** RFC 6749 §4.3. Legacy (RFC 9700 §2.4 says MUST NOT be used): off unless enabled. */
export const password: TokenGrant = {
  grantType: 'password',
  params: ['username', 'password', 'scope'],
  async handle({ engine, client, params, by, address, jkt, resource }) {
    const username = required(params.username, 'username');
    const secret = required(params.password, 'password');
    const scope = allowedScope(client, params.scope);
    // Throttled before the password is hashed: 429 slow_down with Retry-After (lifecycle/sign-in.ts).
    const user = await engine.authenticateUser(username, secret, { address, endpoint: PATHS.token });
    if (!user) throw new OAuthError('invalid_grant', 'invalid username or password');
    return engine.issuePassword(client, user, scope, { ...by, actor: `user:${user.id}` }, jkt, resource);
  },
};
