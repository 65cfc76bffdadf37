/**
 * The authorization server as one Handler: routes a PlainRequest to its endpoint. Mount it on
 * node:http (http/node-server.ts) or any framework through an adapter. The wiring happens here:
 * each endpoint gets the engine and the settings it needs; only the feed and the health checks
 * read the store, and only the JWKS endpoint the keys.
 */
import { OAuthError } from '@tessera/core';
import { FeedFanOut } from './feed/fan-out.js';
import { feedListEndpoint } from './feed/list-endpoint.js';
import { feedStreamEndpoint } from './feed/stream-endpoint.js';
import { healthEndpoint, readyEndpoint } from './http/healthz.js';
import { errorResponse, json, publicJson } from './http/respond.js';
import { PATHS } from './http/routes.js';
import type { Handler, PlainRequest, PlainResponse } from './http/types.js';
import type { ServerMetrics } from './metrics/metrics.js';
import type { Tessera } from './open.js';
import { authorizationEndpoint, consentEndpoint } from './rfc6749/authorize.js';
import { loginEndpoint } from './pages/login.js';
import { tokenEndpoint } from './rfc6749/token-endpoint.js';
import { revocationEndpoint } from './rfc7009/revocation.js';
import { introspectionEndpoint } from './rfc7662/introspection.js';
import { metadata } from './rfc8414/metadata.js';
import { pushedAuthorizationEndpoint } from './rfc9126/par.js';
import { deviceAuthorizationEndpoint } from './rfc8628/device-authorization.js';
import { verificationEndpoint } from './rfc8628/verification.js';
import { openidConfiguration } from './oidc/discovery.js';
import { endSessionConfirmEndpoint, endSessionEndpoint } from './oidc/end-session.js';
import { userinfoEndpoint } from './oidc/userinfo.js';
import { registrationEndpoint } from './rfc7591/register.js';
import { configurationEndpoint } from './rfc7592/configuration.js';
import { DpopProofs } from './rfc9449/dpop.js';

/** A Tessera's parts the endpoints are wired from (openTessera or tesseraOnStore gives them all). */
export type HandlerParts = Pick<Tessera, 'engine' | 'store' | 'keys' | 'config'>;

/** `metrics`: the server's metrics (server.ts, with a metrics listener), told of the revocation streams. */
export function createHandler({ engine, store, keys, config }: HandlerParts, options: { metrics?: ServerMetrics } = {}): Handler {
  const meta = metadata(config);
  const oidcMeta = openidConfiguration(config);
  const fanOut = new FeedFanOut(store, { heartbeat: config.feedHeartbeat, maxStreamsPerClient: config.maxStreamsPerClient });
  options.metrics?.watchFeed(fanOut, store);
  // RFC 9449: the proofs at /token, /par and /userinfo, one replay record and one nonce key for all.
  const dpop = new DpopProofs(engine, config);
  const routes = new Map<string, Handler>([
    [PATHS.metadata, async () => publicJson(meta)],
    [PATHS.openidConfiguration, async () => publicJson(oidcMeta)],
    [PATHS.jwks, async () => publicJson(await keys.jwks())],
    [PATHS.userinfo, userinfoEndpoint(engine, config, dpop)],
    [PATHS.endSession, endSessionEndpoint(engine, config, keys)],
    [PATHS.endSessionConfirm, endSessionConfirmEndpoint(engine, config, keys)],
    [PATHS.token, tokenEndpoint(engine, config, keys, dpop)],
    [PATHS.revocation, revocationEndpoint(engine)],
    [PATHS.introspection, introspectionEndpoint(engine, config)],
    [PATHS.revocationFeed, feedListEndpoint(engine, store)],
    [PATHS.revocationStream, feedStreamEndpoint(engine, fanOut, store)],
    [PATHS.authorization, authorizationEndpoint(engine, config, keys)],
    [PATHS.par, pushedAuthorizationEndpoint(engine, config, keys, dpop)],
    [PATHS.login, loginEndpoint(engine, config)],
    [PATHS.consent, consentEndpoint(engine, config, keys)],
    [PATHS.deviceAuthorization, deviceAuthorizationEndpoint(engine, config)],
    [PATHS.device, verificationEndpoint(engine, config)],
    // RFC 7591, RFC 7592: with registration off neither route exists (404), as the metadata says.
    ...(config.registration === 'off' ? [] : [[PATHS.registration, registrationEndpoint(engine, config)] as const]),
    // The audit head: one indexed row, read on the same connection every endpoint reads on.
    [PATHS.health, healthEndpoint(() => store.auditHeads())],
    [PATHS.ready, readyEndpoint(store)],
    [PATHS.root, async () => json(200, { name: 'Tessera', metadata: config.issuer + PATHS.metadata })],
  ]);
  const configuration = config.registration === 'off' ? undefined : configurationEndpoint(engine, config);
  const registered = `${PATHS.registration}/`;
  return async (req: PlainRequest): Promise<PlainResponse> => {
    const path = req.path;
    const route = routes.get(path) ?? (configuration && path.startsWith(registered) && path.length > registered.length ? configuration : undefined);
    if (!route) return json(404, { error: 'not_found' });
    try {
      return await route(req);
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      return errorResponse(err);
    }
  };
}
