/**
 * The UserInfo endpoint (OpenID Connect Core 1.0 §5.3): GET or POST with an access token whose
 * scope has `openid` and whose audience is the server's (not a resource, RFC 8707); answers the
 * claims its scope releases (§5.4), errors as RFC 6750 §3. A DPoP-bound token comes with the DPoP
 * scheme and a proof (RFC 9449 §7), never as a bearer token.
 */
import { OAuthError, parseScope } from '@tessera/core';
import { DPOP_ALGORITHMS } from '@tessera/core/dpop';
import type { ServerConfig } from '../config.js';
import { json } from '../http/respond.js';
import { PATHS } from '../http/routes.js';
import type { Handler, PlainRequest } from '../http/types.js';
import type { LifecycleEngine } from '../lifecycle/engine.js';
import type { DpopProofs, Proof, Refusal } from '../rfc9449/dpop.js';
import type { UserRecord } from '../store/types.js';

// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** The claims each scope releases (Core §5.4), as far as a user record holds them. */
export const SCOPE_CLAIMS = { profile: ['name'], email: ['email', 'email_verified'] } as const;

type ResourceError = 'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'invalid_dpop_proof' | 'use_dpop_nonce';
type Refuse = (scheme: 'Bearer' | 'DPoP', error: ResourceError, description: string, status?: number, headers?: Record<string, string>) => OAuthError;

export function userinfoEndpoint(engine: LifecycleEngine, config: ServerConfig, dpop: DpopProofs): Handler {
  const realm = `Bearer realm="${config.issuer}"`;
  /**
   * RFC 6750 §3, RFC 9449 §7.1: the challenge of the scheme the token came with names the error,
   * so a client can tell a bad token from a narrow one; a DPoP challenge also names the algorithms.
   */
  const refusal: Refuse = (scheme, error, description, status, headers = {}) => {
    const params = `realm="${config.issuer}", error="${error}", error_description="${description}"`;
    const challenge = scheme === 'DPoP' ? `DPoP ${params}, algs="${DPOP_ALGORITHMS.join(' ')}"` : `Bearer ${params}`;
    return new OAuthError(error, description, { ...(status === undefined ? {} : { status }), headers: { ...headers, 'www-authenticate': challenge } });
  };
  // RFC 9449 §7.1, §9: at a resource a refused proof, or one without the nonce, is a 401.
  const proofRefusal: Refusal = (error, description, headers) => refusal('DPoP', error, description, 401, headers);

  return async (req) => {
    // Core §5.3: the UserInfo endpoint MUST support GET and POST.
    if (req.method !== 'GET' && req.method !== 'POST') throw new OAuthError('invalid_request', 'use GET or POST', { status: 405, headers: { allow: 'GET, POST' } });
    const presented = accessToken(req, refusal);
    // RFC 6750 §3.1: a request without a token gets a bare challenge, no error code in it.
    if (presented === undefined) throw new OAuthError('invalid_token', 'no access token was sent', { headers: { 'www-authenticate': realm } });
    const { token, scheme } = presented;
    // RFC 9449 §7: the DPoP scheme comes with a proof over this request, carrying the token's hash (ath).
    let proof: Proof | undefined;
    if (scheme === 'DPoP') {
      const checking = dpop.check(req, PATHS.userinfo, token, proofRefusal);
      if (checking === undefined) throw proofRefusal('invalid_dpop_proof', 'the DPoP scheme needs a DPoP proof header (RFC 9449 section 7)', {});
      proof = await checking;
    }
    const proofKey = proof?.jkt;
    const record = await engine.activeToken(token);
    if (record?.kind !== 'access' || record.userId === null) throw refusal(scheme, 'invalid_token', 'the access token is not active');
    if ((record.dpopJkt ?? undefined) !== proofKey) {
      // RFC 9449 §7.2: a DPoP-bound token is never accepted as a bearer token.
      if (proofKey === undefined) throw refusal('DPoP', 'invalid_token', 'the access token is DPoP-bound: send it with the DPoP scheme and a proof');
      if (record.dpopJkt === null) throw refusal('DPoP', 'invalid_token', 'the access token is not DPoP-bound: send it with the Bearer scheme');
      // RFC 9449 §4.3 item 12: the proof is of the key the token is bound to.
      throw proofRefusal('invalid_dpop_proof', 'the DPoP proof is not of the key the access token is bound to', {});
    }
    // RFC 9449 §11.1: spent once the token is known to be bound to the proof's key.
    await proof?.spend();
    // RFC 8707 §2: a token issued for a named resource is for that resource, not for this endpoint
    // (oidc-provider refuses it too); one for the configured audience (the default) is served.
    if (record.audience !== null && record.audience !== config.audience) throw refusal(scheme, 'invalid_token', 'the access token was issued for another resource (RFC 8707)');
    const scopes = parseScope(record.scope);
    // Core §5.3.1: the access token must have been issued for an OpenID Connect request.
    if (!scopes.has('openid')) throw refusal(scheme, 'insufficient_scope', 'the access token lacks the openid scope');
    const user = await engine.getUser(record.userId);
    if (!user) throw refusal(scheme, 'invalid_token', 'the access token is not active');
    // RFC 9449 §8.2, §9: a proof with the previous window's nonce is answered with the current one.
    return json(200, claims(user, scopes), proof?.headers);
  };
}

