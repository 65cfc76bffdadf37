/**
 * The client's errors. Every class has a stable `code` (as jose's errors do): callers switch on
 * `code` (and, for OAuth errors, on `error`), never on messages.
 *
 * - OAuthResponseError: the server answered with an RFC 6749 §5.2 error (token, revocation,
 *   introspection, device endpoints), carrying its HTTP status; also a device code's
 *   `expired_token` once its `expires_in` has passed, whether the server said so or not.
 * - AuthorizationResponseError: the authorization response (the callback URL) carried an error
 *   (RFC 6749 §4.1.2.1); there is no HTTP status.
 * - NetworkError: no HTTP response at all (DNS, refused connection, TLS, reset).
 * - InvalidResponseError: an HTTP response that is not what the protocol allows.
 * - StateMismatchError, IssuerMismatchError: the callback or metadata failed a security check.
 * - MissingTokenError: the session has no token (or no refresh token) for what was asked.
 * - ConfigurationError: the options or metadata cannot work (missing endpoint, insecure URL, bad key).
 * - IdTokenError: an ID Token failed validation (OpenID Connect Core §3.1.3.7).
 * - ReauthenticationRequiredError (an OAuthResponseError): the server refused the refresh token
 *   (invalid_grant); RefreshOutcomeUnknownError: a refresh request was sent and no answer came
 *   back, so the refresh token may be spent. Both mean: sign the user in again.
 * - TokenLockError: the lock around a refresh could not be taken in time.
 * - TokenStoreError: a token store's contents cannot be read (a file that is not a token store).
 *
 * No message, field or JSON of an error carries a token, secret or code: messages are written
 * here from what is safe to show, what a server says has anything shaped like a credential
 * blanked (`redact`), and URLs lose their query (`safeUrl`).
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

/**
 * Blanks what looks like a credential in text that came from elsewhere (a server's
 * error_description, a message): runs of 24 or more token characters (base64, base64url, hex,
 * JWT dots) holding both a letter and a digit, as every random token of that length does, and
 * each of `secrets` (values the caller sent: a refresh token, a code, a password).
 */
export function redact(text: string, secrets: ReadonlyArray<string | undefined> = []): string {
  let out = text;
  for (const secret of secrets) if (secret) out = out.split(secret).join('[redacted]');
  return out.replace(/[A-Za-z0-9_\-.~+/=]{24,}/g, (run) => (/[A-Za-z]/.test(run) && /[0-9]/.test(run) ? '[redacted]' : run));
}

/** An OAuth error's message: its code, and the server's description with credentials blanked. */
const describe = (fields: OAuthErrorFields): string => redact(fields.error_description ? `${fields.error}: ${fields.error_description}` : fields.error);

/** A URL fit for a message: scheme, host and path; no credentials, query or fragment. */
export function safeUrl(url: string | URL): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '[not a URL]';
  }
}

/** Fields of an OAuth error response (RFC 6749 §4.1.2.1, §5.2). */
export interface OAuthErrorFields {
  error: OAuthErrorName;
  error_description?: string | undefined;
  error_uri?: string | undefined;
}

export class OAuthResponseError extends ClientError {
  readonly code: 'ERR_OAUTH_RESPONSE' | 'ERR_REAUTHENTICATION_REQUIRED' = 'ERR_OAUTH_RESPONSE';
  readonly error: OAuthErrorName;
  readonly error_description: string | undefined;
  readonly error_uri: string | undefined;
  /**
   * The HTTP status of the response; 400, as a server's would be, for the `expired_token` that
   * pollDeviceToken concludes itself once the device code's `expires_in` has passed.
   */
  readonly status: number;
  /** The response's WWW-Authenticate header, if any (RFC 6749 §5.2 invalid_client). */
  readonly wwwAuthenticate: string | undefined;

  /** The server's §5.3 `Retry-After` (for 429, 503, `temporarily_unavailable`), in seconds. */
  readonly retryAfter: number | undefined;

  constructor(fields: OAuthErrorFields, status: number, wwwAuthenticate?: string, retryAfter?: number) {
    super(describe(fields));
    this.error = fields.error;
    this.error_description = fields.error_description === undefined ? undefined : redact(fields.error_description);
    this.error_uri = fields.error_uri === undefined ? undefined : redact(fields.error_uri);
    this.status = status;
    this.wwwAuthenticate = wwwAuthenticate === undefined ? undefined : redact(wwwAuthenticate);
    this.retryAfter = retryAfter;
  }
}

/**
 * The server refused the session's refresh token with `invalid_grant` (RFC 6749 §5.2: expired,
 * revoked, or already used): the user must sign in again. The session has forgotten the token, in
 * its store too, so no other process or tab sends it again. Still an OAuthResponseError with
 * `error: 'invalid_grant'`, for code that checks that.
 */
