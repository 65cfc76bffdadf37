/**
 * The signature methods (RFC 5849 §3.4.2–3.4.4), on Web Crypto only: HMAC-SHA1, RSA-SHA1 and
 * PLAINTEXT from the RFC, and HMAC-SHA256, the same as HMAC-SHA1 with SHA-256, which servers
 * (oauthlib among them) accept as an extension.
 */
import { base64 } from '../encoding.js';
import { ConfigurationError } from '../errors.js';
import { percentEncode } from './base-string.js';

export type SignatureMethod = 'HMAC-SHA1' | 'HMAC-SHA256' | 'RSA-SHA1' | 'PLAINTEXT';

export const SIGNATURE_METHODS: readonly SignatureMethod[] = ['HMAC-SHA1', 'HMAC-SHA256', 'RSA-SHA1', 'PLAINTEXT'];

/** The secrets a signature is made with: the shared secrets (HMAC, PLAINTEXT) or the client's RSA private key. */
export interface SigningKeys {
  clientSecret?: string | undefined;
  /** The temporary or token credentials' secret; empty when the request carries no token (§2.1). */
  tokenSecret?: string | undefined;
  /** RSASSA-PKCS1-v1_5 with SHA-1, usage 'sign' (see importRsaKey). */
  rsaKey?: CryptoKey | undefined;
}

/** The `oauth_signature` value (before the encoding of its placement) of a signature base string. */
export async function sign(method: SignatureMethod, baseString: string, keys: SigningKeys): Promise<string> {
  switch (method) {
    case 'HMAC-SHA1':
      return hmac('SHA-1', baseString, keys);
    case 'HMAC-SHA256':
      return hmac('SHA-256', baseString, keys);
    case 'RSA-SHA1': {
      // §3.4.3: RSASSA-PKCS1-v1_5 (RFC 3447 §8.2.1) with SHA-1 over the base string, base64-encoded.
      if (keys.rsaKey === undefined) throw new ConfigurationError('RSA-SHA1 needs an rsaKey');
      checkRsaKey(keys.rsaKey);
      return base64(new Uint8Array(await crypto.subtle.sign('RSASSA-PKCS1-v1_5', keys.rsaKey, utf8(baseString))));
    }
    case 'PLAINTEXT':
      // §3.4.4: no base string, just the key HMAC would use; only over TLS (checked where requests are sent).
      return sharedKey(keys);
    default:
      throw new ConfigurationError(`unknown signature method (use one of ${SIGNATURE_METHODS.join(', ')})`);
  }
}

/** §3.4.2 key: encoded client secret, "&" (even when a secret is empty), encoded token secret. */
function sharedKey(keys: SigningKeys): string {
  return `${percentEncode(keys.clientSecret ?? '')}&${percentEncode(keys.tokenSecret ?? '')}`;
}

/** §3.4.2: digest = HMAC(key, base string), base64-encoded (RFC 2045 §6.8). */
async function hmac(hash: 'SHA-1' | 'SHA-256', baseString: string, keys: SigningKeys): Promise<string> {
  const key = await crypto.subtle.importKey('raw', utf8(sharedKey(keys)), { name: 'HMAC', hash }, false, ['sign']);
  return base64(new Uint8Array(await crypto.subtle.sign('HMAC', key, utf8(baseString))));
}

const utf8 = (value: string) => new TextEncoder().encode(value);

const RSA_SHA1 = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-1' } as const;

/**
 * The client's RSA private key for RSA-SHA1: a Web Crypto CryptoKey (RSASSA-PKCS1-v1_5, SHA-1,
 * usage 'sign') as is, or a PEM "PRIVATE KEY" (PKCS #8) imported as one, non-extractable.
 */
export async function importRsaKey(key: CryptoKey | string): Promise<CryptoKey> {
  if (typeof key !== 'string') {
    checkRsaKey(key);
    return key;
  }
  if (key.includes('-----BEGIN RSA PRIVATE KEY-----')) {
    throw new ConfigurationError('the rsaKey is PKCS #1 ("BEGIN RSA PRIVATE KEY"); Web Crypto imports PKCS #8: convert it with `openssl pkcs8 -topk8 -nocrypt`');
  }
  const pem = /-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\s]+)-----END PRIVATE KEY-----/.exec(key);
  if (pem === null) throw new ConfigurationError('the rsaKey is neither a CryptoKey nor a PEM "PRIVATE KEY" (PKCS #8)');
  const der = Uint8Array.from(atob((pem[1] as string).replace(/\s+/g, '')), (c) => c.charCodeAt(0));
  try {
    return await crypto.subtle.importKey('pkcs8', der, RSA_SHA1, false, ['sign']);
  } catch {
    // The import error is not passed on: some runtimes quote the key material in it.
    throw new ConfigurationError('the rsaKey PEM could not be imported as an RSA private key');
  }
}

function checkRsaKey(key: CryptoKey): void {
  const algorithm = key.algorithm as { name: string; hash?: { name: string } };
  if (key.type !== 'private' || algorithm.name !== RSA_SHA1.name || algorithm.hash?.name !== RSA_SHA1.hash || !key.usages.includes('sign')) {
    throw new ConfigurationError("RSA-SHA1 needs an RSA private key imported for RSASSA-PKCS1-v1_5 with hash SHA-1 and usage 'sign'");
  }
}
