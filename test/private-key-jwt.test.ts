/**
 * JWT client authentication, private_key_jwt (RFC 7523 §2.2, §3; OpenID Connect Core §9), on
 * Tessera's server: clients registered by the CLI with an inline JWK Set (--jwks FILE) or a
 * jwks_uri, authenticating at /token, /revoke and /introspect; @tessera/client as the client.
 * A jwks_uri registered at /register is fetched from public addresses only (SSRF).
 */
import type { webcrypto } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { OAuth2Session, privateKeyJwt } from '@tessera/client';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTessera } from './cli-kit.js';
import { startTestServer, type TestResponse, type TestServer } from './helpers.js';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

interface KeyPair { privateJwk: JWK; publicJwk: JWK; privateKey: webcrypto.CryptoKey }

async function keyPair(alg: 'ES256' | 'RS256' | 'EdDSA', kid: string): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, privateJwk: { ...(await exportJWK(privateKey)), kid, alg }, publicJwk: { ...(await exportJWK(publicKey)), kid, alg } };
}

describe('private_key_jwt client authentication (RFC 7523)', () => {
  let server: TestServer;
  let key: KeyPair;
  let clientId: string;
  let rs: { basic: string };
  let jwksServer: Server;
  let jwksUrl: string;
  let served: JWK[] = [];

  const jwksFile = (name: string, keys: JWK[]) => {
    const path = join(server.dir, name);
    writeFileSync(path, JSON.stringify({ keys }));
    return path;
  };
  const create = async (args: string[]) => {
    const run = await runTessera(server.db, ['client', 'create', '--name', 'jwt', '--grant-type', 'client_credentials', '--scope', 'read', '--json', ...args]);
    expect(run.code, run.stderr).toBe(0);
    return JSON.parse(run.stdout) as { client_id: string; client_secret?: string; token_endpoint_auth_method: string };
  };
  /** A signed assertion: RFC 7523 §3 claims for `id`, overridden by `claims`. */
  const assertion = (k: KeyPair, id: string, claims: JWTPayload = {}, header: Record<string, unknown> = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: id, sub: id, aud: server.url, jti: crypto.randomUUID(), iat: now, exp: now + 60, ...claims })
      .setProtectedHeader({ alg: k.publicJwk.alg as string, kid: k.publicJwk.kid, ...header })
      .sign(k.privateKey);
  };
  const withAssertion = (value: string, extra: Record<string, string> = {}) =>
    server.post('/token', { grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: value, ...extra });
  const refusedAs = (res: TestResponse, status: number, error: string) => {
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    expect(res.body.error).toBe(error);
    expect(res.headers.get('cache-control')).toBe('no-store');
  };

  beforeAll(async () => {
    server = await startTestServer();
    rs = await server.createClient({ scope: 'tessera:introspect' });
    key = await keyPair('ES256', 'k1');
    clientId = (await create(['--auth-method', 'private_key_jwt', '--jwks', jwksFile('k1.json', [key.publicJwk])])).client_id;
    jwksServer = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: served }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    const address = jwksServer.address() as { port: number };
    jwksUrl = `http://127.0.0.1:${address.port}/jwks.json`;
  });
  afterAll(async () => {
    jwksServer?.close();
    await server?.close();
  });

  it('client create --auth-method private_key_jwt --jwks FILE: no secret is made; the client is shown with its keys', async () => {
    const shown = await runTessera(server.db, ['client', 'show', clientId, '--json']);
    const client = JSON.parse(shown.stdout);
    expect(client).toMatchObject({ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [key.publicJwk] }, jwks_uri: null });
    expect(client.client_secret).toBeUndefined();
  });

  it('RFC 7523 §2.2: @tessera/client authenticates with private_key_jwt at /token, /introspect and /revoke', async () => {
    const session = new OAuth2Session({ issuer: server.url, clientId, clientAuth: privateKeyJwt(key.privateJwk) });
    const token = await session.clientCredentials({ scope: 'read' });
    expect(token).toMatchObject({ token_type: 'Bearer', scope: 'read' });
    // A fresh assertion (a new jti) for every request.
    await expect(session.introspect(token.access_token)).resolves.toMatchObject({ active: true, client_id: clientId });
    await session.revoke(token.access_token);
    const after = await server.post('/introspect', { token: token.access_token }, { authorization: rs.basic });
    expect(after.body.active).toBe(false);
  });

  it('RFC 7523 §3 item 7: a replayed assertion (same jti) is refused with invalid_client', async () => {
    const signed = await assertion(key, clientId);
    expect((await withAssertion(signed)).status).toBe(200);
    refusedAs(await withAssertion(signed), 401, 'invalid_client');
    // The jti is spent at every endpoint, not per endpoint.
    refusedAs(await server.post('/introspect', { token: 'x', client_assertion_type: ASSERTION_TYPE, client_assertion: signed }), 401, 'invalid_client');
  });

  it('draft-ietf-oauth-rfc7523bis: aud must be the issuer identifier alone; the token endpoint URL and extra audiences are refused', async () => {
    expect((await withAssertion(await assertion(key, clientId, { aud: [server.url] }))).status).toBe(200);
    refusedAs(await withAssertion(await assertion(key, clientId, { aud: `${server.url}/token` })), 401, 'invalid_client');
    refusedAs(await withAssertion(await assertion(key, clientId, { aud: [server.url, 'https://other.example'] })), 401, 'invalid_client');
    refusedAs(await withAssertion(await assertion(key, clientId, { aud: undefined })), 401, 'invalid_client');
  });

  it('RFC 7523 §3 item 4: exp is required, must not have passed, and may be at most clientAssertionMaxLifetime (1 hour) away', async () => {
    const now = Math.floor(Date.now() / 1000);
    refusedAs(await withAssertion(await assertion(key, clientId, { exp: undefined })), 401, 'invalid_client');
    refusedAs(await withAssertion(await assertion(key, clientId, { exp: now - 120, iat: now - 180 })), 401, 'invalid_client');
    expect((await withAssertion(await assertion(key, clientId, { exp: now + 3600 }))).status).toBe(200);
    const far = await withAssertion(await assertion(key, clientId, { exp: now + 7200 }));
    refusedAs(far, 401, 'invalid_client');
    expect(far.body.error_description).toMatch(/within 3600 s/);
    // OpenID Connect Core §9: jti is required.
    refusedAs(await withAssertion(await assertion(key, clientId, { jti: undefined })), 401, 'invalid_client');
  });

  it('RFC 7523 §3 items 1, 2: iss and sub must both be the client_id', async () => {
    refusedAs(await withAssertion(await assertion(key, clientId, { iss: 'someone-else' })), 401, 'invalid_client');
    refusedAs(await withAssertion(await assertion(key, clientId, { sub: 'someone-else' })), 401, 'invalid_client');
    refusedAs(await withAssertion(await assertion(key, clientId), { client_id: 'someone-else' }), 401, 'invalid_client');
    expect((await withAssertion(await assertion(key, clientId), { client_id: clientId })).status).toBe(200);
  });

  it('RFC 8725 §3.1: alg none and HMAC with the public key are refused; so is a key the client did not register', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: clientId, sub: clientId, aud: server.url, jti: crypto.randomUUID(), exp: now + 60 };
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    refusedAs(await withAssertion(`${b64({ alg: 'none' })}.${b64(claims)}.`), 401, 'invalid_client');
    const hmacKey = new TextEncoder().encode(JSON.stringify(key.publicJwk));
    const confused = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(hmacKey);
    refusedAs(await withAssertion(confused), 401, 'invalid_client');
    const stranger = await keyPair('ES256', 'k1');
    refusedAs(await withAssertion(await assertion(stranger, clientId)), 401, 'invalid_client');
  });

  it('RFC 6749 §2.3: a private_key_jwt client cannot use a secret or nothing, a secret client cannot use an assertion, one method per request', async () => {
    refusedAs(await server.post('/token', { grant_type: 'client_credentials', client_id: clientId }), 401, 'invalid_client');
    refusedAs(await server.post('/token', { grant_type: 'client_credentials', client_id: clientId, client_secret: 'guess' }), 401, 'invalid_client');
    const secretClient = await server.createClient();
    refusedAs(await withAssertion(await assertion(key, secretClient.id)), 401, 'invalid_client');
    refusedAs(await server.post('/token', { grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(key, clientId) },
      { authorization: secretClient.basic }), 400, 'invalid_request');
  });

  it('RFC 7521 §4.2: malformed assertion requests get spec errors with no-store, never a 500', async () => {
    refusedAs(await server.post('/token', { grant_type: 'client_credentials', client_assertion: await assertion(key, clientId) }), 400, 'invalid_request');
    refusedAs(await server.post('/token', { grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE }), 400, 'invalid_request');
    refusedAs(await withAssertion(await assertion(key, clientId), { client_assertion_type: 'urn:example:saml' }), 401, 'invalid_client');
    for (const garbage of ['not-a-jwt', 'a.b.c', '....', `${Buffer.from('{"alg":"ES256"}').toString('base64url')}.e30.`, '\u0000']) {
      refusedAs(await withAssertion(garbage), 401, 'invalid_client');
    }
    // An assertion naming a client that does not exist.
    refusedAs(await withAssertion(await assertion(key, 'nobody')), 401, 'invalid_client');
  });

  it('jwks_uri: the server fetches the client\'s keys; an unreachable jwks_uri is invalid_client, not a 500', async () => {
    const k2 = await keyPair('RS256', 'k2');
    served = [k2.publicJwk];
    const { client_id } = await create(['--auth-method', 'private_key_jwt', '--jwks-uri', jwksUrl]);
    expect((await withAssertion(await assertion(k2, client_id))).status).toBe(200);
    const k3 = await keyPair('EdDSA', 'k3');
    const gone = await create(['--auth-method', 'private_key_jwt', '--jwks-uri', 'http://127.0.0.1:9/jwks.json']);
    refusedAs(await withAssertion(await assertion(k3, gone.client_id)), 401, 'invalid_client');
  });

  it('client update --jwks replaces the keys: the old key is refused, the new one works, the client_id stays', async () => {
    const k4 = await keyPair('ES256', 'k4');
    const k5 = await keyPair('ES256', 'k5');
    const { client_id } = await create(['--auth-method', 'private_key_jwt', '--jwks', jwksFile('k4.json', [k4.publicJwk])]);
    expect((await withAssertion(await assertion(k4, client_id))).status).toBe(200);
    const run = await runTessera(server.db, ['client', 'update', client_id, '--jwks', jwksFile('k5.json', [k5.publicJwk]), '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ client_id, jwks: { keys: [k5.publicJwk] } });
    await expect.poll(async () => (await withAssertion(await assertion(k5, client_id))).status).toBe(200);
    refusedAs(await withAssertion(await assertion(k4, client_id)), 401, 'invalid_client');
  });

  it('the CLI refuses private keys, symmetric keys, bad files and bad URIs for --jwks / --jwks-uri with exit 2', async () => {
    const secretClient = await server.createClient();
    const base = ['client', 'create', '--name', 'x', '--grant-type', 'client_credentials', '--scope', 'read', '--auth-method', 'private_key_jwt'];
    const runs = await Promise.all([
      runTessera(server.db, [...base, '--jwks', jwksFile('private.json', [key.privateJwk])]),
      runTessera(server.db, [...base, '--jwks', jwksFile('oct.json', [{ kty: 'oct', k: 'c2VjcmV0' }])]),
      runTessera(server.db, [...base, '--jwks', join(server.dir, 'missing.json')]),
      runTessera(server.db, [...base, '--jwks-uri', 'http://keys.example/jwks.json']),
      runTessera(server.db, [...base]),
      runTessera(server.db, [...base, '--jwks', jwksFile('ok.json', [key.publicJwk]), '--jwks-uri', jwksUrl]),
      runTessera(server.db, ['client', 'create', '--name', 'x', '--grant-type', 'client_credentials', '--scope', 'read', '--jwks-uri', jwksUrl]),
      runTessera(server.db, ['client', 'update', secretClient.id, '--jwks-uri', jwksUrl]),
    ]);
    expect(runs.map((r) => r.code)).toEqual([2, 2, 2, 2, 2, 2, 2, 2]);
    expect(runs[0]?.stderr).toMatch(/private or symmetric key material/);
    expect(runs[3]?.stderr).toMatch(/https/);
    for (const r of runs) expect(r.stdout).toBe('');
  });
});

