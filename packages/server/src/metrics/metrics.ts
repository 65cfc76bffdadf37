/**
 * The server's Prometheus metrics (prom-client), on a registry of their own. A request costs one
 * histogram observation and a committed write one counter increment per audit record; everything
 * else (tokens by state, the revocation streams, the process) is read when /metrics is scraped.
 * `tessera serve` loads this module only when a metrics listener is configured.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { FeedFanOut } from '../feed/fan-out.js';
import { routeName } from '../http/routes.js';
import type { Store, TokenKind, TokenState } from '../store/types.js';
import type { CensusReader } from './token-census.js';

/** Seconds: token requests take about a millisecond, pages and sign-ins (scrypt) tens of them. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface MetricsOptions {
  /** Seconds a count of the tokens by state is reused before the store is counted again (0: every scrape). */
  tokenCountInterval: number;
}

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly events: Counter<'event'>;
  private readonly eventChildren = new Map<string, Counter.Internal>();
  private readonly latency: Histogram<'route'>;
  private readonly routeChildren = new Map<string, Histogram.Internal<'route'>>();
  private readonly swept: Counter;
  private readonly lastSweep: Gauge;

  constructor(private readonly options: MetricsOptions) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.events = new Counter({
      name: 'tessera_lifecycle_events_total',
      help: 'Lifecycle events committed by this process, by audit event (token.issued, token.rotated, token.revoked, token.reuse_detected, code.issued, …).',
      labelNames: ['event'],
      registers,
    });
    this.latency = new Histogram({
      name: 'tessera_http_request_duration_seconds',
      help: 'Time from a request\'s headers to its response handed to the socket (a revocation stream: its whole life), by route.',
      labelNames: ['route'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.swept = new Counter({ name: 'tessera_sweep_rows_total', help: 'Expired and revoked rows the sweeper deleted.', registers });
    this.lastSweep = new Gauge({ name: 'tessera_sweep_last_run_timestamp_seconds', help: 'When the sweeper last finished a sweep (Unix time; 0: not yet).', registers });
  }

  /** A committed audit record (metrics/audit-events.ts). */
  readonly audited = (event: string): void => {
    let child = this.eventChildren.get(event);
    if (child === undefined) {
      child = this.events.labels(event);
      this.eventChildren.set(event, child);
    }
    child.inc();
  };

  /** An answered request: its path (without the query) names its route. */
  observeRequest(path: string, ms: number): void {
    const route = routeName(path);
    let child = this.routeChildren.get(route);
    if (child === undefined) {
      child = this.latency.labels(route);
      this.routeChildren.set(route, child);
    }
    child.observe(ms / 1000);
  }

  /** A sweep batch deleted `rows`; `finished`: it was the sweep's last. */
  readonly sweptBatch = (rows: number, finished: boolean): void => {
    this.swept.inc(rows);
    if (finished) this.lastSweep.set(Date.now() / 1000);
  };

  /** Tokens by kind and state, from the server's token census (shared with the admin API's /stats), counted at most once per tokenCountInterval. */
  watchTokens(census: CensusReader): void {
    const interval = this.options.tokenCountInterval * 1000;
    const count = () => census(interval);
    new Gauge({
      name: 'tessera_tokens',
      help: 'Stored tokens by kind and state (revoked; rotated: a refresh token consumed by rotation; expired, until swept; active), counted at most once per tokenCountInterval.',
      labelNames: ['kind', 'state'],
      registers: [this.registry],
      async collect() {
        // A store that does not answer leaves the gauge out of this scrape rather than fail it.
        const counts = (await count().catch(() => undefined))?.census.byKind;
        if (counts === undefined) return;
        for (const kind of Object.keys(counts) as TokenKind[]) {
          for (const state of Object.keys(counts[kind]) as TokenState[]) this.set({ kind, state }, counts[kind][state]);
        }
      },
    });
  }

  /** Webhook deliveries not yet delivered nor given up, read from the store at each scrape. */
  watchWebhooks(store: Pick<Store, 'countPendingDeliveries'>): void {
    new Gauge({
      name: 'tessera_webhook_backlog',
      help: 'Webhook deliveries pending (not yet delivered, not given up), on every instance sharing the database.',
      registers: [this.registry],
      async collect() {
        const pending = await store.countPendingDeliveries().catch(() => undefined);
        if (pending !== undefined) this.set(pending);
      },
    });
  }

  /** The open revocation streams, and how far behind the feed's head the furthest one is. */
  watchFeed(fanOut: FeedFanOut, store: Pick<Store, 'feedHead'>): void {
    const registers = [this.registry];
    new Gauge({
      name: 'tessera_feed_subscribers',
      help: 'Revocation streams open on this process (guards and other SSE clients).',
      registers,
      collect() {
        this.set(fanOut.streams().open);
      },
    });
    new Gauge({
      name: 'tessera_feed_subscriber_lag_events',
      help: 'Feed sequence numbers between the feed\'s head and the stream furthest behind it (0 with no stream open).',
      registers,
      // Under `serve --workers`, the furthest behind of all workers' streams (cluster.ts sums the rest).
      aggregator: 'max',
      async collect() {
        const { lowestCursor } = fanOut.streams();
        if (lowestCursor === undefined) return this.set(0);
        const head = await store.feedHead().catch(() => undefined);
        if (head !== undefined) this.set(Math.max(0, head - lowestCursor));
      },
    });
  }
}
