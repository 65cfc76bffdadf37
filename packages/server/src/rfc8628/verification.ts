/**
 * The verification page (RFC 8628 §3.3): a signed-in user enters the user code their device shows
 * (or arrives with it from verification_uri_complete), sees which client asks for what, and
 * approves or denies. Same headers, CSRF defence and sign-in round trip as the authorization
 * endpoint's pages (pages/forms.ts). Consent is always asked here, even when the user's grant
 * already covers the scope: the page is how the user checks that the code is the one on their
 * own device (RFC 8628 §5.4, remote phishing).
 */
import { OAuthError, parseScope, readParams } from '@tessera/core';
import type { ServerConfig } from '../config.js';
import { clientAddress } from '../http/client-address.js';
import { html } from '../http/respond.js';
import { PATHS } from '../http/routes.js';
import type { Handler, PlainRequest, PlainResponse } from '../http/types.js';
import { type LifecycleEngine, SessionEnded, type SignedIn } from '../lifecycle/engine.js';
import { displayUserCode, normalizeUserCode } from '../lifecycle/device.js';
import { checkCsrf, methodNotAllowed, sessionUser, toLogin, withCsrf } from '../pages/forms.js';
import { consentPage, deviceCodePage, deviceDonePage, errorPage } from '../pages/pages.js';

const FORM = ['csrf', 'user_code', 'decision'] as const;
/** Longer input is no user code; it is cut before it reaches a page or the sign-in round trip. */
const TYPED_MAX = 64;

export function verificationEndpoint(engine: LifecycleEngine, config: ServerConfig): Handler {
  return async (req) => {
    try {
      if (req.method === 'GET') return await show(engine, config, req);
      if (req.method === 'POST') return await submit(engine, config, req);
      return methodNotAllowed('GET, POST');
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      return html(err.status === 401 ? 400 : err.status, errorPage({ error: err.error, description: err.error_description ?? err.error }));
    }
  };
}

/** Where login brings the user back: this page, with the code typed so far. */
const back = (typed: string | undefined) => `${PATHS.device}?${new URLSearchParams(typed ? { user_code: typed } : {})}`;

async function show(engine: LifecycleEngine, config: ServerConfig, req: PlainRequest): Promise<PlainResponse> {
  const typed = readParams(req.url.searchParams, ['user_code'] as const).user_code?.slice(0, TYPED_MAX);
  const signedIn = await sessionUser(engine, req);
  if (!signedIn) return toLogin(back(typed), 302);
  return entryPage(config, req, signedIn, typed);
}

async function submit(engine: LifecycleEngine, config: ServerConfig, req: PlainRequest): Promise<PlainResponse> {
  const form = readParams(req.body ?? new URLSearchParams(), FORM);
  checkCsrf(config, req, form.csrf);
  const typed = form.user_code?.slice(0, TYPED_MAX);
  const signedIn = await sessionUser(engine, req);
  if (!signedIn) return toLogin(back(typed), 303);
  const { user, session } = signedIn;
  if (form.decision !== undefined && form.decision !== 'allow' && form.decision !== 'deny') {
    throw new OAuthError('invalid_request', 'decision must be allow or deny');
  }
  let request: Awaited<ReturnType<LifecycleEngine['findDeviceRequest']>>;
  try {
    // Throttled like sign-in: every lookup that finds no pending code counts against the user and the address.
    request = typed === undefined ? undefined : await engine.findDeviceRequest(typed, user, clientAddress(req, config.trustForwardedFor), PATHS.device);
  } catch (err) {
    if (!(err instanceof OAuthError && err.error === 'slow_down')) throw err;
    const seconds = err.headers['retry-after'] ?? '1';
    return entryPage(config, req, signedIn, typed, 429, `Too many wrong codes. Wait ${seconds} ${seconds === '1' ? 'second' : 'seconds'}, then try again.`, { 'retry-after': seconds });
  }
  if (!request) return entryPage(config, req, signedIn, typed, 400, 'That code is not valid, or has expired. Check the code on your device and try again.');
  if (form.decision === undefined) {
    // Shown as the device shows it (RFC 8628 §6.1), so the user can compare the two.
    const shown = displayUserCode(normalizeUserCode(typed as string) as string);
    return withCsrf(config, req, (csrf) => html(200, consentPage({
      action: PATHS.device,
      request: shown,
      csrf,
      clientName: request.client.name,
      username: user.username,
      scopes: [...parseScope(request.code.scope)],
      resources: request.code.resources,
      userCode: shown,
    })));
  }
  try {
    const decided = await engine.decideDevice(request, user, session, form.decision === 'allow', { actor: `user:${user.id}`, endpoint: PATHS.device });
    if (!decided) return entryPage(config, req, signedIn, undefined, 400, 'That code was already used, or has expired. Start again on your device.');
  } catch (err) {
    if (err instanceof SessionEnded) return toLogin(back(typed), 303);
    throw err;
  }
  return html(200, deviceDonePage({ approved: form.decision === 'allow', clientName: request.client.name }));
}

function entryPage(
  config: ServerConfig, req: PlainRequest, { user }: SignedIn, typed: string | undefined, status = 200, error?: string, headers: Record<string, string> = {},
): PlainResponse {
  return withCsrf(config, req, (csrf) => html(status, deviceCodePage({
    action: PATHS.device, csrf, username: user.username, ...(typed !== undefined ? { userCode: typed } : {}), ...(error !== undefined ? { error } : {}),
  }), headers));
}
