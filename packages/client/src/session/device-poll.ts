/** The RFC 8628 §3.4–3.5 polling loop: wait `interval`, poll, repeat until tokens or a final error. */
import type { HttpOptions } from '../http.js';
import type { Client, ClientAuth } from '../rfc6749/client-auth.js';
import type { TokenSet } from '../rfc6749/token.js';
import type { AuthorizationServer } from '../rfc8414/metadata.js';
import { type DeviceAuthorization, deviceCodeGrantRequest, processDeviceCodeResponse } from '../rfc8628/device.js';
import type { ServerClock } from './server-clock.js';

/**
 * Polls until the user has approved (tokens) or the server says stop (access_denied,
 * expired_token: thrown as OAuthResponseError). The first poll also waits `interval`: the user
 * needs that long anyway, and §3.5 asks for at least `interval` seconds between requests.
 */
export async function pollDeviceToken(
  as: AuthorizationServer,
  client: Client,
  auth: ClientAuth,
  device: DeviceAuthorization,
  http: HttpOptions,
  clock?: ServerClock,
): Promise<TokenSet> {
  let interval = device.interval;
  for (;;) {
    await sleep(interval * 1000, http.signal);
    const step = await processDeviceCodeResponse(await deviceCodeGrantRequest(as, client, auth, device.device_code, http), interval, clock);
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
