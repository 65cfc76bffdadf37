/**
 * GET /revocations?after=CURSOR&limit=N: the durable revocation feed, for a guard catching up
 * after a start or a disconnect. Answers the events after the cursor, oldest first, and the cursor
 * to ask from next.
 */
import { OAuthError } from '@tessera/core';
import type { LifecycleEngine } from '../lifecycle/engine.js';
import { json } from '../http/respond.js';
import type { PlainRequest, PlainResponse } from '../http/types.js';
import type { Store } from '../store/types.js';
import { authenticateFeedClient, cursorParam } from './feed-client.js';
import { toWire } from './wire.js';

export const DEFAULT_PAGE = 500;
export const MAX_PAGE = 5000;

/** `feed` is the store the revocations are recorded in (wired in app.ts). */
export function feedListEndpoint(engine: LifecycleEngine, feed: Pick<Store, 'readFeed'>) {
  return async (req: PlainRequest): Promise<PlainResponse> => {
    await authenticateFeedClient(engine, req);
    const after = cursorParam(req.url.searchParams.get('after'), 'after');
    const limit = cursorParam(req.url.searchParams.get('limit'), 'limit') || DEFAULT_PAGE;
    if (limit > MAX_PAGE) throw new OAuthError('invalid_request', `limit must be at most ${MAX_PAGE}`);
    const events = await feed.readFeed(after, limit);
    return json(200, {
      events: events.map(toWire),
      cursor: events.at(-1)?.seq ?? after,
      // A full page may have more behind it; the guard asks again from `cursor`.
      more: events.length === limit,
    });
  };
}
