/**
 * Express middleware: `app.get('/notes', expressGuard(guard, ['notes:read']), handler)`. The
 * accepted token is `res.locals.auth`; a refusal is answered here (RFC 6750 §3).
 */
import type { RequestHandler } from 'express';
import type { Guard } from '../guard.js';

export function expressGuard(guard: Guard, requiredScopes: readonly string[] = []): RequestHandler {
  return (req, res, next) => {
    guard.verify(req.headers.authorization, requiredScopes).then((result) => {
      if (result.ok) {
        res.locals.auth = result.token;
        next();
      } else {
        res.status(result.status).set(result.headers).json(result.body);
      }
    }, next);
  };
}
