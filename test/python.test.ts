/**
 * Interop with the Python clients the seed tutorial teaches: requests-oauthlib's OAuth2Session
 * and Authlib, run with the system interpreter against a real server; and the device flow with
 * oauthlib's DeviceClient and Authlib. CI installs them
 * (python3-requests-oauthlib, python3-authlib).
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { runTessera } from './cli-kit.js';
import { PASSWORD, useServer } from './flows.js';

const PYTHON = '/usr/bin/python3';
const DIR = fileURLToPath(new URL('./interop/', import.meta.url));
const CALLBACK = 'http://127.0.0.1:8080/callback';

async function runPython(script: string, env: Record<string, string>): Promise<any> {
  const { stdout } = await promisify(execFile)(PYTHON, [script], {
    cwd: DIR,
    // Plain http on loopback: oauthlib refuses it unless told this is a test.
    env: { ...process.env, ...env, OAUTHLIB_INSECURE_TRANSPORT: '1', PYTHONDONTWRITEBYTECODE: '1' },
    timeout: 60_000,
  });
  return JSON.parse(stdout);
}

describe('Python clients against Tessera', () => {
  const h = useServer({ deviceCodeInterval: 1 });

  async function setup() {
    const c = await h.codeClient({ redirectUris: [CALLBACK], scope: 'read write' });
    const user = await h.user();
    return { TESSERA_URL: h.server.url, CLIENT_ID: c.id, CLIENT_SECRET: c.secret!, REDIRECT_URI: CALLBACK, USERNAME: user.username, PASSWORD: user.password };
  }

  it('requests-oauthlib: authorization_url → login/consent → fetch_token → refresh_token (rotating) → revocation POST → inactive', async () => {
    const r = await runPython('requests_oauthlib_flow.py', await setup());
    expect(r.state_matches).toBe(true);
    // oauthlib hands the scope back as a list.
    expect(r.token).toEqual({ token_type: 'Bearer', scope: ['read', 'write'], expires_in: 3600 });
    expect(r.token_has_refresh).toBe(true);
    // RFC 9700 §4.14.2: every refresh returns a new refresh token.
    expect(r.rotated).toBe(true);
    expect(r.new_access_differs).toBe(true);
    expect(r.introspect_before).toMatchObject({ active: true, scope: 'read write', token_type: 'Bearer' });
    // RFC 7009 §2.2: 200, and revoking the refresh token takes its grant's access tokens with it.
    expect(r.revoke_status).toBe(200);
    expect(r.revoke_cache_control).toBe('no-store');
    expect(r.introspect_access_after).toEqual({ active: false });
    expect(r.introspect_refresh_after).toEqual({ active: false });
    // The tutorial's POST without client credentials gets invalid_client, not a 500.
    expect(r.unauthenticated_revoke).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect(r.old_refresh_replayed).toMatchObject({ error: 'invalid_grant' });
  });

  it('Authlib: code with PKCE, refresh, introspect_token, revoke_token; client_credentials with client_secret_post', async () => {
    const env = await setup();
    const cc = await h.client({ authMethod: 'client_secret_post', grantTypes: ['client_credentials'], scope: 'read' });
    const r = await runPython('authlib_flow.py', { ...env, CC_CLIENT_ID: cc.id, CC_CLIENT_SECRET: cc.secret! });
    expect(r.token_scope).toBe('read write');
    expect(r.rotated).toBe(true);
    expect(r.active).toMatchObject({ active: true, client_id: env.CLIENT_ID, username: env.USERNAME });
    expect(r.revoke_status).toBe(200);
    expect(r.inactive).toEqual({ active: false });
    // Revoking an access token revokes just that token (RFC 7009 §2.1 leaves this to the server).
    expect(r.refresh_still_active).toBe(true);
    // RFC 6749 §4.4.3: client_credentials issues no refresh token.
    expect(r.cc_token).toEqual({ token_type: 'Bearer', scope: 'read', refresh_token: null });
  });

  it('Authlib: a client_secret_post client revokes and introspects as the docs show (Authlib sends Basic there)', async () => {
    const env = await setup();
    const cc = await h.client({ authMethod: 'client_secret_post', grantTypes: ['client_credentials'], scope: 'read' });
    const r = await runPython('authlib_flow.py', { ...env, CC_CLIENT_ID: cc.id, CC_CLIENT_SECRET: cc.secret! });
    expect(r.cc_introspect).toEqual({ status: 200, active: true });
    expect(r.cc_revoke_status).toBe(200);
    expect(r.cc_inactive).toEqual({ active: false });
  });

  it('RFC 8628: oauthlib\'s DeviceClient polls (authorization_pending, slow_down, then tokens); Authlib fetches the device_code grant (access_denied, then tokens)', async () => {
    const device = 'urn:ietf:params:oauth:grant-type:device_code';
    const tv = await h.client({ authMethod: 'none', grantTypes: [device, 'refresh_token'], redirectUris: [], scope: 'read' });
    const app = await h.client({ grantTypes: [device], redirectUris: [], scope: 'read' });
    const user = await h.user();
    const r = await runPython('device_flow.py', {
      TESSERA_URL: h.server.url, PUBLIC_CLIENT_ID: tv.id, CLIENT_ID: app.id, CLIENT_SECRET: app.secret!, USERNAME: user.username, PASSWORD: user.password,
    });
    expect(r.started).toEqual({ verification_uri: `${h.server.url}/device`, expires_in: 600, interval: 1 });
    expect(r.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    expect([r.pending, r.too_fast]).toEqual(['authorization_pending', 'slow_down']);
    expect(r.approved_page).toBe(true);
    expect(r.oauthlib_error).toBeNull();
    expect(r.oauthlib_token).toEqual({ token_type: 'Bearer', scope: ['read'], has_refresh: true });
    expect(r.authlib_denied).toBe('access_denied');
    expect(r.authlib_token).toEqual({ token_type: 'Bearer', scope: 'read', has_refresh: false });
  }, 60_000);
  it('Authlib private_key_jwt (RFC 7523): its default aud, the token endpoint URL, is refused; with the issuer as aud it gets a token', async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const jwks = join(h.server.dir, 'authlib-jwks.json');
    writeFileSync(jwks, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'authlib-1', alg: 'RS256' }] }));
    const run = await runTessera(h.server.db, ['client', 'create', '--name', 'authlib-jwt', '--grant-type', 'client_credentials', '--scope', 'read',
      '--auth-method', 'private_key_jwt', '--jwks', jwks, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const r = await runPython('authlib_private_key_jwt.py', {
      TESSERA_URL: h.server.url, CLIENT_ID: JSON.parse(run.stdout).client_id, AUTHLIB_INSECURE_TRANSPORT: '1',
      PRIVATE_JWK: JSON.stringify({ ...(await exportJWK(privateKey)), kid: 'authlib-1', alg: 'RS256' }),
    });
    expect(r).toEqual({ default_audience: 'invalid_client', token_type: 'Bearer', scope: 'read' });
  });

  it('Authlib OpenID Connect: code flow with nonce (PKCE), parse_id_token validates the RS256 id_token (the default algorithm), userinfo by scope', async () => {
    const c = await h.codeClient({ redirectUris: [CALLBACK], scope: 'openid profile email' });
    const user = await h.engine.createUser(`authlib-${Date.now()}`, PASSWORD, { actor: 'test' }, { name: 'Ada Lovelace', email: 'ada@example.com', emailVerified: false });
    const r = await runPython('authlib_oidc.py', {
      TESSERA_URL: h.server.url, CLIENT_ID: c.id, CLIENT_SECRET: c.secret!, REDIRECT_URI: CALLBACK, USERNAME: user.username, PASSWORD,
    });
    expect(r.nonce_sent).toBe(true);
    expect(r.id_token_alg).toBe('RS256');
    // OIDC Core §11: no offline_access, no refresh token for an openid request.
    expect(r.token_keys).toEqual(['access_token', 'expires_in', 'id_token', 'scope', 'token_type']);
    expect(r.claims).toMatchObject({ iss: h.server.url, sub: user.id, aud: c.id, nonce: expect.any(String) });
    expect(r.claims_have).toEqual(['at_hash', 'auth_time', 'exp', 'iat']);
    expect(r.userinfo).toEqual({ sub: user.id, name: 'Ada Lovelace', email: 'ada@example.com', email_verified: false });
    expect(r.wrong_nonce).toMatch(/nonce/);
  });
});
