/**
 * Every path the server answers, in one list: app.ts dispatches on it, the metadata (RFC 8414 §2)
 * and the pages derive their URLs from it.
 */
export const PATHS = {
  metadata: '/.well-known/oauth-authorization-server',
  authorization: '/authorize',
  /** RFC 9126 §2: pushed authorization requests. */
  par: '/par',
  token: '/token',
  revocation: '/revoke',
  introspection: '/introspect',
  jwks: '/jwks.json',
  /** RFC 8628 §3.1 (device_authorization_endpoint in the metadata). */
  deviceAuthorization: '/device_authorization',
  /** RFC 8628 §3.3: the verification_uri, where the user enters the user code (not in RFC 8414). */
  device: '/device',
  /** OpenID Connect Discovery 1.0 §4 and the UserInfo endpoint (Core §5.3). */
  openidConfiguration: '/.well-known/openid-configuration',
  userinfo: '/userinfo',
  /** OpenID Connect RP-Initiated Logout 1.0: the end_session_endpoint, and its confirmation form's target. */
  endSession: '/end_session',
  endSessionConfirm: '/end_session/confirm',
  /**
   * RFC 7591 §3: dynamic client registration; RFC 7592: each client's configuration endpoint is
   * this path, a slash and its client_id (the registration_client_uri).
   */
  registration: '/register',
  /** The revocation feed (Tessera's own, not in RFC 8414): JSON pages and the SSE stream. */
  revocationFeed: '/revocations',
  revocationStream: '/revocations/stream',
  /** The authorization endpoint's pages (not in RFC 8414). */
  login: '/login',
  consent: '/consent',
  /** Liveness, readiness and the server's name (not in RFC 8414). */
  health: '/healthz',
  ready: '/readyz',
  root: '/',
  /** The admin API (README "Admin API"): only on the admin listener (`serve --admin-port`), never on this one. */
  admin: '/admin/api/v1',
  /** The web console (README "Web console"): on the admin listener, beside the admin API. */
  console: '/console',
} as const;

/** RFC 7591 §3, RFC 7592 §2: the routes whose bodies are application/json rather than forms. */
export const takesJson = (pathname: string): boolean =>
  pathname === PATHS.registration || pathname.startsWith(`${PATHS.registration}/`) || isAdminPath(pathname);

/** The admin API's paths (its own listener; JSON bodies, problem details). */
export const isAdminPath = (pathname: string): boolean => pathname === PATHS.admin || pathname.startsWith(`${PATHS.admin}/`);

/** A route's name (a key of PATHS), for labels that must stay few: never the raw path. */
export type RouteName = keyof typeof PATHS | 'registrationConfiguration' | 'other';

const NAMES = new Map<string, RouteName>(Object.entries(PATHS).map(([name, path]) => [path, name as keyof typeof PATHS]));

/** The route a path is answered by: its PATHS key, `registrationConfiguration` (RFC 7592) or `other` (404s). */
export function routeName(pathname: string): RouteName {
  const name = NAMES.get(pathname);
  if (name !== undefined) return name;
  return pathname.startsWith(`${PATHS.registration}/`) && pathname.length > PATHS.registration.length + 1 ? 'registrationConfiguration' : 'other';
}
