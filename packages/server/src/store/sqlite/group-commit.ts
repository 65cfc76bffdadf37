/**
 * Group commit: the writes that arrive in one turn of the event loop share one transaction, so a
 * single fsync (synchronous=full) makes them all durable. Each write runs in its own savepoint: a
 * write that throws is rolled back alone and rejects alone. A write's promise settles only after
 * the commit, so nothing is acknowledged before it is on disk.
 */
import type Database from 'better-sqlite3';

interface Job {
  fn: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export class GroupCommit {
  private queue: Job[] = [];
  private scheduled = false;
  /**
   * Runs every function in its own savepoint of one transaction and commits; a function that
   * throws is rolled back alone. Throws only if the transaction itself fails (then nothing of it
   * was written).
   */
  readonly commitNow: (fns: (() => unknown)[]) => Outcome[];

  /** `onBegin` runs at the start of each transaction (the writes' per-transaction memo is reset there). */
  constructor(db: Database.Database, onBegin: () => void = () => {}) {
    const savepoint = db.prepare('SAVEPOINT write');
    const release = db.prepare('RELEASE write');
    const rollback = db.prepare('ROLLBACK TO write');
    const runAll = db.transaction((fns: (() => unknown)[]): Outcome[] => {
      onBegin();
      return fns.map((fn) => {
        savepoint.run();
        try {
          const value = fn();
          release.run();
          return { ok: true, value };
        } catch (error) {
          rollback.run();
          release.run();
          return { ok: false, error };
        }
      });
    });
    // IMMEDIATE: take the write lock at BEGIN, so another process's writer makes us wait
    // (busy_timeout) rather than fail at the first write.
    this.commitNow = (fns) => runAll.immediate(fns);
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
