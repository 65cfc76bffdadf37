/**
 * Reading claims: a JWT payload (RFC 9068 §2.2) or an introspection response (RFC 7662 §2.2)
 * becomes the facts the revoked set matches and the VerifiedToken handlers see.
 */
import type { VerifiedToken } from './result.js';
import type { TokenFacts } from './revocations.js';

type Claims = Readonly<Record<string, unknown>>;

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
const optional = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * The ids a revocation event can name. `tessera_grant` and `tessera_family` are Tessera's private
 * claims (RFC 7519 §4.3); tokens from other servers lack them and match by jti, sub and client only.
 */
export function factsOf(c: Claims): TokenFacts {
  return { jti: str(c.jti), sub: str(c.sub), clientId: str(c.client_id), iat: num(c.iat), grant: optional(c.tessera_grant), family: optional(c.tessera_family) };
}

export function verifiedToken(format: VerifiedToken['format'], c: Claims): VerifiedToken {
  return {
    format,
    id: str(c.jti),
    subject: str(c.sub),
    clientId: str(c.client_id),
    // RFC 9068 §2.2.3: scope is a space-delimited string (RFC 6749 §3.3).
    scopes: str(c.scope).split(' ').filter(Boolean),
    issuedAt: num(c.iat),
    expiresAt: num(c.exp),
    // RFC 9449 §6.1 (a JWT's cnf claim), §6.2 (the introspection answer's cnf member).
    jkt: boundKey(c),
    claims: c,
  };
}

/** The DPoP key thumbprint a token is confirmed by (RFC 7800 cnf, RFC 9449 §6), if any. */
function boundKey(c: Claims): string | undefined {
  const cnf = c.cnf;
  return typeof cnf === 'object' && cnf !== null ? optional((cnf as Record<string, unknown>).jkt) : undefined;
}

export interface AudienceRules {
  issuer: string;
  audience: string;
  clockTolerance: number;
}

/** What is wrong with an introspection answer, for a resource server (RFC 7662 §2.2, §4), if anything. */
export function introspectionProblem(r: Claims, rules: AudienceRules, now: number): string | undefined {
  if (r.active !== true) return 'the token is not active';
  // Tessera answers token_type "refresh_token" for refresh tokens: never an access credential;
  // a DPoP-bound access token is of type DPoP (RFC 9449 §6.2).
  const type = r.token_type === undefined ? 'bearer' : str(r.token_type).toLowerCase();
  if (type !== 'bearer' && type !== 'dpop') return 'the token is not an access token';
  if (typeof r.exp === 'number' && r.exp + rules.clockTolerance < now) return 'the token has expired';
  if (r.iss !== undefined && r.iss !== rules.issuer) return 'the token was issued by another server';
  const aud = Array.isArray(r.aud) ? r.aud : r.aud === undefined ? [rules.audience] : [r.aud];
  if (!aud.includes(rules.audience)) return 'the token is not meant for this resource server';
  return undefined;
}

/** RFC 6750 §3.1: the scopes the request needs that the token lacks. */
export function missingScopes(token: VerifiedToken, required: readonly string[]): string[] {
  return required.filter((s) => !token.scopes.includes(s));
}
