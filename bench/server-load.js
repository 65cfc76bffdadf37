#!/usr/bin/env node
/**
 * First measurement of the authorization server (issue 2): requests/s of client_credentials
 * issuance and of introspection, with autocannon against `tessera serve` on a fresh SQLite file
 * (synchronous=full: every token durably stored and audited). Loopback only, bounded in time.
 *
 *   npm run bench:server [-- --duration 10 --connections 32]
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'packages/server/bin/tessera.js');
const { values } = parseArgs({
  options: { duration: { type: 'string', default: '10' }, connections: { type: 'string', default: '32' }, port: { type: 'string', default: '9401' } },
});
const duration = Number(values.duration);
const connections = Number(values.connections);
const port = Number(values.port);
const url = `http://127.0.0.1:${port}`;

const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-'));
const db = join(dir, 'tessera.db');
function createClient(name, format) {
  const c = JSON.parse(execFileSync('node', [cli, 'client', 'create', '--db', db, '--json', '--name', name, '--grant-type', 'client_credentials', '--scope', 'read write', '--token-format', format], { encoding: 'utf8' }));
  return { id: c.client_id, basic: `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString('base64')}` };
}

async function main() {
  const clients = { opaque: createClient('bench-opaque', 'opaque'), jwt: createClient('bench-jwt', 'jwt') };
  const server = spawn('node', [cli, 'serve', '--db', db, '--port', String(port)], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, TESSERA_LOG_LEVEL: 'warn' } });
  try {
    for (let i = 0; ; i++) {
      try { if ((await fetch(`${url}/healthz`)).ok) break; } catch {}
      if (i > 100) throw new Error('server did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const token = async (c) => (await (await fetch(`${url}/token`, { method: 'POST', headers: { ...form, authorization: c.basic }, body: 'grant_type=client_credentials' })).json()).access_token;
    const active = await token(clients.opaque);

    const scenarios = [
      ['POST /token client_credentials (opaque)', { path: '/token', headers: { ...form, authorization: clients.opaque.basic }, body: 'grant_type=client_credentials' }],
      ['POST /token client_credentials (JWT)', { path: '/token', headers: { ...form, authorization: clients.jwt.basic }, body: 'grant_type=client_credentials' }],
      ['POST /introspect (active opaque token)', { path: '/introspect', headers: { ...form, authorization: clients.opaque.basic }, body: `token=${active}` }],
    ];
    const results = [];
    for (const [name, s] of scenarios) {
      const r = await autocannon({ url: url + s.path, method: 'POST', headers: s.headers, body: s.body, connections, duration });
      results.push({ name, rps: Math.round(r.requests.average), p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors });
      console.log(`${name}: ${Math.round(r.requests.average)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, non-2xx ${r.non2xx}, errors ${r.errors}`);
    }
    const out = { date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, connections, duration, sqlite: 'synchronous=full, WAL', results };
    mkdirSync(join(root, 'bench/results'), { recursive: true });
    const file = join(root, 'bench/results', `${out.date.slice(0, 10)}-server.json`);
    writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`saved ${file}`);
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
