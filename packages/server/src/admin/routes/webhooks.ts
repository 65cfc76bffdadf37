/**
 * /webhooks and /deliveries: lifecycle webhook subscriptions and their outbox, with the rules of
 * `tessera webhook add|list|remove|deliveries` (the same engine calls and JSON). The signing
 * secret is in the answer to POST only, never stored in the clear (sealed under clientSecretKeyFile).
 */
import { z } from 'zod';
import { deliveryJson, STATUSES, webhookJson } from '../../cli/commands/webhook.js';
import { webhookUrlProblem } from '../../lifecycle/webhooks.js';
import type { DeliveryStatus, Store, WebhookDelivery } from '../../store/types.js';
import { expandEvents, WEBHOOK_EVENTS } from '../../webhooks/events.js';
import { decodeCursor, page } from '../cursor.js';
import { Problem } from '../problem.js';
import { route } from '../route.js';
import { id, pageOf, paging, time } from '../schemas.js';

const webhook = z.object({ id: z.string(), url: z.string(), events: z.array(z.string()), created_at: time });

const delivery = z.object({
  id: z.string().describe('the webhook-id header: the same on every attempt'), webhook_id: z.string(), event: z.string(), at: time,
  status: z.enum(STATUSES), attempts: z.number().int(), last_status: z.number().int().nullable().describe("the receiver's last HTTP status"),
  last_error: z.string().nullable(), next_attempt_at: time.nullable().describe('when pending: the next try'), finished_at: time.nullable(),
});

const createBody = z.strictObject({
  url: z.string().max(2048).superRefine((v, ctx) => {
    const problem = webhookUrlProblem(v);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  }).describe('an absolute http(s) URL without credentials or fragment'),
  events: z.array(z.string().max(64)).min(1).max(64).superRefine((v, ctx) => {
    try {
      expandEvents(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  }).describe(`events or patterns: *, token.*, grant.*, client.*, user.* or any of ${WEBHOOK_EVENTS.join(', ')}`),
});

const deliveryQuery = { status: z.enum(STATUSES).optional(), ...paging };

/** A page of deliveries, newest first; the cursor is the last one's (at, id). */
async function deliveries(store: Store, webhookId: string | undefined, query: { status?: DeliveryStatus; limit: number; cursor?: string }) {
  let before: { at: number; id: string } | undefined;
  if (query.cursor !== undefined) {
    const key = decodeCursor(query.cursor, 'string');
    const [at, deliveryId] = [Number(key.slice(0, key.indexOf(':'))), key.slice(key.indexOf(':') + 1)];
    if (!Number.isSafeInteger(at) || deliveryId === '') throw new Problem(400, 'cursor is not one this API returned', [{ pointer: '/query/cursor', detail: 'not a cursor from next_cursor' }]);
    before = { at, id: deliveryId };
  }
  const rows = await store.listDeliveries({ webhookId, status: query.status, limit: query.limit + 1, ...(before ? { before } : {}) });
  const shown = page(rows, query.limit, (d: WebhookDelivery) => `${d.at}:${d.id}`);
  return { items: shown.items.map(deliveryJson), next_cursor: shown.next_cursor };
}

const missing = (webhookId: string) => new Problem(404, `no webhook with id '${webhookId.slice(0, 128)}'`);

export const webhookRoutes = [
  route({
    method: 'GET', path: '/webhooks', tag: 'webhooks', status: 200, summary: 'list lifecycle webhook subscriptions (never their secrets)',
    response: z.object({ items: z.array(webhook) }),
    handle: async ({ tessera }) => ({ items: (await tessera.store.listWebhooks()).map(webhookJson) }),
  }),
  route({
    method: 'POST', path: '/webhooks', tag: 'webhooks', status: 201, body: createBody,
    summary: 'subscribe a URL to lifecycle events, as `tessera webhook add`; the answer carries its signing secret, shown this once (needs clientSecretKeyFile, else 422)',
    response: webhook.extend({ secret: z.string().describe('the Standard Webhooks signing secret (whsec_…): shown only in this answer') }),
    async handle({ body, by, tessera }) {
      if (tessera.config.clientSecretKeyFile === '') {
        throw new Problem(422, 'webhooks need the server setting clientSecretKeyFile (the key that seals their signing secrets)');
      }
      const { webhook: made, secret } = await tessera.engine.addWebhook(body.url, body.events, by);
      return { ...webhookJson(made), secret };
    },
  }),
  route({
    method: 'DELETE', path: '/webhooks/{id}', tag: 'webhooks', status: 204, summary: 'remove a subscription and its deliveries, pending ones included',
    async handle({ params, by, tessera }) {
      if (!(await tessera.engine.removeWebhook(params.id as string, by))) throw missing(params.id as string);
    },
  }),
  route({
    method: 'GET', path: '/webhooks/{id}/deliveries', tag: 'webhooks', status: 200,
    summary: "a subscription's deliveries, newest first: status, attempts, last status code or error, next try",
    query: z.strictObject(deliveryQuery), response: pageOf(delivery),
    async handle({ params, query, tessera }) {
      const webhookId = params.id as string;
      if (!(await tessera.store.listWebhooks()).some((w) => w.id === webhookId)) throw missing(webhookId);
      return deliveries(tessera.store, webhookId, query);
    },
  }),
  route({
    method: 'GET', path: '/deliveries', tag: 'webhooks', status: 200, summary: "every subscription's deliveries, newest first, as `tessera webhook deliveries`",
    query: z.strictObject({ webhook_id: id.optional(), ...deliveryQuery }), response: pageOf(delivery),
    handle: async ({ query, tessera }) => deliveries(tessera.store, query.webhook_id, query),
  }),
];
