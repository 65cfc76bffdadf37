/**
 * openid-client (npm, the certified relying-party library, a client no one here wrote) against
 * Tessera with JWT client authentication: private_key_jwt and client_secret_jwt (RFC 7523) at
 * /token, /introspect and /revoke, found through RFC 8414 discovery.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tessera } from './cli-kit.js';
import { startTestServer, type TestServer } from './helpers.js';

describe('openid-client with private_key_jwt and client_secret_jwt', () => {
  let server: TestServer;
  let dir: string;
  let keyFile: string;

  const cli = async (args: string[]) => {
    const run = await tessera(['client', 'create', '--name', 'rp', '--grant-type', 'client_credentials', '--scope', 'read', '--json', ...args],
      { env: { TESSERA_DB: server.db, TESSERA_CLIENT_SECRET_KEY_FILE: keyFile } });
    expect(run.code, run.stderr).toBe(0);
    return JSON.parse(run.stdout) as { client_id: string; client_secret?: string };
  };
  const discover = (clientId: string, auth: client.ClientAuth) =>
    client.discovery(new URL(server.url), clientId, undefined, auth, { algorithm: 'oauth2', execute: [client.allowInsecureRequests] });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-openid-client-'));
    keyFile = join(dir, 'client-secret.key');
    writeFileSync(keyFile, Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64'), { mode: 0o600 });
    server = await startTestServer({ clientSecretKeyFile: keyFile });
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('RFC 7523 §2.2: private_key_jwt from openid-client gets a token, introspects and revokes it', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwks = join(dir, 'jwks.json');
    writeFileSync(jwks, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'rp-1', alg: 'ES256' }] }));
    const { client_id } = await cli(['--auth-method', 'private_key_jwt', '--jwks', jwks]);
    const config = await discover(client_id, client.PrivateKeyJwt({ key: privateKey, kid: 'rp-1' }));
    const token = await client.clientCredentialsGrant(config, { scope: 'read' });
    expect(token.token_type.toLowerCase()).toBe('bearer');
    expect(await client.tokenIntrospection(config, token.access_token)).toMatchObject({ active: true, client_id });
    await client.tokenRevocation(config, token.access_token);
    expect((await client.tokenIntrospection(config, token.access_token)).active).toBe(false);
  });

  it('OpenID Connect Core §9: client_secret_jwt from openid-client, keyed by the secret the CLI printed', async () => {
    const { client_id, client_secret } = await cli(['--auth-method', 'client_secret_jwt']);
    const config = await discover(client_id, client.ClientSecretJwt(client_secret));
    const token = await client.clientCredentialsGrant(config, { scope: 'read' });
    expect(await client.tokenIntrospection(config, token.access_token)).toMatchObject({ active: true, client_id });
  });
});
