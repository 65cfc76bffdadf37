/**
 * CPU time spent on a measured run, from /proc (Linux): utime + stime of each process, read before
 * and after, so that a server that answers faster only by taking more of the 2 shared cores shows
 * up as more CPU per request, not as progress.
 *
 *   server     the server processes (all their threads: the event loop, SQLite's writer, libuv);
 *   postgres   the PostgreSQL processes working for the run's database: its backends (the pools
 *              and LISTEN connections of the servers; not the bench's own connection) and the
 *              shared WAL writer, checkpointer and background writer, which also write for any
 *              other database in use at the time;
 *   postgres_all  every process named postgres owned by the user postgres (`pgrep -u postgres
 *              postgres`), other users' work included: a cross-check on a quiet machine;
 *   loadgen    this process: autocannon, which shares the cores with the servers.
 *
 * A backend that starts during the run counts from zero; one that exits during it is lost (the
 * pool keeps its connections 60 s idle, longer than a run after a warm-up).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { childrenOf } from './processes.js';

let ticksPerSecond = 100;
try {
  ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
} catch {}

/** utime + stime of `pid` in clock ticks, or null once it has exited. */
export function cpuTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces or parentheses): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

/**
 * CPU ticks of one process by thread: `event_loop` (the main thread, whose id is the PID), `writer`
 * (the SQLite store's writer thread, which names itself tessera-writer) and `other` (libuv's pool,
 * V8's GC and compiler threads); null once it has exited.
 */
export function threadTicks(pid, out = { event_loop: 0, writer: 0, other: 0 }) {
  let tids;
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  // `tessera serve --workers N`: the workers' threads count with the primary's, by kind.
  for (const child of childrenOf(pid)) threadTicks(child, out);
  for (const tid of tids) {
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // a thread that ended meanwhile
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    out[tid === String(pid) ? 'event_loop' : name === 'tessera-writer' ? 'writer' : 'other'] += ticks;
  }
  return out;
}

/** The machine's idle and total ticks from /proc/stat (idle + iowait count as idle). */
function machineTicks() {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { idle: fields[3] + (fields[4] ?? 0), total: fields.reduce((a, b) => a + b, 0) };
}

/**
 * CPU of one measured run, thread by thread: `start(pid)` before it, then `end(requests)` gives
 * microseconds of CPU per request of the server's event loop, its writer thread, its other threads
 * and this process (the load generator), and the machine's idle share over the run.
 */
export function threadProbe(pid) {
  const before = { threads: threadTicks(pid), machine: machineTicks(), self: process.cpuUsage() };
  return (requests) => {
    const threads = threadTicks(pid);
    const machine = machineTicks();
    const self = process.cpuUsage(before.self);
    if (threads === null || before.threads === null || !requests) return null;
    const us = (ticks) => Math.round(((ticks / ticksPerSecond) * 1e6) / requests);
    const total = machine.total - before.machine.total;
    return {
      event_loop_us: us(threads.event_loop - before.threads.event_loop),
      writer_us: us(threads.writer - before.threads.writer),
      other_threads_us: us(threads.other - before.threads.other),
      loadgen_us: Math.round((self.user + self.system) / requests),
      idle: total > 0 ? Math.round(((machine.idle - before.machine.idle) / total) * 1000) / 1000 : null,
    };
  };
}

function ticksOf(pids) {
  const m = new Map();
  for (const pid of pids) {
    const t = cpuTicks(pid);
    if (t !== null) m.set(pid, t);
  }
  return m;
}

function allPostgres() {
  try {
    return execFileSync('pgrep', ['-u', 'postgres', 'postgres'], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The PIDs of the PostgreSQL processes working for the database `sql` is connected to (see above). */
async function postgresPids(sql) {
  const rows = await sql`SELECT pid FROM pg_stat_activity
    WHERE (datname = current_database() AND pid <> pg_backend_pid()) OR backend_type IN ('walwriter', 'checkpointer', 'background writer')`;
  return rows.map((r) => r.pid);
}

/**
 * A probe of the CPU time of `pids` (the servers) and, with `sql` (the bench's connection to the
 * run's PostgreSQL database), of PostgreSQL: `between(a, b)` of two `snapshot()`s, or
 * `since(a)`, gives the seconds of CPU of each group.
 */
export function cpuProbe({ pids, sql = null }) {
  const probe = {
    async snapshot() {
      const pg = sql ? await postgresPids(sql) : [];
      return { at: performance.now(), server: ticksOf(pids), postgres: ticksOf(pg), postgres_all: ticksOf(sql ? allPostgres() : []), self: process.cpuUsage() };
    },
    between(before, after) {
      const delta = (group) => {
        let ticks = 0;
        for (const [pid, t] of after[group]) ticks += t - (before[group].get(pid) ?? 0);
        return Math.round((ticks / ticksPerSecond) * 100) / 100;
      };
      const self = (after.self.user + after.self.system - before.self.user - before.self.system) / 1e6;
      return {
        seconds: Math.round(after.at - before.at) / 1000,
        server: delta('server'),
        postgres: sql ? delta('postgres') : null,
        postgres_all: sql ? delta('postgres_all') : null,
        loadgen: Math.round(self * 100) / 100,
      };
    },
    async since(before) {
      return probe.between(before, await probe.snapshot());
    },
  };
  return probe;
}

/** Microseconds of CPU per request, per group, and the total of the servers and PostgreSQL. */
export function perRequest(cpu, requests) {
  const us = (s) => (s === null || !requests ? null : Math.round((s * 1e6) / requests));
  return {
    server_us: us(cpu.server),
    postgres_us: us(cpu.postgres),
    total_us: us(cpu.server + (cpu.postgres ?? 0)),
    postgres_all_us: us(cpu.postgres_all),
    loadgen_us: us(cpu.loadgen),
  };
}
