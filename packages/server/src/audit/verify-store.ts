/** The audit log of a store, streamed, and its hash chains verified: what `tessera audit verify` and the admin API run. */
import type { AuditRecord, Store } from '../store/types.js';
import { type ChainReport, verifyChain } from './chain.js';

/** Records read per query: the log is streamed, never loaded whole (a few milliseconds of hashing a page). */
const PAGE = 500;

/** The log, oldest first, from `since` (ms) and after seq `from`, up to seq `last` when given. */
export async function* auditRecordsOf(store: Pick<Store, 'readAudit'>, since = 0, last = Number.POSITIVE_INFINITY, from = 0): AsyncGenerator<AuditRecord> {
  let after = from;
  for (;;) {
    const page = await store.readAudit(after, PAGE, since);
    for (const record of page) {
      if (record.seq > last) return;
      yield record;
    }
    const end = page.at(-1);
    if (!end || page.length < PAGE) return;
    after = end.seq;
    // A turn of the event loop between pages: a server's other requests go on while a long log is checked.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * Takes the heads first and checks up to them: records a running server appends meanwhile come
 * with a newer head, in the same transaction, and are checked next time.
 */
export async function verifyStore(store: Store): Promise<ChainReport> {
  const heads = await store.auditHeads();
  return verifyChain(auditRecordsOf(store, 0, Math.max(0, ...heads.map((h) => h.seq))), heads);
}
