/**
 * OAuth 2 errors (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1; RFC 7009 §2.2.1).
 * Callers switch on `error`, never on the description.
 */
export type OAuthErrorCode =
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
  /** RFC 8628 §3.5, registered for the token endpoint: the client must wait before trying again. */
  | 'slow_down'
  /** RFC 9101 §7.1 (used by RFC 9126 §4): the request_uri is unknown, expired, used, or another client's. */
  | 'invalid_request_uri'
  /** RFC 9101 §7.1: request objects (the `request` parameter) are not supported. */
  | 'request_not_supported'
  /** RFC 8628 §3.5: the user has not yet approved or denied the device authorization. */
  | 'authorization_pending'
  /** RFC 8628 §3.5: the device code expired; the client may start a new device authorization. */
  | 'expired_token'
  /** OpenID Connect Core §3.1.2.6: prompt=none could not be honoured. */
  | 'login_required'
  | 'consent_required'
  | 'interaction_required'
  /** RFC 7591 §3.2.2: a redirect_uri of the registration request is invalid. */
  | 'invalid_redirect_uri'
  /** RFC 7591 §3.2.2: a client metadata field is invalid, or the fields are inconsistent. */
  | 'invalid_client_metadata'
  /** RFC 9449 §5, §7.1: the DPoP proof is invalid (or missing where one is required). */
  | 'invalid_dpop_proof'
  /** RFC 9449 §8, §9: the DPoP proof must carry the nonce the server provides (DPoP-Nonce header). */
  | 'use_dpop_nonce'
  /** RFC 8707 §2: the resource named is invalid, unknown, or not one this client may have a token for. */
  | 'invalid_target';

const defaultStatus: Record<OAuthErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  access_denied: 403,
  unsupported_response_type: 400,
  unsupported_token_type: 400,
  invalid_token: 401,
  insufficient_scope: 403,
  server_error: 500,
  temporarily_unavailable: 503,
  slow_down: 400,
  invalid_request_uri: 400,
  request_not_supported: 400,
  authorization_pending: 400,
  expired_token: 400,
  login_required: 400,
  consent_required: 400,
  interaction_required: 400,
  invalid_redirect_uri: 400,
  invalid_client_metadata: 400,
  invalid_dpop_proof: 400,
  use_dpop_nonce: 400,
  invalid_target: 400,
};

export interface OAuthErrorOptions {
  status?: number;
  headers?: Record<string, string>;
  /** false for errors whose description must not reach the client (server_error). */
  expose?: boolean;
  cause?: unknown;
}

export class OAuthError extends Error {
  readonly error: OAuthErrorCode;
  readonly error_description: string | undefined;
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly expose: boolean;

  constructor(error: OAuthErrorCode, description?: string, options: OAuthErrorOptions = {}) {
    super(description ?? error, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OAuthError';
    this.error = error;
    this.error_description = description;
    this.status = options.status ?? defaultStatus[error];
    this.headers = options.headers ?? {};
    this.expose = options.expose ?? error !== 'server_error';
  }

  /** The JSON body of RFC 6749 §5.2. */
  toJSON(): { error: OAuthErrorCode; error_description?: string } {
    return this.error_description === undefined || !this.expose
      ? { error: this.error }
      : { error: this.error, error_description: describable(this.error_description) };
  }
}

/** Characters RFC 6749 §5.2 does not allow in error_description: %x20-21 / %x23-5B / %x5D-7E only. */
const NOT_DESCRIBABLE = /[^\x20\x21\x23-\x5b\x5d-\x7e]/gu;

const REPLACEMENTS: Record<string, string> = { '"': "'", '\\': '/', '§': 'section ' };

/** A description within §5.2's character set ("RFC 6749 §3.3" goes out as "RFC 6749 section 3.3"). */
function describable(description: string): string {
  return description.replace(NOT_DESCRIBABLE, (c) => REPLACEMENTS[c] ?? '?');
}

/** Any thrown value as an exposable OAuthError: unknown failures become a bare server_error. */
export function toOAuthError(value: unknown): OAuthError {
  if (value instanceof OAuthError) return value.expose ? value : new OAuthError('server_error');
  return new OAuthError('server_error', undefined, { cause: value });
}
