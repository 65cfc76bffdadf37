/** PKCE (RFC 7636) with S256 only, as RFC 9700 §2.1.1 advises. */
import { randomToken, sha256 } from '../encoding.js';

/**
 * RFC 7636 §4.1: a high-entropy verifier of 43–128 unreserved characters; 32 random bytes,
 * base64url-encoded, give 43 characters and 256 bits (§7.1).
 */
export const generateCodeVerifier = (): string => randomToken(32);

/** RFC 7636 §4.2: code_challenge = BASE64URL(SHA256(ASCII(code_verifier))). */
export const calculateCodeChallenge = (codeVerifier: string): Promise<string> => sha256(codeVerifier);

/** RFC 6749 §10.12: an unguessable `state` binding the callback to this user agent's request. */
export const generateState = (): string => randomToken(32);
