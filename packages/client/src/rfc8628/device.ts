/**
 * The device authorization grant (RFC 8628) as request/process pairs. The polling loop, which
 * waits, lives in the session; here `processDeviceCodeResponse` decides what the next poll is.
 */
import { InvalidResponseError, OAuthResponseError } from '../errors.js';
import { checkResponse, type HttpOptions, optionalString, postForm, readJson, requireString } from '../http.js';
import type { Client, ClientAuth } from '../rfc6749/client-auth.js';
import { processTokenResponse, type TokenSet, tokenRequest } from '../rfc6749/token.js';
import { endpoint } from '../rfc8414/discovery.js';
import type { AuthorizationServer } from '../rfc8414/metadata.js';
import type { ServerClock } from '../session/server-clock.js';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** RFC 8628 §3.2: what to show the user, and how to poll. */
export interface DeviceAuthorization {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete?: string;
  expires_in: number;
  /**
   * Epoch seconds at which the codes expire: `expires_in` from when the response was received,
   * rounded up (never before the server's lifetime has passed); on the server's clock when
   * processDeviceAuthorizationResponse was given a ServerClock, as the session's is.
   * pollDeviceToken stops there.
   */
  expires_at: number;
  /** Seconds between polls; RFC 8628 §3.2: 5 when the server sends none. */
  interval: number;
}

/** RFC 8628 §3.1: asks for a device code and a user code. */
export async function deviceAuthorizationRequest(
  as: AuthorizationServer, client: Client, auth: ClientAuth, parameters: { scope?: string | undefined } = {}, options?: HttpOptions,
): Promise<Response> {
  const body = new URLSearchParams();
  if (parameters.scope !== undefined) body.set('scope', parameters.scope);
  const headers = new Headers();
  await auth(as, client, body, headers);
  return postForm(endpoint(as, 'device_authorization_endpoint'), body, headers, options);
}

/**
 * RFC 8628 §3.2: the device authorization response. With `clock`, the response's Date header
 * updates it and `expires_at` is on the server's clock.
 */
export async function processDeviceAuthorizationResponse(response: Response, clock?: ServerClock): Promise<DeviceAuthorization> {
  const receivedAt = Date.now();
  clock?.observe(response, receivedAt);
  await checkResponse(response, 200);
  const body = await readJson(response);
  const status = response.status;
  const expiresIn = Number(body.expires_in);
  if (!Number.isFinite(expiresIn) || expiresIn <= 0) throw new InvalidResponseError('expires_in is not a number of seconds', status);
  const interval = body.interval === undefined ? 5 : Number(body.interval);
  if (!Number.isFinite(interval) || interval < 0) throw new InvalidResponseError('interval is not a number of seconds', status);
  const complete = optionalString(body.verification_uri_complete);
  return {
    device_code: requireString(body, 'device_code', status),
    user_code: requireString(body, 'user_code', status),
    verification_uri: requireString(body, 'verification_uri', status),
    ...(complete === undefined ? {} : { verification_uri_complete: complete }),
    expires_in: expiresIn,
    expires_at: Math.ceil((clock === undefined ? receivedAt / 1000 : clock.now()) + expiresIn),
    interval,
  };
}

/** RFC 8628 §3.4: one poll of the token endpoint. */
export function deviceCodeGrantRequest(as: AuthorizationServer, client: Client, auth: ClientAuth, deviceCode: string, options?: HttpOptions): Promise<Response> {
  return tokenRequest(as, client, auth, { grant_type: DEVICE_CODE_GRANT, device_code: deviceCode }, options);
}

/** Either the tokens, or how long to wait before polling again. */
export type DevicePollResult = { done: true; token: TokenSet } | { done: false; interval: number };

/**
 * RFC 8628 §3.5: authorization_pending → poll again after `interval`; slow_down → the interval
 * MUST grow by 5 seconds for this and every later poll; anything else (access_denied,
 * expired_token, …) → the client MUST stop: the OAuthResponseError is thrown.
 */
export async function processDeviceCodeResponse(response: Response, interval: number, clock?: ServerClock): Promise<DevicePollResult> {
  try {
    return { done: true, token: await processTokenResponse(response, clock) };
  } catch (err) {
    if (err instanceof OAuthResponseError && err.error === 'authorization_pending') return { done: false, interval };
    if (err instanceof OAuthResponseError && err.error === 'slow_down') return { done: false, interval: interval + 5 };
    throw err;
  }
}
