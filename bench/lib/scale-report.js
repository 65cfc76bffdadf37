/**
 * The scale run's results (bench/scale.js) as Markdown: one table per part and the goals of
 * issue 10, each met or missed. Number formats are report.js's.
 */
import { int, ms, percent, times } from './report.js';

const us = (x) => (x == null ? '—' : `${int(x)} µs`);
const maybeMs = (x) => (x == null ? '—' : ms(x));
const verdict = (ok) => (ok == null ? 'n/a' : ok ? '**met**' : '**missed**');

function problems(r) {
  const p = [];
  if (r.errors || r.timeouts) p.push(`${r.errors + (r.timeouts ?? 0)} errors`);
  if (r.non2xx) p.push(`${r.non2xx} non-2xx`);
  if (r.wrong > r.non2xx) p.push(`${r.wrong - r.non2xx} wrong answers`);
  if (r.chains_starved) p.push(`${r.chains_starved} requests without a chain`);
  return p.length ? p.join(', ') : '0';
}

export function throughputTable(t) {
  const lines = [
    '| server | request | req/s | p50 / p99 | CPU/request: all | server | PostgreSQL | load generator | req/s ÷ 1 instance | CPU/request ÷ 1 instance | errors |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  const one = t.rows.find((row) => row.id === 'postgres-1');
  for (const row of t.rows) {
    for (const [id, r] of Object.entries(row.results)) {
      const c = r.cpu_per_request;
      const base = row.store === 'postgres' && one && row !== one ? one.results[id] : null;
      lines.push(
        `| ${row.label} | ${t.scenarios[id] ?? id} | ${int(r.rps)} | ${ms(r.p50)} / ${ms(r.p99)} | ${us(c.total_us)} | ${us(c.server_us)} | ${us(c.postgres_us)} | ${us(c.loadgen_us)} | ${base ? times(r.rps / base.rps) : '—'} | ${base ? times(c.total_us / base.cpu_per_request.total_us) : '—'} | ${problems(r)} |`,
      );
    }
  }
  return lines.join('\n');
}

/** req/s of each size ÷ the same store's empty (or smallest) store. */
function sizeRatios(s) {
  return s.rows.map((row) => {
    const sameStore = s.rows.filter((x) => x.store === row.store);
    const base = sameStore.reduce((a, b) => (b.live_tokens < a.live_tokens ? b : a));
    return { row, base, ratio: base.result.rps ? row.result.rps / base.result.rps : null };
  });
}

export function sizesTable(s) {
  const lines = ['| store | live tokens | fill | req/s | p50 / p99 | CPU/request | ÷ empty store | within 20 % |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |'];
  for (const { row, base, ratio } of sizeRatios(s)) {
    const r = row.result;
    const isBase = row === base;
    lines.push(
      `| ${row.store} | ${int(row.live_tokens)} | ${row.live_tokens ? `${row.fill_seconds} s` : '—'} | ${int(r.rps)} | ${ms(r.p50)} / ${ms(r.p99)} | ${us(r.cpu_per_request.total_us)} | ${isBase ? '—' : percent(ratio)} | ${isBase ? '—' : ratio >= 0.8 ? 'yes' : 'no'} |`,
    );
  }
  return lines.join('\n');
}

export function sweepTable(s) {
  const lines = [
    '| store | expired tokens | fill | sweep took | rows/s | idle req/s | idle p50 / p99 | sweeping req/s | sweeping p50 / p99 | p99 ÷ idle | CPU/request idle → sweeping | notes |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const row of s.rows) {
    const i = row.idle;
    const d = row.during;
    lines.push(
      `| ${row.store} | ${int(row.expired_tokens)} | ${row.fill_seconds} s | ${row.sweep_seconds == null ? '—' : `${row.sweep_seconds} s`} | ${row.swept_per_second == null ? '—' : int(row.swept_per_second)} | ${int(i.rps ?? 0)} | ${maybeMs(i.p50)} / ${maybeMs(i.p99)} | ${d ? int(d.rps ?? 0) : '—'} | ${d ? `${maybeMs(d.p50)} / ${maybeMs(d.p99)}` : '—'} | ${row.p99_ratio == null ? '—' : times(row.p99_ratio)} | ${us(i.cpu_per_request?.total_us)} → ${us(d?.cpu_per_request?.total_us)} | ${[...row.problems, d ? `${int(d.requests)} requests while sweeping` : ''].filter(Boolean).join('; ')} |`,
    );
  }
  return lines.join('\n');
}

/** The goals of issue 10, each with the figures that decide it. */
function goals(out) {
  const g = [];
  const t = out.throughput;
  if (t) {
    const pg = t.rows.find((r) => r.id === 'postgres-1')?.results['token-opaque'];
    const oidc = t.rows.find((r) => r.id === 'oidc-provider')?.results['token-opaque'];
    if (pg && oidc) g.push(`- One PostgreSQL instance ≥ oidc-provider in memory, issuance: ${int(pg.rps)} vs ${int(oidc.rps)} req/s (${times(pg.rps / oidc.rps)}) — ${verdict(pg.rps >= oidc.rps)}`);
    const pgRows = t.rows.filter((r) => r.store === 'postgres');
    const most = pgRows.at(-1);
    if (pgRows.length > 1 && most) {
      const one = pgRows[0].results['token-opaque'];
      const many = most.results['token-opaque'];
      g.push(
        `- Issuance on ${most.instances} PostgreSQL instances vs ${pgRows[0].instances}: ${times(many.rps / one.rps)} the req/s at ${times(many.cpu_per_request.total_us / one.cpu_per_request.total_us)} the CPU per request (on shared cores, CPU/request is the figure that tells whether instances add cost).`,
      );
    }
  }
  if (out.sizes) {
    for (const { row, ratio } of sizeRatios(out.sizes).filter((x) => x.row !== x.base)) {
      g.push(`- ${row.store}, ${int(row.live_tokens)} live tokens: ${percent(ratio)} of the empty store's issuance req/s — within 20 %: ${verdict(ratio >= 0.8)}`);
    }
  }
  if (out.sweep) {
    for (const row of out.sweep.rows) {
      g.push(`- ${row.store}, POST /token p99 while sweeping ${int(row.expired_tokens)} expired tokens: ${row.p99_ratio == null ? 'n/a' : times(row.p99_ratio)} the idle p99 — under 2×: ${verdict(row.p99_ratio == null ? null : row.p99_ratio < 2)}`);
    }
  }
  return g.join('\n');
}

export function markdown(out) {
  const o = out.options;
  const parts = [
    `## Tessera scale-out, ${out.date.slice(0, 10)}`,
    `${out.cpus} cores (${out.cpu}), Node ${out.node}; autocannon with ${o.connections} connections in all (round-robin over the instances), ${o.duration} s per run after ${o.warmup} s of warm-up; CPU per request = CPU time of the server processes and of the PostgreSQL processes working for the run's database ÷ requests.${out.note ? `\n\n**Note:** ${out.note}` : ''}`,
    `### Goals\n\n${goals(out) || '(no part with a goal was run)'}`,
  ];
  if (out.throughput) parts.push(`### Throughput\n\n${throughputTable(out.throughput)}`);
  if (out.sizes) parts.push(`### Issuance with live tokens in the store\n\n${sizesTable(out.sizes)}`);
  if (out.sweep) parts.push(`### POST /token while the sweeper deletes expired tokens\n\n${sweepTable(out.sweep)}`);
  return parts.join('\n\n');
}

/** Runs with failed requests or wrong answers: they measured something else. */
export function failures(out) {
  const bad = (r) => r.errors || r.timeouts || r.wrong || r.chains_starved;
  const f = [];
  for (const row of out.throughput?.rows ?? []) for (const [id, r] of Object.entries(row.results)) if (bad(r)) f.push(`${row.label}: ${id}`);
  for (const row of out.sizes?.rows ?? []) if (bad(row.result)) f.push(`${row.store}, ${row.live_tokens} live tokens`);
  for (const row of out.sweep?.rows ?? []) if (bad(row.load)) f.push(`${row.store}, sweep`);
  return f;
}
