#!/usr/bin/env node
/**
 * Peer: oidc-provider (npm) as a plain OAuth 2 authorization server, configured as close to
 * `tessera serve` as it allows: one confidential client (client_secret_basic) with
 * client_credentials and refresh_token; the clientCredentials, introspection and revocation
 * features on; refresh tokens rotated on every use (`rotateRefreshToken: true`); access tokens
 * live 3,600 s and refresh tokens 14 days (Tessera's defaults); ES256 signing key.
 *
 * Storage is oidc-provider's default in-memory adapter. That adapter is an LRU that keeps only the
 * last ~1,000–2,000 entries, so a pool of tokens issued before a revocation run would mostly have
 * been evicted (revoking an unknown token is a cheap no-op). `"store": "unbounded"` keeps the same
 * adapter code (oidc-provider's own MemoryAdapter) over a Map that never evicts: the revocation
 * scenario uses it, so that every token it revokes is live.
 *
 * `"jwt": true` issues RFC 9068-style JWT access tokens (ES256) to client_credentials through the
 * resourceIndicators feature (a default resource); otherwise access tokens are opaque.
 *
 * Refresh tokens: oidc-provider has no password grant, so the first refresh token of each chain
 * is minted in-process (a Grant and a RefreshToken saved through its own models, exactly what its
 * code exchange would save) by `POST /_bench/refresh-seeds?n=N`, a route of this script only.
 *
 *   node bench/peers/oidc-provider.js '{"port":9500,"clientId":"…","clientSecret":"…","jwt":false,"store":"default"}'
 */
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';

const { port, clientId, clientSecret, jwt = false, store = 'default' } = JSON.parse(process.argv[2]);
const issuer = `http://127.0.0.1:${port}`;
const resource = 'urn:tessera-bench:api';

const { privateKey } = await generateKeyPair('ES256', { extractable: true });
const signingKey = { ...(await exportJWK(privateKey)), kid: 'bench-es256', alg: 'ES256', use: 'sig' };

/** The storage interface oidc-provider's MemoryAdapter expects (get/set/delete with maxAge), never evicting. */
class UnboundedStore {
  #map = new Map();
  get(key) {
    const e = this.#map.get(key);
    if (e === undefined) return undefined;
    if (e.expiry !== undefined && e.expiry <= Date.now()) {
      this.#map.delete(key);
      return undefined;
    }
    return e.value;
  }
  set(key, value, { maxAge } = {}) {
    this.#map.set(key, { value, expiry: typeof maxAge === 'number' && Number.isFinite(maxAge) ? Date.now() + maxAge : undefined });
    return this;
  }
  delete(key) {
    return this.#map.delete(key);
  }
}

const configuration = {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['client_credentials', 'refresh_token'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
      scope: 'read write',
    },
  ],
  jwks: { keys: [signingKey] },
  scopes: ['openid', 'offline_access', 'read', 'write'],
  rotateRefreshToken: true,
  findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
  ttl: { AccessToken: 3600, ClientCredentials: 3600, RefreshToken: 14 * 24 * 3600, Grant: 14 * 24 * 3600 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: jwt
      ? {
          enabled: true,
          defaultResource: () => resource,
          useGrantedResource: () => true,
          getResourceServerInfo: () => ({ scope: 'read write', audience: resource, accessTokenTTL: 3600, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } }),
        }
      : { enabled: false },
  },
  ...(store === 'unbounded' ? { adapter: ((s) => (model) => new MemoryAdapter(model, s))(new UnboundedStore()) } : {}),
};

const provider = new Provider(issuer, configuration);
provider.on('server_error', (_ctx, err) => console.error('server_error', err));

provider.use(async (ctx, next) => {
  if (ctx.method !== 'POST' || ctx.path !== '/_bench/refresh-seeds') return next();
  const n = Number(ctx.query.n ?? 1);
  const client = await provider.Client.find(clientId);
  const seeds = [];
  for (let i = 0; i < n; i++) {
    const grant = new provider.Grant({ accountId: 'u', clientId });
    grant.addOIDCScope('offline_access read');
    const grantId = await grant.save();
    const rt = new provider.RefreshToken({ accountId: 'u', client, grantId, gty: 'authorization_code', scope: 'offline_access read', expiresWithSession: false, iiat: Math.floor(Date.now() / 1000) });
    seeds.push(await rt.save());
  }
  ctx.body = seeds;
});

const server = createServer(provider.callback()).listen(port, '127.0.0.1');
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
