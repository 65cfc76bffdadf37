import { describe, expect, it } from 'vitest';
import { OAuthError } from './errors.js';
import { parseBasicAuth } from './form.js';

const basic = (id: string, secret: string) => `Basic ${btoa(`${id}:${secret}`)}`;

describe('parseBasicAuth (RFC 6749 §2.3.1)', () => {
  it('returns machine-made credentials (nothing to decode) as they are', () => {
    expect(parseBasicAuth(basic('019abcdef0123456789abcdef0123456', 'tss_AbC-_x09'))).toEqual({ id: '019abcdef0123456789abcdef0123456', secret: 'tss_AbC-_x09' });
  });

  it('form-decodes each part: "+" is a space, %XX an octet of UTF-8', () => {
    expect(parseBasicAuth(basic('my+client', 'p%40ss%3Aw+rd%2B%2F%C3%A9'))).toEqual({ id: 'my client', secret: 'p@ss:w rd+/é' });
  });

  it('ignores no header and other schemes; refuses malformed Basic credentials', () => {
    expect(parseBasicAuth(undefined)).toBeUndefined();
    expect(parseBasicAuth('Bearer abc')).toBeUndefined();
    expect(parseBasicAuth('Basicx abc')).toBeUndefined();
    for (const header of [`Basic ${btoa('no-colon')}`, 'Basic a', basic('id', '%E0%A4%A')]) expect(() => parseBasicAuth(header)).toThrow(OAuthError);
    // Two fields joined (RFC 9110 §5.3): never the first read alone.
    for (const header of ['Basic !!!', 'Basic', `${basic('id', 's')}, ${basic('id', 't')}`, `${basic('id', 's')}, Bearer x`]) {
      expect(() => parseBasicAuth(header), header).toThrow(OAuthError);
    }
  });
});
