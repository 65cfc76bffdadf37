/**
 * Follows the revocation feed: catches up from its cursor with GET pages, then holds the SSE
 * stream open (Last-Event-ID = cursor). Any failure, a stream that ends, or one silent for longer
 * than `silence`, leads to a jittered exponential backoff and the same two steps again, so no
 * event is missed across a disconnect. `lastHeardAt` measures how current the guard is.
 */
import { GuardClosedError, GuardError, GuardUnreachableError, httpError, networkError } from '../errors.js';
import type { GuardLogger } from '../options.js';
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
  /** ready() rejects after this many ms without a first catch-up (fatal causes reject at once). */
  readyTimeout: number;
  logger: GuardLogger | undefined;
  apply: (event: FeedEvent) => void;
}

export type FeedState = 'connecting' | 'catching-up' | 'live' | 'waiting' | 'closed';

const PAGE = 1000;

/** Failures as the guard reports them: its own errors as they are, anything else as unreachable. */
const asGuardError = (err: unknown): GuardError => {
  if (err instanceof GuardError) return err;
  const cause = (err as { cause?: { code?: unknown } })?.cause?.code;
  return new GuardUnreachableError(`${err instanceof Error ? err.message : String(err)}${typeof cause === 'string' ? ` (${cause})` : ''}`, { cause: err });
};

export class FeedSubscriber {
  cursor = 0;
  state: FeedState = 'connecting';
  synced = false;
  lastHeardAt: number | undefined;
  reconnects = 0;
  lastError: GuardError | undefined;
  private attempt = 0;
  /** The failure last logged, so that a cause repeated on every retry is logged once. */
  private logged: string | undefined;
  private readyTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly stop = new AbortController();
  private running: Promise<void> | undefined;
  private markSynced!: () => void;
  private abandon!: (err: Error) => void;
  private readonly syncedOnce = new Promise<void>((resolve, reject) => {
    this.markSynced = resolve;
    this.abandon = reject;
  });

  constructor(private readonly options: SubscriberOptions) {
    // Handled here, so that a guard nobody awaited does not leave an unhandled rejection.
    this.syncedOnce.catch(() => {});
  }

  start(): void {
    // Infinity waits for ever (setTimeout would take it for 1 ms).
    if (Number.isFinite(this.options.readyTimeout)) this.readyTimer ??= setTimeout(() => {
      const last = this.lastError ? `: ${this.lastError.message}` : '';
      this.abandon(new GuardUnreachableError(`the revocation feed has not caught up within ${this.options.readyTimeout} ms${last}`, { cause: this.lastError }));
    }, this.options.readyTimeout);
    this.readyTimer?.unref();
    this.running ??= this.run();
  }

  /**
   * Resolves once the first catch-up has completed. Rejects at once on a fatal cause (credentials,
   * scope, issuer, metadata), after readyTimeout on others, or if closed before.
   */
  ready(): Promise<void> {
    return this.syncedOnce;
  }

  async close(): Promise<void> {
    clearTimeout(this.readyTimer);
    this.abandon(new GuardClosedError('the guard was closed before the revocation feed caught up'));
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
        if (!this.synced) this.options.logger?.info({ event: 'feed.synced', cursor: this.cursor }, 'the revocation feed caught up');
        this.synced = true;
        clearTimeout(this.readyTimer);
        this.markSynced();
        await this.follow(stream);
      } catch (err) {
        if (!this.stop.signal.aborted) this.failed(asGuardError(err));
      }
      if (this.stop.signal.aborted) break;
      this.state = 'waiting';
      this.reconnects++;
      await sleep(backoff(this.attempt++, this.options.reconnectMin, this.options.reconnectMax), this.stop.signal);
    }
  }

  /** Records and reports a failure; a fatal one ends the wait of ready() at once. */
  private failed(err: GuardError): void {
    this.lastError = err;
    if (err.fatal) this.abandon(err);
    if (err.message === this.logged) return;
    this.logged = err.message;
    const level = err.fatal ? 'error' : 'warn';
    this.options.logger?.[level]({ event: 'feed.failed', code: err.code, cursor: this.cursor, synced: this.synced }, `${err.message}; retrying with backoff`);
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
      // A timer of its own: an AbortSignal.timeout inside AbortSignal.any is held only weakly on
      // Node 20, so a garbage collection before it fires cancels it (nodejs/node#57736).
      const timeout = new AbortController();
      const timer = setTimeout(() => timeout.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), this.options.timeout);
      let page: { events: FeedEvent[]; more: boolean };
      try {
        const signal = AbortSignal.any([this.stop.signal, timeout.signal]);
        const res = await this.options.fetch(url, { headers: { authorization: this.options.authorization, accept: 'application/json' }, signal }).catch((cause) => {
          throw networkError('the revocation feed', cause);
        });
        if (res.status !== 200) throw await httpError('the revocation feed', res, true);
        page = (await res.json()) as { events: FeedEvent[]; more: boolean };
      } finally {
        clearTimeout(timer);
      }
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
      const res = await this.options.fetch(stream, { headers, signal }).catch((cause) => {
        throw networkError('the revocation stream', cause);
      });
      if (res.status !== 200 || !res.body) throw await httpError('the revocation stream', res, true);
      this.state = 'live';
      this.attempt = 0;
      if (this.logged !== undefined) this.options.logger?.info({ event: 'feed.live', cursor: this.cursor }, 'the revocation feed is live again');
      this.logged = undefined;
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
