/**
 * Bar charts as inline SVG: each with a title and a text summary for screen readers, and each
 * bar's number written next to it, so nothing is told by length or colour alone.
 */

export interface Bar {
  label: string;
  value: number;
}

/** Horizontal bars, one row per label. */
export function BarList({ title, bars }: { title: string; bars: Bar[] }) {
  const max = Math.max(1, ...bars.map((b) => b.value));
  const row = 28;
  const labelWidth = 130;
  const width = 360;
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <svg role="img" aria-label={`${title}: ${bars.map((b) => `${b.label} ${b.value}`).join(', ') || 'none'}`} viewBox={`0 0 ${width} ${Math.max(row, bars.length * row)}`} class="bars">
        {bars.map((b, i) => (
          <g key={b.label} transform={`translate(0 ${i * row})`}>
            <text x={0} y={row / 2 + 5} class="label">
              {b.label.length > 15 ? `${b.label.slice(0, 14)}…` : b.label}
            </text>
            <rect x={labelWidth} y={4} height={row - 8} width={Math.max(1, ((width - labelWidth - 50) * b.value) / max)} class={`bar bar-${i % 4}`} />
            <text x={labelWidth + 6 + ((width - labelWidth - 50) * b.value) / max} y={row / 2 + 5} class="value" data-testid={`value-${b.label}`}>
              {b.value}
            </text>
          </g>
        ))}
      </svg>
    </figure>
  );
}

/** Vertical bars over time (oldest first). */
export function Timeline({ title, bars }: { title: string; bars: Bar[] }) {
  const max = Math.max(1, ...bars.map((b) => b.value));
  const height = 120;
  const step = 6;
  const total = bars.reduce((sum, b) => sum + b.value, 0);
  const last = bars.at(-1);
  const summary = `${title}: ${total} in all; ${last ? `${last.value} in the current minute` : 'none'}; busiest minute ${max === 1 && total === 0 ? 0 : max}`;
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <svg role="img" aria-label={summary} viewBox={`0 0 ${bars.length * step} ${height}`} preserveAspectRatio="none" class="timeline">
        {bars.map((b, i) => (
          <rect key={b.label} x={i * step + 1} width={step - 2} y={height - (height * b.value) / max} height={(height * b.value) / max} class="bar bar-0">
            <title>{`${b.label}: ${b.value}`}</title>
          </rect>
        ))}
      </svg>
      <p class="summary" data-testid="events-summary">
        {summary}
      </p>
    </figure>
  );
}
