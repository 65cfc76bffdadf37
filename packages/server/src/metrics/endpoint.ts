/**
 * GET /metrics: the registry in the Prometheus text format. A plain Handler, so any listener can
 * mount it (the metrics listener, server.ts; an admin listener).
 */
import { json } from '../http/respond.js';
import type { Handler } from '../http/types.js';
import type { ServerMetrics } from './metrics.js';

/** Where a listener mounts it. */
export const METRICS_PATH = '/metrics';

/** What GET /metrics serves: by default this process's registry; a cluster primary's sums its workers' (cluster.ts). */
export type MetricsSource = () => Promise<{ body: string; contentType: string }>;

export function metricsEndpoint(metrics: ServerMetrics, source?: MetricsSource): Handler {
  const collect: MetricsSource = source ?? (async () => ({ body: await metrics.registry.metrics(), contentType: metrics.registry.contentType }));
  return async (req) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: 'method_not_allowed' }, { allow: 'GET, HEAD' });
    const { body, contentType } = await collect();
    return { status: 200, headers: { 'content-type': contentType, 'cache-control': 'no-store' }, body };
  };
}
