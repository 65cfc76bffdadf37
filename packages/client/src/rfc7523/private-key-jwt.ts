/**
 * private_key_jwt (RFC 7523 §2.2, §3; OpenID Connect Core §9): the client proves itself with a
 * short-lived JWT signed by a private key it holds, whose public half the server knows.
 */
import { importJWK, type JWK, SignJWT } from 'jose';
import { randomToken } from '../encoding.js';
import { ConfigurationError } from '../errors.js';
import type { ClientAuth } from '../rfc6749/client-auth.js';

export interface PrivateKeyJwtOptions {
  /** JWS algorithm; defaults to the JWK's `alg`, else inferred from the key (ES256, RS256, EdDSA…). */
  alg?: string;
  /** `kid` header, so the server can pick the key; defaults to the JWK's `kid`. */
  kid?: string;
  /** Assertion lifetime in seconds (default 60). */
  lifetime?: number;
  /** `aud` claim; defaults to the issuer identifier (RFC 7523 §3 item 3, as draft-ietf-oauth-rfc7523bis requires). */
  audience?: string;
}

const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Authenticates with a JWT signed by `key`: a private JWK or a Web Crypto CryptoKey. */
export function privateKeyJwt(key: CryptoKey | JWK, options: PrivateKeyJwtOptions = {}): ClientAuth {
  const alg = options.alg ?? inferAlg(key);
  const kid = options.kid ?? (isJwk(key) ? key.kid : undefined);
  let signingKey: Promise<CryptoKey | Uint8Array> | undefined;
  return async (as, client, body) => {
    signingKey ??= isJwk(key) ? importJWK(key, alg) : Promise.resolve(key);
    const now = Math.floor(Date.now() / 1000);
    // RFC 7523 §3: iss and sub are the client_id, aud the server, exp REQUIRED; jti for replay
    // protection (§3 item 7); the assertion is single-use and short-lived.
    const assertion = await new SignJWT({})
      .setProtectedHeader(kid === undefined ? { alg } : { alg, kid })
      .setIssuer(client.client_id)
      .setSubject(client.client_id)
      .setAudience(options.audience ?? as.issuer)
      .setJti(randomToken(16))
      .setIssuedAt(now)
      .setExpirationTime(now + (options.lifetime ?? 60))
      .sign(await signingKey);
    body.set('client_id', client.client_id);
    body.set('client_assertion_type', CLIENT_ASSERTION_TYPE);
    body.set('client_assertion', assertion);
  };
}

const isJwk = (key: CryptoKey | JWK): key is JWK => typeof (key as JWK).kty === 'string';

function inferAlg(key: CryptoKey | JWK): string {
  if (isJwk(key)) {
    if (key.alg) return key.alg;
    if (key.kty === 'EC') return ({ 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' } as Record<string, string>)[key.crv ?? ''] ?? fail();
    if (key.kty === 'OKP' && key.crv === 'Ed25519') return 'EdDSA';
    if (key.kty === 'RSA') return 'RS256';
    return fail();
  }
  const algorithm = key.algorithm as { name: string; namedCurve?: string; hash?: { name: string } };
  const bits = algorithm.hash?.name.replace('SHA-', '');
  if (algorithm.name === 'ECDSA') return ({ 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' } as Record<string, string>)[algorithm.namedCurve ?? ''] ?? fail();
  if (algorithm.name === 'Ed25519') return 'EdDSA';
  if (algorithm.name === 'RSASSA-PKCS1-v1_5') return `RS${bits}`;
  if (algorithm.name === 'RSA-PSS') return `PS${bits}`;
  return fail();
}

function fail(): never {
  throw new ConfigurationError('cannot tell the JWS algorithm of this key: pass options.alg');
}
