/**
 * OAuth flows over HTTP only, against a server in another process (chaos, soak): sign-in and
 * consent through the real pages, code exchange, refresh, revocation, introspection and the feed.
 * Each call reports its status and time so the caller can count acknowledgements and latency.
 */
import { Agent, field } from './agent.js';
import { pkce } from './flows.js';
import { REDIRECT } from './server-process.js';

export interface Client {
  id: string;
  basic: string;
}

export interface Answer {
  status: number;
  headers: Headers;
  body: any;
  ms: number;
}

/** POSTs a form with the client's Basic credentials (and any other `headers`). */
export function postForm(base: string, path: string, form: Record<string, string>, client: Client, headers: Record<string, string> = {}): Promise<Answer> {
  return send(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: client.basic, ...headers },
    body: new URLSearchParams(form).toString(),
  });
}

export function getJson(base: string, path: string, client?: Client): Promise<Answer> {
  return send(base + path, client ? { headers: { authorization: client.basic } } : {});
}

/** One request: its status, its body (parsed when JSON) and how long it took. */
async function send(url: string, init: RequestInit): Promise<Answer> {
  const start = performance.now();
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, body, ms: performance.now() - start };
}

/** Signs the agent in through the login page. */
export async function signIn(agent: Agent, user: { username: string; password: string }): Promise<void> {
  const page = await agent.get(`/login?return_to=${encodeURIComponent('/authorize?')}`);
  const res = await agent.post('/login', { username: user.username, password: user.password, csrf: field(page.body, 'csrf'), return_to: field(page.body, 'return_to') });
  if (res.status !== 303) throw new Error(`login answered ${res.status}`);
}

/**
 * An authorization code from /authorize, answering the login and consent pages as a user would
 * (consent is asked again after a revocation ended the grant). Returns the code and its verifier.
 */
export async function authorizationCode(agent: Agent, user: { username: string; password: string }, client: Client, scope = 'read write'): Promise<{ code: string; verifier: string; ms: number }> {
  const start = performance.now();
  const p = pkce();
  const query = new URLSearchParams({ response_type: 'code', client_id: client.id, redirect_uri: REDIRECT, scope, state: 's', code_challenge: p.challenge, code_challenge_method: 'S256' });
  for (let attempt = 0; attempt < 3; attempt++) {
    let res = await agent.get(`/authorize?${query}`);
    if (res.status === 302 && res.location?.startsWith(REDIRECT)) {
      const code = new URL(res.location).searchParams.get('code');
      if (code) return { code, verifier: p.verifier, ms: performance.now() - start };
      throw new Error(`/authorize redirected without a code: ${res.location}`);
    }
    if (res.status === 302) {
      await signIn(agent, user);
      continue;
    }
    if (res.status === 200) {
      res = await agent.post('/consent', { csrf: field(res.body, 'csrf'), request: field(res.body, 'request'), decision: 'allow' });
      const code = res.location === undefined ? null : new URL(res.location).searchParams.get('code');
      if (res.status === 303 && code) return { code, verifier: p.verifier, ms: performance.now() - start };
      throw new Error(`/consent answered ${res.status} ${res.location ?? ''}`);
    }
    throw new Error(`/authorize answered ${res.status}`);
  }
  throw new Error('/authorize kept asking to sign in');
}

export const exchange = (base: string, client: Client, code: string, verifier: string) =>
  postForm(base, '/token', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, client);

export const refresh = (base: string, client: Client, refreshToken: string) => postForm(base, '/token', { grant_type: 'refresh_token', refresh_token: refreshToken }, client);

export const clientCredentials = (base: string, client: Client) => postForm(base, '/token', { grant_type: 'client_credentials', scope: 'read' }, client);

export const revoke = (base: string, client: Client, token: string) => postForm(base, '/revoke', { token }, client);

export const introspect = (base: string, client: Client, token: string) => postForm(base, '/introspect', { token }, client);

export { Agent };
