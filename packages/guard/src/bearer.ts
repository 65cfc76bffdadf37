/** Reads the bearer token from an Authorization header value (RFC 6750 §2.1). */

// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

export type BearerHeader = { kind: 'token'; token: string } | { kind: 'missing' } | { kind: 'malformed'; description: string };

export function parseAuthorization(header: string | null | undefined): BearerHeader {
  if (header === null || header === undefined || header.trim() === '') return { kind: 'missing' };
  const space = header.indexOf(' ');
  const scheme = space === -1 ? header : header.slice(0, space);
  // The auth-scheme is case-insensitive (RFC 7235 §2.1). Another scheme is "no bearer token":
  // RFC 6750 §3.1 answers it with a bare challenge.
  if (scheme.toLowerCase() !== 'bearer') return { kind: 'missing' };
  const token = space === -1 ? '' : header.slice(space + 1).trim();
  if (token === '') return { kind: 'malformed', description: 'the Bearer scheme needs a token' };
  if (!B64TOKEN.test(token)) return { kind: 'malformed', description: 'the bearer token is not a b64token (RFC 6750 §2.1)' };
  return { kind: 'token', token };
}

/**
 * Compact JWS (RFC 7515 §7.1): three non-empty parts separated by dots. Anything else is treated
 * as opaque; jose validates the parts' encoding.
 */
export function looksLikeJwt(token: string): boolean {
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  return first > 0 && second > first + 1 && second < token.length - 1 && token.indexOf('.', second + 1) === -1;
}
