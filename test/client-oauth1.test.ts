/**
 * OAuth 1.0a (RFC 5849) in @tessera/client, without a server: the signature base string and the
 * signatures proven by the RFC's own examples (§1.2, §2.1, §2.3, §3.1, §3.4.1), the encoding
 * (§3.6), the placements (§3.5), the nonce (§3.3), and the session's checks of what comes back.
 * The same code against a real provider (oauthlib's) is test/client-oauth1-oauthlib.test.ts.
 */
import { createHmac, type webcrypto } from 'node:crypto';
import { ConfigurationError, InvalidResponseError, NetworkError, OAuth1Session, OAuthResponseError, signatureBaseString, signRequest } from '@tessera/client';
import { describe, expect, it } from 'vitest';

/** The RFC's multi-line strings, as one line ("line breaks are for display purposes only"). */
const joined = (...lines: string[]) => lines.join('');
const header = (...params: string[]) => `OAuth ${params.join(', ')}`;

// RFC 5849 §3.1 and §3.4.1.1: the request, its protocol parameters and the client's secrets.
const RFC_REQUEST_URL = 'http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b';
const RFC_OAUTH = {
  oauth_consumer_key: '9djdj82h48djs9d2',
  oauth_token: 'kkk9d7dh3k39sjv7',
  oauth_signature_method: 'HMAC-SHA1',
  oauth_timestamp: '137131201',
  oauth_nonce: '7d8f3e4a',
};
const RFC_BASE_STRING = joined(
  'POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q',
  '%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_',
  'key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_m',
  'ethod%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk',
  '9d7dh3k39sjv7',
);
const rfcRequest = () =>
  new Request(RFC_REQUEST_URL, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'c2&a3=2+q' });

// RFC 5849 §1.2: the printer, the photo site, and their credentials.
const PRINTER = { clientKey: 'dpf43f3p2l4k3l03', clientSecret: 'kd94hf93k423kf44', signatureMethod: 'HMAC-SHA1' } as const;

const oauthParams = (authorization: string | null): Record<string, string> =>
  Object.fromEntries([...(authorization ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], decodeURIComponent(m[2] as string)]));

