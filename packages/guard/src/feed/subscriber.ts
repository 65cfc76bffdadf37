/**
 * Follows the revocation feed: catches up from its cursor with GET pages, then holds the SSE
 * stream open (Last-Event-ID = cursor). Any failure, a stream that ends, or one silent for longer
 * than `silence`, leads to a jittered exponential backoff and the same two steps again, so no
 * event is missed across a disconnect. `lastHeardAt` measures how current the guard is.
 */
import type { FeedEvent } from '../revocations.js';
import { backoff, sleep } from './backoff.js';
import { SseParser } from './sse.js';

export interface SubscriberOptions {
  endpoints: () => Promise<{ feed: string; stream: string }>;
  authorization: string;
  fetch: typeof fetch;
  reconnectMin: number;
  reconnectMax: number;
  /** A stream silent this long (ms; the server beats far more often) is presumed dead and reopened. */
  silence: number;
  timeout: number;
  apply: (event: FeedEvent) => void;
}

export type FeedState = 'connecting' | 'catching-up' | 'live' | 'waiting' | 'closed';

const PAGE = 1000;

const describe = (err: unknown): string => {
  const cause = (err as { cause?: { code?: unknown } })?.cause?.code;
  return `${err instanceof Error ? err.message : String(err)}${typeof cause === 'string' ? ` (${cause})` : ''}`;
};

export class FeedSubscriber {
  cursor = 0;
  state: FeedState = 'connecting';
  synced = false;
  lastHeardAt: number | undefined;
  reconnects = 0;
  lastError: string | undefined;
  private attempt = 0;
  private readonly stop = new AbortController();
  private running: Promise<void> | undefined;
  private markSynced!: () => void;
  private abandon!: (err: Error) => void;
  private readonly syncedOnce = new Promise<void>((resolve, reject) => {
    this.markSynced = resolve;
    this.abandon = reject;
  });

  constructor(private readonly options: SubscriberOptions) {}

  start(): void {
    this.running ??= this.run();
  }

  /** Resolves once the first catch-up has completed; rejects if closed before. */
  ready(): Promise<void> {
    return this.syncedOnce;
  }

  async close(): Promise<void> {
    // Handled here, so that a guard nobody awaited does not leave an unhandled rejection.
    this.syncedOnce.catch(() => {});
    this.abandon(new Error('the guard was closed before the revocation feed caught up'));
    this.stop.abort();
    await this.running;
    this.state = 'closed';
  }

  private async run(): Promise<void> {
    while (!this.stop.signal.aborted) {
      try {
        const { feed, stream } = await this.options.endpoints();
        this.state = 'catching-up';
        await this.catchUp(feed);
        this.synced = true;
        this.markSynced();
        await this.follow(stream);
      } catch (err) {
        if (!this.stop.signal.aborted) this.lastError = describe(err);
      }
      if (this.stop.signal.aborted) break;
      this.state = 'waiting';
      this.reconnects++;
      await sleep(backoff(this.attempt++, this.options.reconnectMin, this.options.reconnectMax), this.stop.signal);
    }
  }

  private receive(event: FeedEvent): void {
    if (event.cursor <= this.cursor) return;
    this.options.apply(event);
    this.cursor = event.cursor;
  }

  /** GET pages after the cursor until the server has no more. */
  private async catchUp(feed: string): Promise<void> {
    for (;;) {
      const url = new URL(feed);
      url.searchParams.set('after', String(this.cursor));
      url.searchParams.set('limit', String(PAGE));
      const signal = AbortSignal.any([this.stop.signal, AbortSignal.timeout(this.options.timeout)]);
      const res = await this.options.fetch(url, { headers: { authorization: this.options.authorization, accept: 'application/json' }, signal });
      if (res.status !== 200) throw new Error(`the revocation feed answered ${res.status}`);
      const page = (await res.json()) as { events: FeedEvent[]; more: boolean };
      for (const event of page.events) this.receive(event);
      this.lastHeardAt = Date.now();
      if (!page.more) return;
    }
  }

  /** Reads the SSE stream until it ends, fails, or goes silent. */
  private async follow(stream: string): Promise<void> {
    const cut = new AbortController();
    let lastByte = Date.now();
    const watchdog = setInterval(() => {
      if (Date.now() - lastByte > this.options.silence) cut.abort(new Error('the revocation stream went silent'));
    }, Math.max(20, this.options.silence / 4));
    const signal = AbortSignal.any([this.stop.signal, cut.signal]);
    try {
      // WHATWG HTML §9.2.4: Last-Event-ID resumes the stream after the last event applied.
      const headers = { authorization: this.options.authorization, accept: 'text/event-stream', 'last-event-id': String(this.cursor) };
      const res = await this.options.fetch(stream, { headers, signal });
      if (res.status !== 200 || !res.body) throw new Error(`the revocation stream answered ${res.status}`);
      this.state = 'live';
      this.attempt = 0;
      const parser = new SseParser((e) => {
        if (e.type === 'revocation') this.receive(JSON.parse(e.data) as FeedEvent);
      });
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) throw new Error('the revocation stream ended');
        lastByte = this.lastHeardAt = Date.now();
        parser.push(decoder.decode(value, { stream: true }));
      }
    } catch (err) {
      throw cut.signal.aborted ? cut.signal.reason : err;
    } finally {
      clearInterval(watchdog);
      cut.abort();
    }
  }
}
