/**
 * Fan-out of the revocation feed to the open streams (stream-endpoint.ts). One reader per server:
 * when the store says the feed moved (store.onFeedAppended: a revocation through this process at
 * once, one committed by the CLI or another instance as soon as the store notices), or a beat
 * passes, it reads the new events once and serialises them once as SSE frames; every
 * stream that is up to date sends those same bytes. The last few batches are kept, so a stream a
 * little behind (it was busy writing) still takes them from memory; one further behind (a guard
 * catching up from an old cursor) reads the durable feed itself until it is current. A batch of
 * events thus costs one store read however many streams are open, and a slow stream holds no
 * memory of its own.
 *
 * It also counts the open streams per client (the maxStreamsPerClient cap) and ends those of a
 * client that is deleted, changes its secret or loses the revocations scope, whichever process
 * made the change: the store's onClientsChanged, and a re-check on every beat.
 */
import { OAuthError } from '@tessera/core';
import type { ClientRecord, FeedEvent, Store } from '../store/types.js';
import { mayReadFeed } from './feed-client.js';
import { DEFAULT_PAGE as PAGE } from './list-endpoint.js';
import { Subscription, type SubscriptionOwner } from './subscription.js';
import { sseFrame } from './wire.js';

/** Events kept in memory for streams that fell a little behind; older ones are read from the store. */
const KEEP_EVENTS = 5000;
/**
 * Writing a batch to every stream is the one cost that grows with the streams. The next read
 * starts no sooner than FAN_OUT_SPACING times the last fan-out's cost after that fan-out began
 * (and never more than MAX_FAN_OUT_DELAY ms later), so under a flood of revocations writing to
 * streams takes at most about a quarter of the event loop and events go out in fewer, larger
 * batches; a revocation after a quiet spell goes out at once.
 */
const FAN_OUT_SPACING = 4;
const MAX_FAN_OUT_DELAY = 100;

/** Events (after, last], read at once, with their frames and those frames joined. */
interface Batch {
  after: number;
  last: number;
  seqs: number[];
  frames: string[];
  bytes: string;
}

/** What a stream at some cursor sends next: these bytes, nothing yet, or what it must read itself. */
export type Take = { bytes: string; last: number } | 'current' | 'behind';

export interface FanOutOptions {
  /** Milliseconds between beats (config.feedHeartbeat). */
  heartbeat: number;
  /** Open streams allowed per client (config.maxStreamsPerClient). */
  maxStreamsPerClient: number;
}

export class FeedFanOut implements SubscriptionOwner {
  /** The newest seq read (undefined while no stream is open: nothing is read then). */
  private newest: number | undefined;
  private batches: Batch[] = [];
  private kept = 0;
  private readonly byClient = new Map<string, Set<Subscription>>();
  private open = 0;
  private beat: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  private readAgain = false;
  private scheduled = false;
  private checking = false;
  private checkAgain = false;
  /** The current fan-out: its number, when it started, streams still writing it; the last one's cost. */
  private fanOuts = 0;
  private fanOutAt = 0;
  private writing = 0;
  private fanOutCost = 0;

  constructor(
    private readonly store: Store,
    private readonly options: FanOutOptions,
  ) {
    // Revocations through this process, another one (the CLI) or another instance on the same database.
    store.onFeedAppended(() => this.schedule());
    store.onClientsChanged(() => this.recheck());
  }

  /** The newest seq the fan-out has read. */
  get head(): number {
    return this.newest ?? 0;
  }

  /** The open streams and the cursor of the one furthest behind (undefined when none is open), for the metrics. */
  streams(): { open: number; lowestCursor: number | undefined } {
    let lowestCursor: number | undefined;
    this.each((sub) => {
      if (lowestCursor === undefined || sub.cursor < lowestCursor) lowestCursor = sub.cursor;
    });
    return { open: this.open, lowestCursor };
  }

  /** Registers a stream of `client` after `cursor`; 429 past the per-client cap. */
  async subscribe(client: ClientRecord, cursor: number): Promise<Subscription> {
    const mine = this.byClient.get(client.id) ?? new Set<Subscription>();
    if (mine.size >= this.options.maxStreamsPerClient) {
      // RFC 6585 §4: 429 with Retry-After; a slot frees when one of its streams closes.
      throw new OAuthError('temporarily_unavailable', `a client may hold at most ${this.options.maxStreamsPerClient} revocation streams open`, {
        status: 429,
        headers: { 'retry-after': String(Math.max(1, Math.ceil((2 * this.options.heartbeat) / 1000))) },
      });
    }
    const sub = new Subscription(this, client, cursor);
    mine.add(sub);
    this.byClient.set(client.id, mine);
    if (++this.open === 1) {
      this.beat = setInterval(() => this.onBeat(), this.options.heartbeat);
      this.beat.unref();
    }
    try {
      if (this.newest === undefined) await this.refresh();
    } catch (err) {
      this.leave(sub);
      throw err;
    }
    return sub;
  }

