/**
 * The client's pure steps, through the public API and without a server: PKCE, discovery URLs,
 * callback parsing, WWW-Authenticate parsing, token and device-poll responses. Responses are
 * built with the Web Response class, as a server would send them.
 */
import {
  bearerChallenge,
  calculateCodeChallenge,
  clientSecretBasic,
  ConfigurationError,
  discoveryUrl,
  generateCodeVerifier,
  InvalidResponseError,
  OAuth2Session,
  OAuthResponseError,
  processDeviceCodeResponse,
  processTokenResponse,
  StateMismatchError,
  validateAuthorizationResponse,
} from '@tessera/client';
import { describe, expect, it } from 'vitest';

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

describe('PKCE (RFC 7636)', () => {
  it('RFC 7636 Appendix B: the S256 challenge of the RFC example verifier is the RFC example challenge', async () => {
    expect(await calculateCodeChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
  });

  it('RFC 7636 §4.1: verifiers are 43+ unreserved characters, and never repeat', () => {
    const verifiers = new Set(Array.from({ length: 100 }, generateCodeVerifier));
    expect(verifiers.size).toBe(100);
    for (const v of verifiers) expect(v).toMatch(/^[A-Za-z0-9._~-]{43,128}$/);
  });
});

describe('client_secret_basic (RFC 6749 §2.3.1)', () => {
  it('id and secret are form-urlencoded, then joined by ":" and base64-encoded', async () => {
    const headers = new Headers();
    await clientSecretBasic('p@ss:w rd+/é')({ issuer: 'https://as.example' }, { client_id: 'my client' }, new URLSearchParams(), headers);
    const decoded = atob(headers.get('authorization')!.replace(/^Basic /, ''));
    expect(decoded).toBe('my+client:p%40ss%3Aw+rd%2B%2F%C3%A9');
  });
});

describe('discovery URLs', () => {
  it('RFC 8414 §3.1: the well-known segment goes between the host and the issuer path', () => {
    expect(discoveryUrl('https://as.example').href).toBe('https://as.example/.well-known/oauth-authorization-server');
    expect(discoveryUrl('https://as.example/tenant/1').href).toBe('https://as.example/.well-known/oauth-authorization-server/tenant/1');
  });

  it('OpenID Connect Discovery §4: the well-known path is appended to the issuer', () => {
    expect(discoveryUrl('https://as.example/tenant', 'oidc').href).toBe('https://as.example/tenant/.well-known/openid-configuration');
  });
});

describe('authorization responses (RFC 6749 §4.1.2)', () => {
  const as = { issuer: 'https://as.example' };

  it('RFC 6749 §3.1: a response parameter sent twice is refused', () => {
    expect(() => validateAuthorizationResponse(as, 'https://app.example/cb?code=a&code=b&state=s', 's')).toThrow(InvalidResponseError);
  });

  it('RFC 6749 §10.12: an error response with the wrong state is a state mismatch, not an OAuth error (errors can be injected too)', () => {
    expect(() => validateAuthorizationResponse(as, 'https://app.example/cb?error=access_denied&state=other', 's')).toThrow(StateMismatchError);
  });

  it('a response with the right state and a code yields the code', () => {
    expect(validateAuthorizationResponse(as, 'https://app.example/cb?code=abc&state=s&iss=https%3A%2F%2Fas.example', 's')).toEqual({ code: 'abc', state: 's', iss: 'https://as.example' });
  });
});

describe('token responses (RFC 6749 §5)', () => {
  it('RFC 6749 §7.1: a token of a type the client does not understand is refused; Bearer and DPoP (RFC 9449 §5) are understood', async () => {
    await expect(processTokenResponse(json(200, { access_token: 'x', token_type: 'MAC' }))).rejects.toBeInstanceOf(InvalidResponseError);
    await expect(processTokenResponse(json(200, { access_token: 'x', token_type: 'DPoP' }))).resolves.toMatchObject({ token_type: 'DPoP' });
    await expect(processTokenResponse(json(200, { access_token: 'x', token_type: 'bearer' }))).resolves.toMatchObject({ token_type: 'bearer' });
  });

  it('RFC 6749 §7.1: a session without DPoP refuses token_type DPoP (it would present it as Bearer); a session with DPoP takes it', async () => {
    const server = { issuer: 'https://as.example', token_endpoint: 'https://as.example/token' };
    const fake: typeof fetch = async () => json(200, { access_token: 'x', token_type: 'DPoP', expires_in: 60 });
    const plain = new OAuth2Session({ server, clientId: 'app', fetch: fake });
    await expect(plain.clientCredentials()).rejects.toBeInstanceOf(InvalidResponseError);
    expect(await plain.getToken()).toBeUndefined();
    const bound = new OAuth2Session({ server, clientId: 'app', fetch: fake, dpop: true });
    await expect(bound.clientCredentials()).resolves.toMatchObject({ token_type: 'DPoP' });
  });

  it('RFC 6749 §5.2: the error body becomes an OAuthResponseError with error, error_description, error_uri and status', async () => {
    const err = await processTokenResponse(json(400, { error: 'invalid_scope', error_description: 'no', error_uri: 'https://as.example/e' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OAuthResponseError);
    expect(err).toMatchObject({ code: 'ERR_OAUTH_RESPONSE', error: 'invalid_scope', error_description: 'no', error_uri: 'https://as.example/e', status: 400 });
  });

  it.each([[null], [''], [[]], [true], ['0x10'], ['1e3'], [-5]])('RFC 6749 §5.1: expires_in %j, not a number of seconds, is an InvalidResponseError', async (expires_in) => {
    await expect(processTokenResponse(json(200, { access_token: 'x', token_type: 'Bearer', expires_in }))).rejects.toBeInstanceOf(InvalidResponseError);
  });

  it('RFC 6749 §5.1: expires_in as a string of digits (as some servers send it) is read as that number', async () => {
    await expect(processTokenResponse(json(200, { access_token: 'x', token_type: 'Bearer', expires_in: '3600' }))).resolves.toMatchObject({ expires_in: 3600 });
  });

  it('RFC 6749 §5.1: expires_at is not a token response member: a server\'s is ignored, and expires_at comes from expires_in only', async () => {
    const before = Math.floor(Date.now() / 1000);
    const none = await processTokenResponse(json(200, { access_token: 'x', token_type: 'Bearer', expires_at: 1 }));
    expect(none.expires_at).toBeUndefined();
    const token = await processTokenResponse(json(200, { access_token: 'x', token_type: 'Bearer', expires_in: 60, expires_at: 'soon' }));
    expect(token.expires_at! - 60).toBeGreaterThanOrEqual(before);
  });

  it('RFC 6749 §5.1: an empty refresh_token is an InvalidResponseError (it would replace the session\'s good one)', async () => {
    await expect(processTokenResponse(json(200, { access_token: 'x', token_type: 'Bearer', refresh_token: '' }))).rejects.toBeInstanceOf(InvalidResponseError);
  });

  it('expires_in becomes an absolute expires_at on the local clock', async () => {
    const before = Math.floor(Date.now() / 1000);
    const token = await processTokenResponse(json(200, { access_token: 'x', token_type: 'bearer', expires_in: 60 }));
    expect(token.expires_at! - 60).toBeGreaterThanOrEqual(before);
  });
});

describe('device polling (RFC 8628 §3.5)', () => {
  it('authorization_pending: poll again at the same interval', async () => {
    expect(await processDeviceCodeResponse(json(400, { error: 'authorization_pending' }), 5)).toEqual({ done: false, interval: 5 });
  });

  it('slow_down: the interval grows by 5 seconds, for this and every later poll', async () => {
    expect(await processDeviceCodeResponse(json(400, { error: 'slow_down' }), 5)).toEqual({ done: false, interval: 10 });
    expect(await processDeviceCodeResponse(json(400, { error: 'slow_down' }), 10)).toEqual({ done: false, interval: 15 });
  });

  it.each(['expired_token', 'access_denied'])('%s: polling stops with the typed error', async (error) => {
    await expect(processDeviceCodeResponse(json(400, { error }), 5)).rejects.toMatchObject({ code: 'ERR_OAUTH_RESPONSE', error });
  });
});

describe('WWW-Authenticate (RFC 6750 §3)', () => {
  it('reads the Bearer challenge parameters, quoted or not, among other challenges', () => {
    expect(bearerChallenge('Basic realm="x", Bearer realm="api", error="invalid_token", error_description="the token \\"expired\\""')).toEqual({
      realm: 'api',
      error: 'invalid_token',
      error_description: 'the token "expired"',
    });
    expect(bearerChallenge('bearer error=invalid_token')).toEqual({ error: 'invalid_token' });
    expect(bearerChallenge('Basic realm="x"')).toBeUndefined();
    expect(bearerChallenge(null)).toBeUndefined();
  });
});

describe('session options', () => {
  it('a missing clientId (an unset environment variable, say) is a ConfigurationError at once, not invalid_client from the server later', () => {
    for (const clientId of [undefined, '']) {
      expect(() => new OAuth2Session({ issuer: 'https://auth.example', clientId: clientId as unknown as string })).toThrow(ConfigurationError);
    }
    expect(() => new OAuth2Session({ issuer: 'https://auth.example', clientId: 'app' })).not.toThrow();
  });
});
