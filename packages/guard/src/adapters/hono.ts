/**
 * Hono middleware: `app.get('/notes', honoGuard(guard, ['notes:read']), (c) => …)`. The accepted
 * token is `c.get('auth')`; a refusal is returned as the response.
 */
import type { MiddlewareHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Guard } from '../guard.js';
import type { VerifiedToken } from '../result.js';

export type GuardVariables = { auth: VerifiedToken };

export function honoGuard(guard: Guard, requiredScopes: readonly string[] = []): MiddlewareHandler<{ Variables: GuardVariables }> {
  return async (c, next) => {
    const result = await guard.verify(c.req.header('authorization'), requiredScopes);
    if (!result.ok) return c.json(result.body, result.status as ContentfulStatusCode, result.headers);
    c.set('auth', result.token);
    await next();
  };
}
