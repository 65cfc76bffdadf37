/**
 * The servers under test, each started as its own child process on 127.0.0.1 with equivalent
 * settings: one confidential client authenticated with client_secret_basic, access tokens living
 * 3,600 s, refresh tokens 14 days and rotated on every use.
 *
 *   tessera             `tessera serve` on a fresh SQLite file (synchronous=full, the default:
 *                       every token durably stored and audited before the response)
 *   tessera-workers     the same with `--workers 2`: two event loops, one writer thread (in the
 *                       cluster's primary)
 *   tessera-postgres    the same on a fresh PostgreSQL database (bench/lib/databases.js), dropped
 *                       when the server stops (`npm run bench -- --postgres`)
 *   oidc-provider       bench/peers/oidc-provider.js (its default in-memory adapter)
 *   node-oauth2-server  bench/peers/node-oauth2-server.js (Express 5, in-memory model)
 *   bare                bench/peers/bare.js, a fixed JSON body: the ceiling
 *
 * `start(kind, options)` returns a handle: `url`, `pid`, `peakRss()`, `stop()`, the client's
 * `auth` header, the endpoint `paths` it has (null where it has none) and `refreshSeeds(n)`, the
 * first refresh token of n chains. `setupTessera` and `serveTessera` are its two halves, for
 * several Tessera instances on one database (bench/scale.js).
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newDatabase } from './databases.js';
import { postForm } from './http.js';
import { freePort, startNode } from './processes.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const peers = join(root, 'bench/peers');
const basic = (id, secret) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
/** A machine-generated secret with 256 random bits, like Tessera's. */
const newSecret = () => randomBytes(32).toString('base64url');

export const LABELS = {
  tessera: 'Tessera',
  'tessera-baseline': 'Tessera baseline',
  'tessera-workers': 'Tessera, 2 workers',
  'tessera-postgres': 'Tessera on PostgreSQL',
  'oidc-provider': 'oidc-provider',
  'node-oauth2-server': '@node-oauth/oauth2-server',
  bare: 'bare node:http',
};

export const DESCRIPTIONS = {
  tessera: 'tessera serve, SQLite synchronous=full (WAL), TESSERA_LOG_LEVEL=warn',
  'tessera-baseline': 'the same, from the checkout given with --baseline (built)',
  'tessera-workers': 'the same with --workers 2: two processes serve HTTP, the primary\'s one writer thread commits for both',
  'tessera-postgres': 'tessera serve on a fresh PostgreSQL 15 database (synchronous_commit on, pool of 10), TESSERA_LOG_LEVEL=warn',
  'oidc-provider': 'oidc-provider 9 on node:http, default in-memory adapter (LRU), rotateRefreshToken: true; NODE_ENV=production',
  'node-oauth2-server': '@node-oauth/oauth2-server 5 behind Express 5, in-memory Map model; NODE_ENV=production',
  bare: 'node:http answering a fixed 120-byte JSON body after reading the request body',
};

/**
 * @param kind one of LABELS' keys
 * @param options tessera: { format: 'opaque'|'jwt', refresh: boolean, guard: boolean };
 *                tessera-baseline: the same, plus { root: another checkout of Tessera, built };
 *                both: { nodeArgs: extra node flags for the server, e.g. --cpu-prof };
 *                oidc-provider: { jwt: boolean, store: 'default'|'unbounded' }
 * @param dir a temporary directory for Tessera's database
 */
export async function start(kind, options, dir) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  switch (kind) {
    case 'tessera':
    case 'tessera-baseline':
    case 'tessera-workers':
      return startTessera(kind, options, dir, port);
    case 'tessera-postgres':
      return startTesseraPostgres(options, dir, port);
    case 'oidc-provider':
      return startPeer(kind, 'oidc-provider.js', { port, jwt: !!options.jwt, store: options.store ?? 'default' }, url, { token: '/token', introspect: '/token/introspection', revoke: '/token/revocation' }, async (n) => {
        const res = await fetch(`${url}/_bench/refresh-seeds?n=${n}`, { method: 'POST' });
        if (!res.ok) throw new Error(`oidc-provider refresh seeds: ${res.status}`);
        return res.json();
      });
    case 'node-oauth2-server':
      return startPeer(kind, 'node-oauth2-server.js', { port }, url, { token: '/token', introspect: null, revoke: null });
    case 'bare': {
      const handle = await startNode(LABELS.bare, join(peers, 'bare.js'), [String(port)], { url });
      return { ...handle, kind, auth: basic('bare-client', newSecret()), paths: { token: '/token', introspect: '/introspect', revoke: '/revoke' }, refreshSeeds: async (n) => Array.from({ length: n }, () => `tsr_${newSecret()}`) };
    }
    default:
      throw new Error(`unknown server ${kind}`);
  }
}

