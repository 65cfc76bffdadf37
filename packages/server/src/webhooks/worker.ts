/**
 * Delivers the webhook outbox (each `tessera serve` runs one): claims due deliveries, POSTs each
 * one's JSON body signed in the Standard Webhooks style, and records the outcome. A 2xx is
 * delivered; anything else (another status, a redirect, which is never followed, a refused
 * connection, a timeout) is retried with exponential backoff and jitter until webhookRetention
 * after the event, then marked failed. At least once: a claim is a lease (Store.claimDeliveries),
 * so a delivery whose worker died is taken up again, and a receiver that was down gets every
 * event, each with the same webhook-id on every attempt.
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { ServerConfig } from '../config.js';
import { openSealedSecret } from '../secrets.js';
import type { ClaimedDelivery, DeliveryAttempt, Store } from '../store/types.js';
import { signature, webhookBody } from './events.js';

/** Deliveries claimed per look; a full batch is followed by another look at once. */
const BATCH = 32;

export interface WebhookWorker {
  /** Stops claiming, waits for the attempts in flight to be recorded. */
  stop(): Promise<void>;
}

export interface WorkerOptions {
  config: Pick<ServerConfig, 'webhookRetention' | 'webhookBackoff' | 'webhookBackoffMax' | 'webhookTimeout' | 'webhookPollInterval'>;
  /** The key the subscriptions' secrets are sealed with (clientSecretKeyFile); undefined when unset. */
  sealingKey: () => Buffer | undefined;
  onError: (err: unknown) => void;
  /** Called after an attempt that did not deliver: the delivery id, the subscription's, and why. */
  onFailedAttempt?: (info: { delivery: string; webhook: string; attempts: number; error: string; failed: boolean }) => void;
  now?: () => number;
}

/** The wait before attempt `attempts + 1`: base × 2^(attempts − 1), capped, with equal jitter (half fixed, half random). */
export function backoff(attempts: number, base: number, cap: number): number {
  const full = Math.min(cap, base * 2 ** Math.min(attempts - 1, 30));
  return Math.round(full / 2 + Math.random() * (full / 2));
}

export function startWebhookWorker(store: Store, options: WorkerOptions): WebhookWorker {
  const { config } = options;
  const now = options.now ?? Date.now;
  // Connections kept between attempts; destroyed at stop.
  const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
  // Longer than any attempt takes: a claim lapses only when its worker died.
  const lease = 2 * config.webhookTimeout + 5000;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  async function attempt(claim: ClaimedDelivery): Promise<void> {
    const d = claim.delivery;
    const attempts = d.attempts + 1;
    let httpStatus: number | null = null;
    let error: string | null = null;
    const opened = signingSecret(claim);
    if ('error' in opened) {
      error = opened.error;
    } else {
      const { secret } = opened;
      const body = webhookBody(d);
      const timestamp = Math.floor(now() / 1000);
      const result = await post(claim.url, body, {
        'content-type': 'application/json',
        'webhook-id': d.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signature(secret, d.id, timestamp, body),
      });
      httpStatus = result.status;
      error = result.error;
    }
    const at = now();
    let outcome: DeliveryAttempt;
    if (error === null) outcome = { at, httpStatus, error, outcome: 'delivered' };
    else if (at - d.at >= config.webhookRetention * 1000) outcome = { at, httpStatus, error, outcome: 'failed' };
    else outcome = { at, httpStatus, error, outcome: 'retry', nextAttemptAt: Math.min(at + backoff(attempts, config.webhookBackoff, config.webhookBackoffMax), d.at + config.webhookRetention * 1000) };
    const audit = outcome.outcome === 'failed'
      ? [{ event: 'webhook.delivery_failed', actor: 'system', reason: error, data: { webhook: d.webhookId, delivery: d.id, event: d.event, attempts } }]
      : [];
    await store.recordDelivery(d.id, outcome, audit);
    if (error !== null) options.onFailedAttempt?.({ delivery: d.id, webhook: d.webhookId, attempts, error, failed: outcome.outcome === 'failed' });
  }

  /**
   * The subscription's signing secret, or why there is none. A key file that cannot be read (gone,
   * its mode widened) is a failed attempt like any other, recorded and retried until the delivery
   * is given up, not an error that leaves the claim to be taken again for ever.
   */
  function signingSecret(claim: ClaimedDelivery): { secret: string } | { error: string } {
    let key: Buffer | undefined;
    try {
      key = options.sealingKey();
    } catch (err) {
      return { error: (err as Error).message };
    }
    const secret = key && openSealedSecret(key, claim.sealedSecret, `webhook:${claim.delivery.webhookId}`);
    return secret ? { secret } : { error: 'cannot open the signing secret: clientSecretKeyFile is unset or not the key it was sealed with' };
  }

  /** One POST: its status, and an error unless it was 2xx. Redirects are not followed (a 3xx is a failure). */
  function post(url: string, body: string, headers: Record<string, string>): Promise<{ status: number | null; error: string | null }> {
    return new Promise((resolve) => {
      const https = url.startsWith('https:');
      const req = (https ? httpsRequest : httpRequest)(url, {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        agent: https ? agents.https : agents.http,
        signal: AbortSignal.timeout(config.webhookTimeout),
      }, (res) => {
        const status = res.statusCode ?? 0;
        // The body is never read into anything: only drained, so the connection can be reused.
        res.resume();
        res.on('end', () => resolve({ status, error: status >= 200 && status < 300 ? null : `HTTP ${status}` }));
        res.on('error', () => resolve({ status, error: `HTTP ${status}, response cut off` }));
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        const timedOut = err.name === 'AbortError' || err.name === 'TimeoutError';
        resolve({ status: null, error: timedOut ? `no answer within ${config.webhookTimeout} ms` : `${err.code ?? err.name}: ${err.message}` });
      });
      req.end(body);
    });
  }

  async function runOnce(): Promise<void> {
    for (;;) {
      const at = now();
      const claims = await store.claimDeliveries(at, BATCH, at + lease);
      await Promise.all(claims.map((c) => attempt(c).catch(options.onError)));
      if (claims.length < BATCH || stopped) return;
    }
  }

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = runOnce().catch(options.onError).finally(() => {
        running = undefined;
        schedule();
      });
    }, config.webhookPollInterval);
    timer.unref();
  };
  schedule();

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
