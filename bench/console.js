#!/usr/bin/env node
/**
 * The web console with 100,000 tokens in the store (issue 13: "fast with 100,000 tokens, server-side
 * paging everywhere"), on SQLite and on PostgreSQL.
 *
 * Each store is seeded through the store API, before any server runs: 50 clients, 1,000 users, a
 * grant for each user with each of two clients, and 100,000 tokens on those grants in batches of
 * 2,000, each batch one transaction with a `token.issued` audit record per token (so the audit log
 * holds as many records as a server that issued them would write, hash-chained). Ids are
 * time-ordered as the server's are (secrets.randomId). Some tokens are expired or rotated at
 * issue, and 100 users' grants are revoked (with the reason audited), so every state is present.
 * Then `tessera serve --admin-port` starts on the store and every admin API call each console page
 * makes is timed, one after another, over --runs runs: p50 and p99 (nearest rank) per call. /stats
 * answers with the last count and counts anew in the background once it is a second old
 * (metrics/token-census.ts): each run waits for that second, so every /stats starts a count, as the
 * overview's polling does; the first /stats, which waits for its count, is reported on its own.
 * /audit/verify is timed as "Verify now" asks for it (?fresh=true: a full pass over the log) and as
 * the audit page loads it (the pass just made, answered again). With --browser, headless Chromium (/usr/bin/chromium)
 * also loads each page, timed from navigation to its first rows.
 *
 *   npm run bench:console [-- --runs 10 --stores sqlite,postgres --tokens 100000 --no-browser --no-save]
 *
 * Output: a table per store on stdout, saved to bench/results/2026-12-02-console-100k.txt unless
 * --no-save (or --out FILE). Servers are child processes on 127.0.0.1 (ports 9700–9799 unless
 * --port), stopped by PID; databases are new and removed at the end. The whole run is bounded by
 * --deadline seconds (170): past it, what was measured is reported and the run stops.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openTessera } from '@tessera/server';
import { clientRecord, grantRecord, postgresMissing, tokenRecord, userRecord } from '@tessera/test-utils';
import { newDatabase } from './lib/databases.js';
import { cleanup, installCleanupHandlers, startNode, tempDir } from './lib/processes.js';
import { machine } from './lib/report.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    stores: { type: 'string', default: 'sqlite,postgres' },
    tokens: { type: 'string', default: '100000' },
    users: { type: 'string', default: '1000' },
    clients: { type: 'string', default: '50' },
    port: { type: 'string', default: '9700' },
    deadline: { type: 'string', default: '170' },
    'no-browser': { type: 'boolean' },
    'no-save': { type: 'boolean' },
    out: { type: 'string', default: join(root, 'bench', 'results', '2026-12-02-console-100k.txt') },
  },
});
const RUNS = Number(values.runs);
const TOKENS = Number(values.tokens);
const USERS = Number(values.users);
const CLIENTS = Number(values.clients);
const BATCH = 2_000;
/** Chromium loads of each page. */
const BROWSER_LOADS = 3;
const HOUR = 3_600_000;
const started = Date.now();
const deadline = started + Number(values.deadline) * 1000;
const lines = [];
const say = (line = '') => {
  console.log(line);
  lines.push(line);
};

/** Time-ordered ids, as secrets.randomId: 12 hex digits of `ms`, then 20 random ones. */
const idAt = (ms) => ms.toString(16).padStart(12, '0') + crypto.getRandomValues(new Uint8Array(10)).reduce((s, b) => s + b.toString(16).padStart(2, '0'), '');

/** Rows (column: value) into `table` of `database`, in one transaction: PostgreSQL's connection, or a second SQLite one. */
async function insertRows(database, table, rows) {
  if (database.store === 'postgres') {
    const sql = database.sql();
    await sql.begin((tx) => tx`INSERT INTO ${tx(table)} ${tx(rows)}`);
    return;
  }
  const db = database.sql();
  const columns = Object.keys(rows[0]);
  const insert = db.prepare(`INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`);
  db.transaction(() => {
    for (const r of rows) insert.run(r);
  })();
}

