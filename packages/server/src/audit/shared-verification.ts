/**
 * The admin API's check of the audit log (GET /audit/verify): always a full pass over every chain
 * (verify-store.ts), at most one at a time, shared by the callers that ask during it. A completed
 * pass younger than `reuseMs` is answered again with its time, so any number of open consoles
 * cost one pass a minute; a caller that asks for a fresh one gets a pass started after it asked.
 */
import type { Store } from '../store/types.js';
import type { ChainReport } from './chain.js';
import { verifyStore } from './verify-store.js';

export interface Verified {
  /** When the pass began (ms): it covers the records appended before then. */
  at: number;
  /** How long it took (ms). */
  tookMs: number;
  report: ChainReport;
}

/** A reader of the last full verification: `fresh` waits for a pass that began after the call. */
export function sharedVerification(store: Store, reuseMs: number): (fresh: boolean) => Promise<Verified> {
  let last: Verified | undefined;
  let running: Promise<Verified> | undefined;
  // The pass queued behind the running one, for fresh callers: the running one may have read past an edit made since it began.
  let queued: Promise<Verified> | undefined;

  function run(): Promise<Verified> {
    const at = Date.now();
    const pass = verifyStore(store)
      .then((report) => {
        last = { at, tookMs: Date.now() - at, report };
        return last;
      })
      .finally(() => {
        if (running === pass) running = undefined;
      });
    running = pass;
    return pass;
  }

  return (fresh) => {
    if (!fresh && last !== undefined && Date.now() - last.at < reuseMs) return Promise.resolve(last);
    if (running === undefined) return run();
    if (!fresh) return running;
    queued ??= running
      .catch(() => {})
      .then(() => {
        queued = undefined;
        // A pass another caller began once the last one ended began after these callers asked too.
        return running ?? run();
      });
    return queued;
  };
}
