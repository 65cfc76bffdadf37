/**
 * What a correct answer looks like, per kind of endpoint: a success of the right shape, or a 4xx
 * error in the RFC's form. Returns the rules an answer breaks (empty when it is correct).
 */
import type { BuiltRequest } from './requests.js';
import type { RawResponse } from './raw-http.js';

const JSON_API = new Set(['/token', '/revoke', '/introspect', '/revocations', '/device_authorization', '/par', '/userinfo']);
const PAGES = new Set(['/authorize', '/login', '/consent', '/device', '/end_session', '/end_session/confirm']);
const PUBLIC = new Set(['/.well-known/oauth-authorization-server', '/jwks.json', '/.well-known/openid-configuration']);
const STREAM = '/revocations/stream';
/** RFC 6749 §5.2: `error` and `error_description` use %x20-21 / %x23-5B / %x5D-7E only. */
const ERROR_CHARS = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/**
 * node:http's own bodiless answers, before Tessera's handler sees the request: 400 to bytes that
 * are not HTTP, 431 to an oversized head, 417 to an `Expect` other than 100-continue (RFC 9110
 * §10.1.1).
 */
export const isParserAnswer = (res: RawResponse) => [400, 417, 431].includes(res.status) && res.headers['content-type'] === undefined && res.body.length === 0;

