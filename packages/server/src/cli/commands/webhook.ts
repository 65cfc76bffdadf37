/** `tessera webhook add|list|remove|deliveries`: lifecycle webhook subscriptions and their outbox. */
import type { DeliveryStatus, WebhookDelivery, WebhookRecord } from '../../store/types.js';
import { webhookUrlProblem } from '../../lifecycle/webhooks.js';
import { expandEvents, WEBHOOK_EVENTS } from '../../webhooks/events.js';
import { CommandError, count, EXIT, oneOf, parse, repeated, UsageError, type Command } from '../args.js';
import { print, printJson, shortIso, table, withTessera } from '../io.js';
import { needSealingKey } from './client-fields.js';

export const STATUSES = ['pending', 'delivered', 'failed'] as const satisfies readonly DeliveryStatus[];

/** A subscription as `webhook list --json` and the admin API show it (never its secret). */
export const webhookJson = (w: WebhookRecord) => ({ id: w.id, url: w.url, events: w.events, created_at: new Date(w.createdAt).toISOString() });

/** A delivery as `webhook deliveries --json` and the admin API show it. */
export const deliveryJson = (d: WebhookDelivery) => ({
  id: d.id, webhook_id: d.webhookId, event: d.event, at: new Date(d.at).toISOString(), status: d.status, attempts: d.attempts,
  last_status: d.lastStatus, last_error: d.lastError,
  next_attempt_at: d.status === 'pending' ? new Date(d.nextAttemptAt).toISOString() : null,
  finished_at: d.finishedAt === null ? null : new Date(d.finishedAt).toISOString(),
});

const add: Command = {
  name: 'webhook add',
  synopsis: 'URL --event E [--event E …] [--json]',
  summary: 'subscribe a URL to lifecycle events; prints the subscription id and its signing secret (shown once)',
  help: `  --event E   repeatable or comma-separated: *, token.*, grant.*, client.*, user.* or one of
              ${WEBHOOK_EVENTS.join(', ')}
Needs the clientSecretKeyFile setting: the signing secret is stored sealed under that key.`,
  async run(argv) {
    const { values, args, db } = parse(argv, { event: { type: 'string', multiple: true } }, ['URL']);
    const events = repeated(values.event).flatMap((e) => e.split(',')).map((e) => e.trim()).filter((e) => e !== '');
    if (events.length === 0) throw new UsageError('missing required option --event');
    const problem = webhookUrlProblem(args.URL);
    if (problem !== undefined) throw new UsageError(problem);
    try {
      expandEvents(events);
    } catch (err) {
      throw new UsageError(`--event: ${(err as Error).message}`);
    }
    needSealingKey(db.config, 'webhooks need the key that seals their signing secrets');
    return withTessera(db, 'create', async ({ engine }) => {
      const { webhook, secret } = await engine.addWebhook(args.URL, events, { actor: 'cli' });
      if (values.json) {
        printJson({ ...webhookJson(webhook), secret });
      } else {
        print(`Added webhook ${webhook.id} → ${webhook.url}\n  events  ${webhook.events.join(', ')}\n  secret  ${secret}`);
        print('\nThe secret is shown only this once: give it to the receiver, which checks each webhook-signature with it.');
      }
      return EXIT.ok;
    });
  },
};

const list: Command = {
  name: 'webhook list',
  synopsis: '[--json]',
  summary: 'list webhook subscriptions (never their secrets)',
  async run(argv) {
    const { values, db } = parse(argv, {});
    return withTessera(db, 'existing', async ({ store }) => {
      const webhooks = await store.listWebhooks();
      if (values.json) printJson(webhooks.map(webhookJson));
      else print(table(['id', 'url', 'events', 'created_at'], webhooks.map((w) => [w.id, w.url, w.events.join(','), shortIso(w.createdAt)]), 'No webhooks yet.'));
      return EXIT.ok;
    });
  },
};

const remove: Command = {
  name: 'webhook remove',
  synopsis: 'ID [--json]',
  summary: 'remove a webhook subscription and its deliveries, pending ones included',
  async run(argv) {
    const { values, args, db } = parse(argv, {}, ['ID']);
    return withTessera(db, 'existing', async ({ engine }) => {
      if (!(await engine.removeWebhook(args.ID, { actor: 'cli' }))) throw new CommandError(`no webhook with id '${args.ID}'`);
      if (values.json) printJson({ id: args.ID, removed: true });
      else print(`Removed webhook ${args.ID}.`);
      return EXIT.ok;
    });
  },
};

const deliveries: Command = {
  name: 'webhook deliveries',
  synopsis: '[ID] [--status pending|delivered|failed] [--limit N] [--json]',
  summary: "list deliveries, newest first: each one's attempts, last status code or error, next try",
  help: `  ID          only this subscription's
  --status S  ${STATUSES.join(', ')}
  --limit N   at most N (default 100, at most 10000)`,
  async run(argv) {
    const { values, args, db } = parse(argv, { status: { type: 'string' }, limit: { type: 'string' } }, [], ['ID']);
    const status = values.status === undefined ? undefined : oneOf('--status', values.status, STATUSES);
    const limit = values.limit === undefined ? 100 : count('--limit', values.limit, 10_000);
    return withTessera(db, 'existing', async ({ store }) => {
      if (args.ID !== undefined && !(await store.listWebhooks()).some((w) => w.id === args.ID)) throw new CommandError(`no webhook with id '${args.ID}'`);
      const found = await store.listDeliveries({ webhookId: args.ID, status, limit });
      if (values.json) {
        printJson(found.map(deliveryJson));
      } else {
        const rows = found.map((d) => [
          d.id, d.webhookId, d.event, shortIso(d.at), d.status, String(d.attempts), d.lastStatus === null ? '-' : String(d.lastStatus),
          d.status === 'pending' ? shortIso(d.nextAttemptAt) : '-', d.lastError ?? '',
        ]);
        print(table(['id', 'webhook', 'event', 'at', 'status', 'attempts', 'last_status', 'next_try', 'last_error'], rows, 'No deliveries.'));
      }
      return EXIT.ok;
    });
  },
};

export const webhookCommands: readonly Command[] = [add, list, remove, deliveries];
