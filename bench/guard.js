#!/usr/bin/env node
/**
 * The guard's benchmarks (issue 4), against `tessera serve` on a fresh SQLite file:
 *   1. revocation propagation: from POST /revoke answering 200 to all 4 guard processes refusing
 *      the token, p50/p99 over --revocations (≥ 1,000) sequential revocations;
 *   2. verification ops/s of a JWT with 64 in flight: the guard (signature, claims, revoked-set
 *      check, scopes) against jose.jwtVerify alone and raw node:crypto ES256 verification; and the
 *      guard with a DPoP-bound JWT and a fresh ES256 DPoP proof per request (RFC 9449 §7: proof
 *      signature, htm, htu, iat, ath, jti replay cache, cnf.jkt), reported as a ratio to the
 *      bearer JWT row (goal ≥ 0.5);
 *   3. memory of the revoked set with --entries (1,000,000) live revocations.
 *
 * The verification rows run interleaved, --rounds times each, and report the median: on a shared
 * 2-core machine a fixed order would credit whichever ran while the machine was quieter.
 *
 *   npm run bench:guard [-- --duration 3 --rounds 3 --revocations 1000 --entries 1000000 --out FILE]
 */
import { execFileSync, fork, spawn } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { createGuard, verifyRequest } from '@tessera/guard';
import { importJWK, jwtVerify } from 'jose';
import { headerValue } from './lib/header.js';
import { signingJwk } from './lib/jwks.js';
import { opsPerSecond as measure, syncOpsPerSecond } from './lib/ops.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'packages/server/bin/tessera.js');
const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    revocations: { type: 'string', default: '1000' },
    entries: { type: 'string', default: '1000000' },
    port: { type: 'string', default: '9402' },
    out: { type: 'string' },
  },
});
const duration = Number(values.duration);
const rounds = Number(values.rounds);
const revocations = Number(values.revocations);
const url = `http://127.0.0.1:${values.port}`;
const WORKERS = 4;
const IN_FLIGHT = 64;

const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-guard-'));
const db = join(dir, 'tessera.db');
function createClient(name, scope, format) {
  const c = JSON.parse(execFileSync('node', [cli, 'client', 'create', '--db', db, '--json', '--name', name, '--grant-type', 'client_credentials', '--scope', scope, '--token-format', format], { encoding: 'utf8' }));
  return { id: c.client_id, secret: c.client_secret, basic: `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString('base64')}` };
}
const form = { 'content-type': 'application/x-www-form-urlencoded' };
const post = (path, c, body) => fetch(url + path, { method: 'POST', headers: { ...form, authorization: c.basic }, body });
const token = async (c) => (await (await post('/token', c, 'grant_type=client_credentials&scope=read')).json()).access_token;

/** DPoP (RFC 9449): an ES256 key and proofs by it, each with a fresh jti (made before a run, never timed). */
const dpopKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const dpopHeader = Buffer.from(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: dpopKey.publicKey.export({ format: 'jwk' }) })).toString('base64url');
function dpopProof(claims) {
  const payload = Buffer.from(JSON.stringify({ jti: randomBytes(16).toString('base64url'), iat: Math.floor(Date.now() / 1000), ...claims })).toString('base64url');
  const input = `${dpopHeader}.${payload}`;
  return headerValue(`${input}.${cryptoSign('sha256', Buffer.from(input), { key: dpopKey.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`);
}
/** A client_credentials token bound to the DPoP key (token_type DPoP, cnf.jkt). */
async function dpopToken(c) {
  const res = await fetch(`${url}/token`, {
    method: 'POST', headers: { ...form, authorization: c.basic, dpop: dpopProof({ htm: 'POST', htu: `${url}/token` }) }, body: 'grant_type=client_credentials&scope=read',
  });
  const body = await res.json();
  if (body.token_type !== 'DPoP') throw new Error(`no DPoP token: ${JSON.stringify(body)}`);
  return body.access_token;
}
const jtiOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url')).jti;
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const ms = (ns) => Math.round(ns / 1e4) / 100;

