/**
 * Probes for load balancers and orchestrators, never cached:
 * - GET /healthz (liveness): 200 while the store answers a read, 503 when it does not (database
 *   closed, unreadable or locked);
 * - GET /readyz (readiness): 200 when the database answers, its schema is current and the writer
 *   commits (store.readiness); 503 naming the check that failed otherwise.
 */
import type { Store } from '../store/types.js';
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

export function readyEndpoint(store: Pick<Store, 'readiness'>): Handler {
  return async () => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('late')), READY_TIMEOUT_MS);
    });
    const readiness = await Promise.race([store.readiness(), late]).catch(() => ({
      ready: false as const, check: 'database' as const, reason: `the database or the writer did not answer within ${READY_TIMEOUT_MS} ms`,
    })).finally(() => clearTimeout(timer));
    if (readiness.ready) return json(200, { status: 'ready' });
    return json(503, { status: 'unavailable', check: readiness.check, reason: readiness.reason }, { 'retry-after': '5' });
  };
}
