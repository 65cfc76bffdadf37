/**
 * The pushed authorization request endpoint (RFC 9126 §2): an authenticated client posts its
 * authorization request and gets a request_uri to send the browser with instead. The request is
 * checked here as the authorization endpoint would check it, so a bad one fails now, to the
 * client, rather than later in the user's browser.
 */
import { OAuthError } from '@tessera/core';
import type { ServerConfig } from '../config.js';
import { json } from '../http/respond.js';
import { PATHS } from '../http/routes.js';
import type { Handler } from '../http/types.js';
import type { LifecycleEngine } from '../lifecycle/engine.js';
import type { KeyRing } from '../lifecycle/keys.js';
import { checkRequest } from '../rfc6749/authorization-request.js';
import { AUTHENTICATION_PARAMS, authenticateClient } from '../rfc6749/client-auth.js';
import type { DpopProofs } from '../rfc9449/dpop.js';
import { requestUriFor } from './request-uri.js';

export function pushedAuthorizationEndpoint(engine: LifecycleEngine, config: ServerConfig, keys: KeyRing, dpop: DpopProofs): Handler {
  return async (req) => {
    // RFC 9126 §2.1: the client sends an HTTP POST.
    if (req.method !== 'POST') throw new OAuthError('invalid_request', 'use POST', { status: 405, headers: { allow: 'POST' } });
    const body = req.body ?? new URLSearchParams();
    // RFC 9449 §10.1: a DPoP proof at PAR binds the code to its key, as dpop_jkt would.
    const checking = dpop.check(req, PATHS.par);
    const proof = checking === undefined ? undefined : await checking;
    // RFC 9126 §2.1: the client authenticates as at the token endpoint.
    const client = await authenticateClient(engine, req, body);
    await proof?.spend();
    // RFC 9126 §2.1: request_uri MUST NOT be pushed.
    if (body.has('request_uri')) throw new OAuthError('invalid_request', 'request_uri must not be pushed (RFC 9126 §2.1)');
    if (body.has('request')) throw new OAuthError('request_not_supported', 'request objects (the request parameter, RFC 9101) are not supported');
    const params = new URLSearchParams(body);
    // They authenticated the push and are not part of the request.
    for (const name of AUTHENTICATION_PARAMS) params.delete(name);
    params.set('client_id', client.id);
    if (proof !== undefined) {
      // RFC 9449 §10.1: with both, dpop_jkt must name the proof's key.
      const named = params.getAll('dpop_jkt');
      if (named.length > 0 && (named.length > 1 || named[0] !== proof.jkt)) throw new OAuthError('invalid_dpop_proof', 'dpop_jkt is not the thumbprint of the DPoP proof key');
      params.set('dpop_jkt', proof.jkt);
    }
    // RFC 9126 §2.3: its errors go to the client as at the token endpoint, never by redirect.
    await checkRequest(engine, config, keys, params, 'push');
    const value = await engine.pushRequest(client, params, { actor: `client:${client.id}`, endpoint: PATHS.par });
    // RFC 9126 §2.2: 201 Created, with the request_uri and its lifetime.
    return json(201, { request_uri: requestUriFor(value), expires_in: config.parTtl }, proof?.headers);
  };
}
