/** Proof Key for Code Exchange (RFC 7636). */
import { createHash } from 'node:crypto';
import { OAuthError } from '@tessera/core';

// RFC 7636 §4.1: code_verifier = 43*128unreserved; §4.2 the challenge has the same form.
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

export type ChallengeMethod = 'S256' | 'plain';

/** Validates the challenge sent to the authorization endpoint (RFC 7636 §4.3). */
export function checkChallenge(challenge: string | undefined, method: string | undefined, allowPlain: boolean): { challenge: string; method: ChallengeMethod } | undefined {
  if (challenge === undefined) {
    if (method !== undefined) throw new OAuthError('invalid_request', 'code_challenge_method without code_challenge');
    return undefined;
  }
  if (!VERIFIER.test(challenge)) throw new OAuthError('invalid_request', 'code_challenge is malformed');
  // RFC 7636 §4.3: defaults to "plain" when absent.
  const m = method ?? 'plain';
  if (m === 'S256') return { challenge, method: 'S256' };
  if (m === 'plain' && allowPlain) return { challenge, method: 'plain' };
  throw new OAuthError('invalid_request', m === 'plain' ? 'code_challenge_method plain is not allowed; use S256' : 'unsupported code_challenge_method');
}

/** RFC 7636 §4.6: the verifier must transform to the stored challenge. */
export function verifierMatches(verifier: string, challenge: string, method: ChallengeMethod): boolean {
  if (!VERIFIER.test(verifier)) return false;
  const computed = method === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
  return computed.length === challenge.length && computed === challenge;
}
