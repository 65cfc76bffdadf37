/**
 * Lifecycle webhook subscriptions: made with a signing secret (returned once, stored sealed),
 * removed with their deliveries; both audited, never the secret. Delivery: webhooks/worker.ts.
 */
import { randomId, sealSecret } from '../secrets.js';
import type { WebhookRecord } from '../store/types.js';
import { expandEvents, newWebhookSecret } from '../webhooks/events.js';
import type { Actor, EngineContext } from './context.js';

/**
 * Subscribes `url` to the events `patterns` name (webhooks/events.ts expandEvents); throws a
 * RangeError for a bad URL or event, an Error without the sealing key (clientSecretKeyFile).
 */
export async function addWebhook(ctx: EngineContext, url: string, patterns: readonly string[], by: Actor): Promise<{ webhook: WebhookRecord; secret: string }> {
  const problem = webhookUrlProblem(url);
  if (problem !== undefined) throw new RangeError(problem);
  let events: string[];
  try {
    events = expandEvents(patterns);
  } catch (err) {
    throw new RangeError((err as Error).message);
  }
  if (events.length === 0) throw new RangeError('name at least one event');
  const key = ctx.sealingKey();
  if (!key) throw new Error('webhooks need the clientSecretKeyFile setting (the key that seals their signing secrets)');
  const id = randomId();
  const secret = newWebhookSecret();
  const webhook: WebhookRecord = { id, url, events, sealedSecret: sealSecret(key, secret, `webhook:${id}`), createdAt: ctx.now() };
  await ctx.store.createWebhook(webhook, [{ event: 'webhook.created', ...by, data: { webhook: id, events } }]);
  return { webhook, secret };
}

/** Removes a subscription and its deliveries; false if there is none. */
export function removeWebhook(ctx: EngineContext, id: string, by: Actor): Promise<boolean> {
  return ctx.store.deleteWebhook(id, [{ event: 'webhook.deleted', ...by, data: { webhook: id } }]);
}

/** Why `url` cannot receive deliveries, or undefined: an absolute http(s) URL, no credentials in it, no fragment. */
export function webhookUrlProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `'${url}' is not an absolute URL (such as https://hooks.example.com/tessera)`;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return `'${url}' must be an http or https URL`;
  if (parsed.username !== '' || parsed.password !== '') return 'the URL must not carry credentials: receivers check the signature instead';
  if (parsed.hash !== '' || url.includes('#')) return 'the URL must not have a fragment';
  return undefined;
}
