/**
 * The web console (README "Web console"): the pages built by packages/console into
 * packages/server/console, served at /console on the admin listener, and its sign-in. Signing in
 * with an admin token sets a cookie naming an opaque session held in this process's memory
 * (session id → admin token id, a CSRF token, an expiry); the admin API then accepts that cookie
 * (auth.ts) and checks the admin token itself on every request, so revoking or expiring the token
 * ends its sessions. Sessions do not survive a restart and are not shared between processes.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashesEqual, hashSecret, randomSecret } from '../secrets.js';
import type { LifecycleEngine } from '../lifecycle/engine.js';
import type { AdminTokenRecord } from '../store/types.js';
import type { PlainRequest, PlainResponse } from '../http/types.js';
import { PATHS } from '../http/routes.js';
import { readCookie } from '../http/cookies.js';
import { Problem } from './problem.js';

const CONSOLE_PATH = PATHS.console;
const SESSION_PATH = `${CONSOLE_PATH}/session`;
const COOKIE = 'tessera_console';
const CSRF_HEADER = 'x-csrf-token';
/** A console session lasts this long at most (and never past its admin token's expiry). */
const SESSION_MS = 8 * 60 * 60_000;
/** Sessions held at once; past this the oldest is dropped (each needs a valid admin token to make). */
const MAX_SESSIONS = 10_000;

/** Every console answer: nothing but the console's own files may run, load or frame it. */
const CONSOLE_HEADERS = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
} as const;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

interface Asset {
  type: string;
  body: string;
}

interface Session {
  tokenId: string;
  csrf: string;
  expiresAt: number;
}

/** Where the build puts the console: packages/server/console, next to dist (in the repository and in the package). */
const BUILT = fileURLToPath(new URL('../../console/', import.meta.url));

/** The built files, read once: only these are served, so no request path can reach any other file. */
function loadAssets(dir: string): { index: string; assets: Map<string, Asset> } | undefined {
  const indexFile = join(dir, 'index.html');
  if (!existsSync(indexFile)) return undefined;
  const assets = new Map<string, Asset>();
  const assetsDir = join(dir, 'assets');
  if (existsSync(assetsDir)) {
    for (const entry of readdirSync(assetsDir, { withFileTypes: true })) {
      const type = entry.isFile() ? TYPES[entry.name.slice(entry.name.lastIndexOf('.'))] : undefined;
      if (type !== undefined) assets.set(entry.name, { type, body: readFileSync(join(assetsDir, entry.name), 'utf8') });
    }
  }
  return { index: readFileSync(indexFile, 'utf8'), assets };
}

/** The console cookie's value; two of that name (one planted by another port, say) count as none. */
const cookieValue = (req: PlainRequest): string | undefined => readCookie(req.headers.cookie, COOKIE);

const json = (status: number, body: unknown, headers: Record<string, string> = {}): PlainResponse => ({
  status,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...CONSOLE_HEADERS, ...headers },
  body: JSON.stringify(body),
});

export interface ConsoleSessions {
  /** Answers a request under /console. */
  handle(req: PlainRequest): Promise<PlainResponse>;
  /**
   * The admin token of the request's console cookie, or undefined when it has none. A cookie for
   * no live session, or for a dead admin token, is a 401; a state-changing request without the
   * session's CSRF token in X-CSRF-Token is a 403.
   */
  authenticate(req: PlainRequest): Promise<AdminTokenRecord | undefined>;
}

