import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashSecret, idInSecret, openSealedSecret, randomId, randomSecret, sealSecret, secretFor } from './secrets.js';

describe('secrets drawn from the random pool', () => {
  it('keep their formats: a 32-hex-digit id, 256 bits base64url', () => {
    expect(randomId()).toMatch(/^[0-9a-f]{32}$/);
    expect(randomSecret('tss_')).toMatch(/^tss_[\w-]{43}$/);
    const id = randomId();
    const value = secretFor('tsa_', id);
    expect(value).toMatch(/^tsa_[0-9a-f]{32}[\w-]{43}$/);
    expect(idInSecret(value)).toBe(id);
  });

  it('never repeat, across many refills of the pool', () => {
    const seen = new Set<string>();
    // 3,000 × (32 + 10) bytes: the 8 KiB pool is refilled about 15 times.
    for (let i = 0; i < 3000; i++) {
      seen.add(randomSecret());
      seen.add(randomId().slice(12));
    }
    expect(seen.size).toBe(6000);
  });
});

describe('hashSecret', () => {
  it('is the SHA-256 of the UTF-8 value, base64url', () => {
    for (const value of ['tsa_abc', 'é ü 🙂', '']) expect(hashSecret(value)).toBe(createHash('sha256').update(value, 'utf8').digest('base64url'));
  });
});

describe('sealed secrets (client_secret_jwt)', () => {
  it('open under the key and context they were sealed with, and under nothing else', () => {
    const [key, other] = [randomBytes(32), randomBytes(32)];
    const sealed = sealSecret(key, 'tss_secret', 'client-a');
    expect(sealed).not.toContain('tss_secret');
    expect(openSealedSecret(key, sealed, 'client-a')).toBe('tss_secret');
    // Another key, another client's row, an altered byte, another format: nothing.
    expect(openSealedSecret(other, sealed, 'client-a')).toBeUndefined();
    expect(openSealedSecret(key, sealed, 'client-b')).toBeUndefined();
    const [v, iv, data, tag] = sealed.split('.') as [string, string, string, string];
    const flipped = (data[0] === 'A' ? 'B' : 'A') + data.slice(1);
    expect(openSealedSecret(key, [v, iv, flipped, tag].join('.'), 'client-a')).toBeUndefined();
    expect(openSealedSecret(key, 'v2.x.y.z', 'client-a')).toBeUndefined();
    // A fresh IV each time: sealing twice gives two values.
    expect(sealSecret(key, 'tss_secret', 'client-a')).not.toBe(sealed);
  });
});
