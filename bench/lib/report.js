/**
 * Turns the results into the ratios (each Tessera figure ÷ each peer's and ÷ the bare ceiling)
 * and into Markdown tables for the console and the README. The number formats are shared with
 * bench/lib/scale-report.js.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { LABELS } from './servers.js';

const PEERS = ['oidc-provider', 'node-oauth2-server'];
export const int = (n) => Math.round(n).toLocaleString('en-US');
export const ms = (n) => `${Number.isInteger(n) ? n : n.toFixed(1)} ms`;
const mb = (bytes) => (bytes == null ? '—' : `${Math.round(bytes / 2 ** 20)} MB`);
export const times = (x) => (x == null ? 'n/a' : `${x >= 10 ? x.toFixed(0) : x.toFixed(2)}×`);
export const percent = (x) => (x == null ? 'n/a' : `${(x * 100).toFixed(x < 0.1 ? 1 : 0)} %`);
const round3 = (x) => Math.round(x * 1000) / 1000;

/** { vs: { peer: tessera rps ÷ peer rps }, rss_vs: { peer: tessera RSS ÷ peer RSS } } for one scenario. */
export function ratios(scenario) {
  const t = scenario.results.tessera;
  const vs = {};
  const rssVs = {};
  for (const [kind, r] of Object.entries(scenario.results)) {
    if (kind === 'tessera' || !t) continue;
    vs[kind] = r.rps ? round3(t.rps / r.rps) : null;
    if (kind !== 'bare' && r.peak_rss_bytes && t.peak_rss_bytes) rssVs[kind] = round3(t.peak_rss_bytes / r.peak_rss_bytes);
  }
  return { vs, rss_vs: rssVs };
}

function problems(r) {
  const p = [];
  if (r.errors) p.push(`${r.errors} errors`);
  if (r.non2xx) p.push(`${r.non2xx} non-2xx`);
  if (r.failed_check > r.non2xx) p.push(`${r.failed_check - r.non2xx} wrong answers`);
  if (r.pool_ran_out) p.push('pool ran out');
  return p.length ? p.join(', ') : '0';
}

/** Every server's figures, scenario by scenario. */
export function detailTable(out) {
  const lines = ['| scenario | server | req/s | p50 | p99 | errors | peak RSS | Tessera ÷ this |', '| --- | --- | ---: | ---: | ---: | --- | ---: | ---: |'];
  for (const s of out.scenarios) {
    if (!s.results) continue;
    const { vs } = ratios(s);
    for (const [kind, r] of Object.entries(s.results)) {
      lines.push(`| ${s.title} | ${r.label} | ${int(r.rps)} | ${ms(r.p50_ms)} | ${ms(r.p99_ms)} | ${problems(r)} | ${mb(r.peak_rss_bytes)} | ${kind === 'tessera' ? '—' : times(vs[kind])} |`);
    }
  }
  return lines.join('\n');
}

/**
 * CPU per request, thread by thread (bench/lib/cpu.js threadProbe), and the machine's idle share:
 * steadier than req/s on a shared machine, and it says which thread bounds a scenario.
 */
export function cpuTable(out) {
  const lines = ['| scenario | server | event loop µs | writer thread µs | other threads µs | load generator µs | machine idle |', '| --- | --- | ---: | ---: | ---: | ---: | ---: |'];
  const us = (x) => (x == null ? 'n/a' : String(Math.round(x)));
  for (const s of out.scenarios) {
    for (const r of Object.values(s.results ?? {})) {
      const c = r.cpu;
      if (!c) continue;
      lines.push(`| ${s.title} | ${r.label} | ${us(c.event_loop_us)} | ${c.writer_us ? us(c.writer_us) : '—'} | ${us(c.other_threads_us)} | ${us(c.loadgen_us)} | ${percent(c.idle)} |`);
    }
  }
  return lines.length > 2 ? lines.join('\n') : '';
}

