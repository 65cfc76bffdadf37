/** X-Request-Id: one id per request, in the access log and on the response, to match the two. */
import { randomUUID } from 'node:crypto';

/** What a proxy may send us and we repeat in a header and a log line: no spaces, quotes or controls. */
const WELL_FORMED = /^[\w.:@+/=-]{1,128}$/;

/** A well-formed incoming id (a proxy's, so its logs and ours match), otherwise a fresh UUID. */
export function requestId(incoming: string | undefined): string {
  return incoming !== undefined && WELL_FORMED.test(incoming) ? incoming : randomUUID();
}
