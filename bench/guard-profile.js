#!/usr/bin/env node
/**
 * Where the guard's time goes for one kind of request (issue 12): a bearer JWT request or a DPoP
 * request (a DPoP-bound JWT and a fresh ES256 proof each), through verifyRequest as every adapter
 * calls it, 64 in flight for --duration seconds against `tessera serve` on a fresh SQLite file.
 * Prints ops/s and the process's CPU per op; with --profile FILE, writes the event loop's CPU
 * profile (node:inspector, only the measured run) for bench/results or Chrome DevTools.
 *
 *   npm run build && node bench/guard-profile.js dpop|bearer [--duration 6] [--profile FILE]
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, sign as cryptoSign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createGuard, verifyRequest } from '@tessera/guard';
import { headerValue } from './lib/header.js';
import { opsPerSecond } from './lib/ops.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { duration: { type: 'string', default: '6' }, profile: { type: 'string' }, port: { type: 'string', default: '9412' } } });
const mode = positionals[0];
if (mode !== 'dpop' && mode !== 'bearer') {
  console.error('usage: node bench/guard-profile.js dpop|bearer [--duration S] [--profile FILE]');
  process.exit(2);
}
const seconds = Number(values.duration);
const cli = join(dirname(fileURLToPath(import.meta.url)), '../packages/server/bin/tessera.js');
const url = `http://127.0.0.1:${values.port}`;
const dir = mkdtempSync(join(tmpdir(), 'tessera-guard-profile-'));
const db = join(dir, 'tessera.db');
const client = (name, scope, format) => {
  const c = JSON.parse(execFileSync('node', [cli, 'client', 'create', '--db', db, '--json', '--name', name, '--grant-type', 'client_credentials', '--scope', scope, '--token-format', format], { encoding: 'utf8' }));
  return { id: c.client_id, secret: c.client_secret, basic: `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString('base64')}` };
};
const app = client('app', 'read', 'jwt');
const guardClient = client('guard', 'tessera:revocations tessera:introspect', 'opaque');
const server = spawn('node', [cli, 'serve', '--db', db, '--port', values.port], { stdio: 'ignore', env: { ...process.env, TESSERA_LOG_LEVEL: 'warn' } });
try {
  for (let i = 0; ; i++) {
    try { if ((await fetch(`${url}/healthz`)).ok) break; } catch {}
    if (i > 100) throw new Error('the server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const header = Buffer.from(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicKey.export({ format: 'jwk' }) })).toString('base64url');
  const proof = (claims) => {
    const input = `${header}.${Buffer.from(JSON.stringify({ jti: randomBytes(16).toString('base64url'), iat: Math.floor(Date.now() / 1000), ...claims })).toString('base64url')}`;
    return headerValue(`${input}.${cryptoSign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`);
  };
  const token = async (headers) => {
    const res = await fetch(`${url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: app.basic, ...headers }, body: 'grant_type=client_credentials&scope=read' });
    return (await res.json()).access_token;
  };
  const resource = 'https://api.example/notes';
  const guard = createGuard({ issuer: url, audience: url, client: { id: guardClient.id, secret: guardClient.secret } });
  await guard.ready();
  let fn;
  if (mode === 'dpop') {
    const bound = await token({ dpop: proof({ htm: 'POST', htu: `${url}/token` }) });
    const ath = createHash('sha256').update(bound).digest('base64url');
    // Made before the run, never timed: enough for 20,000 requests a second.
    const authorization = headerValue(`DPoP ${bound}`);
    const proofs = Array.from({ length: 20_000 * (seconds + 1) }, () => proof({ htm: 'GET', htu: resource, ath }));
    let next = 0;
    fn = async () => {
      const dpop = proofs[next++];
      if (dpop === undefined) throw new Error('out of proofs');
      const request = { method: 'GET', url: resource, headers: { get: (k) => (k === 'authorization' ? authorization : k === 'dpop' ? dpop : null) } };
      if (!(await verifyRequest(guard, request, ['read'])).ok) throw new Error('refused');
    };
  } else {
    const authorization = headerValue(`Bearer ${await token({})}`);
    fn = async () => {
      // A request object per call, as in the DPoP row (and in a server).
      const request = { method: 'GET', url: resource, headers: { get: (k) => (k === 'authorization' ? authorization : null) } };
      if (!(await verifyRequest(guard, request, ['read'])).ok) throw new Error('refused');
    };
  }
  await opsPerSecond(fn, 1, 64);
  const session = new Session();
  session.connect();
  if (values.profile) {
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  const before = process.cpuUsage();
  const rate = await opsPerSecond(fn, seconds, 64);
  const cpu = process.cpuUsage(before);
  if (values.profile) writeFileSync(values.profile, JSON.stringify((await session.post('Profiler.stop')).profile));
  console.log(`${mode}: ${rate} ops/s, process CPU ${Math.round((cpu.user + cpu.system) / (rate * seconds))} µs per op`);
  await guard.close();
} finally {
  server.kill();
  rmSync(dir, { recursive: true, force: true });
}
