/**
 * openid-client (npm, the certified relying-party library, a client no one here wrote) registers
 * itself at Tessera's /register (RFC 7591) with an initial access token from the CLI, then uses
 * the registration: client_secret_basic, private_key_jwt and client_secret_jwt at /token and /introspect.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTessera } from './cli-kit.js';
import { startTestServer, type TestServer } from './helpers.js';

describe('openid-client dynamic client registration', () => {
  let server: TestServer;

  const initialToken = async () => {
    const run = await runTessera(server.db, ['client', 'initial-token', '--json']);
    expect(run.code, run.stderr).toBe(0);
    return (JSON.parse(run.stdout) as { initial_access_token: string }).initial_access_token;
  };
  const options = async (): Promise<client.DynamicClientRegistrationRequestOptions> => ({
    algorithm: 'oauth2', execute: [client.allowInsecureRequests], initialAccessToken: await initialToken(),
  });

  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-openid-client-registration-'));
    const keyFile = join(dir, 'client-secret.key');
    writeFileSync(keyFile, Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64'), { mode: 0o600 });
    // With the key that seals client_secret_jwt secrets, that method is offered to registrants too.
    server = await startTestServer({ registrationScopes: 'read write', clientSecretKeyFile: keyFile });
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('RFC 7591 §3: openid-client registers a client_secret_basic client and gets, introspects and revokes a token with it', async () => {
    const config = await client.dynamicClientRegistration(new URL(server.url), {
      client_name: 'openid-client', grant_types: ['client_credentials'], scope: 'read', token_endpoint_auth_method: 'client_secret_basic',
    }, undefined, await options());
    const meta = config.clientMetadata();
    expect(meta.client_secret).toMatch(/^tss_/);
    expect(meta.registration_client_uri).toBe(`${server.url}/register/${meta.client_id}`);
    const token = await client.clientCredentialsGrant(config, { scope: 'read' });
    expect(await client.tokenIntrospection(config, token.access_token)).toMatchObject({ active: true, client_id: meta.client_id });
    await client.tokenRevocation(config, token.access_token);
    expect((await client.tokenIntrospection(config, token.access_token)).active).toBe(false);
  });

  it('RFC 7523 §2.2: openid-client registers a private_key_jwt client with its JWK Set and authenticates with its key', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'rp-1', alg: 'ES256' }] };
    const config = await client.dynamicClientRegistration(new URL(server.url), {
      grant_types: ['client_credentials'], scope: 'write', token_endpoint_auth_method: 'private_key_jwt', jwks,
    }, client.PrivateKeyJwt({ key: privateKey, kid: 'rp-1' }), await options());
    const token = await client.clientCredentialsGrant(config, { scope: 'write' });
    expect(token.scope).toBe('write');
  });

  it('OpenID Connect Core §9: openid-client registers a client_secret_jwt client and signs assertions with the secret it was given', async () => {
    const registered = await client.dynamicClientRegistration(new URL(server.url), {
      grant_types: ['client_credentials'], scope: 'read', token_endpoint_auth_method: 'client_secret_jwt',
    }, undefined, await options());
    const { client_id, client_secret } = registered.clientMetadata();
    const config = await client.discovery(new URL(server.url), client_id, undefined, client.ClientSecretJwt(client_secret as string), { algorithm: 'oauth2', execute: [client.allowInsecureRequests] });
    const token = await client.clientCredentialsGrant(config, { scope: 'read' });
    expect(await client.tokenIntrospection(config, token.access_token)).toMatchObject({ active: true, client_id });
  });

  it('RFC 7591 §3.2.2: openid-client surfaces invalid_redirect_uri from the server', async () => {
    await expect(client.dynamicClientRegistration(new URL(server.url), { redirect_uris: ['http://app.example/cb'] }, undefined, await options()))
      .rejects.toMatchObject({ error: 'invalid_redirect_uri' });
  });
});