/** Core §5.3.2: sub always; the rest by scope, omitted when the user has no value for them (§5.3.2). */
export function claims(user: UserRecord, scopes: ReadonlySet<string>): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = { sub: user.id };
  if (scopes.has('profile') && user.name !== null) out.name = user.name;
  if (scopes.has('email') && user.email !== null) {
    out.email = user.email;
    out.email_verified = user.emailVerified;
  }
  return out;
}

/**
 * The access token from the Authorization header (RFC 6750 §2.1, with the Bearer or the DPoP
 * scheme, RFC 9449 §7.1) or, on a form POST, the access_token body parameter (§2.2, a bearer
 * token). §2: a client MUST NOT use more than one method.
 */
function accessToken(req: PlainRequest, refuse: Refuse): { token: string; scheme: 'Bearer' | 'DPoP' } | undefined {
  const header = req.headers.authorization;
  let fromHeader: string | undefined;
  let scheme: 'Bearer' | 'DPoP' = 'Bearer';
  if (header !== undefined && header.trim() !== '') {
    const space = header.indexOf(' ');
    // RFC 7235 §2.1: the scheme is case-insensitive. Another scheme is no access token (§3.1).
    const named = header.slice(0, space === -1 ? undefined : space).toLowerCase();
    if (named === 'bearer' || named === 'dpop') {
      scheme = named === 'dpop' ? 'DPoP' : 'Bearer';
      fromHeader = space === -1 ? '' : header.slice(space + 1).trim();
      // RFC 9449 §7.1: the DPoP scheme's token68 has the b64token syntax too.
      if (!B64TOKEN.test(fromHeader)) throw refuse(scheme, 'invalid_request', `the Authorization header holds no valid ${scheme} token`, 400);
    }
  }
  const inBody = req.method === 'POST' ? (req.body?.getAll('access_token') ?? []) : [];
  if (inBody.length > 1 || (inBody.length === 1 && fromHeader !== undefined)) {
    throw refuse(scheme, 'invalid_request', 'send the access token once, in one place', 400);
  }
  if (req.url.searchParams.has('access_token')) {
    // RFC 9700 §4.3.2 and Core §5.3.1 ask for the header or the body; a token in a URL ends up in logs.
    throw refuse(scheme, 'invalid_request', 'the access token may not be sent in the URL', 400);
  }
  if (fromHeader !== undefined) return { token: fromHeader, scheme };
  return inBody[0] === undefined || inBody[0] === '' ? undefined : { token: inBody[0], scheme: 'Bearer' };
}
