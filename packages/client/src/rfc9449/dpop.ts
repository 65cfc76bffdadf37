/**
 * DPoP (RFC 9449), the client's side: a key pair made with Web Crypto whose private key cannot be
 * exported, a fresh proof JWT for every request (§4), the servers' nonces (§8, §9) kept per
 * origin, and the one retry a `use_dpop_nonce` answer asks for.
 */
import { calculateJwkThumbprint, exportJWK, type JWK, SignJWT } from 'jose';
import { randomToken, sha256 } from '../encoding.js';
import { ConfigurationError } from '../errors.js';
import { challenge } from '../rfc6750/challenge.js';

/** The JWS algorithm of a Web Crypto key pair, for the proof's `alg` (§4.2). */
function algOf(key: CryptoKey): string {
  const a = key.algorithm as EcKeyAlgorithm & RsaHashedKeyAlgorithm;
  if (a.name === 'ECDSA' && a.namedCurve === 'P-256') return 'ES256';
  if (a.name === 'ECDSA' && a.namedCurve === 'P-384') return 'ES384';
  if (a.name === 'Ed25519') return 'EdDSA';
  if (a.name === 'RSASSA-PKCS1-v1_5' && a.hash.name === 'SHA-256') return 'RS256';
  if (a.name === 'RSA-PSS' && a.hash.name === 'SHA-256') return 'PS256';
  throw new ConfigurationError(`a DPoP key must be ES256, ES384, EdDSA, RS256 or PS256; got ${a.name}`);
}

/** §4.2 htu: the request's URI without query and fragment. */
const htu = (url: URL) => `${url.origin}${url.pathname}`;

export class DPoPKey {
  private ready: Promise<{ keyPair: CryptoKeyPair; jwk: JWK; alg: string }> | undefined;
  private readonly nonces = new Map<string, string>();

  /** `keyPair`: the client's own (e.g. kept in IndexedDB); by default a new ES256 pair, its private key not extractable. */
  constructor(private readonly keyPair?: CryptoKeyPair) {}

  private load() {
    this.ready ??= (async () => {
      const keyPair = this.keyPair ?? (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']) as CryptoKeyPair);
      const { kty, crv, x, y, n, e } = await exportJWK(keyPair.publicKey);
      // §4.2: the public key only, in the header's jwk.
      const jwk = Object.fromEntries(Object.entries({ kty, crv, x, y, n, e }).filter(([, v]) => v !== undefined)) as JWK;
      return { keyPair, jwk, alg: algOf(keyPair.privateKey) };
    })();
    return this.ready;
  }

  /** The JWK SHA-256 thumbprint of the public key (RFC 7638), which bound tokens carry as cnf.jkt (§6). */
  async thumbprint(): Promise<string> {
    return calculateJwkThumbprint((await this.load()).jwk, 'sha256');
  }

  /** A proof for one request (§4.2); with `accessToken`, its hash as `ath` (§4.2, for resource requests). */
  async proof(method: string, url: URL, accessToken?: string): Promise<string> {
    const { keyPair, jwk, alg } = await this.load();
    const nonce = this.nonces.get(url.origin);
    const ath = accessToken === undefined ? undefined : await sha256(accessToken);
    return new SignJWT({ htm: method.toUpperCase(), htu: htu(url), jti: randomToken(16), ...(nonce === undefined ? {} : { nonce }), ...(ath === undefined ? {} : { ath }) })
      .setProtectedHeader({ typ: 'dpop+jwt', alg, jwk })
      .setIssuedAt()
      .sign(keyPair.privateKey);
  }

  /**
   * Sends a request with a proof (`go` sends it with the headers given); keeps a nonce the server
   * sent (§8.2, §9), and when the server asked for one (`use_dpop_nonce`), sends once more with it.
   */
  async send(method: string, url: URL, headers: Headers, accessToken: string | undefined, go: (headers: Headers) => Promise<Response>): Promise<Response> {
    headers.set('dpop', await this.proof(method, url, accessToken));
    const first = await go(headers);
    if (!(await this.keepNonce(url, first))) return first;
    await first.body?.cancel();
    headers.set('dpop', await this.proof(method, url, accessToken));
    const second = await go(headers);
    await this.keepNonce(url, second);
    return second;
  }

  /** Keeps the response's DPoP-Nonce; true when the response refused the request for want of it. */
  private async keepNonce(url: URL, response: Response): Promise<boolean> {
    const nonce = response.headers.get('dpop-nonce');
    if (nonce === null) return false;
    // A redirect's answer comes from elsewhere: its nonce is not this origin's.
    if (response.url !== '' && new URL(response.url).origin !== url.origin) return false;
    const fresh = this.nonces.get(url.origin) !== nonce;
    this.nonces.set(url.origin, nonce);
    if (!fresh) return false;
    // §8: the authorization server's 400 use_dpop_nonce; §9: a resource server's 401 challenge.
    if (response.status === 401) return challenge(response.headers.get('www-authenticate'), 'dpop')?.error === 'use_dpop_nonce';
    if (response.status !== 400) return false;
    const body: unknown = await response.clone().json().catch(() => undefined);
    return typeof body === 'object' && body !== null && (body as { error?: unknown }).error === 'use_dpop_nonce';
  }

  /** No key material or nonce in logs: util.inspect, JSON and String show the kind of object only. */
  toJSON(): string {
    return 'DPoPKey';
  }
  toString(): string {
    return 'DPoPKey';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'DPoPKey';
  }
}
