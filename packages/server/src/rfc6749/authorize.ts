/**
 * The authorization endpoint (RFC 6749 §3.1, §4.1 code with PKCE, §4.2 implicit as a legacy
 * grant) and its two pages: login, then consent. Consent is stored on the user × client grant
 * and asked again only when a request widens it.
 *
 * Errors come in two kinds (§4.1.2.1): until client_id and redirect_uri are known to be good the
 * user sees an error page and is never redirected (no open redirector); after that, errors go
 * back to the client's redirect URI.
 */
import { OAuthError, parseScope, readParams } from '@tessera/core';
import type { ServerConfig } from '../config.js';
import { clientAddress } from '../http/client-address.js';
import { setCookie } from '../http/cookies.js';
import { html, redirect } from '../http/respond.js';
import type { Handler, PlainResponse } from '../http/types.js';
import { type Actor, type LifecycleEngine, SessionEnded, type SignedIn } from '../lifecycle/engine.js';
import type { KeyRing } from '../lifecycle/keys.js';
import { afterSignIn, type AuthenticationParams, authenticationParams, mustSignIn } from '../oidc/prompt.js';
import { checkCsrf, checkReturnTo, cookieOptions, methodNotAllowed, SESSION_COOKIE, sessionUser, toLogin, withCsrf } from '../pages/forms.js';
import { consentPage, errorPage, loginPage } from '../pages/pages.js';
import { checkChallenge } from '../rfc7636/pkce.js';
import { pushedRequest } from '../rfc9126/request-uri.js';
import { PATHS } from '../http/routes.js';
import type { ClientRecord, GrantRecord, UserRecord } from '../store/types.js';
import { allowedScope } from './scope.js';
import { tokenResponse } from './token-response.js';

/** Where an authorization response goes (§3.1.2), and how. */
interface Reply {
  redirectUri: string;
  /** §4.2.2: the implicit grant answers in the fragment; the code grant in the query. */
  fragment: boolean;
  state: string | undefined;
}

interface AuthorizationRequest {
  client: ClientRecord;
  reply: Reply;
  responseType: 'code' | 'token';
  scope: string;
  pkce: ReturnType<typeof checkChallenge>;
  /** OpenID Connect Core §3.1.2.1 nonce, carried by the code into the id_token. */
  nonce: string | null;
  /** OpenID Connect Core §3.1.2.1 prompt, max_age, id_token_hint, login_hint (oidc/prompt.ts). */
  authentication: AuthenticationParams;
  /** The request's parameters as the browser sent them, to carry through the login and consent forms. */
  params: URLSearchParams;
  /**
   * The request_uri the request came by (RFC 9126 §4): its reference value, used up when the
   * request completes, and when it was pushed.
   */
  pushed: { value: string; at: number } | undefined;
}

/** An error the client should hear about at its redirect URI (§4.1.2.1, §4.2.2.1). */
class RedirectError extends Error {
  constructor(readonly reply: Reply, readonly oauth: OAuthError) {
    super(oauth.message);
  }
}

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
    const grant = request.authentication.prompt.has('consent') ? undefined : await engine.consentCovers(request.client, user, parseScope(request.scope));
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
      })),
    );
  });
}

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
      const grant = await engine.recordConsent(request.client, user, parseScope(request.scope), actor(user, PATHS.consent), session);
      return respond(engine, config, request, signedIn, grant, 303);
    });
  });
}

/**
 * Validates an authorization request. A request_uri stands for the parameters its client pushed
 * (RFC 9126 §4): only those are used. Problems with client_id or redirect_uri (or the
 * request_uri) throw an OAuthError (shown on the error page); later ones a RedirectError (sent to
 * the client).
 */
async function parseRequest(engine: LifecycleEngine, config: ServerConfig, keys: KeyRing, params: URLSearchParams): Promise<AuthorizationRequest> {
  const pushed = await pushedRequest(engine, params);
  const request = await checkRequest(engine, config, keys, pushed?.params ?? params, pushed === undefined ? 'direct' : 'pushed');
  return { ...request, params, pushed: pushed && { value: pushed.value, at: pushed.at } };
}

/**
 * Validates what an authorization request asks, whether it came to the authorization endpoint
 * (`direct`, or `pushed` earlier) or is being pushed to /par now (`push`, rfc9126/par.ts).
 */
