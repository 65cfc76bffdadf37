import { describe, expect, it } from 'vitest';
import type { TokenRecord } from '../store/types.js';
import { tokenResponse } from './token-response.js';

const record = (kind: TokenRecord['kind'], scope: string): TokenRecord => ({
  id: kind, hash: 'h', kind, format: 'opaque', grantId: 'g', familyId: 'f', parentId: null,
  clientId: 'c', userId: null, scope, issuedAt: 0, expiresAt: 3_600_000, revokedAt: null, consumedAt: null, authTime: null, dpopJkt: null,
});

describe('RFC 6749 §5.1 token response', () => {
  it('has access_token, token_type Bearer, expires_in in seconds and the access token scope', () => {
    expect(tokenResponse({ access: { value: 'tsa_x', record: record('access', 'read') }, expiresIn: 3600 }))
      .toEqual({ access_token: 'tsa_x', token_type: 'Bearer', expires_in: 3600, scope: 'read' });
  });
  it('adds refresh_token only when one was issued', () => {
    const body = tokenResponse({ access: { value: 'a', record: record('access', 'read') }, refresh: { value: 'r', record: record('refresh', 'read write') }, expiresIn: 60 });
    expect(body.refresh_token).toBe('r');
    expect(body.scope).toBe('read');
  });
  it('RFC 9449 §5: token_type DPoP when the access token is bound to a DPoP key', () => {
    const bound = { ...record('access', 'read'), dpopJkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' };
    expect(tokenResponse({ access: { value: 'a', record: bound }, expiresIn: 60 }).token_type).toBe('DPoP');
  });
});
