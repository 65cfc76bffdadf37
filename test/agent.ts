/**
 * A user agent over fetch for the authorization endpoint's pages: a cookie jar, no automatic
 * redirects (tests look at each Location), and form fields read from the returned HTML.
 */
export interface Page {
  status: number;
  headers: Headers;
  body: string;
  location: string | undefined;
}

export class Agent {
  readonly cookies = new Map<string, string>();

  constructor(readonly base: string, private readonly extraHeaders: Record<string, string> = {}) {}

  async get(pathOrUrl: string): Promise<Page> {
    return this.send(pathOrUrl, { method: 'GET' });
  }

  async post(path: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Page> {
    return this.send(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form).toString(),
    });
  }

  private async send(pathOrUrl: string, init: RequestInit): Promise<Page> {
    const url = new URL(pathOrUrl, this.base);
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const headers = { ...this.extraHeaders, ...(init.headers as Record<string, string>), ...(cookie ? { cookie } : {}) };
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = (pair ?? '').indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (/max-age=0/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const location = res.headers.get('location') ?? undefined;
    return { status: res.status, headers: res.headers, body: await res.text(), location: location && new URL(location, url).toString() };
  }
}

/** The value of a named form field in a page (hidden inputs and text inputs). */
export function field(html: string, name: string): string {
  const match = new RegExp(`<input[^>]*name="${name}"[^>]*value="([^"]*)"`).exec(html);
  if (!match) throw new Error(`no field ${name} in page:\n${html}`);
  return decodeEntities(match[1] as string);
}

function decodeEntities(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|#39);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e] as string);
}
