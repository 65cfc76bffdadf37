/**
 * The HTTP scenarios: which servers take part (with which settings), what each request is, and
 * how each response is checked. Every request authenticates its client with client_secret_basic
 * and is an application/x-www-form-urlencoded POST.
 *
 * `prepare(server, { runs, connections })` runs once after the servers started (runs = how many
 * runs, warm-ups included, the server will get); `request(server, state, run)` before
 * every run (warm-up or measured), so scenarios that consume something (refresh chains, a pool of
 * tokens to revoke) get fresh material each time. `state` is per server and scenario; the runner
 * keeps `state.maxRps`, the best rate seen so far, which sizes the revocation pool.
 *
 * The bare ceiling gets the same path and a body of the same shape as Tessera's request.
 */
import { randomBytes } from 'node:crypto';
import { form, mintTokens, postForm } from './http.js';

const fakeToken = (prefix) => `${prefix}${randomBytes(32).toString('base64url')}`;
const headers = (s) => ({ ...form, authorization: s.auth });
const ok = (status) => status >= 200 && status < 300;
const bare = (path, body) => ({ path, headers: { ...form, authorization: 'Basic YmFyZTpiYXJl' }, body, check: ok });

const clientCredentials = {
  request: (s) =>
    s.kind === 'bare'
      ? bare('/token', 'grant_type=client_credentials')
      : { path: s.paths.token, headers: headers(s), body: 'grant_type=client_credentials', check: (st, body) => st === 200 && body.includes('"access_token"') },
};

/** Every request presents the refresh token the previous response of its chain returned. */
function refreshChains(s, seeds) {
  // autocannon gives each connection a context, but clears it whenever its list of requests wraps
  // around, i.e. after every request here. The context carries the token in flight from
  // setupRequest to onResponse; onResponse pushes the successor on this stack, and the same
  // connection pops it back in the same tick (autocannon calls onResponse, then setupRequest for
  // that connection's next request, synchronously). So each connection follows one chain.
  const handoff = [...seeds];
  let starved = 0;
  return {
    path: s.paths.token,
    headers: headers(s),
    body(context) {
      context.rt = handoff.pop();
      if (context.rt === undefined) starved++;
      return `grant_type=refresh_token&refresh_token=${encodeURIComponent(context.rt ?? '')}`;
    },
    onResponse(status, body, context) {
      const m = status === 200 ? /"refresh_token":"([^"]+)"/.exec(body) : null;
      handoff.push(m ? m[1] : context.rt);
    },
    check: (status, body) => status === 200 && body.includes('"refresh_token"'),
    extra: () => (starved ? { chains_starved: starved } : {}),
  };
}

/** Each request revokes a different live token from a pool minted just before the run. */
function revocationPool(s, pool) {
  let next = 0;
  let over = 0;
  let instance = null;
  let t0 = 0;
  let ranOutAfter = null;
  return {
    path: s.paths.revoke,
    headers: headers(s),
    body() {
      if (next === 0) t0 = performance.now();
      if (next < pool.length) return `token=${pool[next++]}`;
      // The pool ran out. autocannon stops at its next one-second tick, so until then requests
      // revoke an already revoked token: the runner discards such a run and repeats it with a
      // pool sized from this run's rate.
      if (over++ === 0) {
        ranOutAfter = Math.round(performance.now() - t0) / 1000;
        setImmediate(() => instance?.stop());
      }
      return `token=${pool[pool.length - 1]}`;
    },
    check: (status) => status === 200,
    attach: (i) => {
      instance = i;
    },
    extra: () => ({ pool: pool.length, revoked: next, pool_ran_out: over > 0, ...(over ? { ran_out_after_s: ranOutAfter, requests_after_running_out: over } : {}) }),
  };
}

const WARMUP_POOL = 3000;

