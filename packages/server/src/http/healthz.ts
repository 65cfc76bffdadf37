/**
 * Probes for load balancers and orchestrators, never cached:
 * - GET /healthz (liveness): 200 while the store answers a read, 503 when it does not (database
 *   closed, unreadable or locked);
 * - GET /readyz (readiness): 200 when the database answers, its schema is current and the writer
 *   commits (store.readiness); 503 naming the check that failed otherwise.
 */
import type { Readiness, Store } from '../store/types.js';
import { json } from './respond.js';
import type { Handler } from './types.js';

/** A readiness check that takes longer than this has failed (a hung writer, an unreachable database). */
const READY_TIMEOUT_MS = 2000;

export function healthEndpoint(probe: () => Promise<unknown>): Handler {
  return async () => {
    try {
      await probe();
      return json(200, { status: 'ok' });
    } catch {
      return json(503, { status: 'unavailable' }, { 'retry-after': '5' });
    }
  };
}

/** A readiness answer is reused this long: probes, or a flood of requests, cost the writer one round trip per second at most. */
const READY_REUSE_MS = 1000;

export function readyEndpoint(store: Pick<Store, 'readiness'>): Handler {
  let last: { at: number; readiness: Promise<Readiness> } | undefined;
  return async () => {
    const now = Date.now();
    if (last === undefined || now - last.at >= READY_REUSE_MS) last = { at: now, readiness: checkReadiness(store) };
    const readiness = await last.readiness;
    if (readiness.ready) return json(200, { status: 'ready' });
    return json(503, { status: 'unavailable', check: readiness.check, reason: readiness.reason }, { 'retry-after': '5' });
  };
}

async function checkReadiness(store: Pick<Store, 'readiness'>): Promise<Readiness> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('late')), READY_TIMEOUT_MS);
  });
  return Promise.race([store.readiness(), late])
    .catch((): Readiness => ({ ready: false, check: 'database', reason: `the database or the writer did not answer within ${READY_TIMEOUT_MS} ms` }))
    .finally(() => clearTimeout(timer));
}
