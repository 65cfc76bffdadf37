/**
 * The UserInfo endpoint (OpenID Connect Core 1.0 §5.3): GET or POST with an access token whose
 * scope has `openid`; answers the claims its scope releases (§5.4), errors as RFC 6750 §3.
 */
import { OAuthError, parseScope } from '@tessera/core';
import type { ServerConfig } from '../config.js';
import { json } from '../http/respond.js';
import type { Handler, PlainRequest } from '../http/types.js';
import type { LifecycleEngine } from '../lifecycle/engine.js';
import type { UserRecord } from '../store/types.js';

// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** The claims each scope releases (Core §5.4), as far as a user record holds them. */
export const SCOPE_CLAIMS = { profile: ['name'], email: ['email', 'email_verified'] } as const;

export function userinfoEndpoint(engine: LifecycleEngine, config: ServerConfig): Handler {
  const realm = `Bearer realm="${config.issuer}"`;
  /** RFC 6750 §3: the challenge names the error, so a client can tell a bad token from a narrow one. */
  const refuse = (error: 'invalid_request' | 'invalid_token' | 'insufficient_scope', description: string, status?: number) =>
    new OAuthError(error, description, { ...(status === undefined ? {} : { status }), headers: { 'www-authenticate': `${realm}, error="${error}", error_description="${description}"` } });

  return async (req) => {
    // Core §5.3: the UserInfo endpoint MUST support GET and POST.
    if (req.method !== 'GET' && req.method !== 'POST') throw new OAuthError('invalid_request', 'use GET or POST', { status: 405, headers: { allow: 'GET, POST' } });
    const token = bearerToken(req, refuse);
    // RFC 6750 §3.1: a request without a token gets a bare challenge, no error code in it.
    if (token === undefined) throw new OAuthError('invalid_token', 'no access token was sent', { headers: { 'www-authenticate': realm } });
    const record = await engine.activeToken(token);
    if (record?.kind !== 'access' || record.userId === null) {
      throw refuse('invalid_token', 'the access token is not active');
    }
    const scopes = parseScope(record.scope);
    // Core §5.3.1: the access token must have been issued for an OpenID Connect request.
    if (!scopes.has('openid')) throw refuse('insufficient_scope', 'the access token lacks the openid scope');
    const user = await engine.getUser(record.userId);
    if (!user) throw refuse('invalid_token', 'the access token is not active');
    return json(200, claims(user, scopes));
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
 * The access token from the Authorization header (RFC 6750 §2.1) or, on a form POST, the
 * access_token body parameter (§2.2). §2: a client MUST NOT use more than one method.
 */
function bearerToken(req: PlainRequest, refuse: (e: 'invalid_request', d: string, s?: number) => OAuthError): string | undefined {
  const header = req.headers.authorization;
  let fromHeader: string | undefined;
  if (header !== undefined && header.trim() !== '') {
    const space = header.indexOf(' ');
    // RFC 7235 §2.1: the scheme is case-insensitive. Another scheme is no bearer token (§3.1).
    if (header.slice(0, space === -1 ? undefined : space).toLowerCase() === 'bearer') {
      fromHeader = space === -1 ? '' : header.slice(space + 1).trim();
      if (!B64TOKEN.test(fromHeader)) throw refuse('invalid_request', 'the Authorization header holds no valid bearer token', 400);
    }
  }
  const inBody = req.method === 'POST' ? (req.body?.getAll('access_token') ?? []) : [];
  if (inBody.length > 1 || (inBody.length === 1 && fromHeader !== undefined)) {
    throw refuse('invalid_request', 'send the access token once, in one place', 400);
  }
  if (req.url.searchParams.has('access_token')) {
    // RFC 9700 §4.3.2 and Core §5.3.1 ask for the header or the body; a token in a URL ends up in logs.
    throw refuse('invalid_request', 'the access token may not be sent in the URL', 400);
  }
  return fromHeader ?? (inBody[0] === '' ? undefined : inBody[0]);
}
