#!/usr/bin/env node
/**
 * Runs one of the suites that keep issue 9 fixed with a budget from the command line:
 *
 *   npm run fuzz -- --runs 20000 [--seed 42]     random and hostile requests (test/fuzz/)
 *   npm run chaos -- --rounds 200                SIGKILL during writes (test/chaos/)
 *   npm run soak -- --minutes 5 [--rate 40] [--save]   mixed load, latency and RSS (test/soak/)
 *
 * The budget goes to the suite's vitest file through an environment variable; `npm test` runs
 * the same files with small defaults (the soak not at all).
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';

const SUITES = {
  fuzz: { file: 'test/fuzz/fuzz.test.ts', flags: { runs: 'TESSERA_FUZZ_RUNS', seed: 'TESSERA_FUZZ_SEED' } },
  chaos: { file: 'test/chaos/chaos.test.ts', flags: { rounds: 'TESSERA_CHAOS_ROUNDS' } },
  soak: { file: 'test/soak/soak.test.ts', flags: { minutes: 'TESSERA_SOAK_MINUTES', rate: 'TESSERA_SOAK_RATE', save: 'TESSERA_SOAK_SAVE' } },
};

const [name, ...argv] = process.argv.slice(2);
const suite = SUITES[name];
if (!suite) {
  console.error(`usage: node scripts/suite.js ${Object.keys(SUITES).join('|')} [flags]`);
  process.exit(2);
}
const options = Object.fromEntries(Object.keys(suite.flags).map((flag) => [flag, { type: flag === 'save' ? 'boolean' : 'string' }]));
let values;
try {
  ({ values } = parseArgs({ args: argv, options, strict: true }));
} catch (err) {
  console.error(`${name}: ${err.message}; flags: ${Object.keys(suite.flags).map((f) => `--${f}`).join(' ')}`);
  process.exit(2);
}
const env = { ...process.env };
for (const [flag, variable] of Object.entries(suite.flags)) {
  const value = values[flag];
  if (value === undefined) continue;
  if (value !== true && !/^\d+(\.\d+)?$/.test(value)) {
    console.error(`${name}: --${flag} must be a number; got '${value}'`);
    process.exit(2);
  }
  env[variable] = value === true ? '1' : value;
}
if (name === 'soak' && env.TESSERA_SOAK_MINUTES === undefined) env.TESSERA_SOAK_MINUTES = '5';
// Long budgets: no vitest timeout of its own beyond the test's, one file, output as it comes.
const child = spawn(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', suite.file, '--reporter', 'verbose'], { stdio: 'inherit', env });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
