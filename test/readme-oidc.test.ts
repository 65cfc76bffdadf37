/**
 * The README's OpenID Connect section is a contract: its shell commands run verbatim with bash
 * (the CLI on the server's data file), and its openid-client example runs verbatim under Node
 * while the test plays the user (consent, then the redirect URL pasted back).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { useServer } from './flows.js';
import { readmeCode, root, runSignInExample } from './readme-kit.js';

const h = useServer();

it('the README OpenID Connect commands run verbatim: a user with name and email, an OIDC client, an ES256 one, the discovery document', async () => {
  const script = `set -euo pipefail\n${readmeCode('oidc-walkthrough', 'sh').replaceAll('http://127.0.0.1:9000', h.server.url)}`;
  const env = { ...process.env, TESSERA_DB: h.server.db, TESSERA_LOG_LEVEL: 'warn', ADA_PASSWORD: 'ada passphrase 1815' };
  const { stdout } = await promisify(execFile)('bash', ['-c', script], { cwd: root, env, timeout: 60_000 });
  const ada = await h.store.getUserByName('ada');
  expect(ada).toMatchObject({ name: 'Ada Lovelace', email: 'ada@example.com', emailVerified: true });
  expect(stdout).toContain(`Created user 'ada' (id ${ada?.id}).`);
  expect(stdout).toContain("Updated user 'ada': name 'Ada Lovelace', email 'ada@example.com' (verified).");
  expect(stdout).toMatch(/"scope": "email offline_access openid profile",\n\s*"resources": \[\],\n\s*"exchange_audiences": \[\],\n\s*"token_format": "opaque",\n\s*"id_token_signed_response_alg": "RS256"/);
  expect(stdout).toMatch(/"name": "rp-es256",[^}]*"id_token_signed_response_alg": "ES256"/);
  const clients = await h.store.listClients();
  expect(clients.find((c) => c.name === 'rp')?.idTokenSignedResponseAlg).toBe('RS256');
  expect(clients.find((c) => c.name === 'rp-es256')?.idTokenSignedResponseAlg).toBe('ES256');
  const discovery = JSON.parse(stdout.trim().split('\n').at(-1) as string);
  expect(discovery).toMatchObject({
    issuer: h.server.url, userinfo_endpoint: `${h.server.url}/userinfo`, subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['RS256', 'ES256'],
  });
}, 90_000);

it('the README openid-client example runs verbatim with its defaults: discovery, code + PKCE + nonce, RS256 id_token checked, userinfo, refresh', async () => {
  const c = await h.codeClient({ redirectUris: ['http://127.0.0.1:8080/callback'], scope: 'openid profile email offline_access' });
  // Registered with no algorithm: its ID Tokens are RS256, which openid-client's defaults accept.
  expect(c.client.idTokenSignedResponseAlg).toBe('RS256');
  const alice = await h.alice();
  await h.engine.setUserProfile(alice, { name: 'Alice Liddell', email: 'alice@example.com', emailVerified: true }, { actor: 'test' });
  const { code, stdout, stderr } = await runSignInExample(h, readmeCode('oidc-example', 'js'), { CLIENT_ID: c.id, CLIENT_SECRET: c.secret });
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  expect(stdout).toContain(`userinfo: ${JSON.stringify({ sub: alice.id, name: 'Alice Liddell', email: 'alice@example.com', email_verified: true })}`);
  expect(stdout).toContain('same user after refresh: true');
}, 60_000);