describe('the signature base string (RFC 5849 §3.4.1), by the RFC\'s examples', () => {
  it('§3.4.1.1: the example request gives the RFC\'s base string, character for character', () => {
    const base = signatureBaseString('POST', RFC_REQUEST_URL, [['c2', ''], ['a3', '2 q'], ...Object.entries(RFC_OAUTH)]);
    expect(base).toBe(RFC_BASE_STRING);
  });

  it('§3.4.1.3.2: its parameters normalise to the RFC\'s concatenated pairs (encoded, sorted by name then value, "=" even when empty)', () => {
    const base = signatureBaseString('POST', RFC_REQUEST_URL, [['c2', ''], ['a3', '2 q'], ...Object.entries(RFC_OAUTH)]);
    expect(decodeURIComponent(base.split('&')[2] as string)).toBe(joined(
      'a2=r%20b&a3=2%20q&a3=a&b5=%3D%253D&c%40=&c2=&oauth_consumer_key=9dj',
      'dj82h48djs9d2&oauth_nonce=7d8f3e4a&oauth_signature_method=HMAC-SHA1',
      '&oauth_timestamp=137131201&oauth_token=kkk9d7dh3k39sjv7',
    ));
  });

  it('§3.4.1.3.1: signing the example request reads its form body ("c2&a3=2+q": "+" is a space) and leaves out realm and oauth_signature', async () => {
    const signed = await signRequest(rfcRequest(), { clientKey: '9djdj82h48djs9d2', token: 'kkk9d7dh3k39sjv7', clientSecret: 'j49sk3j29djd', tokenSecret: 'dh893hdasih9', signatureMethod: 'HMAC-SHA1' }, {
      realm: 'Example', nonce: '7d8f3e4a', timestamp: 137131201, includeVersion: false,
    });
    // §3.1 prints "bYT5CMsGcbgUdFHObYMEfcx6bsw=" for this request, a known misprint: it is not the
    // HMAC-SHA1 of the RFC's own base string under the RFC's secrets. node:crypto computes that here.
    const expected = createHmac('sha1', 'j49sk3j29djd&dh893hdasih9').update(RFC_BASE_STRING).digest('base64');
    expect(expected).toBe('r6/TJjbCOr97/+UU0NsvSne7s5g=');
    expect(signed.headers.get('authorization')).toBe(header(
      'realm="Example"', 'oauth_consumer_key="9djdj82h48djs9d2"', 'oauth_token="kkk9d7dh3k39sjv7"', 'oauth_signature_method="HMAC-SHA1"',
      'oauth_timestamp="137131201"', 'oauth_nonce="7d8f3e4a"', 'oauth_signature="r6%2FTJjbCOr97%2F%2BUU0NsvSne7s5g%3D"',
    ));
    // The body and the URL go out unchanged.
    expect([signed.url, await signed.text()]).toEqual([RFC_REQUEST_URL, 'c2&a3=2+q']);
  });

  it('§3.4.1.2: scheme and host lowercased, the path kept as sent, no query or fragment (the RFC\'s two examples)', () => {
    expect(signatureBaseString('GET', 'http://EXAMPLE.COM:80/r%20v/X?id=123').split('&').slice(0, 2)).toEqual(['GET', 'http%3A%2F%2Fexample.com%2Fr%2520v%2FX']);
    expect(signatureBaseString('GET', 'HTTPS://www.example.net:8080/?q=1#frag').split('&').slice(0, 2)).toEqual(['GET', 'https%3A%2F%2Fwww.example.net%3A8080%2F']);
  });

  it('§3.4.1.2: the port is left out when it is the scheme\'s default (80 for http, 443 for https) and kept otherwise', () => {
    const uri = (url: string) => decodeURIComponent(signatureBaseString('GET', url).split('&')[1] as string);
    expect(uri('http://example.com:80/a')).toBe('http://example.com/a');
    expect(uri('https://example.com:443/a')).toBe('https://example.com/a');
    expect(uri('http://example.com:443/a')).toBe('http://example.com:443/a');
    expect(uri('https://example.com:80/a')).toBe('https://example.com:80/a');
    expect(uri('https://example.com:8443/a')).toBe('https://example.com:8443/a');
    expect(uri('http://127.0.0.1:8080')).toBe('http://127.0.0.1:8080/');
  });

  it('§3.4.1.1: the method is uppercased, and a custom method encoded', () => {
    expect(signatureBaseString('patch', 'https://example.com/').split('&')[0]).toBe('PATCH');
    expect(signatureBaseString('M-SEARCH', 'https://example.com/').split('&')[0]).toBe('M-SEARCH');
  });

  it('§3.4.1.3.1: a query parameter named realm is signed like any other (only the header\'s realm is not a parameter)', () => {
    expect(signatureBaseString('GET', 'https://example.com/?realm=x').split('&')[2]).toBe('realm%3Dx');
  });

  it('§3.4.1.3.2: a repeated name sorts by value, an empty value keeps its "=", and the sort is by the encoded bytes', () => {
    const base = signatureBaseString('GET', 'https://example.com/?b=2&a=z&a=&a=Z&%C3%A9=1&~=1&B=1&a_b=1');
    expect(decodeURIComponent(base.split('&')[2] as string)).toBe('%C3%A9=1&B=1&a=&a=Z&a=z&a_b=1&b=2&~=1');
  });
});