export async function checkRequest(
  engine: LifecycleEngine, config: ServerConfig, keys: KeyRing, params: URLSearchParams, via: 'direct' | 'pushed' | 'push',
): Promise<Omit<AuthorizationRequest, 'params' | 'pushed'>> {
  const { client_id, redirect_uri } = readParams(params, ['client_id', 'redirect_uri'] as const);
  if (client_id === undefined) throw new OAuthError('invalid_request', 'The request names no client (client_id is missing).');
  const client = await engine.getClient(client_id);
  if (!client) throw new OAuthError('invalid_client', 'The application that sent you here is not registered.');
  // RFC 9700 §2.1: redirect URIs are compared by exact string match. We require the parameter
  // (RFC 6749 §3.1.2.3 lets a single registered URI stand in; being explicit is safer).
  if (redirect_uri === undefined) throw new OAuthError('invalid_request', 'The request names no redirect_uri.');
  if (!client.redirectUris.includes(redirect_uri)) throw new OAuthError('invalid_request', 'The redirect_uri is not registered for this application.');

  const responseTypeRaw = params.getAll('response_type');
  const fragment = responseTypeRaw.length === 1 && responseTypeRaw[0] === 'token';
  const stateRaw = params.getAll('state');
  const reply: Reply = { redirectUri: redirect_uri, fragment, state: stateRaw.length === 1 ? stateRaw[0] : undefined };
  try {
    // RFC 9126 §5: a server that requires pushed requests refuses any other.
    if (via === 'direct' && config.requirePar) throw new OAuthError('invalid_request', 'this server takes authorization requests pushed to its PAR endpoint only (RFC 9126)');
    // OpenID Connect Core §6, §3.1.2.6: request objects are not supported, and saying so beats ignoring one.
    if (params.has('request')) throw new OAuthError('request_not_supported', 'request objects (the request parameter, RFC 9101) are not supported');
    const p = readParams(params, [
      'response_type', 'scope', 'state', 'code_challenge', 'code_challenge_method', 'nonce', 'prompt', 'max_age', 'id_token_hint', 'login_hint',
    ] as const);
    if (p.response_type === undefined) throw new OAuthError('invalid_request', 'response_type is required');
    let responseType: 'code' | 'token';
    if (p.response_type === 'code') {
      if (!client.grantTypes.includes('authorization_code')) throw new OAuthError('unauthorized_client', 'this client may not use the authorization code grant');
      responseType = 'code';
    } else if (p.response_type === 'token' && config.legacyGrants.includes('implicit')) {
      // RFC 9700 §2.1.2: the implicit grant SHOULD NOT be used; it is off unless the server
      // enables it and the client is registered for it.
      if (!client.grantTypes.includes('implicit')) throw new OAuthError('unauthorized_client', 'this client may not use the implicit grant');
      responseType = 'token';
    } else {
      throw new OAuthError('unsupported_response_type', 'the response_type is not supported');
    }
    const scope = allowedScope(client, p.scope);
    let pkce: AuthorizationRequest['pkce'];
    if (responseType === 'code') {
      pkce = checkChallenge(p.code_challenge, p.code_challenge_method, config.allowPlainPkce);
      // RFC 7636 §4.4.1, RFC 9700 §2.1.1: public clients MUST use PKCE.
      if (!pkce && client.authMethod === 'none') throw new OAuthError('invalid_request', 'code_challenge is required for public clients');
    }
    const authentication = await authenticationParams(p, client.id, config.issuer, keys);
    return { client, reply, responseType, scope, pkce, nonce: p.nonce ?? null, authentication };
  } catch (err) {
    // A push hears of every error itself (RFC 9126 §2.3); a browser is sent back to the client.
    if (err instanceof OAuthError && via !== 'push') throw new RedirectError(reply, err);
    throw err;
  }
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
        redirectUri: request.reply.redirectUri,
        codeChallenge: request.pkce?.challenge ?? null,
        codeChallengeMethod: request.pkce?.method ?? null,
        nonce: request.nonce,
      }, by, session);
      return redirect(replyUrl(config, request.reply, { code }), {}, status);
    }
    const t = tokenResponse(await engine.issueImplicit(request.client, user, grant, request.scope, by, session));
    return redirect(replyUrl(config, request.reply, {
      access_token: t.access_token, token_type: t.token_type, expires_in: String(t.expires_in), scope: t.scope,
    }), {}, status);
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
 * The redirect URI with the response added, keeping the URI's own query (§3.1.2), plus `state`
 * when the request had one (§4.1.2) and `iss` (RFC 9207, against mix-up attacks, RFC 9700 §4.4).
 */
function replyUrl(config: ServerConfig, reply: Reply, values: Record<string, string | undefined>): string {
  const url = new URL(reply.redirectUri);
  const add = reply.fragment ? new URLSearchParams() : url.searchParams;
  for (const [k, v] of Object.entries({ ...values, state: reply.state, iss: config.issuer })) {
    if (v !== undefined) add.set(k, v);
  }
  if (reply.fragment) url.hash = add.toString();
  return url.toString();
}

/** Runs `check`; an OAuthError it throws goes back to the client's redirect URI. */
function toClient<T>(reply: Reply, check: () => T): T {
  try {
    return check();
  } catch (err) {
    throw err instanceof OAuthError ? new RedirectError(reply, err) : err;
  }
}

/**
 * To the login page, which returns to this authorization request once the user has signed in,
 * less what asked for the sign-in, which it satisfies (oidc/prompt.ts afterSignIn).
 */
const signInFor = (params: URLSearchParams, status: 302 | 303): PlainResponse => toLogin(`${PATHS.authorization}?${afterSignIn(params)}`, status);

/** Turns the errors of a page endpoint into a redirect to the client or an error page. */
export function pageErrors(config: ServerConfig, handler: Handler): Handler {
  return async (req) => {
    try {
      return await handler(req);
    } catch (err) {
      if (err instanceof RedirectError) {
        // RFC 6749 §4.1.2.1: the same error and description as a JSON error, in the same character set.
        return redirect(replyUrl(config, err.reply, err.oauth.toJSON()), {}, req.method === 'POST' ? 303 : 302);
      }
      if (err instanceof OAuthError) {
        return html(err.status === 401 ? 400 : err.status, errorPage({ error: err.error, description: err.error_description ?? err.error }));
      }
      throw err;
    }
  };
}

const actor = (user: UserRecord, endpoint: string): Actor => ({ actor: `user:${user.id}`, endpoint });

/** The client's name for the login page, when return_to is an authorization request naming a registered client. */
async function clientNameOf(engine: LifecycleEngine, returnTo: string): Promise<string | undefined> {
  const url = new URL(returnTo, 'http://local');
  if (url.pathname !== PATHS.authorization) return undefined;
  const ids = url.searchParams.getAll('client_id');
  return ids.length === 1 ? (await engine.getClient(ids[0] as string))?.name : undefined;
}