describe('private_key_jwt at the PAR and device authorization endpoints', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.close());

  it('RFC 9126 §2.1, RFC 8628 §3.1: a client authenticates at /par and /device_authorization as at /token, and the assertion is spent there', async () => {
    const key = await keyPair('ES256', 'par-1');
    const jwks = join(server.dir, 'par.json');
    writeFileSync(jwks, JSON.stringify({ keys: [key.publicJwk] }));
    const run = await runTessera(server.db, ['client', 'create', '--name', 'par-jwt', '--grant-type', 'authorization_code', '--grant-type',
      'urn:ietf:params:oauth:grant-type:device_code', '--redirect-uri', 'https://app.example/cb', '--scope', 'read', '--auth-method', 'private_key_jwt',
      '--jwks', jwks, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const id = JSON.parse(run.stdout).client_id as string;
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ iss: id, sub: id, aud: server.url, jti: crypto.randomUUID(), iat: now, exp: now + 60 })
      .setProtectedHeader({ alg: 'ES256', kid: 'par-1' }).sign(key.privateKey);
    const auth = { client_assertion_type: ASSERTION_TYPE, client_assertion: assertion };
    const pushed = await server.post('/par', { ...auth, response_type: 'code', redirect_uri: 'https://app.example/cb', scope: 'read', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' });
    expect(pushed.status, JSON.stringify(pushed.body)).toBe(201);
    expect((await server.post('/par', { ...auth, response_type: 'code', redirect_uri: 'https://app.example/cb' })).body.error).toBe('invalid_client');
    const fresh = await new SignJWT({ iss: id, sub: id, aud: server.url, jti: crypto.randomUUID(), iat: now, exp: now + 60 })
      .setProtectedHeader({ alg: 'ES256', kid: 'par-1' }).sign(key.privateKey);
    const device = await server.post('/device_authorization', { client_assertion_type: ASSERTION_TYPE, client_assertion: fresh, scope: 'read' });
    expect(device.status, JSON.stringify(device.body)).toBe(200);
    expect(device.body.user_code).toEqual(expect.any(String));
  });
});