async function startPeer(kind, script, config, url, paths, refreshSeeds = null) {
  const clientId = `bench-${kind}`;
  const clientSecret = newSecret();
  const handle = await startNode(LABELS[kind], join(peers, script), [JSON.stringify({ ...config, clientId, clientSecret })], { url, env: { NODE_ENV: 'production' } });
  return { ...handle, kind, auth: basic(clientId, clientSecret), paths, refreshSeeds };
}

/** Password grants in flight at once while minting refresh chains (fewer than signInFreeFailures). */
const SEED_BATCH = 2;

const cliOf = (checkout) => join(checkout, 'packages/server/bin/tessera.js');

function tessera(cli, db, args, input) {
  return execFileSync(process.execPath, [cli, ...args, '--db', db], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

function tesseraClient(cli, db, name, grantTypes, scope, format) {
  const c = JSON.parse(tessera(cli, db, ['client', 'create', '--json', '--name', name, '--grant-type', grantTypes, '--scope', scope, '--token-format', format]));
  return { id: c.client_id, secret: c.client_secret, auth: basic(c.client_id, c.client_secret) };
}

/**
 * Registers the benchmark's clients (and, with `refresh`, a user) in the Tessera database `db`, a
 * SQLite path (created if missing) or a postgres:// URL of a migrated database: what
 * `serveTessera` needs, once per database however many instances serve it.
 */
export function setupTessera(db, { format = 'opaque', refresh = false, guard = false, root: checkout = root } = {}) {
  const cli = cliOf(checkout);
  const app = tesseraClient(cli, db, 'bench-app', 'client_credentials', 'read write', format);
  const password = newSecret();
  let refresher = null;
  let guardClient = null;
  if (refresh) {
    // --username (deprecated, still accepted) rather than the positional name: a --baseline checkout may predate it.
    tessera(cli, db, ['user', 'create', '--username', 'u', '--password-stdin'], password);
    refresher = tesseraClient(cli, db, 'bench-refresh', 'password,refresh_token', 'read write', 'opaque');
  }
  if (guard) guardClient = tesseraClient(cli, db, 'bench-guard', 'client_credentials', 'tessera:revocations tessera:introspect', 'opaque');
  return { db, cli, refresh, app, password, refresher, guardClient };
}

/**
 * One `tessera serve` process on a database `setupTessera` prepared, listening on `port`; `args`
 * are more serve flags (e.g. `--issuer`, `--sweep-interval`). Its handle's `auth` is the refresh
 * client's when the setup has one, else the app's (both are in `setup`).
 */
export async function serveTessera(kind, setup, { port, args = [], nodeArgs = [], label = LABELS[kind] } = {}) {
  const url = `http://127.0.0.1:${port}`;
  const { cli, db, refresh, refresher, password } = setup;
  const serveArgs = ['serve', '--db', db, '--port', String(port), ...(refresh ? ['--enable-legacy', 'password'] : []), ...args];
  const handle = await startNode(label, cli, serveArgs, { url: `${url}/healthz`, env: { TESSERA_LOG_LEVEL: 'warn' }, nodeArgs });
  return {
    ...handle,
    url,
    kind,
    auth: refresh ? refresher.auth : setup.app.auth,
    guardClient: setup.guardClient,
    paths: { token: '/token', introspect: '/introspect', revoke: '/revoke' },
    /**
     * The first refresh token of n chains: one password grant each (the legacy grant, enabled for
     * this), a few at a time: sign-in throttling counts attempts in flight for one account and
     * address as possible failures, as it must against parallel guessing.
     */
    refreshSeeds: refresh
      ? async (n) => {
          const body = `grant_type=password&username=u&password=${encodeURIComponent(password)}&scope=read`;
          const seeds = [];
          while (seeds.length < n) {
            const batch = await Promise.all(Array.from({ length: Math.min(SEED_BATCH, n - seeds.length) }, () => postForm(`${url}/token`, refresher.auth, body)));
            for (const r of batch) {
              if (!r.refresh_token) throw new Error(`Tessera password grant: ${JSON.stringify(r)}`);
              seeds.push(r.refresh_token);
            }
          }
          return seeds;
        }
      : null,
  };
}

async function startTesseraPostgres({ nodeArgs = [], ...options } = {}, dir, port) {
  const database = await newDatabase('postgres', dir);
  const handle = await serveTessera('tessera-postgres', setupTessera(database.db, options), { port, nodeArgs });
  return {
    ...handle,
    async stop() {
      await handle.stop();
      await database.drop();
    },
  };
}

function startTessera(kind, { nodeArgs = [], ...options } = {}, dir, port) {
  const setup = setupTessera(join(dir, `tessera-${port}.db`), options);
  return serveTessera(kind, setup, { port, nodeArgs, args: kind === 'tessera-workers' ? ['--workers', '2'] : [] });
}
