/**
 * One open revocation stream as the fan-out (fan-out.ts) sees it: its client, the cursor it has
 * sent up to, and how to wake it when a batch, a beat or its end comes.
 */
import type { ClientRecord } from '../store/types.js';

/** Why a waiting stream wakes. */
export type Wake = 'data' | 'beat' | 'end' | 'aborted';

/** What a subscription tells the fan-out that owns it. */
export interface SubscriptionOwner {
  /** The stream has written the batch of fan-out `n` (or closed). */
  written(n: number): void;
  leave(sub: Subscription): void;
}

/** One open stream: its client, the cursor it has sent up to, and how to wake it. */
export class Subscription {
  /** Set when its client may no longer read the feed: the stream ends. */
  ended = false;
  private waiter: ((wake: Wake) => void) | undefined;
  /** The fan-out that woke it, until it has written that batch and waits again. */
  private wokenBy = 0;

  constructor(
    private readonly fanOut: SubscriptionOwner,
    readonly client: ClientRecord,
    public cursor: number,
  ) {}

  /** Resolves at the next batch, beat, end or abort (the caller listens for `signal` and calls notify). */
  wait(signal: AbortSignal): Promise<Wake> {
    this.written();
    if (this.ended) return Promise.resolve('end');
    if (signal.aborted) return Promise.resolve('aborted');
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  /** Wakes the stream if it waits; true if it did. `fanOut` numbers the batch that woke it. */
  notify(wake: Wake, fanOut = 0): boolean {
    if (wake === 'end') this.ended = true;
    const waiter = this.waiter;
    if (!waiter) return false;
    this.waiter = undefined;
    this.wokenBy = fanOut;
    waiter(wake);
    return true;
  }

  close(): void {
    this.written();
    this.fanOut.leave(this);
  }

  private written(): void {
    if (this.wokenBy === 0) return;
    this.fanOut.written(this.wokenBy);
    this.wokenBy = 0;
  }
}
