/**
 * A hand-written SVG bar chart of the results (no chart dependency): one panel per scenario, one
 * horizontal bar per server (req/s, or ops/s for the guard), each panel scaled to its own largest
 * bar, Tessera's bar in colour and the bare ceiling outlined.
 */
import { LABELS } from './servers.js';

const W = 880;
const LABEL_W = 250;
const VALUE_W = 110;
const BAR_H = 18;
const GAP = 6;
const HEAD = 28;
const PAD = 16;
const COLORS = { tessera: '#2563eb', 'oidc-provider': '#9ca3af', 'node-oauth2-server': '#b8aca4', bare: '#ffffff', guard: '#2563eb', jose: '#9ca3af', 'raw-async': '#c7cdd6', 'raw-sync': '#c7cdd6' };
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const int = (n) => Math.round(n).toLocaleString('en-US');
const pct = (x) => `${(x * 100).toFixed(x < 0.1 ? 1 : 0)} %`;

/** Panels: [{ title, bars: [{ key, label, value, unit }] }] */
function panels(out) {
  const list = [];
  for (const s of out.scenarios) {
    if (!s.results) continue;
    const t = s.results.tessera;
    const against = Object.entries(s.results).filter(([k, r]) => k !== 'tessera' && t && r.rps);
    const note = against.map(([k, r]) => (k === 'bare' ? `${pct(t.rps / r.rps)} of the ceiling` : `${(t.rps / r.rps).toFixed(2)}× ${r.label}`)).join(' · ');
    list.push({ title: s.title, note: note ? `Tessera: ${note}` : '', bars: Object.entries(s.results).map(([k, r]) => ({ key: k, label: r.label, value: r.rps, unit: 'req/s' })) });
  }
  if (out.guard?.rows) {
    list.push({
      title: `${out.guard.title}, ${out.guard.in_flight} in flight`,
      note: `guard: ${pct(out.guard.ratios.jose)} of jose.jwtVerify · ${pct(out.guard.ratios['raw-async'])} of node:crypto async · ${pct(out.guard.ratios['raw-sync'])} of sync`,
      bars: Object.entries(out.guard.rows).map(([k, r]) => ({ key: k, label: { guard: '@tessera/guard', jose: 'jose.jwtVerify', 'raw-async': 'node:crypto async', 'raw-sync': 'node:crypto sync' }[k] ?? k, value: r.ops_s, unit: 'ops/s' })),
    });
  }
  return list;
}

export function chart(out) {
  const ps = panels(out);
  const parts = [];
  let y = out.note ? 72 : 58;
  for (const p of ps) {
    const max = Math.max(...p.bars.map((b) => b.value), 1);
    parts.push(`<text x="${PAD}" y="${y + 16}" class="h">${esc(p.title)}</text>`);
    if (p.note) parts.push(`<text x="${W - PAD}" y="${y + 16}" text-anchor="end" class="n">${esc(p.note)}</text>`);
    y += HEAD;
    for (const b of p.bars) {
      const w = Math.max(1, Math.round(((W - LABEL_W - VALUE_W - PAD * 2) * b.value) / max));
      const stroke = b.key === 'bare' ? ' stroke="#6b7280" stroke-dasharray="3 2"' : '';
      parts.push(
        `<text x="${LABEL_W + PAD - 8}" y="${y + 13}" text-anchor="end" class="${b.key === 'tessera' || b.key === 'guard' ? 'lb t' : 'lb'}">${esc(b.label)}</text>`,
        `<rect x="${LABEL_W + PAD}" y="${y}" width="${w}" height="${BAR_H}" fill="${COLORS[b.key] ?? '#9ca3af'}"${stroke}/>`,
        `<text x="${LABEL_W + PAD + w + 6}" y="${y + 13}" class="v">${int(b.value)} ${b.unit}</text>`,
      );
      y += BAR_H + GAP;
    }
    y += 10;
  }
  const absent = out.scenarios.flatMap((s) => Object.keys(s.absent ?? {}).map((k) => `${LABELS[k]} has no ${s.title.replace(/^POST /, '')}`));
  const foot = `Each panel is scaled to its own largest bar. ${out.options.rounds === 1 ? 'One round.' : `Mean of ${out.options.rounds} alternating rounds.`} ${absent.length ? 'Missing bars: the peer has no such endpoint or mode.' : ''}`;
  parts.push(`<text x="${PAD}" y="${y + 10}" class="f">${esc(foot)}</text>`);
  const height = y + 28;
  const o = out.options;
  const title = `Tessera and its peers — ${out.date.slice(0, 10)}, Node ${out.node}, ${out.cpus} cores`;
  const sub = `autocannon ${o.connections} connections × ${o.duration} s per run (after ${o.warmup} s warm-up), ${o.rounds} round${o.rounds === 1 ? '' : 's'}, all on 127.0.0.1`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" role="img">
<title>${esc(`${title}: requests per second of each server, per scenario`)}</title>
<style>.ti{font-size:16px;font-weight:600;fill:#111827}.s{font-size:12px;fill:#4b5563}.h{font-size:13px;font-weight:600;fill:#1f2937}.lb{font-size:12px;fill:#374151}.t{font-weight:700;fill:#1d4ed8}.v{font-size:12px;fill:#111827}.f{font-size:11px;fill:#6b7280}.n{font-size:11px;fill:#1d4ed8}</style>
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="${PAD}" y="24" class="ti">${esc(title)}</text>
<text x="${PAD}" y="42" class="s">${esc(sub)}</text>
${out.note ? `<text x="${PAD}" y="58" class="s">${esc(`Note: ${out.note}`)}</text>\n` : ''}${parts.join('\n')}
</svg>
`;
}
