/** The RFC 8628 §3.4–3.5 polling loop: wait `interval`, poll, repeat until tokens or a final error. */
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
  let interval = device.interval;
  for (;;) {
    await sleep(interval * 1000, http.signal);
    const step = await withTimeout(
      async (signal) => processDeviceCodeResponse(await deviceCodeGrantRequest(as, client, auth, device.device_code, { ...http, signal }), interval, clock),
      timeout,
      { url: as.token_endpoint, signal: http.signal },
    );
    if (step.done) return step.token;
    interval = step.interval;
  }
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
