/**
 * DPoP proofs (RFC 9449 §4.2) for the tests, made with node:crypto and nothing of Tessera's: a
 * key per algorithm, proofs with any claim or header changed, and hand-made JWS for what no
 * library would sign (alg none, an HMAC, a private key in the header).
 */
import { constants, createHash, createHmac, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';

export type DpopAlg = 'ES256' | 'RS256' | 'PS256' | 'EdDSA' | 'Ed25519';

export interface DpopKey {
  alg: DpopAlg;
  privateKey: KeyObject;
  /** The public JWK, as a proof's header carries it. */
  jwk: JWK;
  /** Its private JWK (for the test that puts one in a header). */
  privateJwk: JWK;
  /** RFC 7638 thumbprint, computed by jose (not by the code under test). */
  jkt: string;
}

export async function dpopKey(alg: DpopAlg = 'ES256'): Promise<DpopKey> {
  const { privateKey, publicKey } =
    alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : alg === 'EdDSA' || alg === 'Ed25519' ? generateKeyPairSync('ed25519')
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' }) as JWK;
  return { alg, privateKey, jwk, privateJwk: privateKey.export({ format: 'jwk' }) as JWK, jkt: await calculateJwkThumbprint(jwk, 'sha256') };
}

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** RFC 9449 §4.2 ath: the access token's SHA-256, base64url. */
export const ath = (token: string): string => createHash('sha256').update(token).digest('base64url');

function signature(key: DpopKey, input: string): Buffer {
  const data = Buffer.from(input);
  if (key.alg === 'ES256') return sign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  if (key.alg === 'PS256') return sign('sha256', data, { key: key.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  if (key.alg === 'RS256') return sign('sha256', data, key.privateKey);
  return sign(null, data, key.privateKey);
}

export interface ProofClaims {
  htm: string;
  htu: string;
  ath?: string;
  nonce?: string;
  /** Seconds; now by default. */
  iat?: number;
  jti?: string;
  [claim: string]: unknown;
}

/** A DPoP proof by `key` for the request; `header` adds to or replaces the JOSE header's members (undefined removes one). */
export function proof(key: DpopKey, claims: ProofClaims, header: Record<string, unknown> = {}): string {
  const h = Object.fromEntries(Object.entries({ typ: 'dpop+jwt', alg: key.alg, jwk: key.jwk, ...header }).filter(([, v]) => v !== undefined));
  const payload = { jti: randomBytes(16).toString('base64url'), iat: Math.floor(Date.now() / 1000), ...claims };
  const input = `${b64(h)}.${b64(payload)}`;
  return `${input}.${signature(key, input).toString('base64url')}`;
}

/** A JWS no DPoP library would make: `alg` none (empty signature) or HS256 keyed with `secret`. */
export function unsignedProof(alg: 'none' | 'HS256', jwk: JWK, claims: ProofClaims, secret = randomBytes(32)): string {
  const payload = { jti: randomBytes(16).toString('base64url'), iat: Math.floor(Date.now() / 1000), ...claims };
  const input = `${b64({ typ: 'dpop+jwt', alg, jwk })}.${b64(payload)}`;
  return `${input}.${alg === 'none' ? '' : createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** The payload of a JWT (an access token), unverified. */
export const payloadOf = (jwt: string): Record<string, unknown> => JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8'));
