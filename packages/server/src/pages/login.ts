/**
 * The login page (GET) and sign-in (POST): a signed-in browser session, then back to where the
 * user was going (an authorization request, the device page, a logout confirmation).
 */
import { OAuthError, readParams } from '@tessera/core';
import type { ServerConfig } from '../config.js';
import { clientAddress } from '../http/client-address.js';
import { setCookie } from '../http/cookies.js';
import { html, redirect } from '../http/respond.js';
import { PATHS } from '../http/routes.js';
import type { Handler } from '../http/types.js';
import type { LifecycleEngine } from '../lifecycle/engine.js';
import { pageErrors } from '../rfc6749/authorization-response.js';
import type { UserRecord } from '../store/types.js';
import { checkCsrf, checkReturnTo, cookieOptions, methodNotAllowed, SESSION_COOKIE, withCsrf } from './forms.js';
import { loginPage } from './pages.js';

export function loginEndpoint(engine: LifecycleEngine, config: ServerConfig): Handler {
  return pageErrors(config, async (req) => {
    if (req.method === 'GET') {
      const returnTo = checkReturnTo(req.url.searchParams.get('return_to'));
      const clientName = await clientNameOf(engine, returnTo);
      // OIDC Core §3.1.2.1 login_hint: the username field starts with it. Not for a pushed request:
      // beside a request_uri only the pushed parameters count (RFC 9126 §4), and those stay with the server.
      const back = new URL(returnTo, config.issuer).searchParams;
      const username = (back.has('request_uri') ? null : back.get('login_hint')) ?? undefined;
      return withCsrf(config, req, (csrf) => html(200, loginPage({ action: PATHS.login, returnTo, csrf, clientName, ...(username === undefined ? {} : { username }) })));
    }
    if (req.method !== 'POST') return methodNotAllowed('GET, POST');
    const form = readParams(req.body ?? new URLSearchParams(), ['username', 'password', 'csrf', 'return_to'] as const);
    checkCsrf(config, req, form.csrf);
    const returnTo = checkReturnTo(form.return_to ?? null);
    const failed = async (status: number, error: string, headers: Record<string, string> = {}) => {
      const clientName = await clientNameOf(engine, returnTo);
      return withCsrf(config, req, (csrf) => html(status, loginPage({ action: PATHS.login, returnTo, csrf, clientName, username: form.username, error }), headers));
    };
    let user: UserRecord | undefined;
    try {
      user = form.username !== undefined && form.password !== undefined
        ? await engine.authenticateUser(form.username, form.password, { address: clientAddress(req, config.trustForwardedFor), endpoint: PATHS.login })
        : undefined;
    } catch (err) {
      if (!(err instanceof OAuthError && err.error === 'slow_down')) throw err;
      const seconds = err.headers['retry-after'] ?? '1';
      return failed(429, `Too many failed sign-in attempts. Wait ${seconds} ${seconds === '1' ? 'second' : 'seconds'}, then try again.`, { 'retry-after': seconds });
    }
    // Written only if the password checked is still the user's (a change during the check wins).
    const value = user && (await engine.startSession(user));
    // One message for an unknown user and a wrong password: the page must not tell them apart.
    if (value === undefined) return failed(401, 'Wrong username or password.');
    return redirect(returnTo, { 'set-cookie': setCookie(SESSION_COOKIE, value, cookieOptions(config, config.sessionTtl)) }, 303);
  });
}

/** The client's name for the login page, when return_to is an authorization request naming a registered client. */
async function clientNameOf(engine: LifecycleEngine, returnTo: string): Promise<string | undefined> {
  const url = new URL(returnTo, 'http://local');
  if (url.pathname !== PATHS.authorization) return undefined;
  const ids = url.searchParams.getAll('client_id');
  return ids.length === 1 ? (await engine.getClient(ids[0] as string))?.name : undefined;
}
