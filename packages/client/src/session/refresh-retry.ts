/**
 * Retrying a token request that failed on the way, and the one rule that makes it safe with
 * rotating refresh tokens: a refresh token is sent again only when the server certainly did not
 * process the first request. Resending one the server did process is reuse (RFC 9700 §4.14.2),
 * and servers answer reuse by revoking the whole grant, for every process and tab sharing it.
 *
 *   not processed  connection refused, name not resolved, connect timeout (NetworkError.notSent);
 *                  HTTP 503 or 429, or the error `temporarily_unavailable` (the server says it did
 *                  not handle the request; RFC 9110 §15.6.4, RFC 6585 §4): retried with backoff,
 *                  honouring Retry-After.
 *   maybe          the connection broke after the request went out, any other 5xx, or a 2xx
 *                  that could not be read: for a refresh, RefreshOutcomeUnknownError and no
 *                  resend; for a request that spends nothing (client_credentials), retried.
 *   final          every other error (invalid_grant, invalid_client, …): thrown as it is.
 */
import { ConfigurationError, InvalidResponseError, NetworkError, OAuthResponseError, RefreshOutcomeUnknownError } from '../errors.js';

/** How long one request to the authorization server may take, its answer's body included, by default (ms). */
export const DEFAULT_TIMEOUT = 30_000;

/** How long one token request of a renewal may take, its answer's body included, by default (ms): DEFAULT_TIMEOUT. */
export const DEFAULT_REFRESH_TIMEOUT = DEFAULT_TIMEOUT;

/** The longest delay setTimeout holds (2^31 - 1 ms); a longer one fires at once. */
export const MAX_TIMEOUT = 2_147_483_647;

/**
 * A `timeout` option as given, or a ConfigurationError: setTimeout fires at once for 0, NaN,
 * Infinity or more than 2^31 - 1 ms, which would be no bound at all.
 */
export function checkTimeout(timeout: unknown, name = 'timeout'): void {
  if (timeout !== undefined && !(typeof timeout === 'number' && timeout > 0 && timeout <= MAX_TIMEOUT)) {
    throw new ConfigurationError(`${name} is a number of milliseconds from 1 to ${MAX_TIMEOUT}`);
  }
}

export interface RetryPolicy {
  /** Retries after the first attempt (default 3). */
  retries?: number;
  /** Milliseconds before the first retry, doubled for each next one, with jitter (default 250). */
  minDelay?: number;
  /** Longest wait between attempts; a Retry-After beyond it is not waited for (default 8,000). */
  maxDelay?: number;
}

type Outcome = { kind: 'not-processed'; retryAfter: number | undefined } | { kind: 'maybe-processed' } | { kind: 'final' };

/** What a failed token request tells about whether the server acted on it. */
export function outcomeOf(err: unknown): Outcome {
  if (err instanceof NetworkError) return err.notSent ? { kind: 'not-processed', retryAfter: undefined } : { kind: 'maybe-processed' };
  if (err instanceof OAuthResponseError || (err instanceof InvalidResponseError && err.status !== undefined)) {
    const status = err.status as number;
    if (status === 503 || status === 429 || (err instanceof OAuthResponseError && err.error === 'temporarily_unavailable')) {
      return { kind: 'not-processed', retryAfter: err.retryAfter };
    }
    // A 5xx may come after the server committed; a 2xx it sent means it did (the body was unreadable).
    if (status >= 500 || (err instanceof InvalidResponseError && status >= 200 && status < 300)) return { kind: 'maybe-processed' };
  }
  return { kind: 'final' };
}

/**
 * Runs `attempt` until it succeeds or fails in a way not worth retrying. `spends` says the request
 * spends a credential (a refresh token): then a failure that may have been processed becomes
 * RefreshOutcomeUnknownError at once instead of a retry. Each attempt gets a signal that aborts
 * after `timeout` ms: a request that got no whole answer by then may have been processed (with
 * `url`, the request's, it fails as a NetworkError that says so).
 */
export async function withRetries<T>(
  attempt: (signal: AbortSignal) => Promise<T>,
  policy: RetryPolicy,
  spends: boolean,
  timeout = DEFAULT_REFRESH_TIMEOUT,
  url?: string,
): Promise<T> {
  const retries = policy.retries ?? 3;
  const minDelay = policy.minDelay ?? 250;
  const maxDelay = policy.maxDelay ?? 8_000;
  for (let n = 0; ; n++) {
    let signal: AbortSignal | undefined;
    try {
      return await withTimeout(
        (s) => {
          signal = s;
          return attempt(s);
        },
        timeout,
        { url },
      );
    } catch (err) {
      const outcome: Outcome = signal?.aborted ? { kind: 'maybe-processed' } : outcomeOf(err);
      if (outcome.kind === 'maybe-processed' && spends) throw new RefreshOutcomeUnknownError(err);
      if (outcome.kind === 'final' || n >= retries) throw err;
      const backoff = Math.min(maxDelay, minDelay * 2 ** n) * (0.5 + Math.random() / 2);
      const wait = outcome.kind === 'not-processed' && outcome.retryAfter !== undefined ? outcome.retryAfter * 1000 : backoff;
      if (wait > maxDelay) throw err;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

/**
 * `work` with a signal that aborts with a TimeoutError after `timeout` ms, or with the reason of
 * `signal` (the caller's) when that aborts first. A timer of its own, cleared when the work
 * settles: an AbortSignal.timeout held only by an AbortSignal.any may be collected on Node 20
 * before it fires (nodejs/node#57736). With `url` (the request's), work that fails once the time
 * is up fails as a NetworkError naming the URL without its query and saying it timed out after
 * `timeout` ms (maybe sent: `notSent` is false); the caller's abort is its reason, unchanged, even
 * when the work failed otherwise because of it (a body cut short reads as unreadable JSON).
 */
export async function withTimeout<T>(work: (signal: AbortSignal) => Promise<T>, timeout: number, options: { url?: string | undefined; signal?: AbortSignal | undefined } = {}): Promise<T> {
  const { url, signal: caller } = options;
  const timer = new AbortController();
  let timedOut = false;
  const clock = setTimeout(() => {
    if (timer.signal.aborted) return;
    timedOut = true;
    timer.abort(new DOMException(`timed out after ${timeout} ms`, 'TimeoutError'));
  }, timeout);
  const onAbort = () => timer.abort(caller?.reason);
  if (caller?.aborted) onAbort();
  else caller?.addEventListener('abort', onAbort, { once: true });
  try {
    return await work(timer.signal);
  } catch (err) {
    if (timedOut && url !== undefined) throw new NetworkError(url, timer.signal.reason, false);
    // The caller's abort, whatever the work made of it (an answer's body cut short is unreadable JSON).
    if (!timedOut && timer.signal.aborted) throw timer.signal.reason;
    throw err;
  } finally {
    clearTimeout(clock);
    caller?.removeEventListener('abort', onAbort);
  }
}

/**
 * `work()`, or the signal's reason if the caller aborts first (an aborted signal: its reason, and
 * `work` is not started). The work goes on: a refresh or a discovery is shared by every caller
 * waiting for it, and settles on its own (bounded by its own timeout).
 */
export function untilAborted<T>(work: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work();
  if (signal.aborted) return Promise.reject(signal.reason);
  const running = work();
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    signal.addEventListener('abort', abort, { once: true });
    running.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}
