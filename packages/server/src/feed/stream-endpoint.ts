/**
 * GET /revocations/stream: the revocation feed as Server-Sent Events (WHATWG HTML §9.2). Starts
 * after the Last-Event-ID header (or `?after=`), sends what the store holds past it, then each new
 * revocation as it commits; an idle stream gets a heartbeat comment every `feedHeartbeat` ms, so a
 * guard can tell a quiet feed from a dead one.
 */
import type { LifecycleEngine } from '../lifecycle/engine.js';
import type { PlainRequest, PlainResponse } from '../http/types.js';
import type { Store } from '../store/types.js';
import { authenticateFeedClient, cursorParam } from './feed-client.js';
import { DEFAULT_PAGE } from './list-endpoint.js';
import type { FeedNotifier } from './notifier.js';
import { sseFrame } from './wire.js';

/** Reconnection delay suggested to EventSource clients (§9.2.6 `retry`). */
const RETRY_MS = 1000;

export function feedStreamEndpoint(engine: LifecycleEngine, notifier: FeedNotifier) {
  return async (req: PlainRequest): Promise<PlainResponse> => {
    await authenticateFeedClient(engine, req);
    // §9.2.4: a reconnecting client sends the id of the last event it received as Last-Event-ID.
    const header = req.headers['last-event-id'];
    const after = header !== undefined ? cursorParam(header, 'Last-Event-ID') : cursorParam(req.url.searchParams.get('after'), 'after');
    return {
      status: 200,
      headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' },
      body: '',
      stream: (signal) => events(engine.store, notifier, after, engine.config.feedHeartbeat, signal),
    };
  };
}

async function* events(store: Store, notifier: FeedNotifier, after: number, heartbeat: number, signal: AbortSignal): AsyncGenerator<string> {
  let cursor = after;
  yield `retry: ${RETRY_MS}\n: connected\n\n`;
  let idle = false;
  while (!signal.aborted) {
    const seen = notifier.version;
    const page = await store.readFeed(cursor, DEFAULT_PAGE);
    if (page.length > 0) {
      cursor = (page.at(-1) as { seq: number }).seq;
      yield page.map(sseFrame).join('');
      idle = false;
      continue;
    }
    // Re-reading on every beat also picks up revocations committed by another process.
    if (idle) yield ': heartbeat\n\n';
    idle = (await notifier.wait(seen, heartbeat, signal)) === 'timeout';
  }
}
