#!/usr/bin/env node
/**
 * Tessera scaled out on PostgreSQL (issue 10), in one run, in three parts:
 *
 *   throughput  POST /token client_credentials (opaque), refresh_token with rotation, and
 *               introspection of an active token (bench/lib/scenarios.js) on Tessera with SQLite
 *               (one instance), and with PostgreSQL: 1, 2 and 3 instances on one database; plus
 *               oidc-provider in memory on the issuance scenario, the goal line ("one PostgreSQL
 *               instance ≥ oidc-provider in memory"). One autocannon drives every instance: its
 *               connections go round-robin over the instances' URLs, and its histogram covers them
 *               all. This machine's cores are shared by the load generator, the servers and
 *               PostgreSQL, so every run also reports CPU per request (bench/lib/cpu.js): scaling is
 *               judged by CPU/request, not by req/s alone.
 *   sizes       issuance with 0, 1 M and 10 M live tokens in the store, on each store (goal: within
 *               20 % of the empty store's req/s); the tokens are written with SQL before the server
 *               starts (bench/lib/fill.js), and the time that took is reported.
 *   sweep       p99 of POST /token while the sweeper deletes 1 M expired tokens (goal: under 2× the
 *               idle p99), on each store: the server starts with --sweep-retention 0 and a sweep
 *               interval that lets the load run idle first; one load run covers both, every
 *               response's latency is kept with its time, and the windows are told apart by
 *               following the sweep in the database every 100 ms.
 *
 * Every server is a child process on 127.0.0.1, stopped by PID; every database is new (a SQLite
 * file in a temporary directory, or a PostgreSQL database from @tessera/test-utils on
 * TESSERA_TEST_PG, default postgres://postgres@127.0.0.1:5432/test) and is removed at the end, a
 * failed run included.
 *
 *   npm run bench:scale [-- --duration 10 --only throughput,sizes --sizes 0,1000000 --stores postgres]
 *   npm run bench:scale -- --quick        a smoke run (1 s runs, tiny sizes) proving the script works
 *
 * Output: tables on stdout and bench/results/DATE-scale.json plus DATE-scale.md (a Markdown
 * summary with the goals); --only adds the parts to the names. --quick saves nothing unless --save.
 * Exits 1, saving nothing, if any request failed or got a wrong answer.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { postgresMissing } from '@tessera/test-utils';
import { cpuProbe, perRequest } from './lib/cpu.js';
import { newDatabase, STORES } from './lib/databases.js';
import { fillTokens, sweepProbe } from './lib/fill.js';
import { runLoad } from './lib/load.js';
import { cleanup, freePort, installCleanupHandlers, tempDir } from './lib/processes.js';
import { failures, markdown } from './lib/scale-report.js';
import { machine } from './lib/report.js';
import { SAMPLE as SWEEP_SAMPLE, loadThroughSweep } from './lib/sweep-load.js';
import { SCENARIOS } from './lib/scenarios.js';
import { serveTessera, setupTessera, start } from './lib/servers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const PARTS = ['throughput', 'sizes', 'sweep'];
const { values } = parseArgs({
  options: {
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string' },
    only: { type: 'string' },
    sizes: { type: 'string' },
    stores: { type: 'string', default: STORES.join(',') },
    instances: { type: 'string', default: '1,2,3' },
    'sweep-rows': { type: 'string' },
    'sweep-timeout': { type: 'string', default: '900' },
    'db-pool-size': { type: 'string' },
    quick: { type: 'boolean' },
    save: { type: 'boolean' },
    'no-save': { type: 'boolean' },
    note: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(`npm run bench:scale [-- options]
  --duration S        seconds per measured run (10; --quick 1)
  --warmup S          seconds of warm-up before each run (2; --quick 0)
  --connections N     autocannon connections in all, round-robin over the instances (32; --quick 8)
  --only PARTS        comma-separated: ${PARTS.join(' ')} (all)
  --sizes N,…         live tokens in the store for the sizes part (0,1000000,10000000; --quick 0,5000)
  --stores S,…        sqlite,postgres (both)
  --instances N,…     PostgreSQL instances on one database for the throughput part (1,2,3)
  --sweep-rows N      expired tokens the sweep part deletes (1000000; --quick 5000)
  --sweep-timeout S   give up on a sweep after this long (900)
  --db-pool-size N    passed to every PostgreSQL serve (the server's default otherwise)
  --quick             smoke run: 1 s runs, no warm-up, 8 connections, tiny sizes; saves nothing unless --save
  --save, --no-save   save (default, except with --quick) or not
  --note TEXT         stored in the JSON and printed`);
  process.exit(0);
}

const quick = !!values.quick;
const list = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);
const count = (name, text) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}: ${text} is not a whole number`);
  return n;
};
const options = {
  duration: Number(values.duration ?? (quick ? 1 : 10)),
  warmup: Number(values.warmup ?? (quick ? 0 : 2)),
  connections: count('--connections', values.connections ?? (quick ? '8' : '32')),
  sizes: list(values.sizes ?? (quick ? '0,5000' : '0,1000000,10000000')).map((s) => count('--sizes', s)),
  stores: list(values.stores),
  instances: list(values.instances).map((s) => count('--instances', s)),
  sweepRows: count('--sweep-rows', values['sweep-rows'] ?? (quick ? '5000' : '1000000')),
  sweepTimeout: Number(values['sweep-timeout']),
  dbPoolSize: values['db-pool-size'] ? count('--db-pool-size', values['db-pool-size']) : null,
  quick,
};
if (!(options.duration > 0) || !(options.warmup >= 0) || !(options.sweepTimeout > 0) || options.connections === 0) throw new Error('--duration, --sweep-timeout and --connections must be positive, --warmup at least 0');
for (const s of options.stores) if (!STORES.includes(s)) throw new Error(`unknown store ${s}; known: ${STORES.join(' ')}`);
if (options.instances.some((n) => n < 1)) throw new Error('--instances: at least 1 each');
const only = values.only ? list(values.only) : PARTS;
for (const p of only) if (!PARTS.includes(p)) throw new Error(`unknown part ${p}; known: ${PARTS.join(' ')}`);
const save = !values['no-save'] && (values.save || !quick);
const log = (line) => console.log(line);

const STORE_LABELS = { sqlite: 'Tessera SQLite', postgres: 'Tessera PostgreSQL' };
const scenario = (id) => SCENARIOS.find((s) => s.id === id);
const THROUGHPUT_SCENARIOS = ['token-opaque', 'refresh', 'introspect-active'];
const ISSUANCE = scenario('token-opaque');

installCleanupHandlers();
const dir = tempDir('tessera-scale-');
const started = Date.now();
const out = {
  ...machine(),
  note: values.note ?? (quick ? 'smoke run (--quick): 1 s runs without warm-up, 8 connections, tiny sizes; not a result' : null),
  options,
  throughput: null,
  sizes: null,
  sweep: null,
};

/** A fresh database of `store` with the bench's clients registered (`refresh`: a user and refresh client too). */
async function prepare(store, { refresh = false } = {}) {
  const database = await newDatabase(store, dir);
  const setup = setupTessera(database.db, { format: 'opaque', refresh });
  return { database, setup };
}

