/**
 * What a verification answers: the verified token, or a refusal shaped per RFC 6750 §3 (status,
 * WWW-Authenticate challenge, JSON body) that every adapter sends as is. Descriptions name the
 * rule that failed, never the token.
 */

/** A token the guard accepted. Times are seconds since the epoch, as in the JWT. */
export interface VerifiedToken {
  format: 'jwt' | 'opaque';
  /** Token id (`jti`). */
  id: string;
  /** The user, or the client itself for client-credentials tokens (`sub`). */
  subject: string;
  clientId: string;
  scopes: readonly string[];
  issuedAt: number;
  expiresAt: number;
  /**
   * RFC 9449 §6: the thumbprint of the DPoP key the token is bound to (`cnf.jkt`), accepted only
   * with a proof of that key; undefined for a bearer token.
   */
  jkt: string | undefined;
  /** Every claim of the JWT, or every member of the introspection response. */
  claims: Readonly<Record<string, unknown>>;
}

/** RFC 6750 §3.1's codes, RFC 9449 §7.1's invalid_dpop_proof and §9's use_dpop_nonce, and the 503's. */
export type GuardErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'invalid_dpop_proof' | 'use_dpop_nonce' | 'temporarily_unavailable';

export interface GuardFailure {
  ok: false;
  status: 400 | 401 | 403 | 503;
  /** Absent when the request carried no bearer token at all (RFC 6750 §3.1). */
  error?: GuardErrorCode;
  description?: string;
  /** WWW-Authenticate (a Bearer challenge, or a DPoP one for a DPoP request, RFC 9449 §7.1), Cache-Control, and DPoP-Nonce (§9) or Retry-After. */
  headers: Record<string, string>;
  body: { error?: GuardErrorCode; error_description?: string; scope?: string };
}

export type GuardResult = { ok: true; token: VerifiedToken } | GuardFailure;

// RFC 6750 §3: error_description uses %x20-21 / %x23-5B / %x5D-7E only.
const clean = (text: string) => text.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '');

/** The scheme a refusal's challenge names: Bearer, or DPoP with the proof algorithms accepted (RFC 9449 §7.1 `algs`). */
type Scheme = 'Bearer' | { dpop: string };

function challenge(scheme: Scheme, realm: string | undefined, attributes: Record<string, string | undefined>): string {
  const name = scheme === 'Bearer' ? 'Bearer' : 'DPoP';
  const algs = scheme === 'Bearer' ? undefined : scheme.dpop;
  const parts = Object.entries({ realm, ...attributes, algs }).filter((e): e is [string, string] => e[1] !== undefined);
  return parts.length === 0 ? name : `${name} ${parts.map(([k, v]) => `${k}="${clean(v)}"`).join(', ')}`;
}

function failure(
  status: GuardFailure['status'], realm: string | undefined, error: GuardErrorCode | undefined, description?: string, scope?: string, scheme: Scheme = 'Bearer',
): GuardFailure {
  const headers: Record<string, string> = { 'cache-control': 'no-store' };
  if (status === 503) headers['retry-after'] = '1';
  else headers['www-authenticate'] = challenge(scheme, realm, { error, error_description: description, scope });
  const body: GuardFailure['body'] = {};
  if (error) body.error = error;
  if (description) body.error_description = clean(description);
  if (scope) body.scope = scope;
  return { ok: false, status, ...(error ? { error } : {}), ...(description ? { description: clean(description) } : {}), headers, body };
}

/** RFC 6750 §3.1: no credentials (or another scheme): a bare challenge, no error code. */
export const missingToken = (realm?: string) => failure(401, realm, undefined);
/** RFC 6750 §3.1 invalid_request: a malformed Authorization header, 400. */
export const invalidRequest = (realm: string | undefined, description: string) => failure(400, realm, 'invalid_request', description);
/** RFC 6750 §3.1 invalid_token: expired, revoked, malformed or otherwise invalid, 401. */
export const invalidToken = (realm: string | undefined, description: string) => failure(401, realm, 'invalid_token', description);
/** RFC 6750 §3.1 insufficient_scope: 403, with the scope the resource needs. */
export const insufficientScope = (realm: string | undefined, required: readonly string[]) =>
  failure(403, realm, 'insufficient_scope', 'the token lacks a required scope', required.join(' '));
/** The guard cannot decide now (stale feed, server unreachable): 503, never a false accept. */
export const unavailable = (description: string) => failure(503, undefined, 'temporarily_unavailable', description);

/**
 * RFC 9449 §7.1: a refusal of a DPoP request, or of a DPoP-bound token sent as a bearer token
 * (§7.2), challenges with the DPoP scheme; invalid_dpop_proof and use_dpop_nonce are 401s, and
 * use_dpop_nonce comes with the nonce to use (§9).
 */
export function dpopFailure(realm: string | undefined, algs: string, error: GuardErrorCode, description: string, nonce?: string): GuardFailure {
  const status = error === 'insufficient_scope' ? 403 : error === 'invalid_request' ? 400 : 401;
  const f = failure(status, realm, error, description, undefined, { dpop: algs });
  if (nonce !== undefined) f.headers['dpop-nonce'] = nonce;
  return f;
}

/** The same refusal with a DPoP challenge, for a DPoP request (a 503 has none and stays as it is). */
export function asDpop(f: GuardFailure, realm: string | undefined, algs: string): GuardFailure {
  if (f.status === 503) return f;
  return failure(f.status, realm, f.error, f.description, f.body.scope, { dpop: algs });
}
