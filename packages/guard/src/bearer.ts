/** Reads the token from an Authorization header value: Bearer (RFC 6750 §2.1) or DPoP (RFC 9449 §7.1). */

// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** `dpop`: the malformed header named the DPoP scheme, whose refusal challenges with DPoP (RFC 9449 §7.1). */
export type BearerHeader = { kind: 'token'; token: string } | { kind: 'missing' } | { kind: 'malformed'; description: string; dpop?: true };

/** An Authorization header with the Bearer scheme (RFC 6750) or the DPoP scheme (RFC 9449 §7.1). */
export type Credentials = BearerHeader | { kind: 'dpop'; token: string };

/** The Bearer token of the header; any other scheme (DPoP included) is no token here (RFC 6750 §3.1). */
export function parseAuthorization(header: string | null | undefined): BearerHeader {
  const parsed = parseCredentials(header);
  return parsed.kind === 'dpop' ? { kind: 'missing' } : parsed;
}

/** The token of a Bearer or DPoP header: RFC 9449 §7.1 gives the DPoP scheme the same token68 syntax. */
export function parseCredentials(header: string | null | undefined): Credentials {
  if (header === null || header === undefined || header.trim() === '') return { kind: 'missing' };
  const space = header.indexOf(' ');
  // The auth-scheme is case-insensitive (RFC 7235 §2.1). Another scheme is "no bearer token":
  // RFC 6750 §3.1 answers it with a bare challenge.
  const scheme = (space === -1 ? header : header.slice(0, space)).toLowerCase();
  if (scheme !== 'bearer' && scheme !== 'dpop') return { kind: 'missing' };
  const token = space === -1 ? '' : header.slice(space + 1).trim();
  if (token === '') return malformed(scheme, `the ${scheme === 'dpop' ? 'DPoP' : 'Bearer'} scheme needs a token`);
  if (!B64TOKEN.test(token)) return malformed(scheme, `the ${scheme === 'dpop' ? 'DPoP' : 'bearer'} token is not a b64token (RFC 6750 §2.1)`);
  return scheme === 'dpop' ? { kind: 'dpop', token } : { kind: 'token', token };
}

/** A malformed header's refusal, marked when it named the DPoP scheme (answered with a DPoP challenge). */
function malformed(scheme: 'bearer' | 'dpop', description: string): Credentials {
  return scheme === 'dpop' ? { kind: 'malformed', description, dpop: true } : { kind: 'malformed', description };
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
