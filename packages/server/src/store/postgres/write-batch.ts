/**
 * Group commit for PostgreSQL's writes on the request path. Issuances on an existing grant (every
 * client_credentials token after a client's first, and what the engine issues on a grant it found)
 * and refresh rotations that arrive in one turn of the event loop go to the database together:
 * one call (tessera_issue_batch, tessera_rotate_batch), one transaction, one WAL flush for all of
 * them, as the SQLite store's group commit does. Measured on the raw issuance function: 2,968
 * tokens/s one per call, 12,865 eight per call (bench/results).
 *
 * Each write keeps its own outcome. A batch that fails as a whole because of one of them (a token
 * id already taken) runs again one by one, so one bad write never fails the others; one cut off by
 * the database going away is settled item by item, by looking for its first token.
 */
import type { TokenRecord } from '../types.js';

interface Pending<I, O> {
  item: I;
  resolve(outcome: O): void;
  reject(err: unknown): void;
}

/** Writes per call at most; more wait for the next turn. */
const MAX_BATCH = 64;

export interface BatchRunners<I, O> {
  /** The batch in one call: an outcome per item, in order. */
  batch(items: I[]): Promise<O[]>;
  /** One write alone, settled if cut off (PostgresStore.settled). */
  single(item: I): Promise<O>;
  /** Whether `err` is the database going away (503), after which the batch may or may not have committed. */
  unavailable(err: unknown): boolean;
  /** Whether the token is stored (a batch cut off by a lost connection did commit). */
  stored(token: TokenRecord): Promise<boolean>;
  /** The outcome of a write whose first token is stored. */
  done: O;
  /** The order of a batch's writes, when they lock rows: every batch then takes them in one order. */
  order?: (a: I, b: I) => number;
}

export class WriteBatcher<I extends { tokens: TokenRecord[] }, O> {
  private queue: Array<Pending<I, O>> = [];
  private scheduled = false;

  constructor(private readonly run: BatchRunners<I, O>) {}

  submit(item: I): Promise<O> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    const pending = this.queue.splice(0, MAX_BATCH);
    if (this.queue.length > 0) this.schedule();
    const { order } = this.run;
    if (order) pending.sort((a, b) => order(a.item, b.item));
    if (pending.length === 1) {
      const [p] = pending as [Pending<I, O>];
      return this.run.single(p.item).then(p.resolve, p.reject);
    }
    try {
      const outcomes = await this.run.batch(pending.map((p) => p.item));
      for (const [i, p] of pending.entries()) p.resolve(outcomes[i] as O);
    } catch (err) {
      if (!this.run.unavailable(err)) {
        for (const p of pending) this.run.single(p.item).then(p.resolve, p.reject);
        return;
      }
      // The batch may have committed before the answer was lost: a write whose first token is
      // stored was done; any other gets the 503 (had its check failed, a retry fails it again).
      await Promise.all(
        pending.map(async (p) => {
          const first = p.item.tokens[0];
          const stored = first !== undefined && (await this.run.stored(first).catch(() => false));
          if (stored) p.resolve(this.run.done);
          else p.reject(err);
        }),
      );
    }
  }
}