/** Sequential revocations; each one's latency is the slowest of the 4 guard processes. */
async function propagation(app, guardClient) {
  const workers = Array.from({ length: WORKERS }, () => fork(join(root, 'bench/guard-worker.js'), [JSON.stringify({ issuer: url, client: guardClient })]));
  const replies = (w, type, id) => new Promise((resolve) => {
    const on = (m) => {
      if (m.type === type && m.id === id) {
        w.off('message', on);
        resolve(m);
      }
    };
    w.on('message', on);
  });
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
  const tokens = [];
  for (let i = 0; i < revocations; i++) tokens.push(await token(app));
  const latencies = [];
  let early = 0;
  let notRefused = 0;
  for (let id = 0; id < tokens.length; id++) {
    const t = tokens[id];
    const watching = workers.map((w) => replies(w, 'watching', id));
    for (const w of workers) w.send({ type: 'watch', id, token: t, jti: jtiOf(t) });
    if ((await Promise.all(watching)).some((m) => !m.accepted)) throw new Error('a guard refused a live token');
    const refused = workers.map((w) => replies(w, 'refused', id));
    const res = await post('/revoke', app, `token=${t}`);
    const at200 = process.hrtime.bigint();
    if (res.status !== 200) throw new Error(`/revoke answered ${res.status}`);
    await res.arrayBuffer();
    const reports = await Promise.all(refused);
    notRefused += reports.filter((r) => !r.refused).length;
    const last = reports.reduce((m, r) => (BigInt(r.at) > m ? BigInt(r.at) : m), 0n);
    const latency = Number(last - at200);
    if (latency < 0) early++;
    latencies.push(Math.max(0, latency));
  }
  for (const w of workers) w.send({ type: 'close' });
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('exit', resolve))));
  latencies.sort((a, b) => a - b);
  return {
    revocations: latencies.length, guards: WORKERS, p50_ms: ms(percentile(latencies, 50)), p99_ms: ms(percentile(latencies, 99)), max_ms: ms(latencies.at(-1)),
    refused_before_200_arrived: early, not_refused: notRefused,
  };
}

/** ops/s with IN_FLIGHT calls outstanding, after a short warm-up. */
async function opsPerSecond(fn, seconds) {
  await measure(fn, Math.min(1, seconds / 4), IN_FLIGHT);
  return measure(fn, seconds, IN_FLIGHT);
}

