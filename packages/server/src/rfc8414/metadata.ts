/** Authorization server metadata (RFC 8414 §2), derived from the configuration. */
import type { ServerConfig } from '../config.js';
import { PATHS } from '../http/routes.js';
import { supportedAuthMethods, supportedGrantTypes } from '../rfc7591/client-metadata.js';
import { CLIENT_SECRET_JWT_ALGS, PRIVATE_KEY_JWT_ALGS } from '../rfc7523/client-assertion.js';
import { DPOP_ALGORITHMS } from '@tessera/core/dpop';

export function metadata(config: ServerConfig) {
  const i = config.issuer;
  // client_secret_jwt only with a key to seal its secrets (config.clientSecretKeyFile).
  const authMethods = supportedAuthMethods(config);
  const jwtMethods = authMethods.filter((m) => m.endsWith('_jwt'));
  const signingAlgs = config.clientSecretKeyFile === '' ? PRIVATE_KEY_JWT_ALGS : [...PRIVATE_KEY_JWT_ALGS, ...CLIENT_SECRET_JWT_ALGS];
  const grantTypes = supportedGrantTypes(config);
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
    response_modes_supported: ['query', 'fragment', 'form_post'],
    grant_types_supported: grantTypes,
    token_endpoint_auth_methods_supported: authMethods,
    // RFC 8414 §2: the JWS algorithms of private_key_jwt (and client_secret_jwt) assertions, RFC 7523; never `none`.
    token_endpoint_auth_signing_alg_values_supported: signingAlgs,
    revocation_endpoint_auth_methods_supported: authMethods,
    revocation_endpoint_auth_signing_alg_values_supported: signingAlgs,
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', ...jwtMethods],
    introspection_endpoint_auth_signing_alg_values_supported: signingAlgs,
    // RFC 9207: authorization responses carry `iss`.
    authorization_response_iss_parameter_supported: true,
    code_challenge_methods_supported: config.allowPlainPkce ? ['S256', 'plain'] : ['S256'],
    // RFC 7591 §3: only when clients may register.
    ...(config.registration === 'off' ? {} : { registration_endpoint: i + PATHS.registration }),
    // RFC 9126 §5.
    pushed_authorization_request_endpoint: i + PATHS.par,
    require_pushed_authorization_requests: config.requirePar,
    // RFC 9449 §5.1: the JWS algorithms of DPoP proofs (asymmetric only).
    dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
    // RFC 8414 §2 allows additional metadata; the prefix keeps these names clear of future standard ones.
    tessera_revocation_feed_endpoint: i + PATHS.revocationFeed,
    tessera_revocation_stream_endpoint: i + PATHS.revocationStream,
  };
}
