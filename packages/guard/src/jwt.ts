/**
 * Local validation of a JWT access token (RFC 9068 §4) against the cached JWKS. jose verifies
 * every token whose header it has not seen; tokens whose header segment jose already accepted
 * (alg, typ, kid and crit known good) take a node:crypto path for the ES256 signature, which on
 * Node runs on the thread pool and measured ≈ 1.5× jose's WebCrypto path (bench:guard).
 */
import { KeyObject, verify as cryptoVerify } from 'node:crypto';
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

/** RFC 9068 §2.2: the claims every JWT access token carries (iss and aud are checked against the rules). */
const REQUIRED = ['exp', 'sub', 'client_id', 'iat', 'jti'] as const;

/**
 * RFC 9068 §4: the header `typ` MUST be at+jwt (jose also accepts application/at+jwt), `iss`
 * MUST match the issuer, `aud` MUST contain this resource server, the signature MUST verify with
 * the issuer's key and an allowed algorithm (never none), and `exp` MUST be in the future.
 * jose also checks `nbf` and, given clockTolerance, allows that much skew on both.
 */
export async function verifyAccessJwt(token: string, jwks: JwksCache, options: JWTVerifyOptions): Promise<JWTPayload> {
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  if (first < 0 || second < 0 || token.indexOf('.', second + 1) >= 0) throw new errors.JWSInvalid('Compact JWS must have three parts');
  // RFC 7515 §2, §7.1: each part is base64url without padding. Both paths below refuse the same
  // set: anything but the one canonical encoding (padding, '+' or '/', junk, stray low bits).
  const payloadBytes = canonical(token.slice(first + 1, second), 'payload');
  const signature = canonical(token.slice(second + 1), 'signature');
  // Hot path: a header seen before names a known key; otherwise the JWKS resolves it (and may refetch).
  const segment = token.slice(0, first);
  const known = jwks.keyForHeader(segment);
  let payload: JWTPayload;
  if (known && isP256(known)) {
    payload = await verifyKnownEs256(token, second, payloadBytes, signature, known, options);
  } else if (known) {
    ({ payload } = await jwtVerify(token, known, options));
  } else {
    canonical(segment, 'header');
    const verified = await jwtVerify(token, jwks.getKey, options);
    jwks.remember(segment, verified.key as CryptoKey);
    payload = verified.payload;
  }
  for (const claim of REQUIRED) {
    if (payload[claim] === undefined) throw new errors.JWTClaimValidationFailed(`missing required "${claim}" claim`, payload, claim, 'missing');
  }
  return payload;
}

const keyObjects = new WeakMap<CryptoKey, KeyObject>();
/** As jose reads a claims set: invalid UTF-8 is refused, a leading BOM dropped. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const isP256 = (key: CryptoKey) => key.algorithm.name === 'ECDSA' && (key.algorithm as EcKeyAlgorithm).namedCurve === 'P-256';

/** The bytes of a base64url segment, if it is their one canonical encoding (RFC 7515 §2). */
function canonical(segment: string, part: string): Buffer {
  const bytes = Buffer.from(segment, 'base64url');
  // Buffer's decoder skips what it cannot read: re-encoding tells a canonical segment from the rest.
  if (bytes.toString('base64url') !== segment) throw new errors.JWSInvalid(`the JWS ${part} is not canonical base64url`);
  return bytes;
}

/** RFC 7515 §5.2 for ES256 (RFC 7518 §3.4: r || s, 64 bytes), then the claims as jose checks them. */
async function verifyKnownEs256(token: string, dot: number, payloadBytes: Buffer, signature: Buffer, key: CryptoKey, options: JWTVerifyOptions): Promise<JWTPayload> {
  let keyObject = keyObjects.get(key);
  if (!keyObject) {
    keyObject = KeyObject.from(key);
    keyObjects.set(key, keyObject);
  }
  const valid = signature.length === 64 && await new Promise<boolean>((resolve, reject) => {
    cryptoVerify('sha256', Buffer.from(token.slice(0, dot)), { key: keyObject, dsaEncoding: 'ieee-p1363' }, signature, (err, ok) => (err ? reject(err) : resolve(ok)));
  });
  if (!valid) throw new errors.JWSSignatureVerificationFailed();
  let payload: unknown;
  try {
    payload = JSON.parse(strictUtf8.decode(payloadBytes));
  } catch {
    throw new errors.JWTInvalid('JWT Claims Set must be a top-level JSON object');
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new errors.JWTInvalid('JWT Claims Set must be a top-level JSON object');
  checkClaims(payload as JWTPayload, options);
  return payload as JWTPayload;
}

/** RFC 7519 §4.1 as jose.jwtVerify checks them for these options: iss, aud, exp, nbf, iat. */
function checkClaims(payload: JWTPayload, options: JWTVerifyOptions): void {
  const fail = (claim: string, reason: string, message = `unexpected "${claim}" claim value`) => new errors.JWTClaimValidationFailed(message, payload, claim, reason);
  const now = Math.floor(Date.now() / 1000);
  const tolerance = typeof options.clockTolerance === 'number' ? options.clockTolerance : 0;
  if (payload.iss !== options.issuer) throw fail('iss', 'check_failed');
  const aud = payload.aud;
  if (!(typeof aud === 'string' ? aud === options.audience : Array.isArray(aud) && aud.includes(options.audience as string))) throw fail('aud', 'check_failed');
  for (const claim of ['exp', 'nbf', 'iat'] as const) {
    if (payload[claim] !== undefined && typeof payload[claim] !== 'number') throw fail(claim, 'invalid', `"${claim}" claim must be a number`);
  }
  if (payload.nbf !== undefined && payload.nbf > now + tolerance) throw fail('nbf', 'check_failed', '"nbf" claim timestamp check failed');
  if (payload.exp !== undefined && payload.exp <= now - tolerance) throw new errors.JWTExpired('"exp" claim timestamp check failed', payload, 'exp', 'check_failed');
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
