/**
 * One admin API operation: its method and path, the zod schemas of its query, body and answer,
 * and its handler. The router validates requests with the same schemas the OpenAPI document is
 * generated from (openapi.ts), so the document cannot drift from what is enforced.
 */
import type { z } from 'zod';
import type { HandlerParts } from '../app.js';
import type { Actor } from '../lifecycle/context.js';
import type { PlainRequest } from '../http/types.js';
import type { Verified } from '../audit/shared-verification.js';
import type { Counted } from '../metrics/token-census.js';
import type { AdminTokenRecord } from '../store/types.js';

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface RouteContext<Q, B> {
  /** Path parameters by name (`{id}` in the path). */
  params: Record<string, string>;
  headers: PlainRequest['headers'];
  query: Q;
  body: B;
  /** The admin token the request carried, and the actor its changes are audited as (`admin:NAME`). */
  admin: AdminTokenRecord;
  by: Actor;
  /** Whether the request's credential is still good: its admin token, and the console session it came through (asked again by long answers). */
  alive: () => Promise<boolean>;
  tessera: HandlerParts;
  /** The token census (metrics/token-census.ts), shared by every request of this listener. */
  census: () => Promise<Counted>;
  /** The audit log's last full verification (audit/shared-verification.ts), shared likewise. */
  verification: (fresh: boolean) => Promise<Verified>;
}

export interface Route {
  method: Method;
  /** Under /admin/api/v1, with `{name}` for a path parameter. */
  path: string;
  summary: string;
  tag: string;
  query?: z.ZodType;
  /** Query parameters that may be given more than once: each arrives as an array of its values (the others are refused repeated). */
  repeatable?: readonly string[];
  body?: z.ZodType;
  /** The success answer's status and schema (none for 204). */
  status: 200 | 201 | 204;
  response?: z.ZodType;
  /**
   * The answer is Server-Sent Events (text/event-stream) instead of JSON: the handler returns the
   * stream (PlainResponse's `stream`), and `response` describes one event's data. HEAD answers the
   * headers without opening it.
   */
  eventStream?: true;
  handle(ctx: RouteContext<unknown, unknown>): Promise<unknown>;
}

/** A route with its handler typed by its schemas. */
export function route<Q extends z.ZodType | undefined = undefined, B extends z.ZodType | undefined = undefined>(r: Omit<Route, 'handle' | 'query' | 'body'> & {
  query?: Q;
  body?: B;
  handle(ctx: RouteContext<Q extends z.ZodType ? z.output<Q> : undefined, B extends z.ZodType ? z.output<B> : undefined>): Promise<unknown>;
}): Route {
  return r as Route;
}
