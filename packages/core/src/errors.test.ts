import { describe, expect, it } from 'vitest';
import { OAuthError } from './errors.js';

describe('OAuthError wire form', () => {
  it('RFC 6749 §5.2: error_description is sent only in %x20-21 / %x23-5B / %x5D-7E', () => {
    const err = new OAuthError('invalid_scope', 'tokens exclude " and \\ (RFC 6749 §3.3)\r\n\u00ff\u{1f600}');
    const { error_description } = err.toJSON();
    expect(error_description).toBe("tokens exclude ' and / (RFC 6749 section 3.3)????");
    expect(error_description).toMatch(/^[\x20\x21\x23-\x5b\x5d-\x7e]*$/);
  });

  it('server_error never exposes its description', () => {
    expect(new OAuthError('server_error', 'database is locked').toJSON()).toEqual({ error: 'server_error' });
  });
});
