/**
 * The admin API as one Handler (README "Admin API"), served on its own listener (`tessera serve
 * --admin-port`), never on the public one. Every request: a live admin token (auth.ts), then the
 * route by path and method, then its query and body validated by the route's zod schemas; a
 * read-only token may only GET. Every answer is `Cache-Control: no-store`; every error an RFC 9457
 * problem (problem.ts). Changes are audited by the engine as `admin:NAME`.
 */
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import type { HandlerParts } from '../app.js';
import { adminActor } from '../lifecycle/admin-tokens.js';
import { sharedVerification } from '../audit/shared-verification.js';
import { type CensusReader, tokenCensus } from '../metrics/token-census.js';
import { PATHS } from '../http/routes.js';
import type { Handler, PlainRequest, PlainResponse } from '../http/types.js';
import { authenticate } from './auth.js';
import { createConsole, isConsolePath } from './console.js';
import { openApiDocument } from './openapi.js';
import { ADMIN_HEADERS, type InvalidField, Problem, toProblemResponse } from './problem.js';
import type { Route } from './route.js';
import { clientRoutes } from './routes/clients.js';
import { eventRoutes } from './routes/events.js';
import { listingRoutes } from './routes/listings.js';
import { revocationRoutes } from './routes/revocations.js';
import { userRoutes } from './routes/users.js';
import { webhookRoutes } from './routes/webhooks.js';

/** Every admin API operation, in the order the OpenAPI document lists them. */
export const adminRoutes: readonly Route[] = [
  ...clientRoutes, ...userRoutes, ...listingRoutes, ...revocationRoutes, ...webhookRoutes, ...eventRoutes,
];

export const OPENAPI_PATH = '/openapi.json';

/** A Server-Sent Events answer: not cached, and not buffered by a proxy in front (nginx's X-Accel-Buffering). */
const EVENT_STREAM_HEADERS = { 'content-type': 'text/event-stream', ...ADMIN_HEADERS, 'x-accel-buffering': 'no' };
/**
 * How long /stats reuses a count of the tokens (any number of open consoles cost one count a
 * second), and how old a count it answers with at once while counting anew (a count of 100,000
 * tokens takes a few hundred milliseconds: metrics/token-census.ts).
 */
const CENSUS_REUSE_MS = 1_000;
const CENSUS_STALE_MS = 30_000;
/**
 * How long /audit/verify answers its last full pass over the audit log (2.5–3 s of hashing with
 * 100,000 records) before making another; `?fresh=true` asks for a new one at any time.
 */
const VERIFY_REUSE_MS = 60_000;

const version = (): string => (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** A route's path as a pattern: `{id}` matches one non-empty segment. */
function matcher(path: string): (segments: string[]) => Record<string, string> | undefined {
  const parts = path.split('/').slice(1);
  return (segments) => {
    if (segments.length !== parts.length) return undefined;
    const params: Record<string, string> = {};
    for (const [i, part] of parts.entries()) {
      const segment = segments[i] as string;
      if (part.startsWith('{')) {
        if (segment === '') return undefined;
        params[part.slice(1, -1)] = segment;
      } else if (part !== segment) {
        return undefined;
      }
    }
    return params;
  };
}

/** Zod issues as RFC 9457 `errors`, each with a JSON Pointer into the request. */
function invalid(where: 'query' | 'body', error: z.ZodError): Problem {
  const errors: InvalidField[] = error.issues.map((i) => ({ pointer: `/${where}${i.path.map((p) => `/${String(p)}`).join('')}`, detail: i.message }));
  return new Problem(400, `the request's ${where} is not valid: ${errors.map((e) => `${e.pointer.slice(where.length + 2) || where}: ${e.detail}`).join('; ')}`, errors);
}

/** The query as an object: a `repeatable` parameter as the array of its values; any other repeated is refused (each names one value). */
function queryObject(url: URL, repeatable: readonly string[] = []): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of url.searchParams) {
    const seen = out[key];
    if (repeatable.includes(key)) out[key] = [...((seen as string[] | undefined) ?? []), value];
    else if (seen !== undefined) throw new Problem(400, `query parameter '${key.slice(0, 64)}' given more than once`);
    else out[key] = value;
  }
  return out;
}

