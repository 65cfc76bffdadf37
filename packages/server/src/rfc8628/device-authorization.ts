/**
 * The device authorization endpoint (RFC 8628 §3.1–3.2): the client authenticates as at the token
 * endpoint (a public client with `none`), names the scope it wants, and gets a device code to poll
 * with and a user code for the person, with where to enter it.
 */
import { OAuthError, readParams } from '@tessera/core';
import type { ServerConfig } from '../config.js';
import { json } from '../http/respond.js';
import { PATHS } from '../http/routes.js';
import type { Handler } from '../http/types.js';
import type { LifecycleEngine } from '../lifecycle/engine.js';
import { authenticateClient } from '../rfc6749/client-auth.js';
import { allowedScope } from '../rfc6749/scope.js';
import { requestedResources } from '../rfc8707/resource.js';
import { DEVICE_CODE_GRANT } from '../store/types.js';

const PARAMS = ['scope'] as const;

export function deviceAuthorizationEndpoint(engine: LifecycleEngine, config: ServerConfig): Handler {
  const verificationUri = config.issuer + PATHS.device;
  return async (req) => {
    // RFC 8628 §3.1: the client makes a POST request.
    if (req.method !== 'POST') throw new OAuthError('invalid_request', 'use POST', { status: 405, headers: { allow: 'POST' } });
    const body = req.body ?? new URLSearchParams();
    const client = await authenticateClient(engine, req, body);
    if (!client.grantTypes.includes(DEVICE_CODE_GRANT)) {
      throw new OAuthError('unauthorized_client', 'this client may not use the device authorization grant');
    }
    const scope = allowedScope(client, readParams(body, PARAMS).scope);
    // RFC 8707 §2: the resources the tokens are for, as in any authorization request; the user's approval consents to them.
    const resources = requestedResources(body, client, config);
    const started = await engine.startDeviceAuthorization(client, scope, { actor: `client:${client.id}`, endpoint: PATHS.deviceAuthorization }, resources);
    // RFC 8628 §3.2; the response carries credentials, so json() adds Cache-Control: no-store.
    return json(200, {
      device_code: started.deviceCode,
      user_code: started.userCode,
      verification_uri: verificationUri,
      verification_uri_complete: `${verificationUri}?${new URLSearchParams({ user_code: started.userCode })}`,
      expires_in: started.expiresIn,
      interval: started.interval,
    });
  };
}