describe('a jwks_uri that misbehaves', () => {
  let server: TestServer;
  let jwks: Server;
  let base: string;

  beforeAll(async () => {
    server = await startTestServer();
    jwks = createServer((req, res) => {
      if (req.url === '/big') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys: [], padding: 'x'.repeat(200_000) }));
      } else {
        res.statusCode = 500;
        res.end('no');
      }
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(jwks.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    jwks?.close();
    await server?.close();
  });

  it('a JWK Set over 64 KiB, an error status or nothing listening: one answer, invalid_client "keys could not be fetched" (no oracle of what listens there)', async () => {
    const key = await keyPair('ES256', 'm1');
    for (const uri of [`${base}/big`, `${base}/error`, 'http://127.0.0.1:9/jwks']) {
      const run = await runTessera(server.db, ['client', 'create', '--name', 'm', '--grant-type', 'client_credentials', '--scope', 'read', '--auth-method', 'private_key_jwt', '--jwks-uri', uri, '--json']);
      expect(run.code, run.stderr).toBe(0);
      const id = JSON.parse(run.stdout).client_id as string;
      const now = Math.floor(Date.now() / 1000);
      const assertion = await new SignJWT({ iss: id, sub: id, aud: server.url, jti: crypto.randomUUID(), iat: now, exp: now + 60 })
        .setProtectedHeader({ alg: 'ES256', kid: 'm1' }).sign(key.privateKey);
      const res = await server.post('/token', { grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: assertion });
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ error: 'invalid_client', error_description: "the client's keys could not be fetched" });
    }
  });
});

