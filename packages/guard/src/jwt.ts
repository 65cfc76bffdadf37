/** Local validation of a JWT access token (RFC 9068 §4) with jose, against the cached JWKS. */
import { errors, type JWTPayload, type JWTVerifyOptions, jwtVerify } from 'jose';
import type { JwksCache } from './jwks.js';

export interface JwtRules {
  issuer: string;
  audience: string;
  clockTolerance: number;
  algorithms: string[];
}

/** jose's options for these rules, built once per guard. */
export function joseOptions(rules: JwtRules): JWTVerifyOptions {
  return { issuer: rules.issuer, audience: rules.audience, typ: 'at+jwt', algorithms: rules.algorithms, clockTolerance: rules.clockTolerance };
}

/** RFC 9068 §2.2: the claims every JWT access token carries (iss, aud and exp jose checks itself). */
const REQUIRED = ['sub', 'client_id', 'iat', 'jti'] as const;

/**
 * RFC 9068 §4: the header `typ` MUST be at+jwt (jose also accepts application/at+jwt), `iss`
 * MUST match the issuer, `aud` MUST contain this resource server, the signature MUST verify with
 * the issuer's key and an allowed algorithm (never none), and `exp` MUST be in the future.
 * jose also checks `nbf` and, given clockTolerance, allows that much skew on both.
 */
export async function verifyAccessJwt(token: string, jwks: JwksCache, options: JWTVerifyOptions): Promise<JWTPayload> {
  // Hot path: a header seen before names a known key; otherwise the JWKS resolves it (and may refetch).
  const segment = token.slice(0, token.indexOf('.'));
  const known = jwks.keyForHeader(segment);
  let payload: JWTPayload;
  if (known) {
    ({ payload } = await jwtVerify(token, known, options));
  } else {
    const verified = await jwtVerify(token, jwks.getKey, options);
    jwks.remember(segment, verified.key as CryptoKey);
    payload = verified.payload;
  }
  for (const claim of REQUIRED) {
    if (payload[claim] === undefined) throw new errors.JWTClaimValidationFailed(`missing required "${claim}" claim`, payload, claim, 'missing');
  }
  return payload;
}

/** A stable, token-free description of why jose refused a token; undefined for other errors. */
export function joseProblem(err: unknown): string | undefined {
  if (err instanceof errors.JWTExpired) return 'the token has expired';
  if (err instanceof errors.JWTClaimValidationFailed) return `the token's "${err.claim}" claim is not acceptable (${err.reason})`;
  if (err instanceof errors.JWKSNoMatchingKey) return 'the token is signed with an unknown key';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'the token signature is invalid';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'the token is signed with an algorithm not accepted here';
  if (err instanceof errors.JOSEError) return 'the token is malformed';
  return undefined;
}