async function verification(app, guardClient) {
  const guard = createGuard({ issuer: url, audience: url, client: guardClient });
  await guard.ready();
  const jwt = await token(app);
  const jwk = await signingJwk(url, jwt);
  const key = await importJWK(jwk, 'ES256');
  const [h, p, s] = jwt.split('.');
  const data = Buffer.from(`${h}.${p}`);
  const signature = Buffer.from(s, 'base64url');
  const publicKey = { key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' };
  const asyncVerify = promisify(cryptoVerify);
  if (!(await guard.verifyToken(jwt, ['read'])).ok) throw new Error('the guard refused the benchmark token');
  if (!cryptoVerify('sha256', data, publicKey, signature)) throw new Error('raw verification failed');
  const joseOptions = { issuer: url, audience: url, typ: 'at+jwt', algorithms: ['ES256'] };

  // DPoP: each request needs a proof never seen (jti); enough are made before each run for the
  // bearer rate of the same round (DPoP is slower), and a run that would need more fails loudly.
  const bound = await dpopToken(app);
  const resource = 'https://api.example/notes';
  const ath = createHash('sha256').update(bound).digest('base64url');
  // A bearer request as the adapters hand it over (header read and parsed), to compare the DPoP request with like for like.
  const bearerAuthorization = headerValue(`Bearer ${jwt}`);
  const dpopAuthorization = headerValue(`DPoP ${bound}`);
  // Built per call in both rows, as a server builds a request object per request (the DPoP row must: each has its proof).
  const bearerRequest = () => ({ method: 'GET', url: resource, headers: { get: (name) => (name === 'authorization' ? bearerAuthorization : null) } });
  const dpopRequest = (dpop) => ({ method: 'GET', url: resource, headers: { get: (name) => (name === 'authorization' ? dpopAuthorization : name === 'dpop' ? dpop : null) } });
  if (!(await verifyRequest(guard, dpopRequest(dpopProof({ htm: 'GET', htu: resource, ath })), ['read'])).ok) throw new Error('the guard refused the DPoP benchmark request');
  let lastBearer = 20_000;
  const dpopRefused = [];
  const rows = {
    guard_ops_s: async () => {
      lastBearer = await opsPerSecond(() => guard.verifyToken(jwt, ['read']), duration);
      return lastBearer;
    },
    guard_bearer_request_ops_s: () => opsPerSecond(() => verifyRequest(guard, bearerRequest(), ['read']), duration),
    guard_dpop_ops_s: async () => {
      const proofs = Array.from({ length: Math.ceil(lastBearer * (duration + Math.min(1, duration / 4)) * 1.2) }, () => dpopProof({ htm: 'GET', htu: resource, ath }));
      let next = 0;
      let refused = 0;
      const rate = await opsPerSecond(async () => {
        const proof = proofs[next++];
        if (proof === undefined) throw new Error('out of DPoP proofs: the DPoP row ran faster than the bearer row');
        if (!(await verifyRequest(guard, dpopRequest(proof), ['read'])).ok) refused++;
      }, duration);
      dpopRefused.push(refused);
      return rate;
    },
    jose_jwtVerify_ops_s: () => opsPerSecond(() => jwtVerify(jwt, key, joseOptions), duration),
    raw_crypto_sync_ops_s: async () => syncOpsPerSecond(() => cryptoVerify('sha256', data, publicKey, signature), duration),
    raw_crypto_async_ops_s: () => opsPerSecond(() => asyncVerify('sha256', data, publicKey, signature), duration),
  };
  const runs = Object.fromEntries(Object.keys(rows).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) for (const [name, row] of Object.entries(rows)) runs[name].push(await row());
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const result = Object.fromEntries(Object.entries(runs).map(([k, xs]) => [k, median(xs)]));
  result.runs = runs;
  result.revoked_set_entries_during_run = guard.status().revoked.tokens;
  result.dpop_refused_during_runs = dpopRefused;
  result.dpop_proofs_remembered = guard.status().dpopProofs;
  await guard.close();
  const faster = Math.max(result.jose_jwtVerify_ops_s, result.raw_crypto_sync_ops_s);
  const ratio = (a, b) => Math.round((a / b) * 1000) / 1000;
  return {
    in_flight: IN_FLIGHT, seconds_per_run: duration, rounds, ...result, guard_vs_faster_of_jose_and_raw_sync: ratio(result.guard_ops_s, faster),
    // The DPoP row against the bearer JWT row of the same round (run back to back, so under the
    // same load), and the median of those ratios (goal ≥ 0.5). A ratio of the two rows' medians
    // would set rounds run under different loads against each other.
    dpop_vs_bearer_jwt: median(runs.guard_dpop_ops_s.map((d, i) => ratio(d, runs.guard_ops_s[i]))),
    dpop_vs_bearer_jwt_by_round: runs.guard_dpop_ops_s.map((d, i) => ratio(d, runs.guard_ops_s[i])),
    // The same against a bearer request through verifyRequest (the path every adapter takes): both
    // then read and parse the Authorization header, as they do in a resource server.
    dpop_vs_bearer_request: median(runs.guard_dpop_ops_s.map((d, i) => ratio(d, runs.guard_bearer_request_ops_s[i]))),
    dpop_vs_bearer_request_by_round: runs.guard_dpop_ops_s.map((d, i) => ratio(d, runs.guard_bearer_request_ops_s[i])),
  };
}

function memory() {
  const out = execFileSync('node', ['--expose-gc', join(root, 'bench/guard-memory.js'), values.entries], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1));
}

async function main() {
  const app = createClient('bench-app', 'read write', 'jwt');
  const guardClient = createClient('bench-guard', 'tessera:revocations tessera:introspect', 'opaque');
  const server = spawn('node', [cli, 'serve', '--db', db, '--port', values.port], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, TESSERA_LOG_LEVEL: 'warn' } });
  const load = { before: loadavg() };
  try {
    for (let i = 0; ; i++) {
      try { if ((await fetch(`${url}/healthz`)).ok) break; } catch {}
      if (i > 100) throw new Error('server did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    const g = { id: guardClient.id, secret: guardClient.secret };
    const prop = await propagation(app, g);
    console.log('propagation', prop);
    const verify = await verification(app, g);
    console.log('verification', verify);
    const mem = memory();
    console.log('memory', mem);
    load.after = loadavg();
    const out = {
      date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, loadavg: load,
      sqlite: 'synchronous=full, WAL', propagation: prop, verification: verify, revoked_set_memory: mem,
    };
    mkdirSync(join(root, 'bench/results'), { recursive: true });
    const file = values.out ?? join(root, 'bench/results', `${out.date.slice(0, 10)}-guard.json`);
    writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`saved ${file}`);
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