export const SCENARIOS = [
  {
    id: 'token-opaque',
    title: 'POST /token client_credentials, opaque',
    servers: [['tessera', { format: 'opaque' }], ['oidc-provider', {}], ['node-oauth2-server', {}], ['bare', {}]],
    ...clientCredentials,
  },
  {
    id: 'token-jwt',
    title: 'POST /token client_credentials, JWT (ES256)',
    servers: [['tessera', { format: 'jwt' }], ['oidc-provider', { jwt: true }], ['bare', {}]],
    absent: { 'node-oauth2-server': 'no JWT access tokens of its own' },
    ...clientCredentials,
  },
  {
    id: 'refresh',
    title: 'POST /token refresh_token, rotating',
    servers: [['tessera', { refresh: true }], ['oidc-provider', {}], ['bare', {}]],
    absent: { 'node-oauth2-server': 'token endpoint measured with client_credentials only' },
    // Every run gets fresh chains. Tessera's are all minted here, before the first run: its
    // password grant runs scrypt, which would otherwise land in the measured time and peak RSS.
    // oidc-provider's are minted just before each run (cheap, in-process): its default adapter
    // evicts entries a previous run's churn pushed out, so seeds minted early would be gone.
    async prepare(s, { runs, connections }) {
      if (!s.kind.startsWith('tessera')) return {};
      const seeds = [];
      for (let i = 0; i < runs; i++) seeds.push(await s.refreshSeeds(connections));
      return { seeds };
    },
    async request(s, state, run) {
      if (s.kind === 'bare') return bare('/token', `grant_type=refresh_token&refresh_token=${fakeToken('tsr_')}`);
      return refreshChains(s, state.seeds?.shift() ?? (await s.refreshSeeds(run.connections)));
    },
  },
  {
    id: 'introspect-active',
    title: 'POST introspection, active token',
    servers: [['tessera', {}], ['oidc-provider', {}], ['bare', {}]],
    absent: { 'node-oauth2-server': 'no introspection endpoint' },
    async prepare(s) {
      if (s.kind === 'bare') return {};
      const [token] = await mintTokens(s, 1);
      return { token };
    },
    request: (s, state) =>
      s.kind === 'bare'
        ? bare('/introspect', `token=${fakeToken('tsa_')}`)
        : { path: s.paths.introspect, headers: headers(s), body: `token=${state.token}`, check: (st, body) => st === 200 && body.includes('"active":true') },
  },
  {
    id: 'introspect-revoked',
    title: 'POST introspection, revoked token',
    servers: [['tessera', {}], ['oidc-provider', {}], ['bare', {}]],
    absent: { 'node-oauth2-server': 'no introspection endpoint' },
    async prepare(s) {
      if (s.kind === 'bare') return {};
      const [token] = await mintTokens(s, 1);
      const res = await fetch(s.url + s.paths.revoke, { method: 'POST', headers: headers(s), body: `token=${token}` });
      if (res.status !== 200) throw new Error(`${s.name}: revocation answered ${res.status}`);
      const check = await postForm(s.url + s.paths.introspect, s.auth, `token=${token}`);
      if (check.active !== false) throw new Error(`${s.name}: a revoked token introspects as ${JSON.stringify(check)}`);
      return { token };
    },
    request: (s, state) =>
      s.kind === 'bare'
        ? bare('/introspect', `token=${fakeToken('tsa_')}`)
        : { path: s.paths.introspect, headers: headers(s), body: `token=${state.token}`, check: (st, body) => st === 200 && body.includes('"active":false') },
  },
  {
    id: 'revoke',
    title: 'POST revocation, live token',
    // oidc-provider's default memory adapter keeps only the last ~1,000-2,000 entries: a pool of
    // tokens minted before the run would mostly be gone. The same adapter over a Map that does not
    // evict keeps every pooled token live (see bench/peers/oidc-provider.js).
    servers: [['tessera', {}], ['oidc-provider', { store: 'unbounded' }], ['bare', {}]],
    absent: { 'node-oauth2-server': 'no revocation endpoint' },
    async request(s, state, run) {
      if (s.kind === 'bare') return bare('/revoke', `token=${fakeToken('tsa_')}`);
      const size = state.maxRps ? Math.max(WARMUP_POOL, Math.ceil(state.maxRps * run.seconds * 2)) : WARMUP_POOL;
      const pool = await mintTokens(s, size);
      const live = await postForm(s.url + s.paths.introspect, s.auth, `token=${pool[0]}`);
      if (live.active !== true) throw new Error(`${s.name}: the first pooled token is not live before the run`);
      return revocationPool(s, pool);
    },
  },
];