export function brokenRules(req: BuiltRequest, res: RawResponse, redirectUri: string): string[] {
  const broken: string[] = [];
  const fail = (rule: string) => broken.push(rule);
  if (res.status >= 500) fail(`never a 5xx (got ${res.status} ${res.body.toString('utf8').slice(0, 200)})`);
  if (isParserAnswer(res)) return broken;
  // Issue 9, defect 11: every response says nosniff.
  if (res.headers['x-content-type-options'] !== 'nosniff') fail('X-Content-Type-Options: nosniff on every response');
  const type = res.headers['content-type'] ?? '';
  const isJson = type.startsWith('application/json');
  const head = req.request.method === 'HEAD';
  let body: any;
  if (isJson && !head) {
    try {
      body = JSON.parse(res.body.toString('utf8'));
    } catch {
      fail('a JSON content type has a JSON body');
    }
  }
  if (res.status >= 400 && isJson) {
    if (res.headers['cache-control'] !== 'no-store') fail('RFC 6749 §5.2 errors carry Cache-Control: no-store');
    if (!head && body !== undefined) {
      if (typeof body?.error !== 'string' || body.error === '' || !ERROR_CHARS.test(body.error)) fail('RFC 6749 §5.2: `error` is a non-empty ASCII code');
      if (body?.error_description !== undefined && (typeof body.error_description !== 'string' || !ERROR_CHARS.test(body.error_description))) {
        fail(`RFC 6749 §5.2: error_description uses printable ASCII without " or \\ (got ${JSON.stringify(body.error_description).slice(0, 120)})`);
      }
    }
    if (res.status === 401 && req.pathname === '/userinfo' && !/^(Bearer|DPoP)\b/.test(res.headers['www-authenticate'] ?? '')) {
      fail('RFC 6750 §3, RFC 9449 §7.1: a 401 from /userinfo carries a Bearer or DPoP WWW-Authenticate challenge');
    }
    if (res.status === 401 && req.hasAuthorization && body?.error === 'invalid_client' && res.headers['www-authenticate'] === undefined) {
      fail('RFC 6749 §5.2: a 401 to a request with Authorization carries WWW-Authenticate');
    }
  }
  const path = req.pathname;
  if (PAGES.has(path)) {
    if (res.status === 200 && !type.startsWith('text/html')) fail('a page answers 200 with HTML');
    if (res.status === 302 || res.status === 303) {
      const location = res.headers.location ?? '';
      // No open redirect: only to the login page, back to /authorize, or to the registered URI
      // (its query, or its fragment for response_type=token: RFC 6749 §4.2.2.1, even when the
      // implicit grant is off and the answer is unsupported_response_type).
      const toClient = location.startsWith(`${redirectUri}?`) || location.startsWith(`${redirectUri}#`);
      if (!(location.startsWith('/login?') || location.startsWith('/authorize?') || toClient)) fail(`a page redirects only within the flow (got ${JSON.stringify(location).slice(0, 120)})`);
      if (toClient) {
        // RFC 6749 §4.1.2.1: the same charset for errors sent back to the client's redirect URI.
        const url = new URL(location);
        const params = url.hash === '' ? url.searchParams : new URLSearchParams(url.hash.slice(1));
        // RFC 6749 §4.1.2, §4.1.2.1: `state` comes back exactly as the client sent it, unless it is
        // longer than the server takes (4096 characters, authorization-request.ts): that request is
        // refused with invalid_request, and a state too long to echo is not echoed.
        const echoable = req.state !== undefined && req.state.length <= 4096;
        if (req.request.method === 'GET' && path === '/authorize' && echoable && params.get('state') !== req.state) {
          fail(`RFC 6749 §4.1.2: the redirect carries the request's state unchanged (sent ${JSON.stringify(req.state).slice(0, 60)}, got ${JSON.stringify(params.get('state')).slice(0, 60)})`);
        }
        for (const name of ['error', 'error_description']) {
          const value = params.get(name);
          if (value !== null && !ERROR_CHARS.test(value)) fail(`RFC 6749 §4.1.2.1: ${name} in the redirect uses printable ASCII without " or \\ (got ${JSON.stringify(value).slice(0, 120)})`);
        }
      }
    } else if (res.status >= 300 && res.status < 400) fail(`a page redirects with 302 or 303 (got ${res.status})`);
    // Pages escape what they show: markup sent in is never markup sent back.
    if (type.startsWith('text/html') && res.body.includes('<script>')) fail('a page never reflects markup it was sent (found <script>)');
    if (res.status >= 400 && !isJson && !(type.startsWith('text/html') && res.headers['cache-control'] === 'no-store')) fail('a page error is an HTML page with Cache-Control: no-store');
    return broken;
  }
  if (path === STREAM && res.status === 200) {
    if (!res.streaming) fail('the revocation stream answers 200 with text/event-stream');
    return broken;
  }
  if (res.status >= 300 && res.status < 400) fail(`no redirects outside the pages (got ${res.status})`);
  if (!isJson) fail(`a JSON endpoint answers JSON (got ${JSON.stringify(type)} ${res.status})`);
  if (res.status === 200 && !head && body !== undefined) {
    if (path === '/token' && (typeof body.access_token !== 'string' || !/^bearer$/i.test(body.token_type) || typeof body.expires_in !== 'number')) fail('RFC 6749 §5.1: a token response has access_token, token_type and expires_in');
    if (path === '/introspect' && typeof body.active !== 'boolean') fail('RFC 7662 §2.2: an introspection response has a boolean `active`');
    if (path === '/revocations' && !Array.isArray(body.events)) fail('a feed page has `events`');
    if (path === '/device_authorization' && (typeof body.device_code !== 'string' || typeof body.user_code !== 'string' || typeof body.verification_uri !== 'string' || typeof body.expires_in !== 'number')) {
      fail('RFC 8628 §3.2: a device authorization response has device_code, user_code, verification_uri and expires_in');
    }
    if (path === '/userinfo' && typeof body.sub !== 'string') fail('OIDC Core §5.3.2: a UserInfo response has `sub`');
    if (path === '/token' && body.id_token !== undefined && body.id_token.split('.').length !== 3) fail('OIDC Core §3.1.3.3: an id_token is a JWS');
  }
  if (path === '/par' && res.status === 201 && (typeof body?.request_uri !== 'string' || typeof body?.expires_in !== 'number' || res.headers['cache-control'] !== 'no-store')) {
    fail('RFC 9126 §2.2: a push is answered 201 with request_uri and expires_in, not cached');
  }
  if (res.status === 200 && JSON_API.has(path) && res.headers['cache-control'] !== 'no-store') fail('RFC 6749 §5.1: token, revocation, introspection and feed answers are not cached (no-store)');
  if (res.status === 200 && !JSON_API.has(path) && !PUBLIC.has(path) && path !== '/healthz' && path !== '/readyz' && path !== '/') fail(`an unknown path is a 404 (got 200 for ${JSON.stringify(path)})`);
  return broken;
}
