/**
 * The guard's errors, as the client's (packages/client/src/errors.ts): every class has a stable
 * `code`; callers switch on `code`, never on messages. Messages name the cause and never hold a
 * token or a secret.
 *
 * Fatal for `guard.ready()` (it rejects at once; the guard keeps retrying in the background and
 * fails closed meanwhile): GuardCredentialsError, GuardForbiddenError, IssuerMismatchError,
 * GuardConfigurationError. Retried: GuardUnreachableError, which `ready()` rejects with once
 * `readyTimeout` has passed without a catch-up.
 */

export abstract class GuardError extends Error {
  abstract readonly code: string;
  /** Whether retrying without a change of configuration can help. */
  readonly fatal: boolean = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The authorization server refused the guard's client credentials (401 invalid_client). */
export class GuardCredentialsError extends GuardError {
  readonly code = 'ERR_GUARD_CREDENTIALS';
}

/** The guard's client is not allowed what it asked (403: a scope such as tessera:revocations is missing). */
export class GuardForbiddenError extends GuardError {
  readonly code = 'ERR_GUARD_FORBIDDEN';
}

/** RFC 8414 §3.3: the metadata names another issuer than the one the guard was given. */
export class IssuerMismatchError extends GuardError {
  readonly code = 'ERR_ISSUER_MISMATCH';
}

/** The issuer's metadata or an endpoint cannot work (not found, no feed endpoint, not JSON). */
export class GuardConfigurationError extends GuardError {
  readonly code = 'ERR_GUARD_CONFIGURATION';
}

/** No usable answer from the authorization server (network, timeout, 5xx, 429): retried. */
export class GuardUnreachableError extends GuardError {
  readonly code = 'ERR_GUARD_UNREACHABLE';
  override readonly fatal = false;
}

/** The guard was closed before its revocation feed caught up. */
export class GuardClosedError extends GuardError {
  readonly code = 'ERR_GUARD_CLOSED';
}

/**
 * Thrown inside the guard when it cannot decide a token now (JWKS or introspection unreachable,
 * a race it cannot resolve): the verification answers 503, never an accept.
 */
export class GuardUnavailable extends GuardError {
  readonly code = 'ERR_GUARD_UNAVAILABLE';
  override readonly fatal = false;
}

// RFC 6749 §5.2 error_description is %x20-21 / %x23-5B / %x5D-7E; anything else is dropped.
const printable = (v: unknown, max: number) => (typeof v === 'string' ? v.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '').slice(0, max) : '');

/**
 * The error for a non-200 answer from the authorization server. The feed's and the metadata's
 * OAuth error (RFC 6749 §5.2) may be quoted; an introspection answer's never is (its request
 * carried a token, which a careless server might echo).
 */
export async function httpError(what: string, res: Response, quote: boolean): Promise<GuardError> {
  let detail = '';
  if (quote) {
    const body = (await res.json().catch(() => undefined)) as { error?: unknown; error_description?: unknown } | undefined;
    const error = printable(body?.error, 64);
    const description = printable(body?.error_description, 200);
    if (error) detail = `: ${error}${description ? ` (${description})` : ''}`;
  } else {
    await res.body?.cancel().catch(() => {});
  }
  const message = `${what} answered ${res.status}${detail}`;
  if (res.status === 401) return new GuardCredentialsError(`${message}: check the guard's client id and secret`);
  if (res.status === 403) return new GuardForbiddenError(`${message}: the guard's client needs scope tessera:revocations (feed) and tessera:introspect`);
  if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) return new GuardConfigurationError(message);
  return new GuardUnreachableError(message);
}

/** A failure with no HTTP answer at all (refused, reset, timed out), described without internals. */
export function networkError(what: string, cause: unknown): GuardUnreachableError {
  const code = (cause as { cause?: { code?: unknown } })?.cause?.code;
  const reason = cause instanceof Error ? (cause.name === 'TimeoutError' ? 'timed out' : cause.message) : String(cause);
  return new GuardUnreachableError(`${what} cannot be reached: ${reason}${typeof code === 'string' ? ` (${code})` : ''}`, { cause });
}