  leave(sub: Subscription): void {
    const mine = this.byClient.get(sub.client.id);
    if (!mine?.delete(sub)) return;
    if (mine.size === 0) this.byClient.delete(sub.client.id);
    if (--this.open > 0) return;
    clearInterval(this.beat);
    // Nobody listens: read nothing until a stream opens again, and start from the head then.
    this.newest = undefined;
    this.batches = [];
    this.kept = 0;
  }

  /** What a stream at `cursor` sends next (stream-endpoint.ts). */
  take(cursor: number): Take {
    const head = this.newest;
    if (head === undefined) return 'behind';
    if (cursor >= head) return 'current';
    // Batches are contiguous: the last one starting at or before the cursor holds the next event.
    let i = this.batches.length - 1;
    while (i >= 0 && (this.batches[i] as Batch).after > cursor) i--;
    if (i < 0) return 'behind';
    const first = this.batches[i] as Batch;
    const parts = [first.after === cursor ? first.bytes : first.frames.filter((_, k) => (first.seqs[k] as number) > cursor).join('')];
    for (let k = i + 1; k < this.batches.length; k++) parts.push((this.batches[k] as Batch).bytes);
    // An up-to-date stream gets the batch's own string: one serialisation for every stream.
    return { bytes: parts.length === 1 ? (parts[0] as string) : parts.join(''), last: head };
  }

  /**
   * Reads new events after this turn of the event loop (the revocations of one turn share a read),
   * spaced after the last fan-out by its cost (FAN_OUT_SPACING).
   */
  private schedule(): void {
    if (this.scheduled || this.open === 0) return;
    this.scheduled = true;
    const read = () => {
      this.scheduled = false;
      // A failed read is tried again at the next revocation or beat.
      this.refresh().catch(() => {});
    };
    const delay = this.fanOutAt + Math.min(FAN_OUT_SPACING * this.fanOutCost, MAX_FAN_OUT_DELAY) - performance.now();
    if (delay > 1) setTimeout(read, delay).unref();
    else setImmediate(read);
  }

  /** A stream has written the batch of fan-out `n` (or closed): the fan-out's cost is known when all have. */
  written(n: number): void {
    if (n !== this.fanOuts || --this.writing > 0) return;
    this.fanOutCost = performance.now() - this.fanOutAt;
  }

  /** One read at a time; a call during a read asks for one more after it. */
  private refresh(): Promise<void> {
    if (this.reading) {
      this.readAgain = true;
      return this.reading;
    }
    this.reading = (async () => {
      try {
        do {
          this.readAgain = false;
          await this.readNew();
        } while (this.readAgain);
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }

  private async readNew(): Promise<void> {
    if (this.open === 0) return;
    if (this.newest === undefined) {
      this.newest = await this.store.feedHead();
      return;
    }
    for (;;) {
      const after: number = this.newest;
      const page = await this.store.readFeed(after, PAGE);
      // Every stream closed meanwhile (and the state was reset): nothing to hand out.
      if (this.newest !== after || page.length === 0) return;
      this.publish(after, page);
      if (page.length < PAGE) return;
    }
  }

  private publish(after: number, page: FeedEvent[]): void {
    const frames = page.map(sseFrame);
    const last = (page.at(-1) as FeedEvent).seq;
    this.batches.push({ after, last, seqs: page.map((e) => e.seq), frames, bytes: frames.join('') });
    this.kept += page.length;
    while (this.kept > KEEP_EVENTS && this.batches.length > 1) this.kept -= (this.batches.shift() as Batch).seqs.length;
    this.newest = last;
    const n = ++this.fanOuts;
    this.fanOutAt = performance.now();
    this.writing = 0;
    this.each((sub) => {
      if (sub.notify('data', n)) this.writing++;
    });
    if (this.writing === 0) this.fanOutCost = 0;
  }

  private onBeat(): void {
    this.schedule();
    this.recheck();
    this.each((sub) => sub.notify('beat'));
  }

  /** Ends the streams of clients that may no longer read the feed: one getClient per client. */
  private recheck(): void {
    if (this.open === 0) return;
    if (this.checking) {
      this.checkAgain = true;
      return;
    }
    this.checking = true;
    void this.checkClients();
  }

  private async checkClients(): Promise<void> {
    try {
      do {
        this.checkAgain = false;
        for (const [id, subs] of [...this.byClient]) {
          const current = await this.store.getClient(id);
          for (const sub of subs) if (!mayReadFeed(sub.client, current)) sub.notify('end');
        }
      } while (this.checkAgain);
    } catch {
      // Tried again at the next beat.
    } finally {
      this.checking = false;
    }
  }

  private each(fn: (sub: Subscription) => void): void {
    for (const subs of this.byClient.values()) for (const sub of subs) fn(sub);
  }
}
