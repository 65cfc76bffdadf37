/** The RFC 8628 §3.4–3.5 polling loop: wait `interval`, poll, repeat until tokens, a final error, or the device code's expiry. */
import { OAuthResponseError } from '../errors.js';
import type { HttpOptions } from '../http.js';
import type { Client, ClientAuth } from '../rfc6749/client-auth.js';
import type { TokenSet } from '../rfc6749/token.js';
import type { AuthorizationServer } from '../rfc8414/metadata.js';
import { type DeviceAuthorization, deviceCodeGrantRequest, processDeviceCodeResponse } from '../rfc8628/device.js';
import { DEFAULT_TIMEOUT, withTimeout } from './refresh-retry.js';
import type { ServerClock } from './server-clock.js';

/**
 * Polls until the user has approved (tokens) or the server says stop (access_denied,
 * expired_token: thrown as OAuthResponseError). The first poll also waits `interval`: the user
 * needs that long anyway, and §3.5 asks for at least `interval` seconds between requests. Each
 * poll, its answer's body included, is bounded by `timeout` ms: one that gets no answer by then
 * is a NetworkError saying it timed out. `http.signal` (the caller's) ends it all, waits included.
 *
 * §3.2: the device code lives `expires_in` seconds. Once `device.expires_at` has passed (on
 * `clock`, the server's, when given: processDeviceAuthorizationResponse put it there), polling
 * stops without asking again, with the error a server's `expired_token` answer is (an
 * OAuthResponseError, `error: 'expired_token'`, status 400): a server that answers
 * authorization_pending for ever does not keep the client polling for ever. A wait that would
 * end past `expires_at` ends there; a poll under way then is answered first (tokens win).
 */
export async function pollDeviceToken(
  as: AuthorizationServer,
  client: Client,
  auth: ClientAuth,
  device: DeviceAuthorization,
  http: HttpOptions,
  clock?: ServerClock,
  timeout = DEFAULT_TIMEOUT,
): Promise<TokenSet> {
  const now = () => clock?.now() ?? Date.now() / 1000;
  // A DeviceAuthorization made by hand may lack expires_at: expires_in from now, then.
  const expiresAt = Number.isFinite(device.expires_at) ? device.expires_at : now() + device.expires_in;
  let interval = device.interval;
  for (;;) {
    const left = expiresAt - now();
    if (left <= 0) throw expired();
    await sleep(Math.min(interval, left) * 1000, http.signal);
    if (expiresAt - now() <= 0) throw expired();
    const step = await withTimeout(
      async (signal) => processDeviceCodeResponse(await deviceCodeGrantRequest(as, client, auth, device.device_code, { ...http, signal }), interval, clock),
      timeout,
      { url: as.token_endpoint, signal: http.signal },
    );
    if (step.done) return step.token;
    interval = step.interval;
  }
}

/** What a server answers a poll after the device code's lifetime (RFC 8628 §3.5), concluded here. */
function expired(): OAuthResponseError {
  return new OAuthResponseError(
    { error: 'expired_token', error_description: 'the device code expired (expires_in passed) before the user approved; the client stopped polling' },
    400,
  );
}

/** Resolves after `ms`, or rejects with the signal's reason when aborted. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
