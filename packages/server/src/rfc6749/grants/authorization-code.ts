import { OAuthError, required } from '@tessera/core';
import { verifierMatches } from '../../rfc7636/pkce.js';
import type { TokenGrant } from './types.js';

/** RFC 6749 §4.1.3, with PKCE (RFC 7636 §4.5–4.6) and a code bound to a DPoP key (RFC 9449 §10). */
export const authorizationCode: TokenGrant = {
  grantType: 'authorization_code',
  params: ['code', 'redirect_uri', 'code_verifier'],
  handle: ({ engine, client, params, by, jkt, resource }) =>
    engine.redeemCode(client, required(params.code, 'code'), (code) => {
      // RFC 6749 §4.1.3: redirect_uri must be identical to the one in the authorization request.
      if (params.redirect_uri !== code.redirectUri) throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request');
      if (code.codeChallenge !== null) {
        if (params.code_verifier === undefined) throw new OAuthError('invalid_grant', 'code_verifier is required');
        if (!verifierMatches(params.code_verifier, code.codeChallenge, code.codeChallengeMethod ?? 'plain')) throw new OAuthError('invalid_grant', 'code_verifier does not match');
      } else if (params.code_verifier !== undefined) {
        // RFC 9700 §2.1.1: a verifier without a challenge signals a downgrade attempt.
        throw new OAuthError('invalid_grant', 'code_verifier sent but no code_challenge was');
      }
      // RFC 9449 §10: the authorization request's dpop_jkt names the key the token request must prove.
      if (code.dpopJkt !== null && code.dpopJkt !== jkt) {
        throw new OAuthError('invalid_dpop_proof', jkt === null ? 'the code is bound to a DPoP key (dpop_jkt): send a DPoP proof of it' : 'the DPoP proof is not of the key the code is bound to (dpop_jkt)');
      }
    }, by, jkt, resource),
};