/** `census`: the server's token census, shared with its metrics (server.ts); by default one of the handler's own. */
export function createAdminHandler(parts: HandlerParts, options: { census?: CensusReader } = {}): Handler {
  const routes = adminRoutes.map((r) => ({ route: r, match: matcher(r.path) }));
  const openapi = JSON.stringify(openApiDocument(adminRoutes, version()));
  const sessions = createConsole(parts.engine);
  const counts = options.census ?? tokenCensus(parts.store);
  const census = () => counts(CENSUS_REUSE_MS, CENSUS_STALE_MS);
  const verification = sharedVerification(parts.store, VERIFY_REUSE_MS);

  async function dispatch(req: PlainRequest, seen: { actor?: string }): Promise<PlainResponse> {
    const path = req.path;
    if (isConsolePath(path)) return sessions.handle(req);
    if (path !== PATHS.admin && !path.startsWith(`${PATHS.admin}/`)) throw new Problem(404, 'the admin API is under /admin/api/v1, the web console at /console');
    const rest = path.slice(PATHS.admin.length);
    // The document describes the API, not its data: readable without a token.
    if (rest === OPENAPI_PATH && (req.method === 'GET' || req.method === 'HEAD')) {
      return { status: 200, headers: { 'content-type': 'application/json', ...ADMIN_HEADERS }, body: openapi };
    }
    const admin = await authenticate(parts.engine, req, sessions);
    seen.actor = adminActor(admin);
    const segments = rest.split('/').slice(1);
    const found = routes.map((r) => ({ route: r.route, params: r.match(segments) })).filter((r) => r.params !== undefined);
    if (found.length === 0) throw new Problem(404, 'no such admin API resource (see /admin/api/v1/openapi.json)');
    // RFC 9110 §9.1: HEAD wherever GET is (node:http sends no body for it).
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const hit = found.find((r) => r.route.method === method);
    const allowed = found.flatMap((r) => (r.route.method === 'GET' ? ['GET', 'HEAD'] : [r.route.method]));
    if (!hit) throw new Problem(405, `${req.method.slice(0, 16)} is not allowed here`, undefined, { allow: allowed.join(', ') });
    const { route, params } = hit;
    if (admin.readOnly && route.method !== 'GET') throw new Problem(403, `admin token '${admin.name}' is read-only`);
    let query: unknown;
    if (route.query) {
      const parsed = route.query.safeParse(queryObject(req.url, route.repeatable));
      if (!parsed.success) throw invalid('query', parsed.error);
      query = parsed.data;
    } else if (req.url.search !== '') {
      throw new Problem(400, 'this operation takes no query parameters');
    }
    let body: unknown;
    if (route.body) {
      const parsed = route.body.safeParse(req.json ?? {});
      if (!parsed.success) throw invalid('body', parsed.error);
      body = parsed.data;
    }
    const by = { actor: adminActor(admin), endpoint: `${route.method} ${PATHS.admin}${route.path}` };
    if (route.eventStream && req.method === 'HEAD') return { status: 200, headers: { ...EVENT_STREAM_HEADERS }, body: '' };
    // Whether the request would still authenticate: its admin token live and, through the console's
    // cookie, its session too (logout, expiry).
    const alive = () => authenticate(parts.engine, req, sessions).then(() => true, () => false);
    const result = await route.handle({ params: params as Record<string, string>, headers: req.headers, query, body, admin, by, alive, tessera: parts, census, verification });
    if (route.eventStream) return { status: 200, headers: { ...EVENT_STREAM_HEADERS }, body: '', stream: result as NonNullable<PlainResponse['stream']> };
    if (route.status === 204) return { status: 204, headers: { ...ADMIN_HEADERS }, body: '' };
    return { status: route.status, headers: { 'content-type': 'application/json', ...ADMIN_HEADERS }, body: JSON.stringify(result) };
  }

  return async (req) => {
    const seen: { actor?: string } = {};
    let response: PlainResponse;
    try {
      response = await dispatch(req, seen);
    } catch (err) {
      // Problems and the adapter's refusals are answers; anything else is logged by the adapter as a 500.
      if (!(err instanceof Problem)) throw err;
      response = toProblemResponse(err);
    }
    // The access log names the admin token that made the call (never its value).
    if (seen.actor !== undefined) response.actor = seen.actor;
    return response;
  };
}
