/**
 * GET /events: the lifecycle as Server-Sent Events, as it commits on any instance (admin/events.ts):
 * what the console's overview follows. Each event's `id` resumes the stream (Last-Event-ID).
 */
import type { Store } from '../../store/types.js';
import { AuditTail, MAX_STREAMS, MAX_TOKEN_STREAMS } from '../events.js';
import { route } from '../route.js';
import { auditRecord } from './listings.js';

/** One tail per store: the streams of a server share its poll of the audit heads. */
const tails = new WeakMap<Store, AuditTail>();

export const eventRoutes = [
  route({
    method: 'GET', path: '/events', tag: 'events', status: 200, eventStream: true,
    summary:
      'Server-Sent Events (text/event-stream): every audited change as it commits, on any instance (`event: lifecycle`, data: one audit record without its hashes); ' +
      `the \`id\` resumes the stream through Last-Event-ID without loss; a heartbeat comment every feedHeartbeat ms; 429 past ${MAX_STREAMS} open streams, or ${MAX_TOKEN_STREAMS} of one admin token`,
    response: auditRecord.omit({ prev_hash: true, hash: true }),
    async handle({ headers, admin, alive, tessera }) {
      let tail = tails.get(tessera.store);
      if (tail === undefined) {
        tail = new AuditTail(tessera.store, tessera.config.feedHeartbeat);
        tails.set(tessera.store, tail);
      }
      // §9.2.4: a reconnecting EventSource sends the id of the last event it received.
      const lastEventId = headers['last-event-id'];
      return tail.subscribe(lastEventId === '' ? undefined : lastEventId, admin.id, alive);
    },
  }),
];
