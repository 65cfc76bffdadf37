import { describe, expect, it } from 'vitest';
import { OAuthError } from './errors.js';
import { formatScope, normalizeScope, parseScope } from './scope.js';

describe('normalizeScope', () => {
  it('is formatScope(parseScope(value)), whether or not the value is already in that form', () => {
    for (const value of ['', ' ', 'read', 'read write', 'write read', 'read read', 'read  write', ' read', 'read ', 'b a c a', 'A a', 'a:b a/b']) {
      expect(normalizeScope(value)).toBe(formatScope(parseScope(value)));
    }
  });

  it('RFC 6749 §3.3: refuses a malformed scope-token as parseScope does', () => {
    for (const value of ['read "x"', 'a\\b', 'ok caf\u00e9']) {
      expect(() => normalizeScope(value)).toThrow(OAuthError);
      expect(() => normalizeScope(value)).toThrow(/malformed scope/);
    }
  });
});
