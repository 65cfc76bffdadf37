/**
 * The client's errors. Every class has a stable `code` (as jose's errors do): callers switch on
 * `code` (and, for OAuth errors, on `error`), never on messages.
 *
 * - OAuthResponseError: the server answered with an RFC 6749 §5.2 error (token, revocation,
 *   introspection, device endpoints), carrying its HTTP status.
 * - AuthorizationResponseError: the authorization response (the callback URL) carried an error
 *   (RFC 6749 §4.1.2.1); there is no HTTP status.
 * - NetworkError: no HTTP response at all (DNS, refused connection, TLS, reset).
 * - InvalidResponseError: an HTTP response that is not what the protocol allows.
 * - StateMismatchError, IssuerMismatchError: the callback or metadata failed a security check.
 * - MissingTokenError: the session has no token (or no refresh token) for what was asked.
 * - ConfigurationError: the options or metadata cannot work (missing endpoint, insecure URL, bad key).
 * - IdTokenError: an ID Token failed validation (OpenID Connect Core §3.1.3.7).
 */

/**
 * RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1 and RFC 8628 §3.5 codes, or any other
 * string the server chose. Listed here rather than imported from @tessera/core, so that the
 * client installs and type-checks with jose as its only dependency.
 */
export type OAuthErrorName =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'unsupported_response_type'
  | 'unsupported_token_type'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'server_error'
  | 'temporarily_unavailable'
  | 'authorization_pending'
  | 'slow_down'
  | 'expired_token'
  | (string & {});

export abstract class ClientError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Fields of an OAuth error response (RFC 6749 §4.1.2.1, §5.2). */
export interface OAuthErrorFields {
  error: OAuthErrorName;
  error_description?: string | undefined;
  error_uri?: string | undefined;
}

export class OAuthResponseError extends ClientError {
  readonly code = 'ERR_OAUTH_RESPONSE';
  readonly error: OAuthErrorName;
  readonly error_description: string | undefined;
  readonly error_uri: string | undefined;
  /** The HTTP status of the response. */
  readonly status: number;
  /** The response's WWW-Authenticate header, if any (RFC 6749 §5.2 invalid_client). */
  readonly wwwAuthenticate: string | undefined;

  constructor(fields: OAuthErrorFields, status: number, wwwAuthenticate?: string) {
    super(fields.error_description ? `${fields.error}: ${fields.error_description}` : fields.error);
    this.error = fields.error;
    this.error_description = fields.error_description;
    this.error_uri = fields.error_uri;
    this.status = status;
    this.wwwAuthenticate = wwwAuthenticate;
  }
}

export class AuthorizationResponseError extends ClientError {
  readonly code = 'ERR_AUTHORIZATION_RESPONSE';
  readonly error: OAuthErrorName;
  readonly error_description: string | undefined;
  readonly error_uri: string | undefined;
  /** The `state` the response carried (already checked against the expected one). */
  readonly state: string | undefined;

  constructor(fields: OAuthErrorFields, state: string | undefined) {
    super(fields.error_description ? `${fields.error}: ${fields.error_description}` : fields.error);
    this.error = fields.error;
    this.error_description = fields.error_description;
    this.error_uri = fields.error_uri;
    this.state = state;
  }
}

export class NetworkError extends ClientError {
  readonly code = 'ERR_NETWORK';
  constructor(readonly url: string, cause: unknown) {
    super(`request to ${url} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

export class InvalidResponseError extends ClientError {
  readonly code = 'ERR_INVALID_RESPONSE';
  /** The HTTP status, when the problem is with an HTTP response (not with a callback URL). */
  constructor(message: string, readonly status?: number) {
    super(message);
  }
}

export class StateMismatchError extends ClientError {
  readonly code = 'ERR_STATE_MISMATCH';
}

export class IssuerMismatchError extends ClientError {
  readonly code = 'ERR_ISSUER_MISMATCH';
}

export class MissingTokenError extends ClientError {
  readonly code = 'ERR_MISSING_TOKEN';
  constructor(readonly which: 'access_token' | 'refresh_token') {
    super(`the session has no ${which}`);
  }
}

export class ConfigurationError extends ClientError {
  readonly code = 'ERR_CONFIGURATION';
}

/** An ID Token failed a check of OpenID Connect Core §3.1.3.7 (`claim` names the claim, when one did). */
export class IdTokenError extends ClientError {
  readonly code = 'ERR_ID_TOKEN';
  constructor(message: string, readonly claim?: string) {
    super(message);
  }
}

/** True for both kinds of OAuth error (from an endpoint or from the callback). */
export const isOAuthError = (value: unknown): value is OAuthResponseError | AuthorizationResponseError =>
  value instanceof OAuthResponseError || value instanceof AuthorizationResponseError;
