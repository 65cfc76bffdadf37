/**
 * Fastify hook: `app.get('/notes', { onRequest: fastifyGuard(guard, ['notes:read']) }, handler)`,
 * or `app.addHook('onRequest', fastifyGuard(guard))` for a whole plugin scope. The accepted token
 * is `request.auth`; a refusal is sent from the hook, which stops the chain. Bearer and DPoP go
 * through verifyRequest; a DPoP proof's htu is compared with `request.protocol`, `request.host`
 * and `request.url`: behind a proxy, set Fastify's `trustProxy` so that they are what the client used,
 * or give the guard `expectedOrigin`, which takes only the path from `request.url`.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Guard, GuardRequest } from '../guard.js';
import type { VerifiedToken } from '../result.js';
import { frameworkUrl, nodeHeaders, verifyRequest } from './web.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The access token @tessera/guard accepted for this request. */
    auth?: VerifiedToken;
  }
}

/** The request as the guard reads it; the URL only when a DPoP proof needs it. */
function view(request: FastifyRequest): GuardRequest {
  return {
    method: request.method,
    get url() {
      return frameworkUrl(request.protocol, request.host, request.url);
    },
    path: request.url,
    headers: nodeHeaders(request.raw),
  };
}

export function fastifyGuard(guard: Guard, requiredScopes: readonly string[] = []) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const result = await verifyRequest(guard, view(request), requiredScopes);
    if (result.ok) {
      request.auth = result.token;
      return;
    }
    // An async hook that replies must do so before it resolves (Fastify "Respond to a request from a hook").
    await reply.code(result.status).headers(result.headers).send(result.body);
  };
}
