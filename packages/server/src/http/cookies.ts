/** Reading and writing the cookies of the login and consent pages (RFC 6265). */

/** The value of one cookie from a Cookie header, or undefined; a repeated name counts as absent. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  let found: string | undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    // Two cookies of one name (e.g. one planted for a parent domain) are ambiguous: trust neither.
    if (found !== undefined) return undefined;
    found = part.slice(eq + 1).trim();
  }
  return found === '' ? undefined : found;
}

export interface CookieOptions {
  /** Seconds; 0 deletes the cookie. */
  maxAge: number;
  /** Set for https issuers: the cookie then never travels in clear. */
  secure: boolean;
}

/**
 * A Set-Cookie value. HttpOnly (no script reads it), SameSite=Lax (sent on the top-level GET that
 * brings the user from the client to /authorize, not on cross-site POSTs), Path=/.
 */
export function setCookie(name: string, value: string, { maxAge, secure }: CookieOptions): string {
  return `${name}=${value}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}
