/** Encodings and randomness, on Web APIs only (btoa, TextEncoder, crypto.getRandomValues). */

/** Base64 with padding (RFC 4648 §4, as RFC 2045 §6.8 has it). */
export function base64(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

export function base64url(bytes: Uint8Array): string {
  return base64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** `n` random bytes, base64url-encoded: 32 bytes give 256 bits (RFC 7636 §7.1, RFC 6749 §10.10). */
export function randomToken(n = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(n)));
}

/** SHA-256 of a string's UTF-8 (well, ASCII for our inputs) bytes, base64url-encoded. */
export async function sha256(value: string): Promise<string> {
  return base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(value))));
}

/** application/x-www-form-urlencoded encoding of one value (WHATWG URL, as RFC 6749 Appendix B). */
export function formEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}

/** The epoch second now. */
export const epochSeconds = (now = Date.now()): number => Math.floor(now / 1000);