/**
 * `instances` `tessera serve` processes on the prepared database (the first one alone: it creates
 * the signing key), all with the first one's URL as issuer: one server to clients.
 * The handle is what the scenarios take (its `auth` is the app client's) plus `urls` and `pids`.
 */
async function serveCluster(label, { database, setup }, instances, args = []) {
  const ports = [];
  while (ports.length < instances) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const pool = database.store === 'postgres' && options.dbPoolSize ? ['--db-pool-size', String(options.dbPoolSize)] : [];
  const serve = (port) => serveTessera('tessera', setup, { port, label, args: ['--issuer', `http://127.0.0.1:${ports[0]}`, ...pool, ...args] });
  // Failed starts are stopped by cleanup (processes.js), the others with the cluster.
  const handles = [await serve(ports[0])];
  handles.push(...(await Promise.all(ports.slice(1).map(serve))));
  return {
    ...handles[0],
    name: label,
    auth: setup.app.auth,
    refreshAuth: setup.refresher?.auth,
    urls: handles.map((h) => h.url),
    pids: handles.map((h) => h.pid),
    stop: () => Promise.all(handles.map((h) => h.stop())),
  };
}

/** `target` as scenario `sc` sees it: the refresh scenario authenticates as the refresh client. */
const viewFor = (target, sc) => (sc.id === 'refresh' && target.refreshAuth ? { ...target, auth: target.refreshAuth } : target);

