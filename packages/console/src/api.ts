/**
 * The console's calls: its session (/console/session) and the admin API (/admin/api/v1), both on
 * this origin. The session cookie is HttpOnly; the CSRF token from the session goes in
 * X-CSRF-Token on every call that changes anything.
 */
export interface Session {
  name: string;
  read_only: boolean;
  csrf: string;
  expires_at: string;
}

export interface Stats {
  /** When the tokens were counted (a count may be up to 30 s old). */
  counted_at: string;
  tokens: { active: number; revoked: number; expired: number; rotated: number };
  tokens_by_client: { client_id: string; active: number; total: number }[];
  events_per_minute: { minute: string; events: number }[];
}

/** An answer that was not a success: its status and the problem's detail (RFC 9457). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function answer<T>(res: Response): Promise<T> {
  if (res.status === 204) return undefined as T;
  const body = (await res.json().catch(() => undefined)) as (T & { detail?: string }) | undefined;
  if (!res.ok) throw new ApiError(res.status, body?.detail ?? `HTTP ${res.status}`);
  return body as T;
}

/**
 * Where the page keeps the session's CSRF token across reloads and tabs: this origin's storage,
 * which, unlike the cookie, no other port of the host can read. The server says it only in the
 * sign-in's answer (GET /console/session does not), so a copy of the cookie alone changes nothing.
 */
const CSRF_KEY = 'tessera-console-csrf';

function keptCsrf(): string | undefined {
  try {
    return localStorage.getItem(CSRF_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

function keepCsrf(csrf: string | undefined): void {
  try {
    if (csrf === undefined) localStorage.removeItem(CSRF_KEY);
    else localStorage.setItem(CSRF_KEY, csrf);
  } catch {}
}

/** The signed-in session, or undefined: none, or one this browser's storage has no CSRF token for (sign in again). */
export async function currentSession(): Promise<Session | undefined> {
  const res = await fetch('/console/session', { credentials: 'same-origin' });
  if (res.status === 401) return undefined;
  const session = await answer<Omit<Session, 'csrf'>>(res);
  const csrf = keptCsrf();
  return csrf === undefined ? undefined : { ...session, csrf };
}

export async function signIn(token: string): Promise<Session> {
  const res = await fetch('/console/session', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }),
  });
  const session = await answer<Session>(res);
  keepCsrf(session.csrf);
  return session;
}

export async function signOut(session: Session): Promise<void> {
  try {
    await answer<void>(await fetch('/console/session/logout', { method: 'POST', credentials: 'same-origin', headers: { 'x-csrf-token': session.csrf } }));
  } finally {
    keepCsrf(undefined);
  }
}

/** A call to the admin API as the signed-in operator. */
export async function api<T>(session: Session, method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (method !== 'GET') headers['x-csrf-token'] = session.csrf;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`/admin/api/v1${path}`, { method, credentials: 'same-origin', headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return answer<T>(res);
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Client {
  client_id: string;
  name: string;
  grant_types: string[];
  redirect_uris: string[];
  scope: string;
  token_endpoint_auth_method: string;
  created_at: string;
}

/** A client's whole registration, as GET /clients/{id} answers it. */
export interface ClientRegistration extends Client {
  post_logout_redirect_uris: string[];
  resources: string[];
  exchange_audiences: string[];
  token_format: 'opaque' | 'jwt';
  id_token_signed_response_alg: string;
  access_ttl: number | null;
  refresh_ttl: number | null;
  dpop_bound_access_tokens: boolean;
}

export interface User {
  id: string;
  username: string;
  name: string | null;
  email: string | null;
  email_verified: boolean;
  created_at: string;
}

export interface Grant {
  id: string;
  client_id: string;
  user_id: string | null;
  scope: string;
  state: 'active' | 'revoked';
  created_at: string;
  revoked_at: string | null;
}

export interface Token {
  id: string;
  kind: 'access' | 'refresh';
  state: 'active' | 'revoked' | 'expired' | 'rotated';
  client_id: string;
  user_id: string | null;
  grant_id: string;
  family_id: string;
  parent_id: string | null;
  scope: string;
  issued_at: string;
  expires_at: string;
  revoked_at: string | null;
  consumed_at: string | null;
}

export interface AuditRecord {
  seq: number;
  at: string;
  event: string;
  actor: string;
  client_id: string | null;
  user_id: string | null;
  grant_id: string | null;
  token_id: string | null;
  reason: string | null;
}

export interface Revoked {
  revoked_tokens: number;
  revoked_grants: number;
}