export class ReauthenticationRequiredError extends OAuthResponseError {
  override readonly code = 'ERR_REAUTHENTICATION_REQUIRED';

  constructor(from: OAuthResponseError) {
    super({ error: from.error, error_description: from.error_description, error_uri: from.error_uri }, from.status, from.wwwAuthenticate, from.retryAfter);
    this.message = `re-authentication required: the refresh token was refused (${this.message})`;
  }
}

/**
 * A refresh request was sent but no answer came back (the connection broke, or a 5xx other than
 * 503): the server may have rotated the refresh token, and sending it again could count as reuse
 * (RFC 9700 §4.14.2), which revokes the whole grant. The session does not send it again: it keeps
 * the access token until it expires and drops the refresh token. Re-authentication may be needed.
 * `cause` is the failure.
 */
export class RefreshOutcomeUnknownError extends ClientError {
  readonly code = 'ERR_REFRESH_OUTCOME_UNKNOWN';
  constructor(cause: unknown) {
    super(
      `the refresh request failed after it was sent (${cause instanceof Error ? cause.message : String(cause)}): the server may have rotated the refresh token, so it is not sent again; re-authentication may be needed`,
      { cause },
    );
  }
}

/** The lock around a refresh (TokenLock) was not granted in time. */
export class TokenLockError extends ClientError {
  readonly code = 'ERR_TOKEN_LOCK';
}

/**
 * A token store's contents cannot be read. Its message names the store, never what it holds: a
 * JSON parser's message quotes the text around the fault, which is where the tokens are.
 */
export class TokenStoreError extends ClientError {
  readonly code = 'ERR_TOKEN_STORE';
}

export class AuthorizationResponseError extends ClientError {
  readonly code = 'ERR_AUTHORIZATION_RESPONSE';
  readonly error: OAuthErrorName;
  readonly error_description: string | undefined;
  readonly error_uri: string | undefined;
  /** The `state` the response carried (already checked against the expected one). */
  readonly state: string | undefined;

  constructor(fields: OAuthErrorFields, state: string | undefined) {
    super(describe(fields));
    this.error = fields.error;
    this.error_description = fields.error_description === undefined ? undefined : redact(fields.error_description);
    this.error_uri = fields.error_uri === undefined ? undefined : redact(fields.error_uri);
    this.state = state;
  }
}

export class NetworkError extends ClientError {
  readonly code = 'ERR_NETWORK';
  /** The URL without its query or fragment. */
  readonly url: string;
  /**
   * True when the request certainly never reached the server (connection refused, name not
   * resolved, connect timeout): safe to send again, even a refresh token.
   */
  readonly notSent: boolean;
  constructor(url: string, cause: unknown, notSent = neverSent(cause)) {
    super(`request to ${safeUrl(url)} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.url = safeUrl(url);
    this.notSent = notSent;
  }
}

export class InvalidResponseError extends ClientError {
  readonly code = 'ERR_INVALID_RESPONSE';
  /**
   * The HTTP status, when the problem is with an HTTP response (not with a callback URL), and its
   * `Retry-After` in seconds, if any.
   */
  constructor(message: string, readonly status?: number, readonly retryAfter?: number) {
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

/**
 * Blanks `secrets` (values the caller sent, e.g. a password) in an error's message, in what the
 * server said (error_description, error_uri, WWW-Authenticate) and in its causes, in place, and
 * returns it: for errors about a request that carried them.
 */
export function redactSecrets<E>(err: E, secrets: ReadonlyArray<string | undefined>, depth = 0): E {
  if (!(err instanceof Error) || depth > 5) return err;
  for (const name of ['message', 'error_description', 'error_uri', 'wwwAuthenticate']) {
    const value: unknown = Reflect.get(err, name);
    // Reflect.set: a read-only message (a DOMException's) stays as it is rather than throwing.
    if (typeof value === 'string') Reflect.set(err, name, redact(value, secrets));
  }
  redactSecrets(err.cause, secrets, depth + 1);
  return err;
}

/** Error codes (Node, undici) of a connection that was never made: nothing was sent. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);

/** Whether every error code found in a failure's cause chain says the connection was never made. */
function neverSent(cause: unknown): boolean {
  const codes: string[] = [];
  const walk = (e: unknown, depth: number): void => {
    if (depth > 5 || e === null || typeof e !== 'object') return;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    if (e instanceof AggregateError) for (const inner of e.errors) walk(inner, depth + 1);
    walk((e as { cause?: unknown }).cause, depth + 1);
  };
  walk(cause, 0);
  return codes.length > 0 && codes.every((c) => NOT_SENT.has(c));
}

/** True for both kinds of OAuth error (from an endpoint or from the callback). */
export const isOAuthError = (value: unknown): value is OAuthResponseError | AuthorizationResponseError =>
  value instanceof OAuthResponseError || value instanceof AuthorizationResponseError;
