/**
 * Group commit: the writes that arrive in one turn of the event loop share one transaction, so a
 * single fsync (synchronous=full) makes them all durable. A write's promise settles only after the
 * commit, so nothing is acknowledged before it is on disk.
 *
 * A write that throws is rolled back alone and rejects alone. Writes rarely throw, so a group runs
 * first without savepoints; only if one of its writes throws is the whole transaction rolled back
 * and the group run again with each write in its own savepoint, which gives every write the result
 * it would have had alone (the others' effects are what it sees either way).
 */
import type Database from 'better-sqlite3';

interface Job {
  fn: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** What the writes keep in memory within a transaction (writes.ts). */
export interface TransactionState {
  /** A transaction begins: forget what the last one read. */
  begin(): void;
  /** Writes to the database what the writes kept in memory (the audit chain's head): before a commit or a savepoint's release. */
  settle(): void;
  /** The database was rolled back to a savepoint: forget what was read or kept since. */
  forget(): void;
}

/** A write threw in a group run without savepoints: the group runs again, write by write. */
class WriteThrew extends Error {}

export class GroupCommit {
  private queue: Job[] = [];
  private scheduled = false;
  /**
   * Runs the functions in one transaction and commits; a function that throws is rolled back
   * alone. Throws only if the transaction itself fails (then nothing of it was written).
   */
  readonly commitNow: (fns: (() => unknown)[]) => Outcome[];

  constructor(db: Database.Database, state: TransactionState) {
    const savepoint = db.prepare('SAVEPOINT write');
    const release = db.prepare('RELEASE write');
    const rollback = db.prepare('ROLLBACK TO write');
    const together = db.transaction((fns: (() => unknown)[]): Outcome[] => {
      state.begin();
      const outcomes = fns.map((fn): Outcome => {
        try {
          return { ok: true, value: fn() };
        } catch {
          throw new WriteThrew();
        }
      });
      state.settle();
      return outcomes;
    });
    const oneByOne = db.transaction((fns: (() => unknown)[]): Outcome[] => {
      state.begin();
      return fns.map((fn) => {
        savepoint.run();
        try {
          const value = fn();
          state.settle();
          release.run();
          return { ok: true, value };
        } catch (error) {
          rollback.run();
          release.run();
          state.forget();
          return { ok: false, error };
        }
      });
    });
    // IMMEDIATE: take the write lock at BEGIN, so another process's writer makes us wait
    // (busy_timeout) rather than fail at the first write.
    this.commitNow = (fns) => {
      try {
        return together.immediate(fns);
      } catch (error) {
        if (!(error instanceof WriteThrew)) throw error;
      }
      return oneByOne.immediate(fns);
    };
  }

  /** Runs `fn` in the next group transaction; resolves with its result once that has committed. */
  run<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // setImmediate runs after the poll phase: every request read in this turn joins the group.
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits what is queued now (also called before the database closes). */
  flush(): void {
    this.scheduled = false;
    const jobs = this.queue;
    if (jobs.length === 0) return;
    this.queue = [];
    let outcomes: Outcome[];
    try {
      outcomes = this.commitNow(jobs.map((job) => job.fn));
    } catch (error) {
      // The commit itself failed (disk full, I/O error): nothing of the group was written.
      for (const job of jobs) job.reject(error);
      return;
    }
    jobs.forEach((job, i) => {
      const outcome = outcomes[i] as Outcome;
      if (outcome.ok) job.resolve(outcome.value);
      else job.reject(outcome.error);
    });
  }
}
