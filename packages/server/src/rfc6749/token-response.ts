/** The successful token response (RFC 6749 §5.1), made of what the engine issued. */
import type { Issued } from '../lifecycle/engine.js';

/** RFC 6749 §5.1 successful token response. */
export interface TokenResponse {
  access_token: string;
  /** RFC 9449 §5: DPoP for a token bound to a DPoP key. */
  token_type: 'Bearer' | 'DPoP';
  expires_in: number;
  refresh_token?: string;
  scope: string;
  /** OpenID Connect Core §3.1.3.3: for an `openid` authorization (oidc/id-token.ts). */
  id_token?: string;
  /** RFC 8693 §2.2.1: what a token exchange issued (REQUIRED there). */
  issued_token_type?: string;
}

/** RFC 6749 §5.1 (and §4.2.2 for the implicit grant, which has no refresh token). */
export function tokenResponse(issued: Issued): TokenResponse {
  const body: TokenResponse = {
    access_token: issued.access.value, token_type: issued.access.record.dpopJkt === null ? 'Bearer' : 'DPoP', expires_in: issued.expiresIn, scope: issued.access.record.scope,
  };
  if (issued.refresh) body.refresh_token = issued.refresh.value;
  if (issued.issuedTokenType !== undefined) body.issued_token_type = issued.issuedTokenType;
  return body;
}
