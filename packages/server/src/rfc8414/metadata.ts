/** Authorization server metadata (RFC 8414 §2), derived from the configuration. */
import type { ServerConfig } from '../config.js';
import { PATHS } from '../http/routes.js';
import { enabledGrants } from '../rfc6749/token-endpoint.js';

export function metadata(config: ServerConfig) {
  const i = config.issuer;
  const authMethods = ['client_secret_basic', 'client_secret_post', 'none'];
  const grantTypes = [...enabledGrants(config).keys()];
  if (config.legacyGrants.includes('implicit')) grantTypes.push('implicit');
  return {
    issuer: i,
    authorization_endpoint: i + PATHS.authorization,
    token_endpoint: i + PATHS.token,
    revocation_endpoint: i + PATHS.revocation,
    introspection_endpoint: i + PATHS.introspection,
    jwks_uri: i + PATHS.jwks,
    // RFC 8628 §4.
    device_authorization_endpoint: i + PATHS.deviceAuthorization,
    response_types_supported: config.legacyGrants.includes('implicit') ? ['code', 'token'] : ['code'],
    response_modes_supported: ['query', 'fragment'],
    grant_types_supported: grantTypes,
    token_endpoint_auth_methods_supported: authMethods,
    revocation_endpoint_auth_methods_supported: authMethods,
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    // RFC 9207: authorization responses carry `iss`.
    authorization_response_iss_parameter_supported: true,
    code_challenge_methods_supported: config.allowPlainPkce ? ['S256', 'plain'] : ['S256'],
    // RFC 9126 §5.
    pushed_authorization_request_endpoint: i + PATHS.par,
    require_pushed_authorization_requests: config.requirePar,
    // RFC 8414 §2 allows additional metadata; the prefix keeps these names clear of future standard ones.
    tessera_revocation_feed_endpoint: i + PATHS.revocationFeed,
    tessera_revocation_stream_endpoint: i + PATHS.revocationStream,
  };
}
