/**
 * What a registered redirection endpoint must be (RFC 6749 §3.1.2), for `client create`,
 * `client update` and /register alike; and the stricter rule for dynamically registered clients.
 */

/** Schemes a browser would run or read locally instead of handing the code to a client. */
const UNSAFE_SCHEMES = new Set(['javascript:', 'data:', 'vbscript:', 'file:', 'blob:']);

/** RFC 6749 §3.1.2: the redirection endpoint MUST be an absolute URI and MUST NOT have a fragment. Undefined: fine. */
export function redirectUriProblem(value: string): string | undefined {
  if (value.includes('#')) return 'must not have a fragment (RFC 6749 §3.1.2)';
  // RFC 3986 §4.3: an absolute URI has a scheme; spaces, control characters and lone surrogates are not URI characters.
  if (!URL.canParse(value) || !/^[a-z][a-z0-9+.-]*:/i.test(value) || /[\s\p{Cc}\p{Cs}]/u.test(value)) {
    return 'must be an absolute URI such as https://app.example/callback';
  }
  const url = new URL(value);
  if (UNSAFE_SCHEMES.has(url.protocol)) return `must not use the ${url.protocol} scheme`;
  if ((url.protocol === 'http:' || url.protocol === 'https:') && url.hostname === '') return 'must name a host';
  return undefined;
}

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * Dynamically registered clients (anyone may be one) get the RFC 8252 rule on top: https; http
 * only on a loopback host (§7.3); or a private-use scheme in reverse domain form (§7.1: it holds a
 * period), for native apps. Undefined: fine.
 */
export function registeredRedirectUriProblem(value: string): string | undefined {
  const problem = redirectUriProblem(value);
  if (problem !== undefined) return problem;
  const url = new URL(value);
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:') return LOOPBACK.has(url.hostname) ? undefined : 'must use https, or http on a loopback address (RFC 8252 §7.3)';
  if (!url.protocol.slice(0, -1).includes('.')) return 'a private-use scheme must be a reverse domain name such as com.example.app (RFC 8252 §7.1)';
  return undefined;
}
