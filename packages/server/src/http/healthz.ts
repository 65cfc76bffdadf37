/**
 * GET /healthz, for load balancers and readiness probes: 200 while the store answers a read,
 * 503 when it does not (database closed, unreadable or locked). Never cached.
 */
import { json } from './respond.js';
import type { Handler } from './types.js';

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
