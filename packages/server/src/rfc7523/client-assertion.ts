/**
 * JWT client authentication (RFC 7523 §2.2, §3; RFC 7521 §4.2; OpenID Connect Core §9):
 * `private_key_jwt` (signed with a key the client registered) and `client_secret_jwt` (an HMAC
 * keyed with its client_secret, which the server keeps sealed: secrets.sealSecret). The client sends `client_assertion_type` =
 * urn:ietf:params:oauth:client-assertion-type:jwt-bearer and a `client_assertion` JWT it signed.
 *
 * Audience (draft-ietf-oauth-rfc7523bis): the issuer identifier is the only audience accepted, as
 * a string or a one-element array. The token endpoint URL is refused: an assertion made for it
 * can be one a client made for another server that named this server's endpoint as its own,
 * which is the attack the draft closes.
 */
import { OAuthError } from '@tessera/core';
import { decodeJwt, errors, jwtVerify } from 'jose';
import type { ClientRecord } from '../store/types.js';
import type { ClientKeys } from './client-jwks.js';

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Asymmetric JWS algorithms a private_key_jwt assertion may use: never `none`, never HS* (RFC 8725 §3.1, §2.1). */
export const PRIVATE_KEY_JWT_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/** client_secret_jwt: HMAC only (OpenID Connect Core §9), so a public key can never pose as a shared one. */
export const CLIENT_SECRET_JWT_ALGS = ['HS256', 'HS384', 'HS512'];

/** Clock difference tolerated between client and server, in seconds. */
const CLOCK_TOLERANCE_S = 30;
const MAX_JTI = 256;

const refused = (description: string) => new OAuthError('invalid_client', description, { status: 401 });

/** The client an assertion names: RFC 7523 §3 item 2, `sub` is the client_id. Unverified: only to find the client. */
export function assertedClientId(assertion: string): string {
  let sub: unknown;
  try {
    sub = decodeJwt(assertion).sub;
  } catch {
    throw refused('client_assertion is not a JWT');
  }
  if (typeof sub !== 'string' || sub === '') throw refused('client_assertion has no sub (RFC 7523 §3)');
  return sub;
}

export interface AssertionContext {
  issuer: string;
  /** Seconds: an assertion whose exp is further away is refused (config.clientAssertionMaxLifetime). */
  maxLifetime: number;
  keys: ClientKeys;
  now: () => number;
  /** client_secret_jwt: the client's secret as an HMAC key; undefined when it cannot be had. */
  secretOf(client: ClientRecord): Uint8Array | undefined;
  /** Records the jti until it expires: 'replayed' if it was already recorded (on any instance). */
  record(clientId: string, jti: string, expiresAt: number): Promise<'recorded' | 'replayed'>;
}

/** Verifies a client assertion for `client` (its signature, claims and one-time use); throws invalid_client otherwise. */
export async function verifyClientAssertion(ctx: AssertionContext, client: ClientRecord, assertion: string): Promise<void> {
  const hmac = client.authMethod === 'client_secret_jwt';
  const keys = hmac ? ctx.secretOf(client) : client.authMethod === 'private_key_jwt' ? ctx.keys.resolver(client) : undefined;
  if (!keys) throw refused(hmac ? 'client_secret_jwt is not available for this client on this server' : 'the client has no keys registered for private_key_jwt');
  const algorithms = hmac ? CLIENT_SECRET_JWT_ALGS : PRIVATE_KEY_JWT_ALGS;
  const nowS = Math.floor(ctx.now() / 1000);
  let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
  try {
    // Two calls, so that TypeScript sees each overload (a key, or a function choosing one).
    const options = {
      algorithms,
      // RFC 7523 §3 items 1, 2: iss and sub are the client_id.
      issuer: client.id,
      subject: client.id,
      // RFC 7523 §3 item 4: exp is required; OpenID Connect Core §9: so is jti.
      requiredClaims: ['exp', 'jti'],
      clockTolerance: CLOCK_TOLERANCE_S,
      currentDate: new Date(nowS * 1000),
    };
    ({ payload } = keys instanceof Uint8Array ? await jwtVerify(assertion, keys, options) : await jwtVerify(assertion, keys, options));
  } catch (err) {
    throw refused(describe(err, algorithms));
  }
  // draft-ietf-oauth-rfc7523bis: the issuer identifier as the sole audience.
  const aud = payload.aud;
  if (!(aud === ctx.issuer || (Array.isArray(aud) && aud.length === 1 && aud[0] === ctx.issuer))) {
    throw refused('client_assertion aud must be the issuer identifier, alone');
  }
  const exp = payload.exp as number;
  // RFC 7523 §3 item 4: a server may refuse an exp unreasonably far in the future.
  if (exp - nowS > ctx.maxLifetime + CLOCK_TOLERANCE_S) throw refused(`client_assertion must expire within ${ctx.maxLifetime} s`);
  const jti = payload.jti as string;
  // Control characters and lone surrogates are no jti (PostgreSQL would store two jtis that differ
  // only in lone surrogates as one, and refuse the second as a replay).
  if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI || /[\p{Cc}\p{Cs}]/u.test(jti)) throw refused('client_assertion jti is malformed');
  // RFC 7523 §3 item 7: a jti seen before (until the assertion expires) is a replay. RFC 7519 §2:
  // exp may have a fraction; the store keeps whole milliseconds, rounded up.
  if ((await ctx.record(client.id, jti, Math.ceil((exp + CLOCK_TOLERANCE_S) * 1000))) === 'replayed') throw refused('client_assertion was already used');
}

/** What went wrong, in words safe to send back (never the assertion). */
function describe(err: unknown, algorithms: string[]): string {
  if (err instanceof errors.JWTExpired) return 'client_assertion has expired';
  if (err instanceof errors.JWTClaimValidationFailed) return `client_assertion claim '${err.claim}' is invalid (${err.reason})`;
  if (err instanceof errors.JOSEAlgNotAllowed) return `client_assertion alg is not allowed; use one of ${algorithms.join(', ')}`;
  if (err instanceof errors.JWKSNoMatchingKey) return 'no registered key of the client matches the client_assertion';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'client_assertion signature is invalid';
  // Every failure to get keys from a jwks_uri (timeout, refused, not a JWK Set, too large) reads
  // the same: the answer must not tell a registrant what listens at the address it named.
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || !(err instanceof errors.JOSEError)) return "the client's keys could not be fetched";
  return 'client_assertion is invalid';
}
