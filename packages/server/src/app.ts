/**
 * The authorization server as one Handler: routes a PlainRequest to its endpoint. Mount it on
 * node:http (http/node-server.ts) or any framework through an adapter.
 */
import { OAuthError } from '@tessera/core';
import { FeedFanOut } from './feed/fan-out.js';
import { feedListEndpoint } from './feed/list-endpoint.js';
import { feedStreamEndpoint } from './feed/stream-endpoint.js';
import type { LifecycleEngine } from './lifecycle/engine.js';
import { healthEndpoint } from './http/healthz.js';
import { errorResponse, json, publicJson } from './http/respond.js';
import type { Handler, PlainRequest, PlainResponse } from './http/types.js';
import { authorizationEndpoint, loginEndpoint, consentEndpoint } from './rfc6749/authorize.js';
import { tokenEndpoint } from './rfc6749/token-endpoint.js';
import { revocationEndpoint } from './rfc7009/revocation.js';
import { introspectionEndpoint } from './rfc7662/introspection.js';
import { metadata, PATHS } from './rfc8414/metadata.js';

export function createHandler(engine: LifecycleEngine): Handler {
  const meta = metadata(engine.config);
  const fanOut = new FeedFanOut(engine.store, { heartbeat: engine.config.feedHeartbeat, maxStreamsPerClient: engine.config.maxStreamsPerClient });
  const routes = new Map<string, Handler>([
    [PATHS.metadata, async () => publicJson(meta)],
    [PATHS.jwks, async () => publicJson(await engine.keys.jwks())],
    [PATHS.token, tokenEndpoint(engine)],
    [PATHS.revocation, revocationEndpoint(engine)],
    [PATHS.introspection, introspectionEndpoint(engine)],
    [PATHS.revocationFeed, feedListEndpoint(engine)],
    [PATHS.revocationStream, feedStreamEndpoint(engine, fanOut)],
    [PATHS.authorization, authorizationEndpoint(engine)],
    [PATHS.login, loginEndpoint(engine)],
    [PATHS.consent, consentEndpoint(engine)],
    // The audit head: one indexed row, read on the same connection every endpoint reads on.
    ['/healthz', healthEndpoint(() => engine.store.auditHeads())],
    ['/', async () => json(200, { name: 'Tessera', metadata: engine.config.issuer + PATHS.metadata })],
  ]);
  return async (req: PlainRequest): Promise<PlainResponse> => {
    const route = routes.get(req.url.pathname);
    if (!route) return json(404, { error: 'not_found' });
    try {
      return await route(req);
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      return errorResponse(err);
    }
  };
}
