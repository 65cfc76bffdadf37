/**
 * The ID Token (OpenID Connect Core 1.0 §2), issued by the token endpoint beside the access token
 * of an `openid` authorization (§3.1.3.3) and again on refresh (§12.2), signed with the server's
 * key (lifecycle/keys.ts, published at /jwks.json) of the algorithm the client registered.
 */
import { createHash } from 'node:crypto';
import type { JWTPayload } from 'jose';
import type { Issued } from '../lifecycle/engine.js';
import type { KeyRing } from '../lifecycle/keys.js';
import type { ClientRecord } from '../store/types.js';

/**
 * §3.1.3.6 at_hash: the left-most half of the hash of the access token's ASCII octets, with the
 * hash of the ID Token's alg (RS256 and ES256 alike: SHA-256), base64url-encoded.
 */
export function atHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest().subarray(0, 16).toString('base64url');
}

/**
 * §2 claims: iss, sub (the user's id, stable and never reassigned), aud (the client alone, so no
 * azp is needed: §2 asks for it only with several audiences), exp, iat, auth_time when known,
 * nonce when the request sent one (§3.1.2.1: echoed unchanged), at_hash (§3.1.3.6). It expires
 * with the access token it came with.
 */
export function idTokenClaims(issuer: string, clientId: string, issued: Issued & { authentication: NonNullable<Issued['authentication']> }): JWTPayload {
  const { authentication: a, access } = issued;
  return {
    iss: issuer,
    sub: a.userId,
    aud: clientId,
    exp: Math.floor(access.record.expiresAt / 1000),
    iat: Math.floor(access.record.issuedAt / 1000),
    ...(a.authTime === null ? {} : { auth_time: Math.floor(a.authTime / 1000) }),
    ...(a.nonce === null ? {} : { nonce: a.nonce }),
    at_hash: atHash(access.value),
  };
}

/**
 * The signed id_token for an OpenID Connect issuance, or undefined when `issued` is not one.
 * OpenID Connect Dynamic Client Registration 1.0 §2: signed with the client's
 * id_token_signed_response_alg (RS256 unless it registered ES256).
 */
export async function idTokenFor(keys: KeyRing, issuer: string, client: ClientRecord, issued: Issued): Promise<string | undefined> {
  const { authentication } = issued;
  if (authentication === undefined) return undefined;
  return keys.sign(idTokenClaims(issuer, client.id, { ...issued, authentication }), 'JWT', client.idTokenSignedResponseAlg);
}
