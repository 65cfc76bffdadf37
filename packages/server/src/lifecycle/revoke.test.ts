import { describe, expect, it } from 'vitest';
import type { TokenRecord } from '../store/types.js';
import { describe as describeTarget, revocationTarget } from './revoke.js';

const token = (kind: TokenRecord['kind']): TokenRecord => ({
  id: 't1', hash: 'h', kind, format: 'opaque', grantId: 'g1', familyId: 'f1', parentId: null,
  clientId: 'c1', userId: 'u1', scope: 'read', issuedAt: 0, expiresAt: 1, revokedAt: null, consumedAt: null, authTime: null, dpopJkt: null,
});

describe('revocationTarget (RFC 7009 §2.1), shared by /revoke and `tessera token revoke`', () => {
  it('revoking a refresh token revokes its grant, with every access token of it', () => {
    expect(revocationTarget(token('refresh'))).toEqual({ grant: 'g1' });
  });
  it('revoking an access token revokes that token alone', () => {
    expect(revocationTarget(token('access'))).toEqual({ token: 't1' });
  });
});

describe('describe names a revocation target in words', () => {
  it('for audit records and the CLI', () => {
    expect(describeTarget({ family: 'f1', grant: 'g1' })).toBe('family f1');
    expect(describeTarget({ grant: 'g1' })).toBe('grant g1');
    expect(describeTarget({ issuedBefore: 0 })).toBe('issued before 1970-01-01T00:00:00.000Z');
  });
});
