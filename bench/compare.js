#!/usr/bin/env node
/**
 * Tessera side by side with its peers (issue 5), in one run.
 *
 * What: req/s, p50/p99 latency, errors / non-2xx and peak RSS (VmHWM) of
 *   - Tessera (`tessera serve`, SQLite synchronous=full: every token durably stored and audited),
 *     and the same with `--workers 2` (two processes serving HTTP, one writer thread),
 *   - oidc-provider (default in-memory adapter),
 *   - @node-oauth/oauth2-server behind Express 5 (in-memory model; token endpoint only),
 *   - a bare node:http server answering a fixed JSON body (the ceiling),
 * for POST /token client_credentials (opaque, JWT), POST /token refresh_token with rotation,
 * introspection of an active and of a revoked token, and revocation of live tokens; plus
 * in-process verification of a JWT by @tessera/guard vs jose.jwtVerify vs raw node:crypto.
 * Each Tessera figure is also given as a ratio to each peer and to the bare ceiling.
 *
 * How: every server is a child process on 127.0.0.1, started one after the other per scenario and
 * stopped by PID; autocannon (as a library) drives each with the same fixed connections and
 * duration, after a short warm-up, alternating servers A B C, C B A for --rounds rounds so that
 * drift of the machine hits all of them; the figure is the mean over rounds (every round is kept
 * in the JSON). Scenario definitions: bench/lib/scenarios.js; servers: bench/lib/servers.js and
 * bench/peers/.
 *
 * Output: tables on stdout, bench/results/DATE.json, docs/bench-DATE.svg and docs/bench-latest.svg.
 *
 *   npm run bench [-- --duration 5 --warmup 1 --rounds 2 --connections 32 --only token-opaque,guard]
 *
 * --only runs the named scenarios (ids: token-opaque token-jwt refresh introspect-active
 * introspect-revoked revoke guard), --servers the named servers; --baseline DIR adds Tessera built
 * in another checkout beside this one (an A/B test: `git worktree add /tmp/base main`, copy
 * node_modules with `cp -a`, `npx tsc -b` there). With any of them nothing is saved unless --save
 * is given; --no-save never saves.
 * --note TEXT is stored in the JSON and shown under the chart's title (e.g. "preliminary: shared machine").
 * Exits 1, saving nothing, if any request failed or got a wrong answer; `npm run bench:smoke`
 * (CI) runs every scenario for a second to prove the suite works on a fresh clone.
 */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chart } from './lib/chart.js';
import { runGuardScenario } from './lib/guard-scenario.js';
import { cleanup, installCleanupHandlers, tempDir } from './lib/processes.js';
import { cpuTable, detailTable, guardRatios, guardTable, machine, notes, postgresTable, ratios, summaryTable, workersTable } from './lib/report.js';
import { runScenario } from './lib/runner.js';
import { SCENARIOS } from './lib/scenarios.js';
import { DESCRIPTIONS, LABELS } from './lib/servers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '2' },
    connections: { type: 'string', default: '32' },
    'in-flight': { type: 'string', default: '64' },
    only: { type: 'string' },
    servers: { type: 'string' },
    baseline: { type: 'string' },
    save: { type: 'boolean' },
    'no-save': { type: 'boolean' },
    postgres: { type: 'boolean' },
    note: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(`npm run bench [-- options]
  --duration S      seconds per measured run (5)
  --warmup S        seconds of warm-up before each run (1)
  --rounds N        rounds, servers alternating within each (2)
  --connections N   autocannon connections (32)
  --in-flight N     guard verifications outstanding (64)
  --only IDS        comma-separated scenarios: ${[...SCENARIOS.map((s) => s.id), 'guard'].join(' ')}
  --servers KINDS   comma-separated servers to run: ${Object.keys(LABELS).join(' ')} (all)
  --baseline DIR    also run Tessera from another checkout (built), e.g. a git worktree of main,
                    alternating with this one: an A/B test of a change
  --postgres        also run Tessera on PostgreSQL (a fresh database on TESSERA_TEST_PG, default
                    postgres://postgres@127.0.0.1:5432/test), beside the SQLite one
  --save, --no-save with --only, --servers or --baseline nothing is saved unless --save
  --note TEXT       stored in the JSON and shown under the chart's title`);
  process.exit(0);
}
const options = {
  duration: Number(values.duration),
  warmup: Number(values.warmup),
  rounds: Number(values.rounds),
  connections: Number(values.connections),
  inFlight: Number(values['in-flight']),
};
for (const [k, v] of Object.entries(options)) if (!Number.isFinite(v) || v < 0 || (k !== 'warmup' && v === 0)) throw new Error(`--${k} must be a positive number`);
const ids = [...SCENARIOS.map((s) => s.id), 'guard'];
const only = values.only ? values.only.split(',').map((s) => s.trim()) : null;
for (const id of only ?? []) if (!ids.includes(id)) throw new Error(`unknown scenario ${id}; known: ${ids.join(' ')}`);
const kinds = values.servers ? values.servers.split(',').map((s) => s.trim()) : null;
for (const k of kinds ?? []) if (!(k in LABELS)) throw new Error(`unknown server ${k}; known: ${Object.keys(LABELS).join(' ')}`);
const baseline = values.baseline ? resolve(values.baseline) : null;
if (baseline && !existsSync(join(baseline, 'packages/server/dist/cli/main.js'))) throw new Error(`--baseline ${baseline}: no built Tessera there (run tsc -b in it)`);
/** The scenario's servers, with Tessera on two workers and the baseline beside Tessera, and only those --servers names. */
function serversOf(scenario) {
  const list = scenario.servers.flatMap(([kind, o]) =>
    kind === 'tessera'
      ? [[kind, o], ['tessera-workers', o], ...(baseline ? [['tessera-baseline', { ...o, root: baseline }]] : []), ...(values.postgres ? [['tessera-postgres', o]] : [])]
      : [[kind, o]],
  );
  return list.filter(([kind]) => !kinds || kinds.includes(kind));
}
const partial = only || kinds || baseline || values.postgres;
const save = !values['no-save'] && (values.save || !partial);
const log = (line) => console.log(line);

