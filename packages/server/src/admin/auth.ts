/**
 * Admin API authentication: `Authorization: Bearer ADMIN_TOKEN` (RFC 6750 §2.1), a live admin
 * token (lifecycle/admin-tokens.ts); without that header, the web console's session cookie (with
 * its CSRF header on anything but GET, console.ts). Without either, 401 with `WWW-Authenticate: Bearer` (RFC 6750
 * §3; `error="invalid_token"` when a token was sent and is unknown, revoked or expired, §3.1).
 */
import { BEARER } from '../rfc6750/bearer.js';
import type { LifecycleEngine } from '../lifecycle/engine.js';
import type { AdminTokenRecord } from '../store/types.js';
import type { PlainRequest } from '../http/types.js';
import type { ConsoleSessions } from './console.js';
import { Problem } from './problem.js';

const REALM = 'realm="tessera-admin"';

export async function authenticate(engine: LifecycleEngine, req: PlainRequest, sessions?: ConsoleSessions): Promise<AdminTokenRecord> {
  const header = req.headers.authorization;
  const session = header === undefined ? await sessions?.authenticate(req) : undefined;
  if (session) return session;
  if (header === undefined) throw new Problem(401, 'send an admin token: Authorization: Bearer ADMIN_TOKEN (tessera admin token create)', undefined, { 'www-authenticate': `Bearer ${REALM}` });
  const value = BEARER.exec(header)?.[1];
  const token = value === undefined ? undefined : await engine.adminTokenFor(value);
  if (!token) {
    throw new Problem(401, 'the admin token is unknown, revoked or expired', undefined, { 'www-authenticate': `Bearer ${REALM}, error="invalid_token"` });
  }
  return token;
}
