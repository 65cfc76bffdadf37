/**
 * Hono middleware: `app.get('/notes', honoGuard(guard, ['notes:read']), (c) => …)`. The accepted
 * token is `c.get('auth')`; a refusal is returned as the response. The request goes to
 * verifyRequest as it is (`c.req.raw`): a DPoP proof's htu is compared with its URL, which the
 * runtime builds (on Node, @hono/node-server takes the Host header); behind a proxy that changes
 * the URL, give the guard `expectedOrigin` (then only the URL's path is used).
 */
import type { MiddlewareHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Guard } from '../guard.js';
import type { VerifiedToken } from '../result.js';
import { verifyRequest } from './web.js';

export type GuardVariables = { auth: VerifiedToken };

export function honoGuard(guard: Guard, requiredScopes: readonly string[] = []): MiddlewareHandler<{ Variables: GuardVariables }> {
  return async (c, next) => {
    const result = await verifyRequest(guard, c.req.raw, requiredScopes);
    if (!result.ok) return c.json(result.body, result.status as ContentfulStatusCode, result.headers);
    c.set('auth', result.token);
    await next();
  };
}