installCleanupHandlers();
const started = Date.now();
const out = {
  ...machine(),
  note: values.note ?? null,
  options: { ...options, warmup: options.warmup },
  servers: DESCRIPTIONS,
  scenarios: [],
  guard: null,
};

try {
  const dir = tempDir();
  for (const scenario of SCENARIOS) {
    if (only && !only.includes(scenario.id)) continue;
    log(`\n${scenario.title}`);
    const result = await runScenario({ ...scenario, servers: serversOf(scenario) }, { ...options, dir, log });
    result.ratios = ratios(result);
    out.scenarios.push(result);
  }
  if (!only || only.includes('guard')) {
    log('\nguard verification, in-process');
    out.guard = await runGuardScenario({ duration: options.duration, warmup: options.warmup, rounds: options.rounds, inFlight: options.inFlight, dir, log });
    if (out.guard.rows) out.guard.ratios = guardRatios(out.guard);
  }
  out.loadavg.after = loadavg();
  out.seconds = Math.round((Date.now() - started) / 1000);

  if (out.note) log(`\nNote: ${out.note}`);
  log(`\n${out.date.slice(0, 10)}, Node ${out.node}, ${out.cpus} cores (${out.cpu}), autocannon ${options.connections} connections × ${options.duration} s, ${options.rounds} round${options.rounds === 1 ? '' : 's'} (mean), load average ${out.loadavg.before.map((x) => x.toFixed(2)).join(' ')} → ${out.loadavg.after.map((x) => x.toFixed(2)).join(' ')}\n`);
  log(summaryTable(out));
  log(`\n${detailTable(out)}`);
  const workers = workersTable(out);
  if (workers) log(`\n${workers}`);
  const pg = postgresTable(out);
  if (pg) log(`\n${pg}`);
  const cpu = cpuTable(out);
  if (cpu) log(`\nCPU per request by thread, and the machine's idle share:\n\n${cpu}`);
  if (out.guard) log(`\n${guardTable(out.guard)}`);
  const n = notes(out);
  if (n) log(`\n${n}`);
  log(`\n${out.seconds} s in all`);

  // A run with failed requests or wrong answers measured something else: it is not a result.
  const failed = out.scenarios.flatMap((s) => Object.values(s.results).filter((r) => r.errors || r.failed_check || r.pool_ran_out).map((r) => `${s.title}: ${r.label}`));
  if (failed.length > 0) {
    log(`\nFAILED, nothing saved: requests failed or were answered wrongly in\n  ${failed.join('\n  ')}`);
    process.exitCode = 1;
  } else if (save) {
    const day = out.date.slice(0, 10);
    const json = join(root, 'bench/results', `${day}.json`);
    const svg = join(root, 'docs', `bench-${day}.svg`);
    mkdirSync(dirname(json), { recursive: true });
    mkdirSync(dirname(svg), { recursive: true });
    writeFileSync(json, `${JSON.stringify(out, null, 2)}\n`);
    writeFileSync(svg, chart(out));
    copyFileSync(svg, join(root, 'docs/bench-latest.svg'));
    log(`saved ${json}, ${svg} and docs/bench-latest.svg`);
  }
} finally {
  await cleanup();
}