/** Warm-up (unmeasured), then one measured run of `sc` on `target` with its CPU time. */
async function measure(target, sc, state, cpu) {
  const view = viewFor(target, sc);
  const run = (phase, seconds) => sc.request(view, state, { phase, seconds, connections: options.connections });
  if (options.warmup > 0) await runLoad({ url: target.urls, request: await run('warmup', options.warmup), connections: options.connections, duration: options.warmup });
  const request = await run('measure', options.duration);
  const before = await cpu.snapshot();
  const r = await runLoad({ url: target.urls, request, connections: options.connections, duration: options.duration });
  const used = await cpu.since(before);
  const flags = [r.errors + r.timeouts ? `errors ${r.errors + r.timeouts}` : '', r.non2xx ? `non-2xx ${r.non2xx}` : '', r.wrong ? `failed check ${r.wrong}` : ''].filter(Boolean).join(', ');
  const per = perRequest(used, r.requests);
  log(`    ${sc.id.padEnd(18)} ${String(r.rps).padStart(7)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms  CPU/request ${per.total_us} µs (server ${per.server_us}${per.postgres_us === null ? '' : `, postgres ${per.postgres_us}`}, load generator ${per.loadgen_us})${flags ? `  (${flags})` : ''}`);
  return { ...r, cpu: used, cpu_per_request: per };
}

/** State of `sc` for `target`, as bench/lib/runner.js prepares it. */
async function prepareScenario(target, sc) {
  return { ...(await sc.prepare?.(viewFor(target, sc), { runs: options.warmup > 0 ? 2 : 1, connections: options.connections })) };
}

async function throughput() {
  const configs = [
    ...(options.stores.includes('sqlite') ? [{ id: 'sqlite', store: 'sqlite', instances: 1, label: `${STORE_LABELS.sqlite}, 1 instance` }] : []),
    ...(options.stores.includes('postgres')
      ? options.instances.map((n) => ({ id: `postgres-${n}`, store: 'postgres', instances: n, label: `${STORE_LABELS.postgres}, ${n} instance${n > 1 ? 's' : ''}` }))
      : []),
    { id: 'oidc-provider', label: 'oidc-provider (in memory)' },
  ];
  const rows = [];
  for (const config of configs) {
    log(`\n  ${config.label}`);
    let prepared = null;
    let target = null;
    try {
      if (config.store) {
        prepared = await prepare(config.store, { refresh: true });
        target = await serveCluster(config.label, prepared, config.instances);
      } else {
        const h = await start('oidc-provider', {}, dir);
        target = { ...h, urls: [h.url], pids: [h.pid] };
      }
      const cpu = cpuProbe({ pids: target.pids, sql: prepared?.database.store === 'postgres' ? prepared.database.sql() : null });
      const results = {};
      for (const id of config.store ? THROUGHPUT_SCENARIOS : [ISSUANCE.id]) {
        const sc = scenario(id);
        results[id] = await measure(target, sc, await prepareScenario(target, sc), cpu);
      }
      rows.push({ id: config.id, label: config.label, store: config.store ?? null, instances: config.instances ?? 1, results });
    } finally {
      await target?.stop();
      await prepared?.database.drop();
    }
  }
  return { scenarios: Object.fromEntries(THROUGHPUT_SCENARIOS.map((id) => [id, scenario(id).title])), rows };
}

async function sizes() {
  const rows = [];
  for (const store of options.stores) {
    for (const n of options.sizes) {
      const label = `${STORE_LABELS[store]}, ${n.toLocaleString('en-US')} live tokens`;
      log(`\n  ${label}`);
      const prepared = await prepare(store);
      let target = null;
      try {
        const fillSeconds = await fillTokens(prepared.database, n, { log });
        if (n > 0) log(`    filled in ${fillSeconds} s`);
        target = await serveCluster(label, prepared, 1);
        const cpu = cpuProbe({ pids: target.pids, sql: store === 'postgres' ? prepared.database.sql() : null });
        const r = await measure(target, ISSUANCE, await prepareScenario(target, ISSUANCE), cpu);
        rows.push({ store, live_tokens: n, fill_seconds: fillSeconds, result: r });
      } finally {
        await target?.stop();
        await prepared.database.drop();
      }
    }
  }
  return { scenario: ISSUANCE.title, rows };
}

