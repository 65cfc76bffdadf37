import { describe, expect, it } from 'vitest';
import { looksLikeJwt, parseAuthorization, parseCredentials } from './bearer.js';

describe('parseAuthorization (RFC 6750 §2.1)', () => {
  it('reads the b64token after a case-insensitive Bearer scheme', () => {
    for (const header of ['Bearer abc.DEF-_~+/==', 'bearer abc.DEF-_~+/==', 'BEARER   abc.DEF-_~+/==']) {
      expect(parseAuthorization(header)).toEqual({ kind: 'token', token: 'abc.DEF-_~+/==' });
    }
  });

  it('RFC 6750 §3.1: no header, or another scheme, is "no token" (a bare challenge)', () => {
    for (const header of [undefined, null, '', '   ', 'Basic Zm9vOmJhcg==', 'Bearerx abc']) expect(parseAuthorization(header)).toEqual({ kind: 'missing' });
  });

  it('RFC 6750 §3.1: a Bearer header without a single b64token is malformed (invalid_request)', () => {
    for (const header of ['Bearer', 'Bearer ', 'Bearer a b', 'Bearer a,b', 'Bearer "abc"', 'Bearer a=b', 'Bearer tök']) {
      expect(parseAuthorization(header).kind).toBe('malformed');
    }
  });

  it('RFC 9449 §7.1: the DPoP scheme (any case) carries a token of the same syntax; parseAuthorization, Bearer only, sees no token in it', () => {
    for (const header of ['DPoP abc.DEF-_~+/==', 'dpop abc.DEF-_~+/==']) {
      expect(parseCredentials(header)).toEqual({ kind: 'dpop', token: 'abc.DEF-_~+/==' });
      expect(parseAuthorization(header)).toEqual({ kind: 'missing' });
    }
    expect(parseCredentials('Bearer abc')).toEqual({ kind: 'token', token: 'abc' });
    for (const header of ['DPoP', 'DPoP a b', 'DPoP "abc"']) expect(parseCredentials(header).kind).toBe('malformed');
    expect(parseCredentials('Basic Zm9vOmJhcg==')).toEqual({ kind: 'missing' });
  });

  it('only compact three-part tokens are treated as JWTs', () => {
    expect(looksLikeJwt('aaa.bbb.ccc')).toBe(true);
    expect(looksLikeJwt('tsa_abcdef')).toBe(false);
    expect(looksLikeJwt('a.b')).toBe(false);
  });
});
