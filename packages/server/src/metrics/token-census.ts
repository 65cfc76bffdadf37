/**
 * The one way the server counts its tokens: Store.countTokens (SQLite in slices that yield to the
 * event loop, PostgreSQL in one statement on the database server), at most once per interval, and
 * callers that ask during a count share it. The metrics gauge and the admin API's /stats read it.
 */
import type { Store, TokenCensus } from '../store/types.js';

export interface Counted {
  /** When the count was taken (ms): states are judged at this instant. */
  at: number;
  census: TokenCensus;
}

/**
 * A reader of the token census, reusing a count for `intervalMs` (0: count on every call). Past
 * that, a count younger than `staleMs` is answered at once while the next one runs (the caller
 * sees its time), so only the first caller, or one after a long quiet, waits for a count.
 */
export function tokenCensus(store: Pick<Store, 'countTokens'>, intervalMs: number, staleMs = 0): () => Promise<Counted> {
  let counted: Counted | undefined;
  let counting: Promise<Counted> | undefined;
  return async () => {
    const now = Date.now();
    if (counted !== undefined && now - counted.at < intervalMs) return counted;
    counting ??= store
      .countTokens(now)
      .then((census) => {
        counted = { at: now, census };
        return counted;
      })
      .finally(() => {
        counting = undefined;
      });
    const next = counting;
    if (counted !== undefined && now - counted.at < staleMs) {
      // A failed count is not this caller's answer; the next caller counts again.
      next.catch(() => {});
      return counted;
    }
    return next;
  };
}
