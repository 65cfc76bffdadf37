import { OAuthError } from './errors.js';

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
// The token itself is never echoed: error descriptions repeat no unvalidated input.
const MALFORMED = 'malformed scope: tokens are printable ASCII other than space, double quote and backslash (RFC 6749 §3.3)';

/** Parses a space-delimited scope string into a set, rejecting malformed tokens. */
export function parseScope(value: string | undefined): Set<string> {
  const out = new Set<string>();
  if (value === undefined) return out;
  for (const token of value.split(' ')) {
    if (token === '') continue;
    if (!SCOPE_TOKEN.test(token)) throw new OAuthError('invalid_scope', MALFORMED);
    out.add(token);
  }
  return out;
}

export const formatScope = (scopes: Iterable<string>): string => [...scopes].sort().join(' ');

/**
 * formatScope(parseScope(value)): the scope's tokens, each checked, without duplicates, sorted.
 * A value already in that form (stored scopes are) is returned as it is, with no set built.
 */
export function normalizeScope(value: string): string {
  let canonical = true;
  let previous: string | undefined;
  for (const token of value.split(' ')) {
    if (token === '') {
      canonical = false;
      continue;
    }
    if (!SCOPE_TOKEN.test(token)) throw new OAuthError('invalid_scope', MALFORMED);
    // Strictly ascending (formatScope's order) also means no token repeats.
    if (previous !== undefined && token <= previous) canonical = false;
    previous = token;
  }
  return canonical ? value : formatScope(parseScope(value));
}

export function isSubset(inner: Iterable<string>, outer: ReadonlySet<string>): boolean {
  for (const s of inner) if (!outer.has(s)) return false;
  return true;
}
