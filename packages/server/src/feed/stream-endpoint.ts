/**
 * GET /revocations/stream: the revocation feed as Server-Sent Events (WHATWG HTML §9.2). Starts
 * after the Last-Event-ID header (or `?after=`), sends what the store holds past it, then each new
 * revocation as it commits (fan-out.ts hands every up-to-date stream the same bytes); every
 * `feedHeartbeat` ms a heartbeat comment, so a guard can tell a quiet feed from a dead one. The
 * stream ends when its client is deleted, changes its secret or loses `tessera:revocations`.
 */
import type { LifecycleEngine } from '../lifecycle/engine.js';
import type { PlainRequest, PlainResponse } from '../http/types.js';
import type { FeedEvent, Store } from '../store/types.js';
import { authenticateFeedClient, cursorParam } from './feed-client.js';
import type { FeedFanOut } from './fan-out.js';
import { DEFAULT_PAGE as PAGE } from './list-endpoint.js';
import type { Subscription } from './subscription.js';
import { sseFrame } from './wire.js';

/** Reconnection delay suggested to EventSource clients (§9.2.6 `retry`). */
const RETRY_MS = 1000;

/** `feed` is the store the revocations are recorded in, read by a stream that fell behind the fan-out. */
export function feedStreamEndpoint(engine: LifecycleEngine, fanOut: FeedFanOut, feed: Pick<Store, 'readFeed'>) {
  return async (req: PlainRequest): Promise<PlainResponse> => {
    const client = await authenticateFeedClient(engine, req);
    // §9.2.4: a reconnecting client sends the id of the last event it received as Last-Event-ID.
    const header = req.headers['last-event-id'];
    const after = header !== undefined ? cursorParam(header, 'Last-Event-ID') : cursorParam(req.url.searchParams.get('after'), 'after');
    // Counted from here (the per-client cap) until the stream ends.
    const sub = await fanOut.subscribe(client, after);
    return {
      status: 200,
      headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' },
      body: '',
      stream: (signal) => events(feed, fanOut, sub, signal),
    };
  };
}

async function* events(store: Pick<Store, 'readFeed'>, fanOut: FeedFanOut, sub: Subscription, signal: AbortSignal): AsyncGenerator<string> {
  const onAbort = () => sub.notify('aborted');
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    yield `retry: ${RETRY_MS}\n: connected\n\n`;
    while (!signal.aborted && !sub.ended) {
      const next = fanOut.take(sub.cursor);
      if (next === 'behind') {
        // Older than what the fan-out keeps: read the durable feed until current.
        const head = fanOut.head;
        const page = await store.readFeed(sub.cursor, PAGE);
        if (page.length > 0) {
          sub.cursor = (page.at(-1) as FeedEvent).seq;
          yield page.map(sseFrame).join('');
        }
        // A short page reached the end: whatever the fan-out had read up to `head` was in it, or swept since.
        if (page.length < PAGE) sub.cursor = Math.max(sub.cursor, head);
      } else if (next !== 'current') {
        sub.cursor = next.last;
        yield next.bytes;
      } else if ((await sub.wait(signal)) === 'beat') {
        yield ': heartbeat\n\n';
      }
    }
    // The guard reconnects and is told why (401/403).
    if (sub.ended && !signal.aborted) yield ': the client may no longer read the revocation feed\n\n';
  } finally {
    signal.removeEventListener('abort', onAbort);
    sub.close();
  }
}
