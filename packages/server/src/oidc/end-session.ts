/**
 * OpenID Connect RP-Initiated Logout 1.0: the end_session_endpoint (§2) asks the user to confirm,
 * then ends the browser session and sends the browser to the client's post_logout_redirect_uri
 * when it is registered for that client (§3), with `state`; otherwise it shows a signed-out page.
 * Whether tokens are revoked too is the setting logoutRevokesTokens (lifecycle/sessions.ts).
 */
import { OAuthError, readParams } from '@tessera/core';
import type { ServerConfig } from '../config.js';
import { setCookie } from '../http/cookies.js';
import { html, redirect } from '../http/respond.js';
import { PATHS } from '../http/routes.js';
import type { Handler } from '../http/types.js';
import type { LifecycleEngine } from '../lifecycle/engine.js';
import type { KeyRing } from '../lifecycle/keys.js';
import { logoutPage, signedOutPage } from '../pages/pages.js';
import { checkCsrf, cookieOptions, methodNotAllowed, SESSION_COOKIE, sessionUser, withCsrf } from '../pages/forms.js';
import { pageErrors } from '../rfc6749/authorization-response.js';
import type { ClientRecord } from '../store/types.js';
import { idTokenHint } from './prompt.js';

interface LogoutRequest {
  client: ClientRecord | undefined;
  /** The registered post_logout_redirect_uri to end at, if the request named one. */
  redirectUri: string | undefined;
  state: string | undefined;
}

const PARAMS = ['id_token_hint', 'client_id', 'post_logout_redirect_uri', 'state', 'logout_hint', 'ui_locales'] as const;

/** GET or POST /end_session from the client (§2): checks the request, then asks the user. */
export function endSessionEndpoint(engine: LifecycleEngine, config: ServerConfig, keys: KeyRing): Handler {
  return pageErrors(config, async (req) => {
    // §2: the OP MUST support GET and POST.
    if (req.method !== 'GET' && req.method !== 'POST') return methodNotAllowed('GET, POST');
    const params = req.method === 'GET' ? req.url.searchParams : (req.body ?? new URLSearchParams());
    const request = await parseLogout(engine, config, keys, params);
    const signedIn = await sessionUser(engine, req);
    // A cross-site POST carries no SameSite=Lax session cookie: the confirmation form (same site) will.
    if (!signedIn && req.method === 'GET') return finish(request, false, 302);
    const forward = new URLSearchParams();
    for (const name of PARAMS) for (const value of params.getAll(name)) forward.append(name, value);
    return withCsrf(config, req, (csrf) => html(200, logoutPage({
      action: PATHS.endSessionConfirm, request: forward.toString(), csrf, username: signedIn?.user.username, clientName: request.client?.name,
    })));
  });
}

/** POST /end_session/confirm, the confirmation form: signs out (or not), then finishes. */
export function endSessionConfirmEndpoint(engine: LifecycleEngine, config: ServerConfig, keys: KeyRing): Handler {
  return pageErrors(config, async (req) => {
    if (req.method !== 'POST') return methodNotAllowed('POST');
    const form = readParams(req.body ?? new URLSearchParams(), ['csrf', 'request', 'decision'] as const);
    checkCsrf(config, req, form.csrf);
    const request = await parseLogout(engine, config, keys, new URLSearchParams(form.request ?? ''));
    if (form.decision === 'stay') return html(200, signedOutPage({ signedOut: false }));
    if (form.decision !== 'logout') throw new OAuthError('invalid_request', 'decision must be logout or stay');
    const signedIn = await sessionUser(engine, req);
    if (signedIn) await engine.endSession(signedIn, { actor: `user:${signedIn.user.id}`, endpoint: PATHS.endSession });
    const response = finish(request, true, 303);
    response.headers['set-cookie'] = setCookie(SESSION_COOKIE, '', cookieOptions(config, 0));
    return response;
  });
}

/** §3: to the registered post_logout_redirect_uri with state, or the signed-out page. */
function finish(request: LogoutRequest, signedOut: boolean, status: 302 | 303) {
  if (request.redirectUri === undefined) return html(200, signedOutPage({ signedOut }));
  const url = new URL(request.redirectUri);
  if (request.state !== undefined) url.searchParams.set('state', request.state);
  return redirect(url.toString(), {}, status);
}

/**
 * §2–3: the client is the one client_id names or the id_token_hint was issued to (both must agree);
 * post_logout_redirect_uri must be registered for it, compared exactly, or nothing is redirected.
 */
async function parseLogout(engine: LifecycleEngine, config: ServerConfig, keys: KeyRing, params: URLSearchParams): Promise<LogoutRequest> {
  const p = readParams(params, PARAMS);
  const hint = p.id_token_hint === undefined ? undefined : await idTokenHint(p.id_token_hint, config.issuer, keys);
  if (p.client_id !== undefined && hint && !hint.aud.includes(p.client_id)) {
    throw new OAuthError('invalid_request', 'The id_token_hint was not issued to the client named by client_id.');
  }
  const clientId = p.client_id ?? (hint?.aud.length === 1 ? hint.aud[0] : undefined);
  const client = clientId === undefined ? undefined : await engine.getClient(clientId);
  if (clientId !== undefined && !client) throw new OAuthError('invalid_request', 'The application that sent you here is not registered.');
  if (p.post_logout_redirect_uri !== undefined) {
    if (!client) throw new OAuthError('invalid_request', 'A post_logout_redirect_uri needs client_id or id_token_hint to name its application.');
    if (!client.postLogoutRedirectUris.includes(p.post_logout_redirect_uri)) {
      throw new OAuthError('invalid_request', 'The post_logout_redirect_uri is not registered for this application.');
    }
  }
  return { client, redirectUri: p.post_logout_redirect_uri, state: p.state };
}
