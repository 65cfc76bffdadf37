/**
 * The token endpoint (RFC 6749 §3.2): parse the form, authenticate the client, dispatch to the
 * grant it names, respond with §5.1 JSON and no-store.
 */
import { OAuthError, readParams } from '@tessera/core';
import type { ServerConfig } from '../config.js';
import type { LifecycleEngine } from '../lifecycle/engine.js';
import type { KeyRing } from '../lifecycle/keys.js';
import { idTokenFor } from '../oidc/id-token.js';
import { clientAddress } from '../http/client-address.js';
import { PATHS } from '../http/routes.js';
import { json } from '../http/respond.js';
import type { PlainRequest, PlainResponse } from '../http/types.js';
import type { GrantType } from '../store/types.js';
import { authenticateClient } from './client-auth.js';
import { authorizationCode } from './grants/authorization-code.js';
import { clientCredentials } from './grants/client-credentials.js';
import { password } from './grants/password.js';
import { refreshToken } from './grants/refresh-token.js';
import type { TokenGrant } from './grants/types.js';
import { deviceCode } from '../rfc8628/device-code-grant.js';
import type { DpopProofs } from '../rfc9449/dpop.js';
import { tokenExchange } from '../rfc8693/token-exchange.js';
import { oneResource, requestedResources } from '../rfc8707/resource.js';
import { tokenResponse } from './token-response.js';

const ALL_GRANTS: readonly TokenGrant[] = [authorizationCode, refreshToken, clientCredentials, password, deviceCode, tokenExchange];

/** The grants this server offers: password only when enabled as a legacy grant. */
export function enabledGrants(config: ServerConfig): Map<string, TokenGrant> {
  return new Map(ALL_GRANTS.filter((g) => g.grantType !== 'password' || config.legacyGrants.includes('password')).map((g) => [g.grantType, g]));
}

const GRANT_TYPE = ['grant_type'] as const;

export function tokenEndpoint(engine: LifecycleEngine, config: ServerConfig, keys: KeyRing, dpop: DpopProofs) {
  const grants = enabledGrants(config);
  const offered = [...grants.keys()].join(', ');
  return async (req: PlainRequest): Promise<PlainResponse> => {
    // RFC 6749 §3.2: the client MUST use POST.
    if (req.method !== 'POST') throw new OAuthError('invalid_request', 'use POST', { status: 405, headers: { allow: 'POST' } });
    const body = req.body ?? new URLSearchParams();
    const { grant_type } = readParams(body, GRANT_TYPE);
    if (grant_type === undefined) throw new OAuthError('invalid_request', "missing parameter 'grant_type'");
    // RFC 9449 §5: a DPoP proof binds what any grant issues. Checked before the client authenticates
    // (a proof that fails costs no password hash or assertion); its jti spent after (a stranger's
    // proofs cost no write).
    const checking = dpop.check(req, PATHS.token);
    const proof = checking === undefined ? undefined : await checking;
    const client = await authenticateClient(engine, req, body);
    await proof?.spend();
    // RFC 9449 §5.2: a client registered with dpop_bound_access_tokens MUST send a proof.
    if (client.dpopBoundAccessTokens && proof === undefined) throw new OAuthError('invalid_dpop_proof', 'this client must send a DPoP proof with every token request (dpop_bound_access_tokens)');
    const grant = grants.get(grant_type);
    // The value is never echoed (no unvalidated input in error_description); the offered ones are.
    if (!grant) throw new OAuthError('unsupported_grant_type', `the grant_type is not supported; this server offers ${offered}`);
    if (!client.grantTypes.includes(grant.grantType as GrantType)) {
      throw new OAuthError('unauthorized_client', `this client may not use grant_type '${grant_type}'`);
    }
    const params = readParams(body, grant.params);
    const address = clientAddress(req, config.trustForwardedFor);
    // RFC 8707 §2.2: the resource the access token is for, one per token request (oneResource says why).
    const resource = oneResource(requestedResources(body, client, config));
    const issued = await grant.handle({ engine, client, params, body, by: { actor: `client:${client.id}`, endpoint: PATHS.token }, address, jkt: proof?.jkt ?? null, resource });
    const response = tokenResponse(issued);
    // OpenID Connect Core §3.1.3.3: an id_token beside an openid authorization's tokens (no await on the other grants' path).
    if (issued.authentication !== undefined) response.id_token = await idTokenFor(keys, config.issuer, client, issued);
    return json(200, response, proof?.headers);
  };
}
