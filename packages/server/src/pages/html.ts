/**
 * Server-rendered pages: an escaping template tag and the plain, accessible layout every page
 * shares. No script; styles inline so the Content-Security-Policy can stay `default-src 'none'`.
 */

/** Markup that is already safe to embed. Only the `html` tag makes these. */
export class Markup {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);

type Value = string | number | Markup | undefined | false | readonly Value[];

function render(value: Value): string {
  if (value === undefined || value === false) return '';
  if (value instanceof Markup) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/** Template tag: every interpolated value is HTML-escaped unless it is Markup from this tag. */
export function html(strings: TemplateStringsArray, ...values: Value[]): Markup {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? '');
  });
  return new Markup(out);
}

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1a1a1a}
main{max-width:26rem;margin:4rem auto;padding:2rem;background:#fff;border:1px solid #d0d4da;border-radius:8px}
h1{font-size:1.4rem;margin-top:0}label{display:block;margin-top:1rem;font-weight:600}
input{display:block;width:100%;box-sizing:border-box;padding:.5rem;margin-top:.25rem;font:inherit;border:1px solid #8a929c;border-radius:4px}
button{margin-top:1.25rem;margin-right:.5rem;padding:.5rem 1.25rem;font:inherit;border-radius:4px;border:1px solid #1d4ed8;background:#1d4ed8;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#1d4ed8}
button:focus-visible,input:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
.error{padding:.75rem;border:1px solid #b91c1c;background:#fef2f2;color:#7f1d1d;border-radius:4px}
.code{font-family:ui-monospace,monospace;letter-spacing:.1em}
code{font-size:.9em;background:#eef0f3;padding:.1rem .3rem;border-radius:3px}`;

export function layout(title: string, body: Markup): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Tessera</title>
<style>${new Markup(STYLE)}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`.value;
}
