/**
 * Fastify hook: `app.get('/notes', { onRequest: fastifyGuard(guard, ['notes:read']) }, handler)`,
 * or `app.addHook('onRequest', fastifyGuard(guard))` for a whole plugin scope. The accepted token
 * is `request.auth`; a refusal is sent from the hook, which stops the chain.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Guard } from '../guard.js';
import type { VerifiedToken } from '../result.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The bearer token @tessera/guard accepted for this request. */
    auth?: VerifiedToken;
  }
}

export function fastifyGuard(guard: Guard, requiredScopes: readonly string[] = []) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const result = await guard.verify(request.headers.authorization, requiredScopes);
    if (result.ok) {
      request.auth = result.token;
      return;
    }
    // An async hook that replies must do so before it resolves (Fastify "Respond to a request from a hook").
    await reply.code(result.status).headers(result.headers).send(result.body);
  };
}
