/** X-Request-Id: one id per request, in the access log and on the response, to match the two. */
import { randomBytes } from 'node:crypto';

/** What a proxy may send us and we repeat in a header and a log line: no spaces, quotes or controls. */
const WELL_FORMED = /^[\w.:@+/=-]{1,128}$/;

/**
 * Fresh ids are this process's random prefix and a counter: unique across restarts and replicas
 * with overwhelming likelihood, ordered within a process, and cheaper on the hot path than a
 * UUID per request (generated and sent with every response; measured in the A/B of issue 9).
 */
const PREFIX = `${randomBytes(6).toString('base64url')}-`;
let counter = 0;

/** A well-formed incoming id (a proxy's, so its logs and ours match), otherwise a fresh one. */
export function requestId(incoming: string | undefined): string {
  return incoming !== undefined && WELL_FORMED.test(incoming) ? incoming : PREFIX + (++counter).toString(36);
}
