/** ID Token validation for a code-flow relying party (OpenID Connect Core 1.0 §3.1.3.7, §3.1.3.8). */
import { createLocalJWKSet, decodeProtectedHeader, errors, type JSONWebKeySet, type JWTPayload, jwtVerify } from 'jose';
import { ConfigurationError, IdTokenError } from '../errors.js';
import { checkResponse, type HttpOptions, readJson, send } from '../http.js';
import type { Client } from '../rfc6749/client-auth.js';
import type { AuthorizationServer } from '../rfc8414/metadata.js';

/** What the ID Token is checked against besides iss, aud, exp, iat and the signature. */
export interface IdTokenChecks {
  /** The nonce sent on the authorization request: the claim MUST match (§3.1.3.7 step 11). */
  nonce?: string;
  /** The access token issued with it: a present at_hash MUST match (§3.1.3.8). */
  accessToken?: string;
  /** The max_age sent: auth_time MUST be present and not older (§3.1.3.7 step 13). */
  maxAge?: number;
  /** Seconds of clock skew tolerated (default 30). */
  clockTolerance?: number;
  /** The server's JWK Set, when already at hand; otherwise it is fetched from jwks_uri. */
  jwks?: JSONWebKeySet;
}

export interface IdTokenClaims extends JWTPayload {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  auth_time?: number;
  nonce?: string;
  azp?: string;
  at_hash?: string;
}

const HASHES: Record<string, string> = { 256: 'SHA-256', 384: 'SHA-384', 512: 'SHA-512' };

/**
 * §3.1.3.7: the signature with a key from the server's jwks_uri (an algorithm it advertises,
 * never `none`), iss, aud containing client_id (azp = client_id when present or with several
 * audiences), exp, iat, nonce, auth_time against max_age; and at_hash (§3.1.3.8).
 */
export async function validateIdToken(
  as: AuthorizationServer, client: Client, idToken: string, checks: IdTokenChecks = {}, options: HttpOptions = {},
): Promise<IdTokenClaims> {
  const jwks = checks.jwks ?? (await fetchJwks(as, options));
  const tolerance = checks.clockTolerance ?? 30;
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(idToken, createLocalJWKSet(jwks), {
      issuer: as.issuer,
      audience: client.client_id,
      clockTolerance: tolerance,
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
      // Core §3.1.3.7 step 7: the alg the server registered (Discovery: the ones it advertises); RS256 by default.
      algorithms: (as.id_token_signing_alg_values_supported ?? ['RS256']).filter((a) => a !== 'none'),
    }));
  } catch (err) {
    if (err instanceof errors.JWTClaimValidationFailed) throw new IdTokenError(`ID Token ${err.message}`, err.claim);
    throw new IdTokenError(`ID Token rejected: ${err instanceof Error ? err.message : String(err)}`);
  }
  const claims = payload as IdTokenClaims;
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  // Steps 4–5: several audiences need azp; a present azp must be this client.
  if ((audiences.length > 1 || claims.azp !== undefined) && claims.azp !== client.client_id) throw new IdTokenError('ID Token azp is not this client', 'azp');
  if (checks.nonce !== undefined && claims.nonce !== checks.nonce) throw new IdTokenError('ID Token nonce does not match the one sent', 'nonce');
  if (checks.maxAge !== undefined) {
    if (typeof claims.auth_time !== 'number') throw new IdTokenError('ID Token has no auth_time although max_age was sent', 'auth_time');
    if (claims.auth_time + checks.maxAge < Date.now() / 1000 - tolerance) throw new IdTokenError('ID Token auth_time is older than max_age allows', 'auth_time');
  }
  if (checks.accessToken !== undefined && claims.at_hash !== undefined && claims.at_hash !== (await atHash(idToken, checks.accessToken))) {
    throw new IdTokenError('ID Token at_hash does not match the access token', 'at_hash');
  }
  return claims;
}

/** §3.1.3.8 / §3.3.2.11: the left half of the hash (of the ID Token's alg) of the access token's ASCII octets, base64url. */
async function atHash(idToken: string, accessToken: string): Promise<string> {
  const { alg = '' } = decodeProtectedHeader(idToken);
  const hash = alg === 'EdDSA' || alg === 'Ed25519' ? 'SHA-512' : HASHES[alg.slice(-3)];
  if (hash === undefined) throw new IdTokenError(`cannot check at_hash for alg ${alg}`, 'at_hash');
  const digest = new Uint8Array(await crypto.subtle.digest(hash, new TextEncoder().encode(accessToken)));
  let binary = '';
  for (const byte of digest.subarray(0, digest.length / 2)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The server's JWK Set, from its jwks_uri. */
export async function fetchJwks(as: AuthorizationServer, options: HttpOptions = {}): Promise<JSONWebKeySet> {
  if (as.jwks_uri === undefined) throw new ConfigurationError('the server metadata has no jwks_uri');
  const response = await send(as.jwks_uri, { method: 'GET', headers: { accept: 'application/json' }, redirect: 'manual' }, options);
  // An HTTP error is the server's trouble (OAuthResponseError, InvalidResponseError), not a bad key set.
  await checkResponse(response, 200);
  const body = await readJson(response);
  if (!Array.isArray(body.keys)) throw new IdTokenError('the JWK Set at jwks_uri has no keys');
  return body as unknown as JSONWebKeySet;
}
