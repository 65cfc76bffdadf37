/** The parts of DPoP proof checking the HTTP suites cannot reach: normalisation, thumbprints, nonce windows, short RSA keys. */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { DpopError, DpopNonces, DpopVerifier, jwkThumbprint, normalizeHtu } from './dpop.js';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('DPoP proofs (RFC 9449)', () => {
  it('RFC 9449 §4.3 with RFC 3986 §6.2.2-6.2.3: htu normalisation drops query and fragment, lowers scheme and host, drops the default port, decodes unreserved escapes', () => {
    expect(normalizeHtu('HTTPS://Auth.Example:443/a/%7euser/%2f/../t?q=1#f')).toBe('https://auth.example/a/~user/t');
    expect(normalizeHtu('https://auth.example')).toBe('https://auth.example/');
    expect(normalizeHtu('https://auth.example/%2f')).toBe('https://auth.example/%2F');
    expect(normalizeHtu('ftp://auth.example/')).toBeUndefined();
    expect(normalizeHtu('/token')).toBeUndefined();
  });

  it('RFC 7638: thumbprints agree with jose for EC, RSA and OKP keys', async () => {
    const keys = [
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
      generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey,
      generateKeyPairSync('ed25519').publicKey,
    ];
    for (const key of keys) {
      const jwk = key.export({ format: 'jwk' }) as JWK;
      expect(jwkThumbprint(jwk as Record<string, unknown>)).toBe(await calculateJwkThumbprint(jwk, 'sha256'));
    }
  });

  it('RFC 9449 §8: a nonce is accepted in its window and the next, then refused; two instances with one key agree', () => {
    let now = 1_800_000_000_000;
    const key = randomBytes(32);
    const a = new DpopNonces(key, 60, () => now);
    const b = new DpopNonces(key, 60, () => now);
    const nonce = a.current();
    expect(b.check(nonce)).toBe('current');
    now += 60_000;
    expect(b.check(nonce)).toBe('previous');
    expect(a.current()).not.toBe(nonce);
    now += 60_000;
    expect(a.check(nonce)).toBeUndefined();
    expect(new DpopNonces(randomBytes(32), 60, () => now).check(a.current())).toBeUndefined();
  });

  it('RFC 7518 §3.3: an RSA key shorter than 2048 bits is refused (and, for the cost of verifying, one longer than 8192)', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const input = `${b64({ typ: 'dpop+jwt', alg: 'RS256', jwk: publicKey.export({ format: 'jwk' }) })}.${b64({ jti: 'j', htm: 'POST', htu: 'https://a.example/token', iat: Date.now() / 1000 })}`;
    const proof = `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
    const verifier = new DpopVerifier({ algorithms: ['RS256'], lifetime: 60, skew: 5 });
    await expect(verifier.verify(proof, { method: 'POST', url: 'https://a.example/token' })).rejects.toThrow(DpopError);
    await expect(verifier.verify(proof, { method: 'POST', url: 'https://a.example/token' })).rejects.toThrow(/shorter than 2048 bits or longer than 8192/);
  });

  it('an RSA key whose public exponent is longer than 4 bytes is refused before any verification (a huge e costs ~30x per signature check)', async () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = publicKey.export({ format: 'jwk' }) as JWK;
    const n = Buffer.from(jwk.n as string, 'base64url');
    // e = n - 2 (odd, below n): a valid public key for node, costly to verify with.
    const e = Buffer.from(n);
    e[e.length - 1] = (e[e.length - 1] as number) - 2;
    const input = `${b64({ typ: 'dpop+jwt', alg: 'RS256', jwk: { kty: 'RSA', n: jwk.n, e: e.toString('base64url') } })}.${b64({ jti: 'j', htm: 'POST', htu: 'https://a.example/token', iat: Date.now() / 1000 })}`;
    const verifier = new DpopVerifier({ algorithms: ['RS256'], lifetime: 60, skew: 5 });
    await expect(verifier.verify(`${input}.${randomBytes(256).toString('base64url')}`, { method: 'POST', url: 'https://a.example/token' })).rejects.toThrow(/oversized public exponent/);
  });
});