export function createConsole(engine: LifecycleEngine, dir = BUILT): ConsoleSessions {
  const built = loadAssets(dir);
  // Keyed by the hash of the cookie's value: the map never holds a usable credential.
  const sessions = new Map<string, Session>();

  function page(req: PlainRequest): PlainResponse {
    if (!built) throw new Problem(404, 'the web console is not built (npm run build -w @tessera/console)');
    const path = req.path;
    if (path.startsWith(`${CONSOLE_PATH}/assets/`)) {
      const asset = built.assets.get(path.slice(CONSOLE_PATH.length + '/assets/'.length));
      if (!asset) throw new Problem(404, 'no such console file');
      // The build names each file by a hash of its content: a name never changes what it holds.
      return { status: 200, headers: { 'content-type': asset.type, 'cache-control': 'public, max-age=31536000, immutable', ...CONSOLE_HEADERS }, body: asset.body };
    }
    // Any other path is one of the page's own routes (client-side): the page itself.
    return { status: 200, headers: { 'content-type': TYPES['.html'] as string, 'cache-control': 'no-cache', ...CONSOLE_HEADERS }, body: built.index };
  }

  /** The live session a cookie names (expired ones are dropped). */
  function sessionOf(req: PlainRequest): { key: string; session: Session } | undefined {
    const value = cookieValue(req);
    if (value === undefined || value === '') return undefined;
    const key = hashSecret(value);
    const session = sessions.get(key);
    if (!session) return undefined;
    if (session.expiresAt <= Date.now()) {
      sessions.delete(key);
      return undefined;
    }
    return { key, session };
  }

  function cookie(req: PlainRequest, value: string, maxAge: number): string {
    const https = req.url.protocol === 'https:' || req.headers['x-forwarded-proto'] === 'https';
    return `${COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${https ? '; Secure' : ''}`;
  }

  /**
   * A browser sends Origin on every POST: one whose host is not the one the browser asked for
   * (Host: the console as the operator reached it, by any name, port or proxy) is another site's,
   * and refused (sign-in and logout included).
   */
  function sameOrigin(req: PlainRequest): void {
    const origin = req.headers.origin;
    if (origin === undefined) return;
    let host: string | undefined;
    try {
      host = new URL(origin).host;
    } catch {}
    if (host === undefined || host !== req.headers.host) throw new Problem(403, 'a console request must come from the console itself');
  }

  async function signIn(req: PlainRequest): Promise<PlainResponse> {
    sameOrigin(req);
    const value = req.body?.get('token') ?? undefined;
    const token = value ? await engine.adminTokenFor(value) : undefined;
    if (!token) throw new Problem(401, 'the admin token is unknown, revoked or expired');
    // The browser's earlier session, whose cookie this one replaces, ends now rather than at its
    // expiry (a page that lost its CSRF token signs in again): no copy of that cookie outlives it.
    const previous = sessionOf(req);
    if (previous) sessions.delete(previous.key);
    const id = randomSecret();
    const csrf = randomSecret();
    const expiresAt = Math.min(Date.now() + SESSION_MS, token.expiresAt ?? Number.POSITIVE_INFINITY);
    if (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value as string);
    sessions.set(hashSecret(id), { tokenId: token.id, csrf, expiresAt });
    return json(200, { name: token.name, read_only: token.readOnly, csrf, expires_at: new Date(expiresAt).toISOString() }, {
      'set-cookie': cookie(req, id, Math.floor((expiresAt - Date.now()) / 1000)),
    });
  }

  async function authenticate(req: PlainRequest): Promise<AdminTokenRecord | undefined> {
    if (cookieValue(req) === undefined) return undefined;
    const found = sessionOf(req);
    const token = found && (await engine.liveAdminToken(found.session.tokenId));
    if (!found || !token) {
      if (found) sessions.delete(found.key);
      throw new Problem(401, 'the console session has ended: sign in again');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const sent = req.headers[CSRF_HEADER];
      if (sent === undefined || !hashesEqual(hashSecret(sent), hashSecret(found.session.csrf))) {
        throw new Problem(403, `a console request that changes anything must carry the session's ${CSRF_HEADER} header`);
      }
    }
    return token;
  }

  async function handle(req: PlainRequest): Promise<PlainResponse> {
    const path = req.path;
    if (path === SESSION_PATH) {
      if (req.method === 'POST') return signIn(req);
      if (req.method === 'GET' || req.method === 'HEAD') {
        const token = await authenticate(req);
        const found = sessionOf(req);
        if (!token || !found) throw new Problem(401, 'not signed in');
        // Never the CSRF token: the cookie reaches every port of the host (cookies are not isolated
        // by port, and SameSite counts them one site), so whoever else listens there gets it; the
        // CSRF token, from the sign-in's answer only, is what such a copy of the cookie lacks.
        return json(200, { name: token.name, read_only: token.readOnly, expires_at: new Date(found.session.expiresAt).toISOString() });
      }
      throw new Problem(405, `${req.method.slice(0, 16)} is not allowed here`, undefined, { allow: 'GET, HEAD, POST' });
    }
    if (path === `${SESSION_PATH}/logout`) {
      if (req.method !== 'POST') throw new Problem(405, `${req.method.slice(0, 16)} is not allowed here`, undefined, { allow: 'POST' });
      sameOrigin(req);
      // Logging out needs the CSRF token too: another site must not end the operator's session.
      const found = sessionOf(req);
      if (found) {
        await authenticate(req).catch((err) => {
          // A session whose admin token died is over anyway.
          if (!(err instanceof Problem) || err.status !== 401) throw err;
        });
        sessions.delete(found.key);
      }
      return { status: 204, headers: { 'cache-control': 'no-store', ...CONSOLE_HEADERS, 'set-cookie': cookie(req, '', 0) }, body: '' };
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new Problem(405, `${req.method.slice(0, 16)} is not allowed here`, undefined, { allow: 'GET, HEAD' });
    return page(req);
  }

  return { handle, authenticate };
}

export const isConsolePath = (pathname: string): boolean => pathname === CONSOLE_PATH || pathname.startsWith(`${CONSOLE_PATH}/`);
