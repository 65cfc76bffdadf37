/**
 * oidc-provider (from npm, written by no one here) on 127.0.0.1, configured for the client
 * tests: one client per scenario, devInteractions for login and consent (driven over HTTP by
 * `approve`), device flow, introspection, revocation, client credentials, private_key_jwt, DPoP
 * with server nonces required.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider from 'oidc-provider';
import { Agent, type Page } from '../agent.js';

export const OIDC_REDIRECT = 'https://client.example/cb';
/** A secret with characters (VSCHAR, RFC 6749 Appendix A.2) that §2.3.1 makes us form-urlencode before Basic encoding. */
export const AWKWARD_SECRET = 'se:cr%et +/=&';
export const SECRET = 'a-long-random-client-secret-for-the-tests';

export interface OidcServer {
  issuer: string;
  /** The private half of the `jwt-client`'s key (its public half is registered). */
  clientKey: JWK;
  /** Grant types of every token request the server handled, in order. */
  grants: string[];
  close(): Promise<void>;
}

export async function startOidcProvider(): Promise<OidcServer> {
  const server: Server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const issuer = `http://127.0.0.1:${port}`;

  const signing = await generateKeyPair('RS256', { extractable: true });
  const client = await generateKeyPair('ES256', { extractable: true });
  const clientKey = { ...(await exportJWK(client.privateKey)), alg: 'ES256', kid: 'client-key-1' };
  const { d: _d, ...clientPublic } = clientKey;

  const device = ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'];
  const provider = new Provider(issuer, {
    clients: [
      { client_id: 'web', client_secret: AWKWARD_SECRET, grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], redirect_uris: [OIDC_REDIRECT], token_endpoint_auth_method: 'client_secret_basic' },
      { client_id: 'service', client_secret: SECRET, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_post', scope: 'api:read' },
      { client_id: 'tv', grant_types: device, response_types: [], redirect_uris: [], token_endpoint_auth_method: 'none' },
      { client_id: 'tv-short', grant_types: device, response_types: [], redirect_uris: [], token_endpoint_auth_method: 'none' },
      { client_id: 'jwt-client', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [clientPublic] }, scope: 'api:read' },
    ],
    jwks: { keys: [{ ...(await exportJWK(signing.privateKey)), alg: 'RS256', kid: 'op-1', use: 'sig' }] },
    cookies: { keys: ['client-tests-cookie-key'] },
    scopes: ['openid', 'offline_access', 'api:read'],
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      deviceFlow: { enabled: true },
      // RFC 9449 §8: every DPoP proof must carry a server nonce (requests without DPoP are untouched).
      dPoP: { enabled: true, nonceSecret: Buffer.alloc(32, 7), requireNonce: () => true },
    },
    findAccount: async (_ctx: unknown, sub: string) => ({ accountId: sub, claims: async () => ({ sub }) }),
    // Refresh tokens for every client allowed the grant (not only with offline_access), rotated on each use.
    issueRefreshToken: async (_ctx: unknown, c: { grantTypeAllowed(g: string): boolean }) => c.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    // `tv-short`'s device codes expire before the client's first poll (after the default 5 s interval).
    ttl: { DeviceCode: (_ctx: unknown, _token: unknown, c: { clientId: string }) => (c.clientId === 'tv-short' ? 2 : 600) },
  });
  const grants: string[] = [];
  provider.on('grant.success', (ctx: { oidc: { params: { grant_type: string } } }) => grants.push(ctx.oidc.params.grant_type));
  server.on('request', provider.callback());
  return {
    issuer,
    clientKey,
    grants,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())).then(() => undefined),
  };
}

/** The forms of a page, as action URL and field values (hidden inputs and prefilled ones). */
function firstForm(page: Page): { action: string; fields: Record<string, string> } | undefined {
  const form = /<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/.exec(page.body);
  if (!form) return undefined;
  const fields: Record<string, string> = {};
  for (const input of (form[2] as string).matchAll(/<input[^>]*>/g)) {
    const name = /name="([^"]*)"/.exec(input[0])?.[1];
    const value = /value="([^"]*)"/.exec(input[0])?.[1];
    if (name !== undefined) fields[name] = value ?? '';
  }
  return { action: (form[1] as string).replace(/&amp;/g, '&'), fields };
}

/**
 * Plays the user in a browser from `url` on: signs in as `user`, confirms a device code, consents
 * (or, with decision 'deny', aborts); returns the last response (the redirect to the client, or
 * the device flow's closing page).
 */
export async function approve(issuer: string, url: string, options: { user?: string; decision?: 'allow' | 'deny' } = {}): Promise<Page> {
  const agent = new Agent(issuer);
  let page = await agent.get(url);
  for (let step = 0; step < 20; step++) {
    if (page.location !== undefined) {
      if (!page.location.startsWith(issuer)) return page;
      page = await agent.get(page.location);
      continue;
    }
    const abort = /href="([^"]*\/abort)"/.exec(page.body)?.[1];
    if (options.decision === 'deny' && abort !== undefined) {
      page = await agent.get(abort);
      continue;
    }
    const form = firstForm(page);
    if (page.status !== 200 || form === undefined) return page;
    const fields = { ...form.fields };
    if (fields.prompt === 'login') Object.assign(fields, { login: options.user ?? 'alice', password: 'any' });
    if ('user_code' in fields && 'confirm' in fields && options.decision === 'deny') {
      delete fields.confirm;
      // The user declines on the device confirmation page; what follows is the final page.
      return agent.post(form.action, { ...fields, abort: 'yes' });
    }
    page = await agent.post(form.action, fields);
  }
  throw new Error(`approve: no end in sight at ${page.status} ${page.location ?? page.body.slice(0, 200)}`);
}
