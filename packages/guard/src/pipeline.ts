/**
 * One verification, as a short list of steps: staleness bound, then a JWT checked locally (RFC
 * 9068 §4) against the revoked set, or an opaque token introspected (RFC 7662); then the key the
 * token is bound to (RFC 9449: a DPoP-bound token only with a proof of its key, checked meanwhile);
 * then the scopes (RFC 6750 §3.1). Anything the guard cannot decide now is a 503, never an accept.
 */
import { factsOf, introspectionProblem, missingScopes, verifiedToken } from './claims.js';
import type { FeedSubscriber } from './feed/subscriber.js';
import type { Introspector } from './introspection.js';
import type { JwksCache } from './jwks.js';
import { joseProblem, verifyAccessJwt } from './jwt.js';
import type { JWTVerifyOptions } from 'jose';
import type { ResolvedOptions } from './options.js';
import { GuardError, GuardUnavailable } from './errors.js';
import { asDpop, dpopFailure, type GuardResult, insufficientScope, invalidToken, unavailable } from './result.js';
import type { RevocationSet } from './revocations.js';
import { looksLikeJwt } from './bearer.js';
import type { DpopChecker, ProofOutcome } from './dpop.js';

export interface Parts {
  options: ResolvedOptions;
  /** RFC 9068 §4 rules as jose options (joseOptions). */
  jwtOptions: JWTVerifyOptions;
  jwks: JwksCache;
  revocations: RevocationSet;
  introspector: Introspector | undefined;
  feed: FeedSubscriber | undefined;
  dpop: DpopChecker;
  isStale(): boolean;
}

const seconds = () => Math.floor(Date.now() / 1000);

/**
 * `proof`: the DPoP proof of a request with the DPoP scheme, being checked meanwhile (RFC 9449
 * §7); undefined for a bearer token, which must not be DPoP-bound (§7.2).
 */
export async function checkToken(p: Parts, token: string, required: readonly string[], proof?: Promise<ProofOutcome>): Promise<GuardResult> {
  const { realm } = p.options;
  const stale = p.isStale();
  // Bounded staleness: past the bound the revoked set may lack revocations, so it is not trusted.
  if (stale && p.options.onStale === 'fail-closed') return unavailable('the revocation feed is stale');
  try {
    const result = looksLikeJwt(token) ? await viaJwt(p, token, stale) : await viaIntrospection(p, token, stale);
    if (proof === undefined) {
      if (!result.ok) return result;
      // RFC 9449 §7.2: a DPoP-bound token is refused as a bearer token, with the challenge it needs.
      if (result.token.jkt !== undefined) return dpopFailure(realm, p.dpop.algs, 'invalid_token', 'the token is DPoP-bound: send it with the DPoP scheme and a proof');
    } else {
      // A refused proof says why first (a nonce to use, say), whatever the token.
      const outcome = await proof;
      if (!outcome.ok) return outcome.failure;
      if (!result.ok) return asDpop(result, realm, p.dpop.algs);
      if (result.token.jkt === undefined) return dpopFailure(realm, p.dpop.algs, 'invalid_token', 'the token is not DPoP-bound: send it with the Bearer scheme');
      // RFC 9449 §4.3 item 12: the proof is of the key the token is bound to.
      if (result.token.jkt !== outcome.jkt) return dpopFailure(realm, p.dpop.algs, 'invalid_dpop_proof', 'the DPoP proof is not of the key the token is bound to');
      // RFC 9449 §11.1: used once; recorded only now, for a proof that came with its own token.
      if (!outcome.use()) return dpopFailure(realm, p.dpop.algs, 'invalid_dpop_proof', 'the DPoP proof was used before (its jti is replayed)');
    }
    if (missingScopes(result.token, required).length === 0) return result;
    const narrow = insufficientScope(realm, required);
    return proof === undefined ? narrow : asDpop(narrow, realm, p.dpop.algs);
  } catch (err) {
    if (err instanceof GuardUnavailable) return unavailable(err.message);
    // Setup problems (metadata, credentials) are for the operator's log, not for the caller.
    if (err instanceof GuardError) return unavailable('the guard cannot reach its authorization server');
    throw err;
  }
}

async function viaJwt(p: Parts, token: string, stale: boolean): Promise<GuardResult> {
  let claims: Record<string, unknown>;
  try {
    claims = await verifyAccessJwt(token, p.jwks, p.jwtOptions);
  } catch (err) {
    const problem = joseProblem(err);
    if (problem === undefined) throw err;
    return invalidToken(p.options.realm, problem);
  }
  if (p.feed && p.introspector) {
    const verdict = stale ? 'ambiguous' : p.revocations.check(factsOf(claims), seconds());
    if (verdict === 'revoked') return invalidToken(p.options.realm, 'the token was revoked');
    if (verdict === 'ambiguous') {
      // The set cannot tell (stale feed, or issued in the very second of a revocation): ask the server.
      const { response } = await p.introspector.introspect(token, !stale);
      const problem = introspectionProblem(response, p.options, seconds());
      if (problem) return invalidToken(p.options.realm, problem);
    }
  }
  return { ok: true, token: verifiedToken('jwt', claims) };
}

async function viaIntrospection(p: Parts, token: string, stale: boolean): Promise<GuardResult> {
  if (!p.introspector) return invalidToken(p.options.realm, 'opaque tokens need introspection, and this guard has no client');
  let { response, cached } = await p.introspector.introspect(token, !stale);
  // A cached answer may predate a revocation the feed has reported since: ask again.
  if (cached && p.feed && p.revocations.check(factsOf(response), seconds()) !== 'live') {
    ({ response } = await p.introspector.introspect(token, false));
  }
  const problem = introspectionProblem(response, p.options, seconds());
  return problem ? invalidToken(p.options.realm, problem) : { ok: true, token: verifiedToken('opaque', response) };
}
