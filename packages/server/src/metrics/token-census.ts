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
 * Reads the census: a count younger than `reuseMs` is reused (0: count on every call); past that, a
 * count younger than `staleMs` is answered at once while the next one runs (the caller sees its
 * time), so only the first caller, or one after a long quiet, waits for a count.
 */
export type CensusReader = (reuseMs: number, staleMs?: number) => Promise<Counted>;

/**
 * The token census of `store`: one count shared by every reader (server.ts builds one for the
 * metrics gauge and /stats alike), each asking for a count as fresh as it needs, and callers that
 * ask during a count share it.
 */
export function tokenCensus(store: Pick<Store, 'countTokens'>): CensusReader {
  let counted: Counted | undefined;
  let counting: Promise<Counted> | undefined;
  return async (reuseMs, staleMs = 0) => {
    const now = Date.now();
    if (counted !== undefined && now - counted.at < reuseMs) return counted;
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
