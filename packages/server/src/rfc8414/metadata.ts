/** Authorization server metadata (RFC 8414 §2), derived from the configuration. */
import type { ServerConfig } from '../config.js';
import { PATHS } from '../http/routes.js';
import { enabledGrants } from '../rfc6749/token-endpoint.js';
import { PRIVATE_KEY_JWT_ALGS } from '../rfc7523/client-assertion.js';

export function metadata(config: ServerConfig) {
  const i = config.issuer;
  const authMethods = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'];
  const grantTypes = [...enabledGrants(config).keys()];
  if (config.legacyGrants.includes('implicit')) grantTypes.push('implicit');
  return {
    issuer: i,
    authorization_endpoint: i + PATHS.authorization,
    token_endpoint: i + PATHS.token,
    revocation_endpoint: i + PATHS.revocation,
    introspection_endpoint: i + PATHS.introspection,
    jwks_uri: i + PATHS.jwks,
    response_types_supported: config.legacyGrants.includes('implicit') ? ['code', 'token'] : ['code'],
    response_modes_supported: ['query', 'fragment'],
    grant_types_supported: grantTypes,
    token_endpoint_auth_methods_supported: authMethods,
    // RFC 8414 §2: the JWS algorithms of private_key_jwt assertions (RFC 7523); never `none`.
    token_endpoint_auth_signing_alg_values_supported: PRIVATE_KEY_JWT_ALGS,
    revocation_endpoint_auth_methods_supported: authMethods,
    revocation_endpoint_auth_signing_alg_values_supported: PRIVATE_KEY_JWT_ALGS,
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    introspection_endpoint_auth_signing_alg_values_supported: PRIVATE_KEY_JWT_ALGS,
    // RFC 9207: authorization responses carry `iss`.
    authorization_response_iss_parameter_supported: true,
    code_challenge_methods_supported: config.allowPlainPkce ? ['S256', 'plain'] : ['S256'],
    // RFC 8414 §2 allows additional metadata; the prefix keeps these names clear of future standard ones.
    tessera_revocation_feed_endpoint: i + PATHS.revocationFeed,
    tessera_revocation_stream_endpoint: i + PATHS.revocationStream,
  };
}
