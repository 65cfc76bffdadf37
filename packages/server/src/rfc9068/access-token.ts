/** JWT profile for OAuth 2 access tokens (RFC 9068): the claims set (§2.2), signed with typ "at+jwt" (§2.1). */
import type { JWTPayload } from 'jose';
import type { KeyRing } from '../lifecycle/keys.js';
import type { SigningAlg } from '../store/types.js';

/**
 * RFC 8693 §4.1: the actor of a delegated token, the party acting for the subject (sub) through
 * its client (client_id, §4.3); a chain of delegation nests the earlier actor in `act`.
 */
export interface Act {
  sub: string;
  client_id: string;
  act?: Act;
}

/** What a JWT access token says about itself; times in ms since the epoch. */
export interface AccessTokenFacts {
  issuer: string;
  audience: string;
  clientId: string;
  /** The resource owner, or null when the client acts on its own behalf (client_credentials). */
  user: { id: string; username: string } | null;
  /**
   * Without a user, whom the token is about: the client whose grant it is on, which is `clientId`
   * but for a token exchanged from another client's own token (RFC 8693); default `clientId`.
   */
  subjectClientId?: string;
  /** The token's id (jti), also its record's id. */
  id: string;
  grantId: string;
  familyId: string;
  scope: string;
  issuedAt: number;
  expiresAt: number;
  /** RFC 9449 §6.1: the thumbprint of the DPoP key the token is bound to, or null for a bearer token. */
  jkt: string | null;
  /** RFC 8693 §4.1: who acts for the subject (a delegated token from a token exchange); null: nobody. */
  act?: Act | null;
}

/**
 * RFC 9068 §2.2: iss, exp, aud, sub, client_id, iat, jti, and scope (§2.2.3). The private claims
 * (RFC 7519 §4.3) name the grant and family, so a guard matches feed events locally.
 */
export function accessTokenClaims(t: AccessTokenFacts): JWTPayload {
  return {
    iss: t.issuer,
    exp: Math.floor(t.expiresAt / 1000),
    aud: t.audience,
    sub: t.user?.id ?? t.subjectClientId ?? t.clientId,
    client_id: t.clientId,
    iat: Math.floor(t.issuedAt / 1000),
    jti: t.id,
    scope: t.scope,
    ...(t.user ? { username: t.user.username } : {}),
    ...(t.act ? { act: t.act } : {}),
    tessera_grant: t.grantId,
    tessera_family: t.familyId,
    // RFC 9449 §6.1: a DPoP-bound token confirms its key (RFC 7800 cnf) by its JWK thumbprint.
    ...(t.jkt === null ? {} : { cnf: { jkt: t.jkt } }),
  };
}

/**
 * The signed JWT access token; RFC 9068 §2.1: its header's typ is "at+jwt", its algorithm the
 * server's setting (accessTokenAlg), whatever a client's ID Tokens are signed with.
 */
export function signAccessToken(keys: KeyRing, alg: SigningAlg, t: AccessTokenFacts): Promise<string> {
  return keys.sign(accessTokenClaims(t), 'at+jwt', alg);
}
