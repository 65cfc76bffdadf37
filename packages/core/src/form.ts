import { OAuthError } from './errors.js';

/**
 * Reads named parameters from a form or query string.
 * RFC 6749 §3.1, §3.2: parameters MUST NOT be included more than once; parameters sent
 * without a value MUST be treated as if they were omitted.
 */
export function readParams<const K extends string>(
  params: URLSearchParams,
  names: readonly K[],
): { [P in K]: string | undefined } {
  const out = {} as { [P in K]: string | undefined };
  for (const name of names) {
    const all = params.getAll(name);
    if (all.length > 1) throw new OAuthError('invalid_request', `parameter '${name}' is repeated`);
    const value = all[0];
    out[name] = value === undefined || value === '' ? undefined : value;
  }
  return out;
}

/** Throws invalid_request unless the value is present. */
export function required(value: string | undefined, name: string): string {
  if (value === undefined) throw new OAuthError('invalid_request', `missing parameter '${name}'`);
  return value;
}

const BASIC = /^Basic +([A-Za-z0-9+/=._~-]+) *$/i;
const BASIC_SCHEME = /^Basic(?: |$)/i;

/**
 * RFC 6749 §2.3.1: client_id and secret are form-urlencoded before Basic encoding. Another scheme
 * is no Basic credentials (undefined); the Basic scheme with anything but one token68 (two
 * Authorization fields joined with a comma among them) is refused, never read in part.
 */
export function parseBasicAuth(header: string | undefined): { id: string; secret: string } | undefined {
  if (header === undefined) return undefined;
  const match = BASIC.exec(header);
  if (!match) {
    if (BASIC_SCHEME.test(header)) throw new OAuthError('invalid_client', 'malformed Basic credentials', basicChallenge());
    return undefined;
  }
  let decoded: string;
  try {
    decoded = atob(match[1] as string);
  } catch {
    throw new OAuthError('invalid_client', 'malformed Basic credentials', basicChallenge());
  }
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new OAuthError('invalid_client', 'malformed Basic credentials', basicChallenge());
  try {
    // atob yields Latin-1; the credentials are ASCII after form-urlencoding.
    return {
      id: decodeFormComponent(decoded.slice(0, colon)),
      secret: decodeFormComponent(decoded.slice(colon + 1)),
    };
  } catch {
    throw new OAuthError('invalid_client', 'malformed Basic credentials', basicChallenge());
  }
}

const PLUS = /\+/g;

/**
 * application/x-www-form-urlencoded decoding of one component: '+' is a space, then %XX escapes.
 * A component with neither (machine-made ids and secrets, the usual case) is returned as it is.
 */
const decodeFormComponent = (s: string) =>
  s.indexOf('%') < 0 && s.indexOf('+') < 0 ? s : decodeURIComponent(s.replace(PLUS, ' '));

/** RFC 6749 §5.2: invalid_client after Basic auth is a 401 with WWW-Authenticate. */
export function basicChallenge(realm = 'tessera') {
  return { status: 401, headers: { 'www-authenticate': `Basic realm="${realm}"` } };
}
