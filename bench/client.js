#!/usr/bin/env node
/**
 * `npm run bench:client`: many holders of one rotating refresh token, and what it takes to never
 * lose the session (issue 12). `tessera serve` (a fresh SQLite file, short-lived access tokens,
 * refresh tokens rotated on every use and reuse revoking the family, as by default) and:
 *
 *   processes  --processes (8) Node processes × --concurrency (50) loops of session.fetch, all on
 *              one FileTokenStore (bench/lib/client-worker.js): its file lock, taken by default,
 *              makes one refresh at a time across the processes;
 *   tabs       --tabs (4) tabs of headless Chromium (/usr/bin/chromium via playwright-core) ×
 *              --tab-concurrency (10) loops, on one IndexedDbTokenStore with its Web Locks
 *              (bench/lib/client-tab.js, the built client loaded through an import map).
 *
 * Each part runs --duration (20) seconds against a resource server here that checks each token
 * by introspection (cached per token). Printed, per part: refreshes performed (Tessera's audit:
 * token.rotated; and as the sessions heard them), invalid_grant (reuse detected by Tessera, and
 * as the sessions got them), requests served, and `bound`: the most refreshes the margin rule
 * allows in that time (a token of TTL s is used until min(30, TTL/4) s before it expires, its
 * expires_at rounded down to the second: at least TTL − TTL/4 − 1 s per token). --json prints
 * one JSON document instead (the test reads it). Exits 1 if a part got an invalid_grant or more
 * refreshes than the bound.
 *
 *   npm run bench:client [-- --duration 20 --ttl 4 --processes 8 --concurrency 50 --tabs 4 --only processes,tabs --json]
 *
 * Everything runs on 127.0.0.1; the server and the processes are children stopped by PID, and
 * the temporary directory is removed at the end, a failed run included.
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FileTokenStore } from '@tessera/client/file-store';
import { processTokenResponse } from '@tessera/client';
import { cleanup, freePort, installCleanupHandlers, startNode, tempDir, track } from './lib/processes.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'packages/server/bin/tessera.js');
const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '20' },
    ttl: { type: 'string', default: '4' },
    processes: { type: 'string', default: '8' },
    concurrency: { type: 'string', default: '50' },
    tabs: { type: 'string', default: '4' },
    'tab-concurrency': { type: 'string', default: '10' },
    only: { type: 'string', default: 'processes,tabs' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('npm run bench:client [-- --duration S --ttl S --processes N --concurrency N --tabs N --tab-concurrency N --only processes,tabs --json]');
  process.exit(0);
}
const duration = Number(values.duration);
const ttl = Number(values.ttl);
const parts = values.only.split(',');
const log = values.json ? () => {} : (line) => console.log(line);

installCleanupHandlers();
const dir = tempDir('tessera-bench-client-');
const db = join(dir, 'tessera.db');
const tessera = (args, input) => execFileSync(process.execPath, [cli, ...args, '--db', db], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
const newClient = (name, grants, scope) => {
  const c = JSON.parse(tessera(['client', 'create', '--json', '--name', name, '--grant-type', grants, '--scope', scope]));
  return { id: c.client_id, secret: c.client_secret, basic: `Basic ${btoa(`${encodeURIComponent(c.client_id)}:${encodeURIComponent(c.client_secret)}`)}` };
};

try {
  const password = 'bench client password 1';
  tessera(['user', 'create', '--username', 'bench', '--password-stdin'], password);
  const clients = { processes: newClient('bench-processes', 'password,refresh_token', 'read'), tabs: newClient('bench-tabs', 'password,refresh_token', 'read') };
  const introspector = newClient('bench-rs', 'client_credentials', 'tessera:introspect');
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const server = await startNode('tessera', cli, ['serve', '--db', db, '--port', String(port), '--enable-legacy', 'password', '--access-token-ttl', String(ttl)], {
    url: `${issuer}/healthz`,
    env: { TESSERA_LOG_LEVEL: 'warn' },
  });
  const rs = await startResourceServer(issuer, introspector);

  /** The session's first token: a password grant (enabled for this). */
  const firstToken = async (c) =>
    processTokenResponse(
      await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { authorization: c.basic, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'password', username: 'bench', password, scope: 'read' }),
      }),
    );
  /** Tessera's own count for a client: rotations and reuse detections (each one an invalid_grant). */
  const audit = (c) => {
    const records = JSON.parse(tessera(['audit', '--json']));
    const list = Array.isArray(records) ? records : (records.records ?? []);
    const of = (event) => list.filter((r) => r.event === event && (r.clientId ?? r.client_id) === c.id).length;
    return { rotations: of('token.rotated'), reuses: of('token.reuse_detected') };
  };
  const bound = (elapsed) => Math.ceil(elapsed / (ttl - Math.min(30, ttl / 4) - 1)) + 1;

  const results = {};
  if (parts.includes('processes')) {
    const store = join(dir, 'tokens.json');
    await new FileTokenStore(store).set('bench', await firstToken(clients.processes));
    const n = Number(values.processes);
    log(`processes: ${n} × ${values.concurrency} concurrent session.fetch for ${duration} s, access tokens of ${ttl} s, one FileTokenStore`);
    const started = Date.now();
    const counts = await Promise.all(
      Array.from({ length: n }, async () => {
        const child = spawn(process.execPath, [join(root, 'bench/lib/client-worker.js')], {
          cwd: root,
          stdio: ['ignore', 'pipe', 'inherit'],
          env: { ...process.env, ISSUER: issuer, CLIENT_ID: clients.processes.id, CLIENT_SECRET: clients.processes.secret, STORE: store, RS_URL: `${rs.url}/api`, CONCURRENCY: values.concurrency, DURATION: String(duration) },
        });
        track(child);
        let out = '';
        child.stdout.on('data', (d) => {
          out += d;
        });
        // 'close', not 'exit': stdout may still hold the counts line when the process has exited.
        const [code] = await once(child, 'close');
        if (code !== 0) throw new Error(`a worker exited with ${code}`);
        return JSON.parse(out.trim().split('\n').pop());
      }),
    );
    results.processes = summary(counts, audit(clients.processes), (Date.now() - started) / 1000);
  }
  if (parts.includes('tabs')) {
    const { chromium } = await import('playwright-core');
    const profile = tempDir('tessera-bench-chromium-');
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const n = Number(values.tabs);
      log(`tabs: ${n} Chromium tabs × ${values['tab-concurrency']} concurrent session.fetch for ${duration} s, one IndexedDbTokenStore, Web Locks`);
      const pages = [];
      for (let i = 0; i < n; i++) {
        const page = await context.newPage();
        page.on('pageerror', (err) => console.error(`tab ${i}: ${err.message}`));
        await page.goto(`${rs.url}/tab.html`);
        await page.waitForFunction(() => window.ready === true);
        pages.push(page);
      }
      const token = await firstToken(clients.tabs);
      await pages[0].evaluate((t) => window.seed(t), token);
      const started = Date.now();
      const options = { issuer, clientId: clients.tabs.id, clientSecret: clients.tabs.secret, concurrency: Number(values['tab-concurrency']), duration };
      const counts = await Promise.all(pages.map((p) => p.evaluate((o) => window.run(o), options)));
      results.tabs = summary(counts, audit(clients.tabs), (Date.now() - started) / 1000);
    } finally {
      await context.close();
    }
  }
  await rs.close();
  await server.stop();

  for (const r of Object.values(results)) r.bound = bound(r.elapsed);
  if (values.json) console.log(JSON.stringify({ ttl, duration, results }));
  else {
    for (const [name, r] of Object.entries(results)) {
      log(`${name}: ${r.refreshes} refreshes performed (Tessera's audit; the sessions heard ${r.refreshesHeard}), bound ${r.bound} for ${r.elapsed.toFixed(1)} s; invalid_grant: ${r.invalidGrant} (reuse detected by Tessera: ${r.reuses}); requests served: ${r.served} (answered other than 200: ${r.rejected}); errors: ${JSON.stringify(r.errors)}`);
    }
  }
  const bad = Object.entries(results).filter(([, r]) => r.invalidGrant > 0 || r.reuses > 0 || r.refreshes > r.bound);
  if (bad.length > 0) {
    console.error(`bench:client: ${bad.map(([n]) => n).join(', ')}: an invalid_grant, or more refreshes than the margin rule allows`);
    process.exitCode = 1;
  }
} finally {
  await cleanup();
}