async function sweep() {
  const rows = [];
  for (const store of options.stores) {
    const label = `${STORE_LABELS[store]}, sweeping ${options.sweepRows.toLocaleString('en-US')} expired tokens`;
    log(`\n  ${label}`);
    const prepared = await prepare(store);
    let target = null;
    try {
      const fillSeconds = await fillTokens(prepared.database, options.sweepRows, { expired: true, log });
      log(`    filled in ${fillSeconds} s`);
      const probe = sweepProbe(prepared.database);
      const sample = await probe.sample(SWEEP_SAMPLE);
      // The first sweep runs this long after the server started: after the warm-up and an idle window of about --duration.
      const interval = Math.round((options.warmup + options.duration) * 1000 + 2000);
      target = await serveCluster(label, prepared, 1, ['--sweep-interval', String(interval), '--sweep-retention', '0']);
      const cpu = cpuProbe({ pids: target.pids, sql: store === 'postgres' ? prepared.database.sql() : null });
      if (options.warmup > 0) await runLoad({ url: target.urls, request: ISSUANCE.request(target), connections: options.connections, duration: options.warmup });

      const result = await loadThroughSweep({
        urls: target.urls, request: ISSUANCE.request(target), connections: options.connections, probe, sample, cpu, timeoutSeconds: options.sweepTimeout,
      });
      await prepared.database.closeSql();
      const { idle, during } = result;
      const row = {
        store,
        expired_tokens: options.sweepRows,
        fill_seconds: fillSeconds,
        sweep_interval_ms: interval,
        swept_per_second: result.sweep_seconds ? Math.round(options.sweepRows / result.sweep_seconds) : null,
        ...result,
      };
      log(
        `    idle ${idle.rps} req/s p99 ${idle.p99} ms over ${idle.seconds} s; during the sweep ${during?.rps ?? '—'} req/s p99 ${during?.p99 ?? '—'} ms over ${during?.seconds ?? '—'} s (${row.p99_ratio ?? '—'}× idle)${row.problems.length ? `  (${row.problems.join('; ')})` : ''}`,
      );
      rows.push(row);
    } finally {
      await target?.stop();
      await prepared.database.drop();
    }
  }
  return { scenario: ISSUANCE.title, rows };
}

try {
  const missing = options.stores.includes('postgres') ? await postgresMissing() : undefined;
  if (missing) throw new Error(`${missing}; or leave PostgreSQL out with --stores sqlite`);
  if (only.includes('throughput')) {
    log('\nthroughput: Tessera SQLite, PostgreSQL with 1…n instances, oidc-provider in memory');
    out.throughput = await throughput();
  }
  if (only.includes('sizes')) {
    log('\nissuance with live tokens in the store');
    out.sizes = await sizes();
  }
  if (only.includes('sweep')) {
    log('\nPOST /token while the sweeper deletes expired tokens');
    out.sweep = await sweep();
  }
  out.loadavg.after = loadavg();
  out.seconds = Math.round((Date.now() - started) / 1000);

  log(`\nload average ${out.loadavg.before.map((x) => x.toFixed(2)).join(' ')} → ${out.loadavg.after.map((x) => x.toFixed(2)).join(' ')}`);
  const summary = markdown(out);
  log(`\n${summary}`);
  log(`\n${out.seconds} s in all`);

  const failed = failures(out);
  if (failed.length > 0) {
    log(`\nFAILED, nothing saved: requests failed or were answered wrongly in\n  ${failed.join('\n  ')}`);
    process.exitCode = 1;
  } else if (save) {
    const name = `${out.date.slice(0, 10)}-scale${only.length < PARTS.length ? `-${only.join('+')}` : ''}`;
    const json = join(root, 'bench/results', `${name}.json`);
    mkdirSync(dirname(json), { recursive: true });
    writeFileSync(json, `${JSON.stringify(out, null, 2)}\n`);
    writeFileSync(join(root, 'bench/results', `${name}.md`), `${summary}\n`);
    log(`saved bench/results/${name}.json and .md`);
  }
} finally {
  await cleanup();
}
