/**
 * The authorization endpoint (RFC 6749 §3.1, §4.1 code with PKCE, §4.2 implicit as a legacy
 * grant) and its consent page; sign-in is the login page's (pages/login.ts). Consent is stored on
 * the user × client grant and asked again only when a request widens it.
 */
import { OAuthError, parseScope, readParams } from '@tessera/core';
import type { ServerConfig } from '../config.js';
import { html } from '../http/respond.js';
import { PATHS } from '../http/routes.js';
import type { Handler, PlainResponse } from '../http/types.js';
import { type Actor, type LifecycleEngine, SessionEnded, type SignedIn } from '../lifecycle/engine.js';
import type { KeyRing } from '../lifecycle/keys.js';
import { afterSignIn, mustSignIn } from '../oidc/prompt.js';
import { checkCsrf, methodNotAllowed, sessionUser, toLogin, withCsrf } from '../pages/forms.js';
import { consentPage } from '../pages/pages.js';
import type { GrantRecord, UserRecord } from '../store/types.js';
import { type AuthorizationRequest, parseRequest } from './authorization-request.js';
import { answer, pageErrors, RedirectError, toClient } from './authorization-response.js';
import { tokenResponse } from './token-response.js';

export function authorizationEndpoint(engine: LifecycleEngine, config: ServerConfig, keys: KeyRing): Handler {
  return pageErrors(config, async (req) => {
    // RFC 6749 §3.1: GET MUST be supported, POST MAY be.
    if (req.method !== 'GET' && req.method !== 'POST') return methodNotAllowed('GET, POST');
    const params = req.method === 'GET' ? req.url.searchParams : (req.body ?? new URLSearchParams());
    const request = await parseRequest(engine, config, keys, params);
    const signedIn = await sessionUser(engine, req);
    const seeOther = req.method === 'POST' ? 303 : 302;
    // OIDC Core §3.1.2.1: prompt=login, max_age, id_token_hint may ask for a fresh sign-in; prompt=none for no page.
    if (toClient(request.reply, () => mustSignIn(request.authentication, signedIn, Date.now(), request.pushed?.at)) || !signedIn) return signInFor(params, seeOther);
    const { user } = signedIn;
    // OIDC Core §3.1.2.1: prompt=consent asks again even when the grant covers the request.
    const grant = request.authentication.prompt.has('consent') ? undefined : await engine.consentCovers(request.client, user, parseScope(request.scope), request.resources);
    if (grant) return respond(engine, config, request, signedIn, grant, seeOther);
    if (request.authentication.prompt.has('none')) throw new RedirectError(request.reply, new OAuthError('consent_required', 'the user has not consented to this request'));
    return withCsrf(config, req, (csrf) =>
      html(200, consentPage({
        action: PATHS.consent,
        request: params.toString(),
        csrf,
        clientName: request.client.name,
        username: user.username,
        scopes: [...parseScope(request.scope)],
        resources: request.resources,
      })),
    );
  });
}

export function consentEndpoint(engine: LifecycleEngine, config: ServerConfig, keys: KeyRing): Handler {
  return pageErrors(config, async (req) => {
    if (req.method !== 'POST') return methodNotAllowed('POST');
    const form = readParams(req.body ?? new URLSearchParams(), ['csrf', 'request', 'decision'] as const);
    checkCsrf(config, req, form.csrf);
    const params = new URLSearchParams(form.request ?? '');
    const request = await parseRequest(engine, config, keys, params);
    const signedIn = await sessionUser(engine, req);
    // The session ended while the page was open: sign in again, then see the request anew.
    if (!signedIn) return signInFor(params, 303);
    const { user, session } = signedIn;
    if (form.decision === 'deny') {
      await usePushed(engine, request);
      throw new RedirectError(request.reply, new OAuthError('access_denied', 'the user denied the request'));
    }
    if (form.decision !== 'allow') throw new OAuthError('invalid_request', 'decision must be allow or deny');
    return orSignIn(request, 303, async () => {
      const grant = await engine.recordConsent(request.client, user, parseScope(request.scope), actor(user, PATHS.consent), session, request.resources);
      return respond(engine, config, request, signedIn, grant, 303);
    });
  });
}

/** Issues the code (§4.1.2) or, for the legacy implicit grant, the access token (§4.2.2). */
function respond(
  engine: LifecycleEngine, config: ServerConfig, request: AuthorizationRequest, signedIn: SignedIn, grant: GrantRecord, status: 302 | 303,
): Promise<PlainResponse> {
  const { user, session } = signedIn;
  const by = actor(user, PATHS.authorization);
  return orSignIn(request, status, async () => {
    await usePushed(engine, request);
    if (request.responseType === 'code') {
      const code = await engine.issueCode(request.client, user, grant, {
        scope: request.scope,
        resources: request.resources,
        redirectUri: request.reply.redirectUri,
        codeChallenge: request.pkce?.challenge ?? null,
        codeChallengeMethod: request.pkce?.method ?? null,
        nonce: request.nonce,
        dpopJkt: request.dpopJkt,
      }, by, session);
      return answer(config, request.reply, { code }, status);
    }
    const t = tokenResponse(await engine.issueImplicit(request.client, user, grant, request.scope, by, session, request.resources[0]));
    return answer(config, request.reply, {
      access_token: t.access_token, token_type: t.token_type, expires_in: String(t.expires_in), scope: t.scope,
    }, status);
  });
}

/**
 * A pushed request is answered once (RFC 9126 §4): the first answer uses it up, and a second
 * browser tab on the same request_uri gets the error page instead of a second code.
 */
async function usePushed(engine: LifecycleEngine, request: AuthorizationRequest): Promise<void> {
  if (request.pushed !== undefined && !(await engine.consumePushedRequest(request.pushed.value))) {
    throw new OAuthError('invalid_request_uri', 'This authorization request was already answered. Go back to the application and start again.');
  }
}

/**
 * Runs `write`; if the session ended before it committed (a password change, the user's deletion,
 * a sign-out: SessionEnded, nothing stored), the browser signs in afresh and comes back to the request.
 */
async function orSignIn(request: AuthorizationRequest, status: 302 | 303, write: () => Promise<PlainResponse>): Promise<PlainResponse> {
  try {
    return await write();
  } catch (err) {
    if (err instanceof SessionEnded) return signInFor(request.params, status);
    throw err;
  }
}

/**
 * To the login page, which returns to this authorization request once the user has signed in,
 * less what asked for the sign-in, which it satisfies (oidc/prompt.ts afterSignIn).
 */
const signInFor = (params: URLSearchParams, status: 302 | 303): PlainResponse => toLogin(`${PATHS.authorization}?${afterSignIn(params)}`, status);

const actor = (user: UserRecord, endpoint: string): Actor => ({ actor: `user:${user.id}`, endpoint });
