/** WWW-Authenticate challenges from a resource server (RFC 6750 §3, RFC 9110 §11.6.1). */

/**
 * The auth-params of the Bearer challenge in a WWW-Authenticate header, or undefined when there
 * is none. Handles quoted strings with escapes and several challenges in one header.
 */
export function bearerChallenge(header: string | null | undefined): Record<string, string> | undefined {
  return challenge(header, 'bearer');
}

/** The auth-params of the first challenge of `scheme` (lowercase; e.g. `dpop`, RFC 9449 §7.1) in a WWW-Authenticate header. */
export function challenge(header: string | null | undefined, scheme: string): Record<string, string> | undefined {
  if (!header) return undefined;
  // A challenge starts with a scheme token not followed by '=' (which would make it a parameter).
  const tokens = /\s*(?:([!#$%&'*+.^_`|~\w-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[!#$%&'*+.^_`|~\w/-]+)|([!#$%&'*+.^_`|~\w-]+))\s*,?/gy;
  let current: Record<string, string> | undefined;
  let found: Record<string, string> | undefined;
  for (let m = tokens.exec(header); m !== null && m[0] !== ''; m = tokens.exec(header)) {
    if (m[3] !== undefined) {
      current = {};
      if (m[3].toLowerCase() === scheme) found ??= current;
    } else if (current !== undefined) {
      const raw = m[2] as string;
      current[(m[1] as string).toLowerCase()] = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
    }
  }
  return found;
}

/**
 * RFC 6750 §3.1 (RFC 9449 §7.1 for DPoP): invalid_token means the token is expired, revoked or
 * malformed; a new one may work.
 */
export const isInvalidToken = (response: Response, scheme = 'bearer'): boolean =>
  response.status === 401 && challenge(response.headers.get('www-authenticate'), scheme)?.error === 'invalid_token';
