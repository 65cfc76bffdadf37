/**
 * What every page with a form shares (sign-in, consent, the device page): the browser session from
 * its cookie, the CSRF defence, and the way back after signing in. Pages that need a signed-in user
 * send the browser to the login page with a `return_to` naming one of RETURNABLE.
 */
import { OAuthError } from '@tessera/core';
import type { ServerConfig } from '../config.js';
import { readCookie, setCookie } from '../http/cookies.js';
import { html, redirect } from '../http/respond.js';
import { PATHS } from '../http/routes.js';
import type { PlainRequest, PlainResponse } from '../http/types.js';
import type { LifecycleEngine, SignedIn } from '../lifecycle/engine.js';
import { hashesEqual, hashSecret, randomSecret } from '../secrets.js';
import { errorPage } from './pages.js';

export const SESSION_COOKIE = 'tessera_session';
const CSRF_COOKIE = 'tessera_csrf';

/** The pages login may send the browser back to (never elsewhere: no open redirect). */
const RETURNABLE: readonly string[] = [PATHS.authorization, PATHS.device];

/** The signed-in user and their session, from the session cookie, if the session is live and the user exists. */
export async function sessionUser(engine: LifecycleEngine, req: PlainRequest): Promise<SignedIn | undefined> {
  const value = readCookie(req.headers.cookie, SESSION_COOKIE);
  return value === undefined ? undefined : engine.signedIn(value);
}

/**
 * CSRF defence for every form (login, consent, device): a double-submit token (a random cookie
 * the form must echo, compared in constant time) plus, when the browser says where the POST came
 * from, a same-origin check on Origin and Sec-Fetch-Site.
 */
export function checkCsrf(config: ServerConfig, req: PlainRequest, submitted: string | undefined): void {
  const fail = () => new OAuthError('access_denied', 'This form has expired or did not come from this server. Go back and try again.', { status: 403 });
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== new URL(config.issuer).origin) throw fail();
  if (req.headers['sec-fetch-site'] === 'cross-site') throw fail();
  const cookie = readCookie(req.headers.cookie, CSRF_COOKIE);
  if (cookie === undefined || submitted === undefined || !hashesEqual(hashSecret(cookie), hashSecret(submitted))) throw fail();
}

/** Renders a form with the CSRF token, setting the cookie when the browser has none yet. */
export function withCsrf(config: ServerConfig, req: PlainRequest, render: (csrf: string) => PlainResponse): PlainResponse {
  const existing = readCookie(req.headers.cookie, CSRF_COOKIE);
  const csrf = existing ?? randomSecret();
  const response = render(csrf);
  if (existing === undefined) response.headers['set-cookie'] = setCookie(CSRF_COOKIE, csrf, cookieOptions(config, config.sessionTtl));
  return response;
}

export const cookieOptions = (config: ServerConfig, maxAge: number) => ({ maxAge, secure: config.issuer.startsWith('https:') });

/**
 * Login may only send the browser back to one of RETURNABLE on this server (no open redirect).
 * The query is re-encoded, so the Location header holds URL-safe ASCII only, whatever a planted
 * login link put there (CR/LF, NUL, DEL or non-Latin-1 would make it an invalid header).
 */
export function checkReturnTo(returnTo: string | null): string {
  for (const path of RETURNABLE) {
    if (returnTo?.startsWith(`${path}?`)) {
      return `${path}?${new URLSearchParams(returnTo.slice(path.length + 1))}`;
    }
  }
  throw new OAuthError('invalid_request', 'Sign-in was not started by an authorization request. Go back to the application and start again.');
}

/** To the login page, which returns to `returnTo` (a path of RETURNABLE with its query) once the user has signed in. */
export function toLogin(returnTo: string, status: 302 | 303): PlainResponse {
  return redirect(`${PATHS.login}?${new URLSearchParams({ return_to: returnTo })}`, {}, status);
}

export const methodNotAllowed = (allow: string): PlainResponse => html(405, errorPage({ error: 'invalid_request', description: 'This method is not allowed here.' }), { allow });