/**
 * This machine's own host name when it resolves to loopback addresses only (as /etc/hosts usually
 * has it): a real DNS name, not an IP address or localhost, that leads into the server's own host.
 * Undefined elsewhere (the unit tests of jwks-fetch.ts cover the rule with a given resolver).
 */
async function loopbackName(): Promise<{ name: string; address: string } | undefined> {
  const name = hostname();
  const addresses = await lookup(name, { all: true }).catch(() => []);
  const loopback = (a: string) => /^127\./.test(a) || a === '::1';
  const v4 = addresses.find((a) => a.family === 4);
  return addresses.length > 0 && addresses.every((a) => loopback(a.address)) && v4 ? { name, address: v4.address } : undefined;
}
const ownName = await loopbackName();

describe('a jwks_uri registered at /register is fetched from public addresses only (SSRF)', () => {
  let server: TestServer;
  let tcp: TcpServer;
  let connections = 0;

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    tcp?.close();
    await server?.close();
  });

  const tokenWith = async (id: string, k: KeyPair) => {
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ iss: id, sub: id, aud: server.url, jti: crypto.randomUUID(), iat: now, exp: now + 60 })
      .setProtectedHeader({ alg: 'ES256', kid: k.publicJwk.kid }).sign(k.privateKey);
    return server.post('/token', { grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: assertion });
  };
  const register = async (metadata: Record<string, unknown>) => {
    const { value } = await server.tessera.engine.mintInitialAccessToken(600, { actor: 'test' });
    const res = await fetch(`${server.url}/register`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${value}` }, body: JSON.stringify(metadata),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { client_id: string }).client_id;
  };

  it.skipIf(ownName === undefined)("a host name that resolves to loopback: the registered client is invalid_client when its keys are fetched, and no connection is made (the operator's client with the same jwks_uri is connected)", async () => {
    const { name, address } = ownName as { name: string; address: string };
    tcp = createTcpServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => tcp.listen(0, address, resolve));
    const jwksUri = `https://${name}:${(tcp.address() as { port: number }).port}/jwks`;
    const key = await keyPair('ES256', 'ssrf-1');

    const id = await register({ grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: jwksUri });
    const refused = await tokenWith(id, key);
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ error: 'invalid_client', error_description: "the client's keys could not be fetched" });
    expect(refused.headers.get('cache-control')).toBe('no-store');
    expect(connections).toBe(0);

    // Trusted configuration: the server does connect (and then fails the TLS handshake), so the 0 above is the rule's doing.
    const run = await runTessera(server.db, ['client', 'create', '--name', 'op', '--grant-type', 'client_credentials', '--scope', 'read', '--auth-method', 'private_key_jwt', '--jwks-uri', jwksUri, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const operators = await tokenWith(JSON.parse(run.stdout).client_id as string, key);
    expect(operators.body).toMatchObject({ error: 'invalid_client', error_description: "the client's keys could not be fetched" });
    expect(connections).toBeGreaterThan(0);
  });

  it('client update --jwks-uri on a client registered at /register keeps the registration rule: https to a host name, else exit 2', async () => {
    const id = await register({ grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://app.example/jwks' });
    for (const uri of ['http://127.0.0.1:8080/jwks', 'https://localhost/jwks', 'https://10.0.0.8/jwks']) {
      const run = await runTessera(server.db, ['client', 'update', id, '--jwks-uri', uri]);
      expect(run.code, uri).toBe(2);
      expect(run.stderr).toMatch(/registered itself at \/register/);
    }
    const run = await runTessera(server.db, ['client', 'update', id, '--jwks-uri', 'https://keys.app.example/jwks', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ client_id: id, jwks_uri: 'https://keys.app.example/jwks' });
  });
});