describe('the signatures (RFC 5849 §3.4), by the RFC\'s examples', () => {
  it('§1.2: the temporary credentials request has the RFC\'s Authorization header, signature included', async () => {
    const signed = await signRequest(new Request('https://photos.example.net/initiate', { method: 'POST' }), PRINTER, {
      realm: 'Photos', timestamp: 137131200, nonce: 'wIjqoS', includeVersion: false, parameters: { oauth_callback: 'http://printer.example.com/ready' },
    });
    expect(signed.headers.get('authorization')).toBe(header(
      'realm="Photos"', 'oauth_consumer_key="dpf43f3p2l4k3l03"', 'oauth_signature_method="HMAC-SHA1"', 'oauth_timestamp="137131200"',
      'oauth_nonce="wIjqoS"', 'oauth_callback="http%3A%2F%2Fprinter.example.com%2Fready"', 'oauth_signature="74KNZJeDHnMBp0EMJ9ZHt%2FXKycU%3D"',
    ));
  });

  it('§1.2: the token credentials request, signed with the temporary credentials and the verifier, has the RFC\'s header', async () => {
    const signed = await signRequest(new Request('https://photos.example.net/token', { method: 'POST' }), { ...PRINTER, token: 'hh5s93j4hdidpola', tokenSecret: 'hdhd0244k9j7ao03' }, {
      realm: 'Photos', timestamp: 137131201, nonce: 'walatlh', includeVersion: false, parameters: { oauth_verifier: 'hfdp7dh39dks9884' },
    });
    expect(signed.headers.get('authorization')).toBe(header(
      'realm="Photos"', 'oauth_consumer_key="dpf43f3p2l4k3l03"', 'oauth_token="hh5s93j4hdidpola"', 'oauth_signature_method="HMAC-SHA1"',
      'oauth_timestamp="137131201"', 'oauth_nonce="walatlh"', 'oauth_verifier="hfdp7dh39dks9884"', 'oauth_signature="gKgrFCywp7rO0OXSjdot%2FIHF7IU%3D"',
    ));
  });

  it('§1.2: the photo request, signed with the token credentials, has the RFC\'s header', async () => {
    const signed = await signRequest(new Request('http://photos.example.net/photos?file=vacation.jpg&size=original'), { ...PRINTER, token: 'nnch734d00sl2jdk', tokenSecret: 'pfkkdhi9sl3r4s00' }, {
      realm: 'Photos', timestamp: 137131202, nonce: 'chapoH', includeVersion: false,
    });
    expect(signed.headers.get('authorization')).toBe(header(
      'realm="Photos"', 'oauth_consumer_key="dpf43f3p2l4k3l03"', 'oauth_token="nnch734d00sl2jdk"', 'oauth_signature_method="HMAC-SHA1"',
      'oauth_timestamp="137131202"', 'oauth_nonce="chapoH"', 'oauth_signature="MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D"',
    ));
  });

  it('§3.4.4 with §2.1 and §2.3\'s examples: PLAINTEXT is the encoded secrets joined by "&", the "&" even without a token secret', async () => {
    const client = { clientKey: 'jd83jd92dhsh93js', clientSecret: 'ja893SD9', signatureMethod: 'PLAINTEXT' } as const;
    const temporary = await signRequest(new Request('https://server.example.com/request_temp_credentials', { method: 'POST' }), client, { parameters: { oauth_callback: 'http://client.example.net/cb?x=1' } });
    expect(temporary.headers.get('authorization')).toContain('oauth_signature="ja893SD9%26"');
    expect(temporary.headers.get('authorization')).toContain('oauth_callback="http%3A%2F%2Fclient.example.net%2Fcb%3Fx%3D1"');
    const token = await signRequest(new Request('https://server.example.com/request_token', { method: 'POST' }), { ...client, token: 'hdk48Djdsa', tokenSecret: 'xyz4992k83j47x0b' }, {
      parameters: { oauth_verifier: '473f82d3' },
    });
    expect(token.headers.get('authorization')).toContain('oauth_signature="ja893SD9%26xyz4992k83j47x0b"');
  });

  it('§3.4.2: secrets are percent-encoded into the HMAC key (here checked against node:crypto, for HMAC-SHA1 and HMAC-SHA256)', async () => {
    for (const [method, hash] of [['HMAC-SHA1', 'sha1'], ['HMAC-SHA256', 'sha256']] as const) {
      const signed = await signRequest(new Request('https://api.example/x?q=1'), { clientKey: 'k', clientSecret: 'a b&c/é', token: 't', tokenSecret: '~+%', signatureMethod: method }, {
        nonce: 'n', timestamp: 1, includeVersion: false,
      });
      const base = signatureBaseString('GET', 'https://api.example/x?q=1', Object.entries({ oauth_consumer_key: 'k', oauth_token: 't', oauth_signature_method: method, oauth_timestamp: '1', oauth_nonce: 'n' }));
      const expected = createHmac(hash, 'a%20b%26c%2F%C3%A9&~%2B%25').update(base).digest('base64');
      expect(oauthParams(signed.headers.get('authorization')).oauth_signature).toBe(expected);
    }
  });

  it('§3.4.3: RSA-SHA1 is RSASSA-PKCS1-v1_5 with SHA-1 over the base string, as the public key verifies', async () => {
    const { privateKey, publicKey } = (await crypto.subtle.generateKey(
      { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-1' }, false, ['sign', 'verify'],
    )) as webcrypto.CryptoKeyPair;
    const signed = await signRequest(new Request('https://api.example/photos?size=original'), { clientKey: 'k', signatureMethod: 'RSA-SHA1', rsaKey: privateKey, token: 't' }, { nonce: 'n', timestamp: 2 });
    const params = oauthParams(signed.headers.get('authorization'));
    const base = signatureBaseString('GET', 'https://api.example/photos?size=original', Object.entries(params).filter(([n]) => n !== 'oauth_signature'));
    const signature = Uint8Array.from(atob(params.oauth_signature as string), (c) => c.charCodeAt(0));
    expect(await crypto.subtle.verify('RSASSA-PKCS1-v1_5', publicKey, signature, new TextEncoder().encode(base))).toBe(true);
    expect(await crypto.subtle.verify('RSASSA-PKCS1-v1_5', publicKey, signature, new TextEncoder().encode(base.replace('original', 'thumb')))).toBe(false);
  });
});

describe('encoding and placement (RFC 5849 §3.5, §3.6)', () => {
  const client = { clientKey: 'key', clientSecret: 'secret', signatureMethod: 'HMAC-SHA1' } as const;

  it('§3.6: only unreserved characters stay as they are; everything else is UTF-8 in %XX with uppercase hex (!*\'() too, and "+" and space differ)', async () => {
    const signed = await signRequest(new Request('https://api.example/', { method: 'POST' }), client, { parameters: { oauth_callback: "https://c.example/?a=b c+d!*'()~-._é€😀" } });
    expect(signed.headers.get('authorization')).toContain(
      'oauth_callback="https%3A%2F%2Fc.example%2F%3Fa%3Db%20c%2Bd%21%2A%27%28%29~-._%C3%A9%E2%82%AC%F0%9F%98%80"',
    );
  });

  it('§3.5.3: in the query, the protocol parameters follow the request\'s own; §3.4.1.3.1: and they are signed like them', async () => {
    const signed = await signRequest(new Request('https://api.example/x?b=1&a=%20'), client, { placement: 'query', nonce: 'n', timestamp: 3 });
    const url = new URL(signed.url);
    expect(url.search).toMatch(/^\?b=1&a=%20&oauth_consumer_key=key&oauth_signature_method=HMAC-SHA1&oauth_timestamp=3&oauth_nonce=n&oauth_version=1\.0&oauth_signature=[A-Za-z0-9%]+$/);
    expect(signed.headers.has('authorization')).toBe(false);
    const query = [...url.searchParams];
    const base = signatureBaseString('GET', signed.url.replace(/&oauth_signature=.*$/, ''));
    const expected = createHmac('sha1', 'secret&').update(base).digest('base64');
    expect(query.at(-1)).toEqual(['oauth_signature', expected]);
  });

  it('§3.5.2: in a form body, the protocol parameters follow the body\'s own; an empty POST gets a form body of its own', async () => {
    const withForm = await signRequest(new Request('https://api.example/x', { method: 'POST', body: new URLSearchParams({ title: 'a b' }) }), client, { placement: 'body' });
    expect(await withForm.text()).toMatch(/^title=a\+b&oauth_consumer_key=key&oauth_signature_method=HMAC-SHA1&oauth_timestamp=\d+&oauth_nonce=\w+&oauth_version=1\.0&oauth_signature=/);
    expect(withForm.headers.get('content-type')).toBe('application/x-www-form-urlencoded;charset=UTF-8');
    const empty = await signRequest(new Request('https://api.example/x', { method: 'POST' }), client, { placement: 'body' });
    expect(await empty.text()).toMatch(/^oauth_consumer_key=key&/);
    expect(empty.headers.get('content-type')).toBe('application/x-www-form-urlencoded');
  });

  it('§3.5.2: no form body for a GET, or over a body of another type: a ConfigurationError, not a request the server cannot verify', async () => {
    await expect(signRequest(new Request('https://api.example/x'), client, { placement: 'body' })).rejects.toBeInstanceOf(ConfigurationError);
    const json = new Request('https://api.example/x', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    await expect(signRequest(json, client, { placement: 'body' })).rejects.toBeInstanceOf(ConfigurationError);
  });

  it('§3.4.1.3.1: a body that is not application/x-www-form-urlencoded is not signed, and goes out unchanged', async () => {
    const body = 'a=1&b=2';
    const signed = await signRequest(new Request('https://api.example/x', { method: 'PUT', headers: { 'content-type': 'text/plain' }, body }), client, { nonce: 'n', timestamp: 4 });
    const params = oauthParams(signed.headers.get('authorization'));
    const base = signatureBaseString('PUT', 'https://api.example/x', Object.entries(params).filter(([n]) => n !== 'oauth_signature'));
    expect(params.oauth_signature).toBe(createHmac('sha1', 'secret&').update(base).digest('base64'));
    expect(await signed.text()).toBe(body);
  });

  it('§3.1, §3.5: a request that already carries oauth_ parameters is refused (each once, and in one place only)', async () => {
    await expect(signRequest(new Request('https://api.example/x?oauth_token=t'), client)).rejects.toBeInstanceOf(ConfigurationError);
    await expect(signRequest(new Request('https://api.example/x', { method: 'POST', body: new URLSearchParams({ oauth_nonce: 'n' }) }), client)).rejects.toBeInstanceOf(ConfigurationError);
  });

  it('§3.3: every request gets a fresh random nonce (24 letters and digits, as strict servers want) and the current timestamp', async () => {
    const now = Math.floor(Date.now() / 1000);
    const params = await Promise.all(Array.from({ length: 200 }, async () => oauthParams((await signRequest(new Request('https://api.example/'), client)).headers.get('authorization'))));
    expect(new Set(params.map((p) => p.oauth_nonce)).size).toBe(200);
    for (const p of params) {
      expect(p.oauth_nonce).toMatch(/^[A-Za-z0-9]{24}$/);
      expect(Number(p.oauth_timestamp)).toBeGreaterThanOrEqual(now);
      expect(Number(p.oauth_timestamp)).toBeLessThanOrEqual(now + 5);
      expect(p.oauth_version).toBe('1.0');
    }
  });
});

describe('OAuth1Session: what comes back is checked (RFC 5849 §2)', () => {
  const form = (status: number, body: string, headers: Record<string, string> = {}) =>
    new Response(body, { status, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });
  const sessionAnswering = (response: () => Response, options: Partial<ConstructorParameters<typeof OAuth1Session>[0]> = {}) =>
    new OAuth1Session({ clientKey: 'key', clientSecret: 'secret', callbackUri: 'https://app.example/cb', fetch: async () => response(), ...options });

  it('§2.1: temporary credentials without oauth_callback_confirmed=true are refused (an OAuth Core 1.0 server, open to session fixation)', async () => {
    const session = sessionAnswering(() => form(200, 'oauth_token=t&oauth_token_secret=s'));
    await expect(session.fetchRequestToken('https://api.example/initiate')).rejects.toBeInstanceOf(InvalidResponseError);
    expect(session.getToken()).toBeUndefined();
    const confirmed = sessionAnswering(() => form(200, 'oauth_token=t&oauth_token_secret=s&oauth_callback_confirmed=true'));
    expect(await confirmed.fetchRequestToken('https://api.example/initiate')).toEqual({ oauth_token: 't', oauth_token_secret: 's', oauth_callback_confirmed: 'true' });
  });

  it('§2.3: token credentials need oauth_token and oauth_token_secret, each once; extra parameters are kept', async () => {
    for (const body of ['oauth_token_secret=s', 'oauth_token=t', 'oauth_token=t&oauth_token=u&oauth_token_secret=s']) {
      const session = sessionAnswering(() => form(200, body), { token: 'temp', tokenSecret: 'ts' });
      await expect(session.fetchAccessToken('https://api.example/token', 'v')).rejects.toBeInstanceOf(InvalidResponseError);
    }
    const session = sessionAnswering(() => form(200, 'oauth_token=t&oauth_token_secret=s&user_id=42'), { token: 'temp', tokenSecret: 'ts' });
    expect(await session.fetchAccessToken('https://api.example/token', 'v')).toEqual({ oauth_token: 't', oauth_token_secret: 's', user_id: '42' });
  });

  it('a stated error (oauthlib\'s error=, Problem Reporting\'s oauth_problem=) is an OAuthResponseError; anything else an InvalidResponseError', async () => {
    const oauthlib = sessionAnswering(() => form(400, 'error=invalid_request&error_description=Invalid+realm'));
    await expect(oauthlib.fetchRequestToken('https://api.example/initiate')).rejects.toMatchObject({ code: 'ERR_OAUTH_RESPONSE', error: 'invalid_request', error_description: 'Invalid realm', status: 400 });
    const problem = sessionAnswering(() => form(401, 'oauth_problem=timestamp_refused&oauth_problem_advice=clock'));
    const err = await problem.fetchRequestToken('https://api.example/initiate').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OAuthResponseError);
    expect(err).toMatchObject({ error: 'timestamp_refused', error_description: 'clock', status: 401 });
    const bare = sessionAnswering(() => new Response('', { status: 401 }));
    await expect(bare.fetchRequestToken('https://api.example/initiate')).rejects.toMatchObject({ code: 'ERR_INVALID_RESPONSE', status: 401 });
  });

  it('§2.2: the callback must name this session\'s temporary credentials and carry a verifier, each once', async () => {
    const session = sessionAnswering(() => form(200, 'oauth_token=temp&oauth_token_secret=s&oauth_callback_confirmed=true'));
    await session.fetchRequestToken('https://api.example/initiate');
    expect(session.authorizationUrl('https://api.example/authorize?lang=en')).toBe('https://api.example/authorize?lang=en&oauth_token=temp');
    expect(() => session.parseAuthorizationResponse('https://app.example/cb?oauth_token=other&oauth_verifier=v')).toThrow(InvalidResponseError);
    expect(() => session.parseAuthorizationResponse('https://app.example/cb?oauth_token=temp')).toThrow(InvalidResponseError);
    expect(() => session.parseAuthorizationResponse('https://app.example/cb?oauth_token=temp&oauth_verifier=v&oauth_verifier=w')).toThrow(InvalidResponseError);
    expect(session.parseAuthorizationResponse('https://app.example/cb?oauth_token=temp&oauth_verifier=v')).toEqual({ oauth_token: 'temp', oauth_verifier: 'v' });
  });

  it('options that cannot work are a ConfigurationError at construction, naming no secret', () => {
    const cases: ConstructorParameters<typeof OAuth1Session>[0][] = [
      { clientKey: '', clientSecret: 's3cr3t' },
      { clientKey: 'k', signatureMethod: 'HMAC-SHA1' },
      { clientKey: 'k', clientSecret: 's3cr3t', signatureMethod: 'RSA-SHA1' },
      { clientKey: 'k', clientSecret: 's3cr3t', signatureMethod: 'HMAC-MD5' as 'HMAC-SHA1' },
      { clientKey: 'k', clientSecret: 's3cr3t', tokenSecret: 'tok3nsecret' },
      { clientKey: 'k', clientSecret: 's3cr3t', callbackUri: '/relative' },
    ];
    for (const options of cases) {
      const err = (() => {
        try {
          new OAuth1Session(options);
        } catch (e) {
          return e as Error;
        }
      })();
      expect(err).toBeInstanceOf(ConfigurationError);
      expect(err?.message).not.toMatch(/s3cr3t|tok3nsecret/);
    }
  });

  it('RFC 5849 §3.4.4 and §2.1: plain http is refused off loopback, before anything is sent (PLAINTEXT would send the secrets)', async () => {
    let sent = 0;
    const counting = async () => {
      sent++;
      return new Response('');
    };
    const session = new OAuth1Session({ clientKey: 'k', clientSecret: 's', signatureMethod: 'PLAINTEXT', fetch: counting });
    await expect(session.fetchRequestToken('http://api.example/initiate')).rejects.toBeInstanceOf(ConfigurationError);
    await expect(session.fetch('http://api.example/photos')).rejects.toBeInstanceOf(ConfigurationError);
    expect(sent).toBe(0);
  });

  it('a URL with userinfo (user:password@) is a ConfigurationError that names the URL without it, as OAuth2Session.fetch says', async () => {
    const session = new OAuth1Session({ clientKey: 'k', clientSecret: 's' });
    const err = (await session.fetch('https://user:HUNTER2pass@api.example/x?q=1').catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(ConfigurationError);
    expect(err.message).toContain('https://api.example/x');
    expect(err.message).not.toContain('HUNTER2pass');
  });
});

describe('OAuth1Session.fetch and redirects', () => {
  /** An API whose /photos answers `status` to `location`, and what each request that reached a server carried. */
  function redirecting(status: number, location: string) {
    const seen: Array<{ url: string; method: string; text: string }> = [];
    const fake: typeof fetch = async (input, init) => {
      const request = new Request(input, init);
      const text = `${request.url} ${request.headers.get('authorization') ?? ''} ${request.body ? await request.text() : ''}`;
      seen.push({ url: request.url, method: request.method, text });
      return new URL(request.url).pathname === '/photos' ? new Response(null, { status, headers: { location } }) : new Response('ok');
    };
    return { seen, fake };
  }
  const secrets = { clientKey: 'ck', clientSecret: 'CLIENT-SECRET-xyz', token: 'tok', tokenSecret: 'TOKEN-SECRET-abc', signatureMethod: 'PLAINTEXT' } as const;

  it.each(['header', 'query', 'body'] as const)('RFC 5849 §3.4.4: a 307 to another origin gets the request unsigned: no signed parameter, no secret (placement %s)', async (placement) => {
    const { seen, fake } = redirecting(307, 'https://other.example/collect');
    const session = new OAuth1Session({ ...secrets, placement, fetch: fake });
    const res = await session.fetch('https://api.example/photos', { method: 'POST', body: new URLSearchParams({ title: 'Summer' }) });
    expect(res.status).toBe(200);
    const other = seen.filter((r) => r.url.startsWith('https://other.example/'));
    expect(other).toHaveLength(1);
    expect(other[0]!.text).toContain('title=Summer');
    expect(other[0]!.text).not.toMatch(/oauth_|SECRET/);
  });

  it('a network failure on the unsigned follow to another origin is a NetworkError naming that URL without its query, as every other network failure is', async () => {
    const refused = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    const fake: typeof fetch = async (input, init) => {
      const request = new Request(input, init);
      if (new URL(request.url).origin === 'https://other.example') throw refused;
      return new Response(null, { status: 302, headers: { location: 'https://other.example/collect?ticket=TICKET-qwe' } });
    };
    const session = new OAuth1Session({ ...secrets, fetch: fake });
    const err = (await session.fetch('https://api.example/photos').catch((e: unknown) => e)) as NetworkError;
    expect(err).toBeInstanceOf(NetworkError);
    expect(err).toMatchObject({ code: 'ERR_NETWORK', url: 'https://other.example/collect', notSent: true, cause: refused });
    expect(err.message).not.toMatch(/TICKET|SECRET/);
  });

  it("the caller's abort while the unsigned follow to another origin waits is the signal's reason, not a NetworkError", async () => {
    const fake: typeof fetch = async (input, init) => {
      const request = new Request(input, init);
      if (new URL(request.url).origin === 'https://other.example') {
        return new Promise<Response>((_, reject) => request.signal.addEventListener('abort', () => reject(new TypeError('fetch failed'))));
      }
      return new Response(null, { status: 302, headers: { location: 'https://other.example/collect' } });
    };
    const session = new OAuth1Session({ ...secrets, fetch: fake });
    const controller = new AbortController();
    const pending = session.fetch('https://api.example/photos', { signal: controller.signal }).catch((e: unknown) => e);
    setTimeout(() => controller.abort(new Error('caller gave up')), 20);
    expect(await pending).toMatchObject({ message: 'caller gave up' });
  });

  it('RFC 5849 §3.4.1: a redirect within the origin is followed with a new signature for the new URL (a fresh nonce)', async () => {
    const { seen, fake } = redirecting(308, '/photos2');
    const session = new OAuth1Session({ ...secrets, placement: 'body', fetch: fake });
    expect((await session.fetch('https://api.example/photos', { method: 'POST', body: new URLSearchParams({ title: 'Summer' }) })).status).toBe(200);
    expect(seen.map((r) => [r.url, r.method])).toEqual([
      ['https://api.example/photos', 'POST'],
      ['https://api.example/photos2', 'POST'],
    ]);
    const nonces = seen.map((r) => /oauth_nonce=(\w+)/.exec(r.text)?.[1]);
    expect(nonces[1]).toBeDefined();
    expect(nonces[1]).not.toBe(nonces[0]);
  });
});
