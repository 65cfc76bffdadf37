/**
 * Runs one HTTP scenario: starts its servers one after the other (each a child process), prepares
 * them, then runs the rounds — in each round every server in turn gets a warm-up run and a
 * measured run (A B C, C B A, …), so drift of the shared machine hits all of them alike. After the
 * last round it reads each server's peak RSS (VmHWM, reset when setup is done where the kernel
 * allows: /proc/PID/clear_refs) and stops the servers by PID.
 *
 * The reported figure per server is the mean over rounds (req/s, p50, p99); error counts are
 * summed; every round's numbers are kept, with CPU µs per request of each server thread and of the load
 * generator (cpu.js threadProbe): steadier than req/s on a shared machine.
 */
import { threadProbe } from './cpu.js';
import { runLoad } from './load.js';
import { LABELS, start } from './servers.js';

const mean = (xs) => Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 100) / 100;
const sum = (xs) => xs.reduce((a, b) => a + (b ?? 0), 0);

/** The mean of each CPU figure over the rounds that have one (null: no /proc). */
function meanCpu(cpus) {
  const known = cpus.filter(Boolean);
  if (known.length === 0) return null;
  return Object.fromEntries(Object.keys(known[0]).map((k) => [k, mean(known.map((c) => c[k] ?? 0))]));
}

export async function runScenario(scenario, { connections, duration, warmup, rounds, dir, log }) {
  const servers = [];
  try {
    for (const [kind, options] of scenario.servers) servers.push(await start(kind, options, dir));
    const states = new Map();
    const plan = { runs: rounds * (warmup > 0 ? 2 : 1), connections };
    for (const s of servers) states.set(s, { ...(await scenario.prepare?.(s, plan)) });
    // Peak RSS is measured from here on: setup (client registration, start-up, fixtures) excluded.
    const hwmReset = servers.map((s) => s.resetPeakRss());
    const runs = new Map(servers.map((s) => [s, []]));
    for (let round = 0; round < rounds; round++) {
      // A B C, then C B A: a server that gains from its place in the round (two identical builds
      // differed by 16 % in revocation, the second one ahead) gains and loses alike.
      for (const s of round % 2 === 0 ? servers : [...servers].reverse()) {
        const state = states.get(s);
        const once = async (phase, seconds) => {
          const request = await scenario.request(s, state, { phase, seconds, connections, round });
          const cpu = threadProbe(s.pid);
          const r = await runLoad({ url: s.url, request, connections, duration: seconds });
          r.cpu = cpu(r.requests);
          state.maxRps = Math.max(state.maxRps ?? 0, r.rps);
          return { ...r, server_cpu_us: r.cpu ? r.cpu.event_loop_us + r.cpu.writer_us + r.cpu.other_threads_us : null };
        };
        if (warmup > 0) await once('warmup', warmup);
        let r = await once('measure', duration);
        if (r.pool_ran_out) {
          // Its pool was sized from the rate seen so far, and the server went faster: once more,
          // with a pool sized from this run's rate.
          log(`  round ${round + 1}  ${LABELS[s.kind]}: the token pool ran out after ${r.ran_out_after_s} s; again with a bigger pool`);
          r = { ...(await once('measure', duration)), pool_retried: true };
        }
        runs.get(s).push(r);
        const flags = [r.errors + r.timeouts ? `errors ${r.errors + r.timeouts}` : '', r.non2xx ? `non-2xx ${r.non2xx}` : '', r.wrong ? `failed check ${r.wrong}` : '', r.pool_ran_out ? `POOL RAN OUT after ${r.seconds} s` : '']
          .filter(Boolean)
          .join(', ');
        log(`  round ${round + 1}  ${LABELS[s.kind].padEnd(26)} ${String(r.rps).padStart(7)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms  server CPU ${r.server_cpu_us} µs/req${flags ? `  (${flags})` : ''}`);
      }
    }
    const results = {};
    for (const s of servers) {
      const rs = runs.get(s);
      results[s.kind] = {
        label: LABELS[s.kind],
        options: scenario.servers.find(([k]) => k === s.kind)[1],
        rps: mean(rs.map((r) => r.rps)),
        p50_ms: mean(rs.map((r) => r.p50)),
        p99_ms: mean(rs.map((r) => r.p99)),
        server_cpu_us: mean(rs.map((r) => r.server_cpu_us)),
        errors: sum(rs.map((r) => r.errors + r.timeouts)),
        non2xx: sum(rs.map((r) => r.non2xx)),
        failed_check: sum(rs.map((r) => r.wrong)),
        pool_ran_out: rs.some((r) => r.pool_ran_out) || undefined,
        cpu: meanCpu(rs.map((r) => r.cpu)),
        peak_rss_bytes: s.peakRss(),
        peak_rss_since: hwmReset[servers.indexOf(s)] ? 'setup done' : 'process start',
        rounds: rs,
      };
    }
    return { id: scenario.id, title: scenario.title, results, absent: scenario.absent ?? {} };
  } finally {
    for (const s of servers) await s.stop();
  }
}
