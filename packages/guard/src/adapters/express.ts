/**
 * Express middleware: `app.get('/notes', expressGuard(guard, ['notes:read']), handler)`. The
 * accepted token is `res.locals.auth`; a refusal is answered here (RFC 6750 §3, RFC 9449 §7.1).
 * Bearer and DPoP go through verifyRequest; a DPoP proof's htu is compared with the URL Express
 * reconstructs (`req.protocol`, `req.host`, `req.originalUrl`): behind a proxy, set the app's
 * `trust proxy` so that it is the URL the client used (X-Forwarded-Proto, X-Forwarded-Host), or
 * give the guard `expectedOrigin`, which takes only the path from `req.originalUrl`.
 */
import type { Request, RequestHandler } from 'express';
import type { Guard, GuardRequest } from '../guard.js';
import { frameworkUrl, nodeHeaders, verifyRequest } from './web.js';

/** The request as the guard reads it; the URL only when a DPoP proof needs it. */
function view(req: Request): GuardRequest {
  return {
    method: req.method,
    get url() {
      return frameworkUrl(req.protocol, req.host, req.originalUrl);
    },
    path: req.originalUrl,
    headers: nodeHeaders(req),
  };
}

export function expressGuard(guard: Guard, requiredScopes: readonly string[] = []): RequestHandler {
  return (req, res, next) => {
    verifyRequest(guard, view(req), requiredScopes).then((result) => {
      if (result.ok) {
        res.locals.auth = result.token;
        next();
      } else {
        res.status(result.status).set(result.headers).json(result.body);
      }
    }, next);
  };
}
