/**
 * RFC 9457 problem details, the admin API's one error shape: `application/problem+json` with
 * type, title, status and detail, plus `errors` (each with a JSON Pointer, RFC 6901) for invalid
 * input. Titles are the status phrases, as §4.2.1 asks for type "about:blank"; `detail` says what
 * went wrong and never repeats a secret.
 */
import { OAuthError } from '@tessera/core';
import { UnstorableText } from '../http/json-text.js';
import type { PlainResponse } from '../http/types.js';

export interface InvalidField {
  /** RFC 6901 JSON Pointer into the request: `/body/redirect_uris/0`, `/query/limit`. */
  pointer: string;
  detail: string;
}

const TITLES: Readonly<Record<number, string>> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict',
  413: 'Content Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Content', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

/** Every admin response: never cached (it lists credentials' metadata and personal data). */
export const ADMIN_HEADERS = { 'cache-control': 'no-store' } as const;

/** A problem to answer with, thrown by handlers and turned into the response by the router. */
export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly detail?: string,
    readonly errors?: InvalidField[],
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? TITLES[status] ?? 'Error');
  }
}

export function problemResponse(p: Problem): PlainResponse {
  const body = {
    type: 'about:blank',
    title: TITLES[p.status] ?? 'Error',
    status: p.status,
    ...(p.detail === undefined ? {} : { detail: p.detail }),
    ...(p.errors === undefined ? {} : { errors: p.errors }),
  };
  return { status: p.status, headers: { 'content-type': 'application/problem+json', ...ADMIN_HEADERS, ...p.headers }, body: JSON.stringify(body) };
}

/**
 * Any thrown value as a problem: a Problem as it is; an OAuthError from the HTTP adapter (a body
 * too large, a bad content type, JSON that does not parse) with its status and description;
 * anything else a bare 500, no message, no stack.
 */
export function toProblemResponse(err: unknown): PlainResponse {
  if (err instanceof Problem) return problemResponse(err);
  if (err instanceof UnstorableText) return problemResponse(new Problem(400, err.error_description, [{ pointer: `/body${err.pointer}`, detail: err.error_description ?? '' }]));
  if (err instanceof OAuthError) {
    const status = err.status >= 500 ? err.status : err.status === 401 ? 400 : err.status;
    return problemResponse(new Problem(status, err.error_description, undefined, err.status === 503 ? { 'retry-after': '5' } : {}));
  }
  return problemResponse(new Problem(500));
}
