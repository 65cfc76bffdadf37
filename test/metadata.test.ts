/** Authorization server metadata (RFC 8414) and the JWK Set (RFC 7517). */
import { describe, expect, it } from 'vitest';
import { useServer } from './flows.js';

const PATH = '/.well-known/oauth-authorization-server';

describe('metadata (RFC 8414) with default settings', () => {
  const h = useServer();

  it('RFC 8414 §2–3: the document names this issuer and its endpoints', async () => {
    const res = await h.request(PATH);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const m = res.body;
    const url = h.server.url;
    // RFC 8414 §3.3: the issuer MUST be identical to the one the document was fetched for.
    expect(m.issuer).toBe(url);
    expect(m).toMatchObject({
      authorization_endpoint: `${url}/authorize`,
      token_endpoint: `${url}/token`,
      revocation_endpoint: `${url}/revoke`,
      introspection_endpoint: `${url}/introspect`,
      jwks_uri: `${url}/jwks.json`,
    });
    // RFC 8414 §2: response_types_supported is REQUIRED.
    expect(m.response_types_supported).toEqual(['code']);
  });

  it('GET / (the issuer URL opened by hand) points at the metadata document, as the README says', async () => {
    const res = await h.request('/');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ name: 'Tessera', metadata: `${h.server.url}${PATH}` });
  });

  it('RFC 8414 §2: grant_types_supported lists exactly the enabled grants (no legacy ones by default)', async () => {
    const { body: m } = await h.request(PATH);
    expect([...m.grant_types_supported].sort()).toEqual([
      'authorization_code', 'client_credentials', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code', 'urn:ietf:params:oauth:grant-type:token-exchange',
    ]);
  });

  it('RFC 8414 §2: auth methods match what the endpoints accept', async () => {
    const { body: m } = await h.request(PATH);
    expect([...m.token_endpoint_auth_methods_supported].sort()).toEqual(['client_secret_basic', 'client_secret_post', 'none', 'private_key_jwt']);
    expect([...m.revocation_endpoint_auth_methods_supported].sort()).toEqual(['client_secret_basic', 'client_secret_post', 'none', 'private_key_jwt']);
    // RFC 7662 §2.1: introspection requires authentication, so no 'none'.
    expect([...m.introspection_endpoint_auth_methods_supported].sort()).toEqual(['client_secret_basic', 'client_secret_post', 'private_key_jwt']);
  });

  it('RFC 8414 §2: the signing algorithms of private_key_jwt are listed for each endpoint, asymmetric only, never none', async () => {
    const { body: m } = await h.request(PATH);
    for (const endpoint of ['token', 'revocation', 'introspection']) {
      const algs: string[] = m[`${endpoint}_endpoint_auth_signing_alg_values_supported`];
      expect(algs).toContain('ES256');
      expect(algs).toContain('RS256');
      expect(algs.filter((a) => a === 'none' || a.startsWith('HS'))).toEqual([]);
    }
  });

  it('RFC 9700 §2.1.1: only S256 is advertised for PKCE unless plain is enabled', async () => {
    const { body: m } = await h.request(PATH);
    expect(m.code_challenge_methods_supported).toEqual(['S256']);
  });

  it('every advertised endpoint URL is served by this server', async () => {
    const { body: m } = await h.request(PATH);
    for (const key of ['token_endpoint', 'revocation_endpoint', 'introspection_endpoint', 'device_authorization_endpoint', 'jwks_uri']) {
      const path = new URL(m[key]).pathname;
      const res = await h.request(path, key === 'jwks_uri' ? {} : { method: 'POST' });
      expect(res.status, key).not.toBe(404);
    }
  });

  it('RFC 7517 §5: /jwks.json publishes public keys only, an RS256 and an ES256 signing key', async () => {
    const res = await h.request('/jwks.json');
    expect(res.status).toBe(200);
    expect(res.body.keys.map((k: { alg: string }) => k.alg).sort()).toEqual(['ES256', 'RS256']);
    for (const key of res.body.keys) {
      expect(key).toMatchObject(key.alg === 'RS256' ? { kty: 'RSA', use: 'sig' } : { kty: 'EC', crv: 'P-256', use: 'sig' });
      expect(key.kid).toBeTypeOf('string');
      for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(key, priv).not.toHaveProperty(priv);
    }
  });
});

describe('metadata (RFC 8414) with legacy grants and plain PKCE enabled', () => {
  const h = useServer({ legacyGrants: ['password', 'implicit'], allowPlainPkce: true });

  it('RFC 8414 §2: enabled legacy grants appear in grant_types_supported and response_types_supported', async () => {
    const { body: m } = await h.request(PATH);
    expect([...m.grant_types_supported].sort()).toEqual([
      'authorization_code', 'client_credentials', 'implicit', 'password', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code',
      'urn:ietf:params:oauth:grant-type:token-exchange',
    ]);
    expect([...m.response_types_supported].sort()).toEqual(['code', 'token']);
    expect([...m.code_challenge_methods_supported].sort()).toEqual(['S256', 'plain']);
  });

  it('the advertised password grant really is served', async () => {
    const c = await h.client({ grantTypes: ['password'] });
    const user = await h.alice();
    const res = await h.token(c, { grant_type: 'password', username: user.username, password: user.password });
    expect(res.status).toBe(200);
  });
});
