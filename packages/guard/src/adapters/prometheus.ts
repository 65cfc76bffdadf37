/**
 * Prometheus metrics for a guard, with prom-client: `registerGuardMetrics(guard, registry)`.
 * Everything is read from guard.status() when the registry is scraped, so verification pays
 * nothing for it.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Guard } from '../guard.js';

type Outcome = 'accepted' | 'refused' | 'unavailable';
const OUTCOMES: readonly Outcome[] = ['accepted', 'refused', 'unavailable'];

export function registerGuardMetrics(guard: Guard, registry: Registry, prefix = 'tessera_guard_'): void {
  const registers = [registry];
  const seconds = (ms: number) => (Number.isFinite(ms) ? ms / 1000 : Number.POSITIVE_INFINITY);

  new Gauge({
    name: `${prefix}feed_staleness_seconds`,
    help: 'Seconds since the revocation feed was last heard from (+Inf before it ever was).',
    registers,
    collect() {
      const feed = guard.status().feed;
      if (feed) this.set(seconds(feed.staleness));
    },
  });
  new Gauge({
    name: `${prefix}feed_max_staleness_seconds`,
    help: 'The staleness bound: past it the guard fails closed or introspects every token.',
    registers,
    collect() {
      const feed = guard.status().feed;
      if (feed) this.set(feed.maxStaleness / 1000);
    },
  });
  new Gauge({
    name: `${prefix}feed_stale`,
    help: '1 while the guard does not trust its revoked set (feed silent past the bound, or not caught up).',
    registers,
    collect() {
      const feed = guard.status().feed;
      if (feed) this.set(feed.stale ? 1 : 0);
    },
  });
  new Gauge({
    name: `${prefix}feed_cursor`,
    help: 'The last revocation feed event applied.',
    registers,
    collect() {
      const feed = guard.status().feed;
      if (feed) this.set(feed.cursor);
    },
  });
  new Gauge({
    name: `${prefix}revoked_entries`,
    help: 'Revocations held, by kind, until the tokens they cover would have expired anyway.',
    labelNames: ['kind'],
    registers,
    collect() {
      for (const [kind, n] of Object.entries(guard.status().revoked)) this.set({ kind }, n);
    },
  });
  // status() keeps running totals; the counter advances by what changed since the last scrape.
  const seen: Record<Outcome, number> = { accepted: 0, refused: 0, unavailable: 0 };
  new Counter({
    name: `${prefix}verifications_total`,
    help: 'Verifications by outcome: accepted, refused (RFC 6750 error), unavailable (503).',
    labelNames: ['outcome'],
    registers,
    collect() {
      const counters = guard.status().counters;
      for (const outcome of OUTCOMES) {
        this.inc({ outcome }, counters[outcome] - seen[outcome]);
        seen[outcome] = counters[outcome];
      }
    },
  });
}
