/** Authorization server metadata (RFC 8414 §2; OpenID Connect Discovery 1.0 §3 uses the same names). */
export interface AuthorizationServer {
  /** The issuer identifier: an https URL with no query or fragment (RFC 8414 §2). */
  issuer: string;
  authorization_endpoint?: string;
  token_endpoint?: string;
  /** RFC 7009 (RFC 8414 §2). */
  revocation_endpoint?: string;
  /** RFC 7662 (RFC 8414 §2). */
  introspection_endpoint?: string;
  /** RFC 8628 §4. */
  device_authorization_endpoint?: string;
  jwks_uri?: string;
  /** OpenID Connect Core §5.3, Discovery §3. */
  userinfo_endpoint?: string;
  /** OpenID Connect RP-Initiated Logout 1.0 §2.1. */
  end_session_endpoint?: string;
  /** OpenID Connect Discovery §3. */
  id_token_signing_alg_values_supported?: string[];
  scopes_supported?: string[];
  response_types_supported?: string[];
  grant_types_supported?: string[];
  token_endpoint_auth_methods_supported?: string[];
  code_challenge_methods_supported?: string[];
  /** RFC 9207 §3: the server puts `iss` in every authorization response. */
  authorization_response_iss_parameter_supported?: boolean;
  [extension: string]: unknown;
}

/** The endpoints a step needs, by metadata name. */
export type EndpointName =
  | 'authorization_endpoint'
  | 'token_endpoint'
  | 'revocation_endpoint'
  | 'introspection_endpoint'
  | 'device_authorization_endpoint';
