/**
 * Wakes the open revocation streams when the engine revokes something. A version counter, not a
 * queue: each stream re-reads the durable feed after its own cursor, so no event is lost between
 * a read and a wait, and a slow stream never holds memory for the others.
 */
import type { LifecycleEngine } from '../lifecycle/engine.js';

export type WaitOutcome = 'changed' | 'timeout' | 'aborted';

export class FeedNotifier {
  /** Incremented after every revocation the engine commits. */
  version = 0;
  private readonly waiters = new Set<() => void>();

  constructor(engine: LifecycleEngine) {
    engine.on('revoked', () => this.bump());
  }

  private bump(): void {
    this.version++;
    const waiting = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiting) wake();
  }

  /** Resolves once `version` differs from `seen`, after `ms`, or when `signal` aborts. */
  wait(seen: number, ms: number, signal: AbortSignal): Promise<WaitOutcome> {
    if (this.version !== seen) return Promise.resolve('changed');
    if (signal.aborted) return Promise.resolve('aborted');
    return new Promise((resolve) => {
      const done = (outcome: WaitOutcome) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.waiters.delete(onChange);
        resolve(outcome);
      };
      const onChange = () => done('changed');
      const onAbort = () => done('aborted');
      const timer = setTimeout(() => done('timeout'), ms);
      this.waiters.add(onChange);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