function summary(counts, fromAudit, elapsed) {
  const sum = (k) => counts.reduce((a, c) => a + c[k], 0);
  const errors = {};
  for (const c of counts) for (const [k, v] of Object.entries(c.errors)) errors[k] = (errors[k] ?? 0) + v;
  return { elapsed, refreshes: fromAudit.rotations, refreshesHeard: sum('refreshed'), reuses: fromAudit.reuses, invalidGrant: sum('invalidGrant'), served: sum('served'), rejected: sum('rejected'), errors };
}

/**
 * The resource server: GET /api answers 200 for an active token (introspected once per token,
 * then cached until its exp), 401 invalid_token otherwise. It also serves the tabs' page, the
 * built client and jose (import map), and forwards /token to Tessera, so the tabs stay on one origin.
 */
async function startResourceServer(issuer, introspector) {
  const active = new Map();
  const check = async (token) => {
    let verdict = active.get(token);
    if (verdict === undefined) {
      verdict = fetch(`${issuer}/introspect`, {
        method: 'POST',
        headers: { authorization: introspector.basic, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }),
      }).then((r) => r.json());
      active.set(token, verdict);
    }
    const v = await verdict;
    return v.active === true && v.exp * 1000 > Date.now();
  };
  const files = { '/client/': join(root, 'packages/client/dist/'), '/jose/': join(root, 'node_modules/jose/dist/webapi/') };
  const page = `<!doctype html><meta charset="utf-8"><title>bench:client tab</title>
<script type="importmap">{"imports":{"@tessera/client":"/client/index.js","jose":"/jose/index.js"}}</script>
<script type="module" src="/tab.js"></script>`;
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    try {
      if (url.pathname === '/api') {
        const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        if (token !== undefined && (await check(token))) return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        return void res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"', 'content-type': 'application/json' }).end('{"error":"invalid_token"}');
      }
      if (url.pathname === '/token') {
        let body = '';
        for await (const chunk of req) body += chunk;
        const upstream = await fetch(`${issuer}/token`, { method: 'POST', headers: { authorization: req.headers.authorization ?? '', 'content-type': req.headers['content-type'] ?? '' }, body });
        const headers = { 'content-type': 'application/json', 'cache-control': 'no-store' };
        const date = upstream.headers.get('date');
        if (date) headers.date = date;
        return void res.writeHead(upstream.status, headers).end(await upstream.text());
      }
      if (url.pathname === '/tab.html') return void res.writeHead(200, { 'content-type': 'text/html' }).end(page);
      if (url.pathname === '/tab.js') return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(join(root, 'bench/lib/client-tab.js')));
      for (const [prefix, base] of Object.entries(files)) {
        if (!url.pathname.startsWith(prefix)) continue;
        const file = normalize(join(base, url.pathname.slice(prefix.length)));
        if (!file.startsWith(base) || extname(file) !== '.js') break;
        return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(file));
      }
      res.writeHead(404).end();
    } catch (err) {
      res.writeHead(500).end(String(err));
    }
  });
  server.keepAliveTimeout = 30_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
