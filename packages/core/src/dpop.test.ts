/** The parts of DPoP proof checking the HTTP suites cannot reach: normalisation, thumbprints, nonce windows, short RSA keys. */
import { generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { DpopError, DpopNonces, DpopVerifier, jwkThumbprint, normalizeHtu } from './dpop.js';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const TARGET = { method: 'GET', url: 'https://api.example/notes' };

/** An ES256 proof for TARGET signed by `signer`, whose header carries `jwk`. */
function es256Proof(signer: KeyObject, jwk: unknown): string {
  const input = `${b64({ typ: 'dpop+jwt', alg: 'ES256', jwk })}.${b64({ jti: randomBytes(16).toString('base64url'), htm: 'GET', htu: TARGET.url, iat: Math.floor(Date.now() / 1000) })}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: signer, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

describe('DPoP proofs (RFC 9449)', () => {
  it('RFC 9449 §4.3 with RFC 3986 §6.2.2-6.2.3: htu normalisation drops query and fragment, lowers scheme and host, drops the default port, decodes unreserved escapes', () => {
    expect(normalizeHtu('HTTPS://Auth.Example:443/a/%7euser/%2f/../t?q=1#f')).toBe('https://auth.example/a/~user/t');
    expect(normalizeHtu('https://auth.example')).toBe('https://auth.example/');
    expect(normalizeHtu('https://auth.example/%2f')).toBe('https://auth.example/%2F');
    expect(normalizeHtu('ftp://auth.example/')).toBeUndefined();
    expect(normalizeHtu('/token')).toBeUndefined();
    // RFC 3986 §2: characters no URI holds, which the WHATWG parser would drop or rewrite, match nothing.
    for (const loose of ['https://auth.example/token\u0000', 'https://auth.example/token ', ' https://auth.example/token', 'https://auth.example/to\tken', 'https://auth.example/to\nken', 'https:\\\\auth.example\\token', 'https://auth.example/tök']) {
      expect(normalizeHtu(loose), JSON.stringify(loose)).toBeUndefined();
    }
  });

  it('a jti with a lone surrogate or a control character is refused: it is not text every store keeps apart (PostgreSQL turns a lone surrogate into U+FFFD and holds no NUL)', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const verifier = new DpopVerifier({ algorithms: ['ES256'], lifetime: 60, skew: 5 });
    const proof = (jti: string) => {
      const input = `${b64({ typ: 'dpop+jwt', alg: 'ES256', jwk: publicKey.export({ format: 'jwk' }) })}.${b64({ jti, htm: 'GET', htu: TARGET.url, iat: Math.floor(Date.now() / 1000) })}`;
      return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
    };
    for (const jti of ['\ud800', 'a\udc00b', 'a\u0000b', 'line\nbreak', '\u007f']) {
      await expect(verifier.verify(proof(jti), TARGET), JSON.stringify(jti)).rejects.toThrow(/jti is not text: a control character or a lone surrogate/);
    }
    expect((await verifier.verify(proof('jti-\u{1F600}-é'), TARGET)).jti).toBe('jti-\u{1F600}-é');
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

  it('RFC 9449 §4.3 item 6: a proof signed by key A whose header carries key B is refused, after B\'s key was imported and remembered as well as before', async () => {
    const a = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const b = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const bJwk = b.publicKey.export({ format: 'jwk' });
    const verifier = new DpopVerifier({ algorithms: ['ES256'], lifetime: 60, skew: 5 });
    await expect(verifier.verify(es256Proof(a.privateKey, bJwk), TARGET)).rejects.toThrow(/signature is invalid/);
    // B's own proof: B's key is imported and remembered by its header.
    expect((await verifier.verify(es256Proof(b.privateKey, bJwk), TARGET)).jkt).toBe(jwkThumbprint(bJwk as Record<string, unknown>));
    // The same header (B's key) over A's signature, and B's key written another way.
    await expect(verifier.verify(es256Proof(a.privateKey, bJwk), TARGET)).rejects.toThrow(/signature is invalid/);
    const { x, y, crv, kty } = bJwk;
    await expect(verifier.verify(es256Proof(a.privateKey, { y, x, kty, crv, kid: 'b' }), TARGET)).rejects.toThrow(/signature is invalid/);
    // And A's key still verifies A's proofs, with A's thumbprint.
    const aJwk = a.publicKey.export({ format: 'jwk' });
    expect((await verifier.verify(es256Proof(a.privateKey, aJwk), TARGET)).jkt).toBe(jwkThumbprint(aJwk as Record<string, unknown>));
  });

  it('RFC 7638, RFC 9449 §6: two keys give two jkt; one key written two ways (member order, extra members) gives one', async () => {
    const verifier = new DpopVerifier({ algorithms: ['ES256'], lifetime: 60, skew: 5 });
    const keys = [generateKeyPairSync('ec', { namedCurve: 'P-256' }), generateKeyPairSync('ec', { namedCurve: 'P-256' })];
    const jkts: string[] = [];
    for (const { privateKey, publicKey } of keys) {
      const jwk = publicKey.export({ format: 'jwk' }) as JWK;
      const { x, y, crv, kty } = jwk;
      const first = await verifier.verify(es256Proof(privateKey, jwk), TARGET);
      const again = await verifier.verify(es256Proof(privateKey, { y, x, kty, crv, alg: 'ES256', kid: 'k' }), TARGET);
      expect(first.jkt).toBe(await calculateJwkThumbprint(jwk, 'sha256'));
      expect(again.jkt).toBe(first.jkt);
      jkts.push(first.jkt);
    }
    expect(jkts[0]).not.toBe(jkts[1]);
  });

  it('RFC 7515 §2: proof segments in any but their one canonical base64url encoding are refused (padding, other alphabets, spare bits set)', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const verifier = new DpopVerifier({ algorithms: ['ES256'], lifetime: 60, skew: 5 });
    const good = es256Proof(privateKey, publicKey.export({ format: 'jwk' }));
    const [h, p, s] = good.split('.') as [string, string, string];
    expect((await verifier.verify(good, TARGET)).jti).toBeTruthy();
    // An ES256 signature is 64 bytes: 86 characters, the last one's 4 low bits unused.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const spareBitSet = alphabet[alphabet.indexOf(s.slice(-1)) | 1];
    const variants = [
      `${h}.${p}.${s}==`,
      `${h}.${p}.${s.slice(0, -1)}${spareBitSet}`,
      `${h}.${p}.${s}AAA`,
      `${h}.${p}.+${s.slice(1)}`,
      `${h}.${p}==.${s}`,
      `${h}.${p.slice(0, 10)} ${p.slice(10)}.${s}`,
    ];
    for (const proof of variants) await expect(verifier.verify(proof, TARGET)).rejects.toThrow(/not canonical base64url/);
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
