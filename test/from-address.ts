/**
 * HTTP from a chosen loopback address: Linux routes all of 127.0.0.0/8 to lo, so a test can be
 * several clients (an attacker at 127.0.0.2, a victim at 127.0.0.1) for per-address rules.
 */
import { request } from 'node:http';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: any;
}

/**
 * An HTTP request sent from a chosen local address. `fresh`: on a connection of its own (no
 * keep-alive), given up after `fresh` ms.
 */
export function send(
  url: string, from: string, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string>; fresh?: number } = {},
): Promise<Reply> {
  const body = init.form ? new URLSearchParams(init.form).toString() : undefined;
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: init.method ?? (body === undefined ? 'GET' : 'POST'),
      localAddress: from,
      ...(init.fresh === undefined ? {} : { agent: false }),
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) }), ...init.headers },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {}
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: parsed });
      });
    });
    req.on('error', reject);
    if (init.fresh !== undefined) req.setTimeout(init.fresh, () => req.destroy(new Error(`no answer in ${init.fresh} ms`)));
    req.end(body);
  });
}

/** The login page's form posted from `from`: GET for the CSRF cookie and field, then POST. */
export async function signIn(base: string, from: string, username: string, password: string, authorize: string): Promise<Reply> {
  const page = await send(`${base}/login?${new URLSearchParams({ return_to: authorize })}`, from);
  const cookie = String(page.headers['set-cookie'] ?? '').split(';')[0] ?? '';
  const csrf = /name="csrf" value="([^"]*)"/.exec(page.text)?.[1] ?? '';
  return send(`${base}/login`, from, { form: { username, password, csrf, return_to: authorize }, headers: { cookie } });
}
