/**
 * GET /metrics: the registry in the Prometheus text format. A plain Handler, so any listener can
 * mount it (the metrics listener, server.ts; an admin listener).
 */
import { json } from '../http/respond.js';
import type { Handler } from '../http/types.js';
import type { ServerMetrics } from './metrics.js';

/** Where a listener mounts it. */
export const METRICS_PATH = '/metrics';

export function metricsEndpoint(metrics: ServerMetrics): Handler {
  return async (req) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: 'method_not_allowed' }, { allow: 'GET, HEAD' });
    const body = await metrics.registry.metrics();
    return { status: 200, headers: { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' }, body };
  };
}
