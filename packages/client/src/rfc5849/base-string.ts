/**
 * The signature base string (RFC 5849 §3.4.1): what HMAC-SHA1, HMAC-SHA256 and RSA-SHA1 sign,
 * rebuilt independently by the server from the request it receives. Both sides must get it
 * byte for byte, so each step is its own function, tested against the RFC's examples.
 */
import { ConfigurationError } from '../errors.js';

const RFC3986_EXTRA = /[!'()*]/g;

/**
 * §3.6: UTF-8, then every octet outside the unreserved set (ALPHA, DIGIT, "-", ".", "_", "~")
 * as %XX with uppercase hex. encodeURIComponent does all that except for !'()*, done here.
 */
export function percentEncode(value: string): string {
  try {
    return encodeURIComponent(value).replace(RFC3986_EXTRA, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  } catch {
    // A lone surrogate has no UTF-8 form (§3.6 item 1). The value is not repeated: it may be a secret.
    throw new ConfigurationError('a parameter or secret is not well-formed Unicode (a lone surrogate)');
  }
}

/**
 * §3.4.1.2: scheme and host in lowercase, the port only when it is not the scheme's default
 * (80 for http, 443 for https), the path as sent, no query, no fragment. The WHATWG URL parser
 * already lowercases and drops default ports, and its host and path are what fetch sends (the
 * Host header and the request target), which is what the server rebuilds this from.
 */
export function baseStringUri(url: string | URL): string {
  const parsed = parseUrl(url);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ConfigurationError(`OAuth 1.0 signs http and https requests only, not ${parsed.protocol}`);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}

/**
 * §3.4.1.3.2: each name and value encoded (§3.6), the pairs sorted by name and then by value in
 * ascending byte order (encoded strings are ASCII, so code-unit order is byte order), joined
 * as name=value (the "=" even for an empty value) with "&".
 */
export function normalizeParameters(parameters: Iterable<readonly [string, string]>): string {
  const encoded = [...parameters].map(([name, value]) => [percentEncode(name), percentEncode(value)] as const);
  encoded.sort(([n1, v1], [n2, v2]) => (n1 < n2 ? -1 : n1 > n2 ? 1 : v1 < v2 ? -1 : v1 > v2 ? 1 : 0));
  return encoded.map(([name, value]) => `${name}=${value}`).join('&');
}

/**
 * §3.4.1.1: METHOD&encoded base string URI&encoded normalized parameters. The parameters
 * (§3.4.1.3.1) are the URL's query, decoded as application/x-www-form-urlencoded (so "+" is a
 * space, and a name may repeat), plus `parameters`: the form body's (when it is one) and the
 * protocol parameters. `oauth_signature` is never signed; the Authorization header's `realm` is
 * not a parameter and must not be passed.
 */
export function signatureBaseString(method: string, url: string | URL, parameters: Iterable<readonly [string, string]> = []): string {
  const parsed = parseUrl(url);
  const all = [...pairsOf(parsed.searchParams), ...parameters].filter(([name]) => name !== 'oauth_signature');
  // §3.4.1.1 item 1: the method in uppercase, encoded (a custom method may need it).
  return [percentEncode(method.toUpperCase()), percentEncode(baseStringUri(parsed)), percentEncode(normalizeParameters(all))].join('&');
}

/** A URLSearchParams' pairs, in order, repeats included (the client's lib has no DOM iterables). */
export function pairsOf(params: URLSearchParams): [string, string][] {
  const pairs: [string, string][] = [];
  params.forEach((value, name) => {
    pairs.push([name, value]);
  });
  return pairs;
}

function parseUrl(url: string | URL): URL {
  try {
    return new URL(url);
  } catch {
    throw new ConfigurationError('not an absolute URL');
  }
}
