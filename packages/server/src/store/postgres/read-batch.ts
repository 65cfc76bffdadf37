/**
 * Reads by primary key that arrive in one turn of the event loop go to the database together:
 * one statement (`WHERE id = ANY(…)`), one round trip, however many requests asked. A profile of
 * refresh rotation on PostgreSQL put a fifth of the event loop's samples in the socket write each
 * query makes (on loopback TCP the receiving side's work runs in the writing thread); a rotation
 * reads its token, grant and user before its write, an introspection its token.
 *
 * One statement is one snapshot, taken after every write that had returned before the read was
 * asked for: read-your-writes holds as it did for one read each. Every caller gets a record of its
 * own (converted from the row for it), so no caller sees another's changes to it.
 */
import type { Row } from '../rows.js';

interface Waiter<T> {
  resolve(value: T | undefined): void;
  reject(err: unknown): void;
}

/** Ids per statement at most; a larger turn's ids go in several statements at once. */
const MAX_IDS = 500;

export class ReadBatcher<T> {
  private pending = new Map<string, Array<Waiter<T>>>();

  /**
   * @param fetch the rows of these ids (unique), in one statement
   * @param convert a row as the record the store returns
   */
  constructor(
    private readonly fetch: (ids: string[]) => Promise<readonly Row[]>,
    private readonly convert: (row: Row) => T,
  ) {}

  get(id: string): Promise<T | undefined> {
    return new Promise((resolve, reject) => {
      const waiters = this.pending.get(id);
      if (waiters) return waiters.push({ resolve, reject });
      if (this.pending.size === 0) setImmediate(() => this.flush());
      this.pending.set(id, [{ resolve, reject }]);
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = new Map();
    const ids = [...batch.keys()];
    for (let i = 0; i < ids.length; i += MAX_IDS) {
      const chunk = ids.slice(i, i + MAX_IDS);
      this.fetch(chunk).then(
        (rows) => {
          const found = new Map(rows.map((r) => [r.id as string, r]));
          for (const id of chunk) {
            const row = found.get(id);
            for (const w of batch.get(id) as Array<Waiter<T>>) {
              try {
                w.resolve(row && this.convert(row));
              } catch (err) {
                w.reject(err);
              }
            }
          }
        },
        (err: unknown) => {
          for (const id of chunk) for (const w of batch.get(id) as Array<Waiter<T>>) w.reject(err);
        },
      );
    }
  }
}
