/**
 * One load run that spans an idle window and an expiry sweep (bench/scale.js, part "sweep"), told
 * apart afterwards: autocannon's `response` event gives every response's latency, kept with the
 * time it completed, while the sweep is followed in the database every POLL_MS (fill.js
 * sweepProbe). The sweep window opens at the last poll that still found every sampled row (the
 * rows that expired first, which a sweep deletes first) and closes at the first poll that finds
 * no expired row left; the idle window is everything before it. CPU time (cpu.js) is taken at the
 * start and at both edges.
 */
import { perRequest } from './cpu.js';
import { runLoad } from './load.js';

const POLL_MS = 100;
/** Rows sampled to see the sweep start. */
export const SAMPLE = 200;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** p50/p99 and req/s of the responses that completed in [from, to). */
function windowStats(times, latencies, from, to) {
  const l = [];
  for (let i = 0; i < times.length; i++) if (times[i] >= from && times[i] < to) l.push(latencies[i]);
  l.sort((a, b) => a - b);
  const q = (p) => (l.length ? Math.round(l[Math.min(l.length - 1, Math.ceil(p * l.length) - 1)] * 10) / 10 : null);
  const seconds = (to - from) / 1000;
  return { seconds: Math.round(seconds * 10) / 10, requests: l.length, rps: seconds > 0 ? Math.round(l.length / seconds) : null, p50: q(0.5), p99: q(0.99) };
}

/**
 * Drives `request` at `urls` until the sweep followed by `probe` is over (or `timeoutSeconds`
 * passed); `sample` is `await probe.sample(…)`, taken before the server started.
 */
export async function loadThroughSweep({ urls, request, connections, probe, sample, cpu, timeoutSeconds }) {
  const times = [];
  const latencies = [];
  let instance = null;
  const recorded = {
    ...request,
    attach(i) {
      instance = i;
      i.on('response', (_client, _status, _bytes, latency) => {
        times.push(performance.now());
        latencies.push(latency);
      });
    },
  };
  const early = (await probe.left(sample)) < sample.length;
  const marks = { load: await cpu.snapshot() };
  const t0 = marks.load.at;
  const load = runLoad({ url: urls, request: recorded, connections, duration: timeoutSeconds });
  let lastIntact = t0;
  let startedAt = early ? t0 : null;
  let endedAt = null;
  if (early) marks.sweep = marks.load;
  while (endedAt === null && performance.now() - t0 < timeoutSeconds * 1000) {
    await sleep(POLL_MS);
    const now = performance.now();
    if (startedAt === null) {
      if ((await probe.left(sample)) === sample.length) {
        lastIntact = now;
        continue;
      }
      startedAt = lastIntact;
      marks.sweep = await cpu.snapshot();
    }
    if (!(await probe.anyExpired(Date.now()))) {
      endedAt = performance.now();
      marks.end = await cpu.snapshot();
    }
  }
  instance?.stop();
  const r = await load;
  const idle = windowStats(times, latencies, t0, startedAt ?? performance.now());
  const during = startedAt === null ? null : windowStats(times, latencies, startedAt, endedAt ?? performance.now());
  const cpuOf = (a, b, requests) => (a && b && a !== b ? perRequest(cpu.between(a, b), requests) : null);
  return {
    sweep_seconds: during && endedAt !== null ? during.seconds : null,
    idle: { ...idle, cpu_per_request: cpuOf(marks.load, marks.sweep, idle.requests) },
    during: during && { ...during, cpu_per_request: cpuOf(marks.sweep, marks.end, during.requests) },
    p99_ratio: during?.p99 && idle.p99 ? Math.round((during.p99 / idle.p99) * 100) / 100 : null,
    load: { errors: r.errors + r.timeouts, non2xx: r.non2xx, wrong: r.wrong, requests: r.requests },
    problems: [
      early ? 'the sweep had started before the idle window' : '',
      startedAt === null ? 'the sweep did not start before --sweep-timeout' : '',
      startedAt !== null && endedAt === null ? 'the sweep did not finish before --sweep-timeout' : '',
    ].filter(Boolean),
  };
}