/** `fn` over `items`, `n` at a time (PostgreSQL commits independent transactions side by side). */
async function parallel(items, n, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

/**
 * Fills the store of `database` and makes an admin token: what the pages will show. PostgreSQL
 * commits without waiting for its WAL flush while seeding (synchronous_commit, reset before the
 * server starts), and takes several writes at once; SQLite's writer takes one at a time anyway.
 */
async function seed(database) {
  const t0 = performance.now();
  const postgres = database.store === 'postgres';
  if (postgres) await database.sql().unsafe(`ALTER DATABASE ${database.name} SET synchronous_commit = off`);
  const width = postgres ? 4 : 1;
  const tessera = await openTessera({ db: database.db, synchronous: 'normal' });
  const { store } = tessera;
  const now = Date.now();
  const start = now - 2 * HOUR;
  const clients = Array.from({ length: CLIENTS }, (_, i) => clientRecord({ id: idAt(start - HOUR + i), name: `${i % 5 === 0 ? 'Billing' : 'Service'} app ${String(i).padStart(2, '0')}`, createdAt: start }));
  await parallel(clients, width, (c) => store.createClient(c, { event: 'client.created', actor: 'bench', clientId: c.id }));
  const users = Array.from({ length: USERS }, (_, i) => userRecord({ id: idAt(start - HOUR + CLIENTS + i), username: `user-${String(i).padStart(4, '0')}`, email: `user${i}@example.com`, createdAt: start }));
  // Users and grants by SQL, in one transaction each, and their audit records through the store.
  await insertRows(database, 'users', users.map((u) => ({ id: u.id, username: u.username, password_hash: u.passwordHash, email: u.email, created_at: u.createdAt })));
  const grants = users.flatMap((u, i) => [0, 1].map((k) => grantRecord(clients[(i + k * 7) % CLIENTS].id, u.id, { id: idAt(start + i * 2 + k), createdAt: start })));
  await insertRows(database, 'grants', grants.map((g) => ({ id: g.id, client_id: g.clientId, user_id: g.userId, scope: g.scope, created_at: g.createdAt })));
  const created = [
    ...users.map((u) => ({ event: 'user.created', actor: 'bench', userId: u.id })),
    ...grants.map((g) => ({ event: 'grant.created', actor: 'bench', clientId: g.clientId, userId: g.userId, grantId: g.id })),
  ];
  for (let i = 0; i < created.length; i += BATCH) await store.appendAudit(created.slice(i, i + BATCH));
  const t1 = performance.now();
  const batches = Array.from({ length: Math.ceil(TOKENS / BATCH) }, (_, b) => b * BATCH);
  await parallel(batches, postgres ? 2 : 1, async (from) => {
    const tokens = [];
    for (let i = from; i < Math.min(TOKENS, from + BATCH); i++) {
      const grant = grants[i % grants.length];
      const issuedAt = start + Math.floor((i * 2 * HOUR) / TOKENS);
      // Every fourth a refresh token, one in ten of those rotated; one in eight access tokens expired.
      const refresh = i % 4 === 3;
      tokens.push(tokenRecord(grant, {
        id: idAt(issuedAt), kind: refresh ? 'refresh' : 'access', issuedAt, expiresAt: refresh ? issuedAt + 14 * 24 * HOUR : i % 8 === 0 ? now - 1 : issuedAt + 3 * HOUR,
        consumedAt: refresh && i % 40 === 3 ? issuedAt + 1 : null,
      }));
    }
    await store.issueTokens(tokens, tokens.map((t) => ({ event: 'token.issued', actor: `client:${t.clientId}`, clientId: t.clientId, userId: t.userId, grantId: t.grantId, tokenId: t.id })));
  });
  const t2 = performance.now();
  await parallel(users.slice(0, 100), width, (u) => store.revoke({ user: u.id }, Date.now(), [{ event: 'token.revoked', actor: 'admin:bench', userId: u.id, reason: 'seeded revocation' }]));
  const admin = await tessera.engine.createAdminToken({ name: `bench-${Date.now()}`, readOnly: false, expiresAt: null }, { actor: 'bench' });
  await tessera.close();
  if (postgres) {
    const sql = database.sql();
    await sql.unsafe(`ALTER DATABASE ${database.name} RESET synchronous_commit`);
    await sql`VACUUM (ANALYZE)`;
  }
  await database.closeSql();
  const phases = `principals ${((t1 - t0) / 1000).toFixed(1)} s, tokens ${((t2 - t1) / 1000).toFixed(1)} s, revocations ${((performance.now() - t2) / 1000).toFixed(1)} s`;
  return { seconds: (performance.now() - t0) / 1000, phases, token: admin.value, users, clients, grants };
}

/** The calls each console page makes (packages/console/src/pages), as [page, label, path]. */
function calls(seeded, grantOfUser) {
  const user = seeded.users[500];
  const client = seeded.clients[10];
  const grantIds = grantOfUser.grants;
  const revokedAt = grantOfUser.revokedAt;
  const around = (ms) => `from=${new Date(ms - 2000).toISOString()}&to=${new Date(ms + 3000).toISOString()}`;
  return [
    ['overview', 'GET /stats', '/stats'],
    ['clients', 'GET /clients (first page)', '/clients?limit=50'],
    ['clients', 'GET /clients?q=billing', '/clients?limit=50&q=billing'],
    ['clients', 'delete confirmation: GET /tokens?client_id&state=active', `/tokens?client_id=${client.id}&state=active&limit=500`],
    ['clients', 'delete confirmation: GET /grants?client_id&state=active', `/grants?client_id=${client.id}&state=active&limit=500`],
    ['users', 'GET /users (first page)', '/users?limit=50'],
    ['users', 'GET /users?q=user-05 (many match)', '/users?limit=50&q=user-05'],
    ['users', 'GET /users?q=<email> (one matches)', `/users?limit=50&q=${encodeURIComponent(user.email)}`],
    ['users', 'GET /users?q=nobody (none: reads all)', '/users?limit=50&q=nobody'],
    ['user', 'GET /users/{id}', `/users/${user.id}`],
    ['user', 'GET /grants?user_id (page of 20)', `/grants?user_id=${user.id}&limit=20`],
    ['user', 'GET /tokens?grant_id (each grant)', `/tokens?grant_id=${grantIds[0]}&limit=500`],
    ['user', 'GET /tokens?user_id&state=active', `/tokens?user_id=${user.id}&state=active&limit=500`],
    ['user', 'GET /grants?user_id&state=active', `/grants?user_id=${user.id}&state=active&limit=500`],
    ['user', 'GET /audit?from&to (revocation reasons)', `/audit?${around(revokedAt)}&limit=500`],
    ['audit', 'GET /audit (first page)', '/audit?limit=100'],
    ['audit', 'GET /audit?event=token.revoked', '/audit?limit=100&event=token.revoked'],
    ['audit', 'Verify now: GET /audit/verify?fresh=true (a full pass)', '/audit/verify?fresh=true'],
    ['audit', 'GET /audit/verify (the last pass, under 60 s old)', '/audit/verify'],
  ];
}

const rank = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];

