/**
 * OpenID Provider metadata (OpenID Connect Discovery 1.0 §3), served at
 * /.well-known/openid-configuration: the RFC 8414 document (the same values, so the two never
 * disagree) plus what OpenID Connect adds.
 */
import type { ServerConfig } from '../config.js';
import { PATHS } from '../http/routes.js';
import { metadata } from '../rfc8414/metadata.js';
import { SIGNING_ALGS } from '../lifecycle/keys.js';
import { SCOPE_CLAIMS } from './userinfo.js';

/** The scopes OpenID Connect gives a meaning (Core §3.1.2.1, §5.4, §11). */
export const OIDC_SCOPES = ['openid', 'profile', 'email', 'offline_access'] as const;

export function openidConfiguration(config: ServerConfig) {
  return {
    ...metadata(config),
    userinfo_endpoint: config.issuer + PATHS.userinfo,
    // OpenID Connect RP-Initiated Logout 1.0 §2.1.
    end_session_endpoint: config.issuer + PATHS.endSession,
    // RECOMMENDED; clients register any other scope they use, which this list does not name.
    scopes_supported: [...OIDC_SCOPES],
    // REQUIRED: a user's id, the same for every client.
    subject_types_supported: ['public'],
    // REQUIRED, and MUST include RS256 (§3); a client registers either (id_token_signed_response_alg).
    id_token_signing_alg_values_supported: [...SIGNING_ALGS],
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'at_hash', ...SCOPE_CLAIMS.profile, ...SCOPE_CLAIMS.email],
    // Discovery §3: omitted would mean "supported" (its default is true); the request_uri parameter is not.
    request_uri_parameter_supported: false,
  };
}
