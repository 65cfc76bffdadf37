/**
 * The authentication request parameters OpenID Connect Core §3.1.2.1 adds to /authorize:
 * `prompt`, `max_age`, `id_token_hint` and `login_hint`, and what they ask of the endpoint —
 * sign in again, ask consent again, or answer without any page (prompt=none, §3.1.2.6 errors).
 */
import { OAuthError } from '@tessera/core';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { type KeyRing, SIGNING_ALGS } from '../lifecycle/keys.js';
import type { SignedIn } from '../lifecycle/engine.js';

export interface AuthenticationParams {
  prompt: ReadonlySet<'none' | 'login' | 'consent' | 'select_account'>;
  /** Seconds; null when not sent. */
  maxAge: number | null;
  /** The `sub` of a verified id_token_hint; null when not sent. */
  hintSubject: string | null;
  loginHint: string | null;
}

const PROMPTS = new Set(['none', 'login', 'consent', 'select_account']);
/** An id_token_hint may have expired (Core §3.1.2.1: it is a hint about a past session): only its signature, iss and aud count. */
const ANY_AGE = 100 * 365 * 24 * 3600;

/** Parses and checks the parameters (errors are invalid_request, sent back to the client). */
export async function authenticationParams(
  p: { prompt?: string | undefined; max_age?: string | undefined; id_token_hint?: string | undefined; login_hint?: string | undefined },
  clientId: string, issuer: string, keys: KeyRing,
): Promise<AuthenticationParams> {
  const prompt = new Set((p.prompt ?? '').split(' ').filter(Boolean));
  for (const value of prompt) if (!PROMPTS.has(value)) throw new OAuthError('invalid_request', 'prompt has a value this server does not know');
  // Core §3.1.2.1: none with any other value is an error.
  if (prompt.has('none') && prompt.size > 1) throw new OAuthError('invalid_request', 'prompt=none cannot be combined with other values');
  let maxAge: number | null = null;
  if (p.max_age !== undefined) {
    if (!/^\d{1,10}$/.test(p.max_age)) throw new OAuthError('invalid_request', 'max_age must be a number of seconds');
    maxAge = Number(p.max_age);
  }
  let hintSubject: string | null = null;
  if (p.id_token_hint !== undefined) {
    const hint = await idTokenHint(p.id_token_hint, issuer, keys);
    if (!hint.aud.includes(clientId)) throw new OAuthError('invalid_request', 'id_token_hint is not an ID Token this server issued to this client');
    hintSubject = hint.sub;
  }
  return { prompt: prompt as AuthenticationParams['prompt'], maxAge, hintSubject, loginHint: p.login_hint ?? null };
}

/**
 * An id_token_hint (Core §3.1.2.1, RP-Initiated Logout §2): an ID Token this server signed, whose
 * `sub` and `aud` it answers. Its age is not held against it: it is a hint about a past session.
 * Any key /jwks.json still publishes verifies it, of either algorithm (ID Tokens come in the
 * client's), a rotated key included until it retires.
 */
export async function idTokenHint(value: string, issuer: string, keys: KeyRing): Promise<{ sub: string; aud: string[] }> {
  try {
    const { payload } = await jwtVerify(value, createLocalJWKSet(await keys.jwks()), { issuer, clockTolerance: ANY_AGE, algorithms: [...SIGNING_ALGS] });
    if (typeof payload.sub !== 'string' || payload.aud === undefined) throw new Error('no sub or aud');
    return { sub: payload.sub, aud: typeof payload.aud === 'string' ? [payload.aud] : payload.aud };
  } catch {
    throw new OAuthError('invalid_request', 'id_token_hint is not an ID Token this server issued');
  }
}

/**
 * Whether the browser must sign in (again) before the request can go on: no session; prompt=login
 * or select_account (§3.1.2.1); a sign-in older than max_age seconds. With prompt=none that is
 * login_required instead of a page (§3.1.2.6). A signed-in user other than the one id_token_hint
 * names is login_required too (§3.1.2.1: "otherwise, it SHOULD return an error, such as
 * login_required"), unless a fresh sign-in was asked for: sending the browser to the login page
 * instead would bring it back there for ever if the same user signed in again. Signed out, the
 * hinted user may sign in (a "logged in by the request"); someone else then gets the error.
 * `pushedAt`: when the request was pushed, for one that came by request_uri.
 */
export function mustSignIn(a: AuthenticationParams, signedIn: SignedIn | undefined, now: number, pushedAt?: number): boolean {
  // select_account: one account per browser session here, so choosing one is signing in again.
  const wantsFresh = a.prompt.has('login') || a.prompt.has('select_account');
  // A pushed request (RFC 9126) cannot be rewritten on the way back from the login page as
  // afterSignIn rewrites one in the URL: a sign-in since the push satisfies prompt=login and max_age.
  const signedInSincePush = pushedAt !== undefined && signedIn !== undefined && signedIn.session.createdAt >= pushedAt;
  const stale = signedIn !== undefined && !signedInSincePush && (wantsFresh || (a.maxAge !== null && now - signedIn.session.createdAt > a.maxAge * 1000));
  if ((signedIn === undefined || stale) && a.prompt.has('none')) {
    throw new OAuthError('login_required', signedIn === undefined ? 'the user is not signed in' : 'the user must sign in again');
  }
  if (signedIn === undefined || stale) return true;
  if (a.hintSubject !== null && a.hintSubject !== signedIn.user.id) throw new OAuthError('login_required', 'the signed-in user is not the one id_token_hint names');
  return false;
}

/**
 * The request to come back to after a sign-in: without `login` or `select_account` in prompt and without
 * max_age, which the fresh sign-in has satisfied (or /authorize would send the browser back to the
 * login page for ever, max_age=0 included). The id_token's auth_time tells the client when it was.
 */
export function afterSignIn(params: URLSearchParams): URLSearchParams {
  const next = new URLSearchParams(params);
  next.delete('max_age');
  const prompt = (params.get('prompt') ?? '').split(' ').filter((v) => v !== '' && v !== 'login' && v !== 'select_account');
  if (prompt.length > 0) next.set('prompt', prompt.join(' '));
  else next.delete('prompt');
  return next;
}
