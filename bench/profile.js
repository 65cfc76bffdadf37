#!/usr/bin/env node
/**
 * Where Tessera's time goes under one benchmark scenario: runs the scenario's Tessera server alone
 * with `node --cpu-prof`, drives it with the same load as `npm run bench`, and sums the profile's
 * samples by function (self time, and inclusive time: with what it calls).
 *
 *   npm run bench:profile -- token-opaque [--duration 8] [--top 30] [--workers | --postgres] [--save]
 *
 * Prints one table per thread (the event loop; the SQLite writer thread); with --workers, of
 * `tessera serve --workers 2`, one per process's thread (the primary, its writer thread, each
 * worker's event loop); with --postgres, of Tessera on a fresh PostgreSQL database (its
 * backends' CPU is not in the profile); --save also writes them
 * to bench/results/DATE-profile-SCENARIO.txt. The raw .cpuprofile files (open one in Chrome
 * DevTools or speedscope for a flame graph) stay in the directory printed.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cleanup, installCleanupHandlers, tempDir } from './lib/processes.js';
import { runScenario } from './lib/runner.js';
import { SCENARIOS } from './lib/scenarios.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    duration: { type: 'string', default: '8' },
    connections: { type: 'string', default: '32' },
    top: { type: 'string', default: '30' },
    save: { type: 'boolean' },
    workers: { type: 'boolean' },
    postgres: { type: 'boolean' },
  },
});
const scenario = SCENARIOS.find((s) => s.id === positionals[0]);
if (!scenario) {
  console.error(`usage: npm run bench:profile -- SCENARIO [--duration S] [--top N] [--save]\nscenarios: ${SCENARIOS.map((s) => s.id).join(' ')}`);
  process.exit(2);
}

installCleanupHandlers();
const dir = tempDir();
// Not a tempDir(): the raw profile outlives the run.
const profiles = mkdtempSync(join(tmpdir(), 'tessera-profile-'));
const nodeArgs = ['--cpu-prof', `--cpu-prof-dir=${profiles}`];
const kind = values.postgres ? 'tessera-postgres' : values.workers ? 'tessera-workers' : 'tessera';
const tessera = scenario.servers.filter(([k]) => k === 'tessera').map(([, o]) => [kind, { ...o, nodeArgs }]);
const result = await runScenario({ ...scenario, servers: tessera }, {
  connections: Number(values.connections), duration: Number(values.duration), warmup: 1, rounds: 1, dir, log: (l) => console.log(l),
});
// One profile per thread: CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; thread 0 is the
// event loop serving HTTP, thread 1 the SQLite writer.
const files = readdirSync(profiles).sort().map((f) => join(profiles, f));
const pids = [...new Set(files.map((f) => Number(f.split('.').at(-4))))].sort((a, b) => a - b);
const threadName = (f) => {
  const name = f.split('.').at(-3) === '0' ? 'main thread (HTTP, reads, crypto)' : 'writer thread (SQLite writes, commits)';
  // The primary starts first: the lowest PID. Its main thread only runs the cluster.
  const pid = Number(f.split('.').at(-4));
  return pids.length === 1 ? name : pid === pids[0] ? `primary, ${name.startsWith('main') ? 'main thread (the cluster, housekeeping)' : name}` : `worker ${pids.indexOf(pid)}, ${name}`;
};
const text = files.map((f) => `=== ${threadName(f)}\n${summarize(JSON.parse(readFileSync(f, 'utf8')), Number(values.top))}`).join('\n');
const file = profiles;
const head = [
  `# CPU profile of tessera serve under ${scenario.title}, c=${values.connections} × ${values.duration} s (+1 s warm-up)`,
  `# ${new Date().toISOString().slice(0, 10)}, commit-time tree; ${result.results[kind].rps} req/s during the profile (profiling slows it).${values.workers ? ' tessera serve --workers 2.' : values.postgres ? ' On PostgreSQL.' : ''}`,
  '# Self = samples in the function itself; inclusive = with what it calls. npm run bench:profile -- ' + scenario.id,
].join('\n');
console.log(`\n${head}\n${text}\nraw profiles: ${file}`);
if (values.save) {
  const out = join(root, 'bench/results', `${new Date().toISOString().slice(0, 10)}-profile-${scenario.id}${values.workers ? '-workers' : values.postgres ? '-postgres' : ''}.txt`);
  writeFileSync(out, `${head}\n${text}\n`);
  console.log(`saved ${relative(root, out)}`);
}
await cleanup();

/** Self and inclusive milliseconds per function (name + file:line), the top N of each. */
function summarize(profile, top) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const key = (n) => {
    const f = n.callFrame;
    const file = f.url ? f.url.replace(/^file:\/\//, '').replace(`${root}/`, '').replace(/^.*node_modules\//, '') : '';
    return `${f.functionName || '(anonymous)'} ${file}${file ? `:${f.lineNumber + 1}` : ''}`;
  };
  const self = new Map();
  const incl = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    const leaf = byId.get(id);
    self.set(key(leaf), (self.get(key(leaf)) ?? 0) + dt);
    const seen = new Set();
    for (let n = leaf; n; n = byId.get(parent.get(n.id))) {
      const k = key(n);
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + dt);
    }
  });
  const rows = (m) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, ms]) => `${((ms / total) * 100).toFixed(1).padStart(5)} %  ${k}`)
      .join('\n');
  const skip = /^\((root|program)\)|^(anonymous) $/;
  return `total ${Math.round(total)} ms sampled\n--- self\n${rows(self)}\n--- inclusive\n${rows(new Map([...incl].filter(([k]) => !skip.test(k))))}`;
}