async function timed(url, token) {
  const t0 = performance.now();
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const body = await res.text();
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`${url} → ${res.status}: ${body.slice(0, 300)}`);
  return { ms, body };
}

/** Headless Chromium: sign in, then each page, timed from navigation to its first rows. */
async function browserLoads(adminUrl, token) {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`${adminUrl}/console`);
    await page.getByLabel('Admin token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('admin-name').waitFor();
    const out = [];
    const pages = [
      ['overview', '/console', '[data-testid="tokens-active"]'],
      ['clients', '/console/clients', 'tbody tr'],
      ['users', '/console/users', 'tbody tr'],
      ['user', null, 'article.grant'],
      ['audit', '/console/audit', 'tbody tr'],
    ];
    for (const [name, path, first] of pages) {
      const times = [];
      for (let i = 0; i < BROWSER_LOADS; i++) {
        const target = path ?? `/console/users/${await page.evaluate(async () => (await (await fetch('/admin/api/v1/users?limit=1&q=user-0500')).json()).items[0].id)}`;
        const t0 = performance.now();
        await page.goto(`${adminUrl}${target}`);
        await page.locator(first).first().waitFor();
        times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      out.push([name, rank(times, 50)]);
    }
    return out;
  } finally {
    await browser.close();
  }
}

async function measure(store, port) {
  const dir = tempDir('tessera-console-bench-');
  const database = await newDatabase(store, dir);
  // SQLite: the file is made by the store; PostgreSQL: createTestDatabase migrated it.
  const seeded = await seed(database);
  say(`${store}: seeded ${CLIENTS} clients, ${USERS} users, ${seeded.grants.length} grants, ${TOKENS.toLocaleString('en-US')} tokens with an audit record each, in ${seeded.seconds.toFixed(1)} s (${seeded.phases})`);
  const adminPort = port + 1;
  const cli = join(root, 'packages/server/bin/tessera.js');
  const server = await startNode(`tessera ${store}`, cli, ['serve', '--db', database.db, '--port', String(port), '--admin-port', String(adminPort)], {
    url: `http://127.0.0.1:${port}/healthz`, env: { TESSERA_LOG_LEVEL: 'warn' }, timeoutMs: 30_000,
  });
  const api = `http://127.0.0.1:${adminPort}/admin/api/v1`;
  try {
    const user = seeded.users[500];
    const grantsOfUser = JSON.parse((await timed(`${api}/grants?user_id=${user.id}&limit=20`, seeded.token)).body).items;
    const revoked = JSON.parse((await timed(`${api}/tokens?user_id=${seeded.users[5].id}&state=revoked&limit=1`, seeded.token)).body).items[0];
    const list = calls(seeded, { grants: grantsOfUser.map((g) => g.id), revokedAt: Date.parse(revoked.revoked_at) });
    // The first /stats waits for a count; later ones get the last count at once while a new one runs.
    const first = await timed(`${api}/stats`, seeded.token);
    const times = list.map(() => []);
    let lastStats = 0;
    for (let run = 0; run < RUNS && Date.now() < deadline - 20_000; run++) {
      for (const [i, [, label, path]] of list.entries()) {
        if (label === 'GET /stats') await new Promise((r) => setTimeout(r, Math.max(0, lastStats + 1_050 - Date.now())));
        const { ms } = await timed(`${api}${path}`, seeded.token);
        if (label === 'GET /stats') lastStats = Date.now();
        times[i].push(ms);
      }
    }
    say();
    say(`${store}: ${times[0].length} runs, ms per call (one at a time); the first GET /stats, which waits for the count: ${first.ms.toFixed(0)} ms`);
    say(`${'page'.padEnd(9)} ${'call'.padEnd(58)} ${'p50'.padStart(7)} ${'p99'.padStart(7)}`);
    for (const [i, [page, label]] of list.entries()) {
      const sorted = [...times[i]].sort((a, b) => a - b);
      say(`${page.padEnd(9)} ${label.padEnd(58)} ${rank(sorted, 50).toFixed(1).padStart(7)} ${rank(sorted, 99).toFixed(1).padStart(7)}`);
    }
    if (!values['no-browser'] && Date.now() < deadline - 30_000) {
      const loads = await browserLoads(`http://127.0.0.1:${adminPort}`, seeded.token);
      say(`${store}: Chromium, navigation to first rows, median of ${BROWSER_LOADS} (ms): ${loads.map(([p, ms]) => `${p} ${ms.toFixed(0)}`).join(', ')}`);
    }
  } finally {
    await server.stop();
    await database.drop();
  }
}

installCleanupHandlers();
try {
  say(`Console with ${TOKENS.toLocaleString('en-US')} tokens: admin API calls per page (bench/console.js), ${new Date().toISOString().slice(0, 10)}`);
  const m = machine();
  say(`${m.cpus} × ${m.cpu}, ${(m.memory_bytes / 2 ** 30).toFixed(0)} GiB, node ${m.node}, load average ${m.loadavg.before.map((l) => l.toFixed(1)).join(' ')} (the machine is shared)`);
  const stores = values.stores.split(',');
  let port = Number(values.port);
  for (const store of stores) {
    if (store === 'postgres' && (await postgresMissing())) {
      say('postgres: skipped (no PostgreSQL at TESSERA_TEST_PG)');
      continue;
    }
    await measure(store, port);
    port += 2;
    say();
  }
  say(`whole run: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (!values['no-save']) writeFileSync(values.out, `${lines.join('\n')}\n`);
} finally {
  await cleanup();
}
