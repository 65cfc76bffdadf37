/** The one place responses are shaped: JSON, HTML, redirects, and the OAuth error serialiser. */
import { type OAuthError, toOAuthError } from '@tessera/core';
import type { PlainResponse } from './types.js';

/** RFC 6749 §5.1: responses carrying tokens or credentials MUST NOT be cached. */
const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' } as const;

export function json(status: number, body: unknown, headers?: Record<string, string | string[]>): PlainResponse {
  // A fresh object each time (adapters may add to it), NO_STORE's fields written out: a literal
  // is cheaper to make than spreads.
  const all: Record<string, string | string[]> = { 'content-type': 'application/json', 'cache-control': NO_STORE['cache-control'], pragma: NO_STORE.pragma };
  if (headers !== undefined) Object.assign(all, headers);
  return { status, headers: all, body: JSON.stringify(body) };
}

/** Cacheable public JSON (metadata, JWKS). */
export function publicJson(body: unknown, maxAge = 60): PlainResponse {
  return { status: 200, headers: { 'content-type': 'application/json', 'cache-control': `public, max-age=${maxAge}` }, body: JSON.stringify(body) };
}

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  ...NO_STORE,
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  // same-origin, not no-referrer: under no-referrer Chromium sends `Origin: null` on the forms'
  // same-origin POSTs, which the CSRF check must refuse. Other sites still get no referrer.
  'referrer-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
} as const;

export function html(status: number, body: string, headers: Record<string, string | string[]> = {}): PlainResponse {
  return { status, headers: { ...PAGE_HEADERS, ...headers }, body };
}

/** 302 Found, or 303 See Other after a POST so the browser follows with a GET. */
export function redirect(location: string, headers: Record<string, string | string[]> = {}, status: 302 | 303 = 302): PlainResponse {
  return { status, headers: { location, ...NO_STORE, ...headers }, body: '' };
}

/**
 * Any thrown value as the RFC 6749 §5.2 JSON error. Unexpected errors become a bare
 * server_error: no message, no stack.
 */
export function errorResponse(err: unknown): PlainResponse {
  const e: OAuthError = toOAuthError(err);
  const response = json(e.status, e.toJSON(), e.headers);
  response.error = e.error;
  return response;
}