/** One line per scenario: Tessera's req/s and its ratios (the README table). */
export function summaryTable(out) {
  const head = `| request | Tessera req/s | p50 / p99 | ÷ ${PEERS.map((p) => LABELS[p]).join(' | ÷ ')} | of bare node:http | peak RSS ÷ oidc-provider |`;
  const lines = [head, '| --- | ---: | ---: | ---: | ---: | ---: | ---: |'];
  for (const s of out.scenarios) {
    if (!s.results?.tessera) continue;
    const t = s.results.tessera;
    const { vs, rss_vs } = ratios(s);
    const peer = (p) => (p in vs ? times(vs[p]) : 'n/a');
    lines.push(`| ${s.title} | ${int(t.rps)} | ${ms(t.p50_ms)} / ${ms(t.p99_ms)} | ${PEERS.map(peer).join(' | ')} | ${percent(vs.bare)} | ${rss_vs['oidc-provider'] == null ? 'n/a' : percent(rss_vs['oidc-provider'])} |`);
  }
  return lines.join('\n');
}

/** With --postgres: Tessera on PostgreSQL against oidc-provider (in memory) and Tessera on SQLite, same run. */
export function postgresTable(out) {
  const lines = ['| request | Tessera on PostgreSQL req/s | p50 / p99 | ÷ oidc-provider | ÷ Tessera on SQLite |', '| --- | ---: | ---: | ---: | ---: |'];
  for (const s of out.scenarios) {
    const pg = s.results?.['tessera-postgres'];
    if (!pg) continue;
    const over = (kind) => (s.results[kind]?.rps ? times(pg.rps / s.results[kind].rps) : 'n/a');
    lines.push(`| ${s.title} | ${int(pg.rps)} | ${ms(pg.p50_ms)} / ${ms(pg.p99_ms)} | ${over('oidc-provider')} | ${over('tessera')} |`);
  }
  return lines.length > 2 ? lines.join('\n') : '';
}

/** `tessera serve --workers 2` against oidc-provider, the bare ceiling and one Tessera process, same run. */
export function workersTable(out) {
  const lines = ['| request | Tessera, 2 workers req/s | p50 / p99 | ÷ oidc-provider | of bare node:http | ÷ Tessera, one process |', '| --- | ---: | ---: | ---: | ---: | ---: |'];
  for (const s of out.scenarios) {
    const w = s.results?.['tessera-workers'];
    if (!w) continue;
    const over = (kind) => (s.results[kind]?.rps ? w.rps / s.results[kind].rps : null);
    lines.push(`| ${s.title} | ${int(w.rps)} | ${ms(w.p50_ms)} / ${ms(w.p99_ms)} | ${times(over('oidc-provider'))} | ${percent(over('bare'))} | ${times(over('tessera'))} |`);
  }
  return lines.length > 2 ? lines.join('\n') : '';
}

/** The guard's ops/s ÷ each other verifier's, and ÷ the fastest of them. */
export function guardRatios(guard) {
  const g = guard.rows.guard.ops_s;
  const others = Object.entries(guard.rows).filter(([k]) => k !== 'guard');
  const r = Object.fromEntries(others.map(([k, row]) => [k, round3(g / row.ops_s)]));
  r.fastest_other = round3(g / Math.max(...others.map(([, row]) => row.ops_s)));
  return r;
}

export function guardTable(guard) {
  if (!guard) return '';
  if (guard.skipped) return `Guard verification: skipped — ${guard.skipped}`;
  const g = guard.rows.guard.ops_s;
  const lines = [`| verification of one ES256 JWT, ${guard.in_flight} in flight, in-process | ops/s | guard ÷ this |`, '| --- | ---: | ---: |'];
  for (const [k, r] of Object.entries(guard.rows)) lines.push(`| ${r.label} | ${int(r.ops_s)} | ${k === 'guard' ? '—' : percent(g / r.ops_s)} |`);
  return lines.join('\n');
}

export function notes(out) {
  const n = [];
  for (const s of out.scenarios) {
    for (const [kind, why] of Object.entries(s.absent ?? {})) n.push(`- ${s.title}: ${LABELS[kind]} n/a (${why}).`);
    for (const r of Object.values(s.results ?? {})) {
      if (r.pool_ran_out) n.push(`- ${s.title}: ${r.label}'s token pool ran out; that run stopped early (req/s is over the time it ran).`);
      if (r.failed_check) n.push(`- ${s.title}: ${r.label} gave ${r.failed_check} answers that failed the check.`);
    }
  }
  return n.join('\n');
}

/** The machine and the moment a result was taken on, first in every saved result. */
export function machine() {
  return {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    memory_bytes: totalmem(),
    loadavg: { before: loadavg() },
  };
}
