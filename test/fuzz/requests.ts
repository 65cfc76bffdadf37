/**
 * Random and hostile HTTP requests for every endpoint, as fast-check arbitraries. A request is
 * data with `$name` placeholders for real credentials (a client's Basic header, a live refresh
 * token, a code); build() puts in the current values and encodes it byte for byte, so it can
 * carry invalid UTF-8, raw control characters and broken headers that fetch would refuse.
 */
import fc from 'fast-check';

export const ENDPOINTS = [
  '/token', '/revoke', '/introspect', '/authorize', '/login', '/consent', '/revocations', '/revocations/stream', '/device_authorization', '/device', '/par',
  '/.well-known/oauth-authorization-server', '/jwks.json', '/healthz', '/readyz', '/',
  '/.well-known/openid-configuration', '/userinfo', '/end_session', '/end_session/confirm', '/register', '/register/nosuchclient',
] as const;
const ODD_PATHS = ['/nope', '/token/', '//token', '/TOKEN', '/%2e%2e/token', '/revocations/stream/x', '/.well-known/', '/login%00', '/%ZZ', 'http://evil.example/token', '*', '/register/', '/register/%ZZ', '/register//x'];

export interface Piece {
  name: string;
  value: string;
  /** Sent as UTF-8 bytes as they are (`&`, `=`, `%` and controls included) instead of percent-encoded. */
  raw: boolean;
  /** Bytes appended after the value: invalid UTF-8 when raw, `%XX` escapes of it otherwise. */
  junk: number[];
}

export interface FuzzRequest {
  method: string;
  path: string;
  query: Piece[];
  body: Piece[] | null;
  contentType: string | null;
  authorization: string | null;
  cookie: string | null;
  chunked: boolean;
  extra: [string, string][];
}

/** The credentials placeholders stand for, resolved when a request is built. */
export type Material = Record<string, () => string>;

const INVALID_UTF8 = [[0xff], [0x80], [0xc3, 0x28], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0xfe, 0xfe, 0xff, 0xff]];

/** Strings no endpoint should choke on: controls, separators, markup, lone surrogates, long ones. */
export const hostile: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('', ' ', '\r\n', 'a\r\nSet-Cookie: x=1', '\n', '\r', '\0', 'a\0b', '\x7f', '\x1b[31m', 'é', 'ÿ', '€', '😀', '\u2028', '\ufeff', '\ud800', '\udfff', '%', '%zz', '%ff', '%00', '%0d%0a', '+', '&', '=', '&&==', ';', ',', '"', "'", '\\', '<script>alert(1)</script>', '../../etc/passwd', '//evil.example/', 'https://evil.example/', 'javascript:alert(1)', 'null', 'undefined', '0', '-1', '1e309', 'NaN', '[]', '{}', '__proto__', 'constructor') },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
  { weight: 2, arbitrary: fc.string({ maxLength: 24 }) },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 9000 }).map((n) => 'a'.repeat(n)) },
  { weight: 1, arbitrary: fc.integer({ min: 60_000, max: 70_000 }).map((n) => 'Z'.repeat(n)) },
);

/** Valid-looking values per parameter name, most of them placeholders for live credentials. */
const VALID: Record<string, string[]> = {
  grant_type: ['client_credentials', 'authorization_code', 'refresh_token', 'password', 'implicit', 'urn:ietf:params:oauth:grant-type:jwt-bearer', 'urn:ietf:params:oauth:grant-type:device_code'],
  device_code: ['$device_code'],
  user_code: ['$user_code', 'BCDF-GHJK', 'bcdf ghjk'],
  client_id: ['$client_id', '$public_id', '$feed_id'],
  client_secret: ['$secret', '$feed_secret'],
  // RFC 7523 §2.2: an access token (a JWT, but not the client's assertion), an unsigned one.
  client_assertion_type: ['urn:ietf:params:oauth:client-assertion-type:jwt-bearer', 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer'],
  client_assertion: ['$jwt', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'],
  code: ['$code'],
  redirect_uri: ['$redirect_uri'],
  code_verifier: ['$verifier'],
  refresh_token: ['$refresh'],
  token: ['$access', '$refresh', '$jwt'],
  token_type_hint: ['access_token', 'refresh_token', 'id_token'],
  scope: ['read', 'read write', 'write', 'admin', 'tessera:introspect', 'tessera:revocations'],
  username: ['$username'],
  password: ['$password'],
  csrf: ['$csrf'],
  return_to: ['/authorize?$authorize_query'],
  request: ['$authorize_query'],
  decision: ['allow', 'deny'],
  response_type: ['code', 'token', 'code token'],
  state: ['xyz'],
  nonce: ['n-0S6_WzA2Mj'],
  prompt: ['none', 'login', 'consent', 'select_account', 'none login'],
  max_age: ['0', '3600', '-1'],
  login_hint: ['$username'],
  id_token_hint: ['a.b.c'],
  post_logout_redirect_uri: ['$redirect_uri', 'https://evil.example/'],
  access_token: ['$access', '$jwt', '$refresh'],
  code_challenge: ['$challenge'],
  code_challenge_method: ['S256', 'plain'],
  after: ['0', '1', '999999999'],
  limit: ['1', '500', '5000', '5001', '0'],
};
const NAMES = [...Object.keys(VALID), 'x', ''];

const valueFor = (name: string): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...(VALID[name] ?? ['1'])) },
    { weight: 2, arbitrary: hostile },
    { weight: 1, arbitrary: hostile.map((h) => `${(VALID[name] ?? ['1'])[0]}${h}`) },
  );

const junk = fc.oneof({ weight: 5, arbitrary: fc.constant<number[]>([]) }, { weight: 1, arbitrary: fc.constantFrom(...INVALID_UTF8) });

const pieceFor = (name: string, value: fc.Arbitrary<string> = valueFor(name)): fc.Arbitrary<Piece> =>
  fc.record({ name: fc.constant(name), value, raw: fc.boolean(), junk });

const piece: fc.Arbitrary<Piece> = fc.constantFrom(...NAMES).chain((name) => pieceFor(name));

const AUTHORIZATION = [
  '$basic', '$basic', '$feed_basic', '$public_basic', 'Basic', 'Basic ', 'Basic !!!', 'Basic =', 'basic $basic_b64', 'BASIC $basic_b64',
  'Basic $basic_b64 extra', 'Basic $wrong_b64', 'Basic $nocolon_b64', 'Basic $badpct_b64', 'Basic $latin1_b64', 'Basic\t$basic_b64',
  'Bearer $access', 'Bearer', 'Digest x', 'Basic ÿÿÿ', '$basic, $feed_basic', 'DPoP $access', 'DPoP',
];
const CONTENT_TYPES = [
  'application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=utf-8', 'application/x-www-form-urlencoded;charset=latin1',
  'APPLICATION/X-WWW-FORM-URLENCODED', 'application/json', 'multipart/form-data; boundary=x', 'text/plain', '', ';;;', 'application/x-www-form-urlencodedx',
];
const COOKIES = ['tessera_csrf=$csrf', 'tessera_session=$session; tessera_csrf=$csrf', 'tessera_session=$session', 'tessera_session=; tessera_csrf=', 'tessera_csrf=a; tessera_csrf=b', '=', ';;'];
const METHODS = ['GET', 'GET', 'POST', 'POST', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'get', 'FOO'];

/** A header value with CR, LF and NUL taken out (they would end the header, not test the server). */
const headerValue = fc.oneof(
  { weight: 4, arbitrary: fc.oneof(fc.constantFrom('', 'ÿ', 'x'.repeat(300), 'null', 'http://evil.example', 'cross-site'), fc.string({ maxLength: 30 })) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
).map((s) => s.replace(/[\r\n\0]/g, ''));
const extra: fc.Arbitrary<[string, string][]> = fc.array(
  // dpop: RFC 9449 proofs at /token, /par and /userinfo; the real JWT material is a well-formed JWS that is no proof.
  fc.oneof(
    fc.tuple(fc.constantFrom('origin', 'last-event-id', 'sec-fetch-site', 'accept', 'x-forwarded-for', 'accept-charset', 'expect', 'dpop'), headerValue),
    fc.constant<[string, string]>(['dpop', '$jwt']),
  ),
  { maxLength: 2 },
);

/** Any endpoint, any method, any parameters: the fully random half. */
const anyRequest: fc.Arbitrary<FuzzRequest> = fc.record({
  method: fc.constantFrom(...METHODS),
  path: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...ENDPOINTS) }, { weight: 1, arbitrary: fc.constantFrom(...ODD_PATHS) }),
  query: fc.array(piece, { maxLength: 4 }),
  body: fc.option(fc.array(piece, { maxLength: 6 }), { nil: null }),
  contentType: fc.option(fc.constantFrom(...CONTENT_TYPES), { nil: null, freq: 4 }),
  authorization: fc.option(fc.oneof(fc.constantFrom(...AUTHORIZATION), headerValue), { nil: null }),
  cookie: fc.option(fc.oneof(fc.constantFrom(...COOKIES), headerValue), { nil: null }),
  chunked: fc.boolean(),
  extra,
});

/**
 * A valid request of one kind with some of its parameters made hostile, some dropped or repeated,
 * and random ones added: the half that reaches past the first checks.
 */
function template(method: string, path: string, where: 'query' | 'body', names: string[], auth: string | null, cookie: string | null): fc.Arbitrary<FuzzRequest> {
  // A name ending in '!' is the hostile slot: its valid value always has a hostile string appended.
  const slot = (n: string) => {
    const name = n.replace(/!$/, '');
    const valid = (VALID[name] ?? ['1'])[0] as string;
    const value = n.endsWith('!')
      ? hostile.map((h) => valid + h)
      : fc.oneof({ weight: 8, arbitrary: fc.constant(valid) }, { weight: 1, arbitrary: hostile.map((h) => valid + h) }, { weight: 1, arbitrary: valueFor(name) });
    return pieceFor(name, value);
  };
  const rarely = <T>(arb: fc.Arbitrary<T>, usual: T) => fc.oneof({ weight: 6, arbitrary: fc.constant(usual) }, { weight: 1, arbitrary: arb });
  return fc
    .record({
      params: fc.tuple(...names.map(slot)),
      drop: rarely(fc.nat(names.length - 1), -1),
      repeat: rarely(fc.nat(names.length - 1), -1),
      more: rarely(fc.array(piece, { minLength: 1, maxLength: 2 }), []),
      authorization: rarely(fc.constantFrom(...AUTHORIZATION), auth),
      cookie: rarely(fc.constantFrom(...COOKIES), cookie),
      contentType: rarely(fc.constantFrom(...CONTENT_TYPES), 'application/x-www-form-urlencoded'),
      chunked: fc.boolean(),
      extra: rarely(extra, []),
    })
    .map(({ params, drop, repeat, more, authorization, cookie, contentType, chunked, extra }) => {
      const pieces = params.filter((_, i) => i !== drop);
      if (params[repeat]) pieces.push(params[repeat]);
      pieces.push(...more);
      return {
        method, path, chunked, extra, authorization, cookie,
        query: where === 'query' ? pieces : [],
        body: where === 'body' ? pieces : null,
        contentType: where === 'body' ? contentType : null,
      };
    });
}

const templates: fc.Arbitrary<FuzzRequest> = fc.oneof(
  template('POST', '/token', 'body', ['grant_type'], '$basic', null).map((r) => ({ ...r, body: [{ name: 'grant_type', value: 'client_credentials', raw: false, junk: [] }, ...(r.body ?? [])] })),
  template('POST', '/token', 'body', ['grant_type', 'refresh_token', 'scope'], '$basic', null).map(withGrant('refresh_token')),
  template('POST', '/token', 'body', ['grant_type', 'code', 'redirect_uri', 'code_verifier'], '$basic', null).map(withGrant('authorization_code')),
  template('POST', '/token', 'body', ['grant_type', 'client_id', 'client_secret', 'scope'], null, null),
  template('POST', '/token', 'body', ['grant_type', 'client_id', 'client_assertion_type', 'client_assertion', 'scope'], null, null),
  template('POST', '/introspect', 'body', ['token', 'client_assertion_type', 'client_assertion'], null, null),
  template('POST', '/revoke', 'body', ['token', 'token_type_hint'], '$basic', null),
  template('POST', '/introspect', 'body', ['token', 'token_type_hint'], '$basic', null),
  template('GET', '/revocations', 'query', ['after', 'limit'], '$feed_basic', null),
  template('GET', '/revocations/stream', 'query', ['after'], '$feed_basic', null),
  template('GET', '/authorize', 'query', ['response_type', 'client_id', 'redirect_uri', 'scope', 'state!', 'code_challenge', 'code_challenge_method', 'nonce'], null, 'tessera_session=$session'),
  template('GET', '/authorize', 'query', ['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'prompt', 'max_age', 'login_hint!', 'id_token_hint'], null, 'tessera_session=$session'),
  template('GET', '/userinfo', 'query', ['x'], 'Bearer $access', null),
  template('GET', '/end_session', 'query', ['client_id', 'post_logout_redirect_uri', 'state', 'id_token_hint'], null, 'tessera_session=$session'),
  template('POST', '/userinfo', 'body', ['access_token'], null, null),
  template('GET', '/login', 'query', ['return_to!'], null, null),
  template('POST', '/login', 'body', ['csrf', 'username', 'password', 'return_to!'], null, 'tessera_csrf=$csrf'),
  template('POST', '/consent', 'body', ['csrf', 'request', 'decision'], null, 'tessera_session=$session; tessera_csrf=$csrf'),
  template('POST', '/device_authorization', 'body', ['scope'], '$device_basic', null),
  template('POST', '/par', 'body', ['response_type', 'redirect_uri', 'scope', 'state', 'code_challenge', 'code_challenge_method', 'request_uri'], '$basic', null),
  template('POST', '/token', 'body', ['grant_type', 'device_code'], '$device_basic', null).map(withGrant('urn:ietf:params:oauth:grant-type:device_code')),
  template('GET', '/device', 'query', ['user_code'], null, 'tessera_session=$session'),
  template('POST', '/device', 'body', ['csrf', 'user_code', 'decision'], null, 'tessera_session=$session; tessera_csrf=$csrf'),
);

function withGrant(grant: string) {
  return (r: FuzzRequest): FuzzRequest => ({ ...r, body: r.body?.map((p) => (p.name === 'grant_type' && p.value === 'client_credentials' ? { ...p, value: grant } : p)) ?? null });
}

export const fuzzRequest: fc.Arbitrary<FuzzRequest> = fc.oneof({ weight: 3, arbitrary: templates }, { weight: 2, arbitrary: anyRequest });

/** Replaces `$name` placeholders with the current credentials. */
export function resolve(text: string, material: Material): string {
  return text.replace(/\$([a-z_0-9]+)/g, (whole, name: string) => material[name]?.() ?? whole);
}

const percent = (bytes: Buffer) => [...bytes].map((b) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');

function encodePieces(pieces: Piece[], material: Material): Buffer {
  const parts = pieces.map((p) => {
    const name = Buffer.from(resolve(p.name, material));
    const value = Buffer.from(resolve(p.value, material));
    const tail = Buffer.from(p.junk);
    if (p.raw) return Buffer.concat([name, Buffer.from('='), value, tail]);
    return Buffer.from(`${percent(name)}=${percent(value)}${percent(tail)}`, 'latin1');
  });
  return Buffer.concat(parts.flatMap((part, i) => (i === 0 ? [part] : [Buffer.from('&'), part])));
}

export interface BuiltRequest {
  request: FuzzRequest;
  bytes: Buffer;
  /** The request target as the server's router will see its path, after URL parsing. */
  pathname: string;
  hasAuthorization: boolean;
  /** The one `state` of the query as the server decodes it (undefined when absent or repeated). */
  state: string | undefined;
  /** A short description for failure messages (values cut to 80 characters). */
  summary: string;
}

/** The request as bytes on the wire, with `connection: close`. */
export function build(request: FuzzRequest, material: Material): BuiltRequest {
  const query = request.query.length ? Buffer.concat([Buffer.from('?'), encodePieces(request.query, material)]) : Buffer.alloc(0);
  const target = Buffer.concat([Buffer.from(request.path, 'latin1'), query]);
  const body = request.body === null ? null : encodePieces(request.body, material);
  const lines: Buffer[] = [Buffer.concat([Buffer.from(`${request.method} `), target, Buffer.from(' HTTP/1.1')]), Buffer.from('host: 127.0.0.1'), Buffer.from('connection: close')];
  const header = (name: string, value: string) => lines.push(Buffer.from(`${name}: ${value.replace(/[\r\n\0]/g, '')}`, 'latin1'));
  if (request.authorization !== null) header('authorization', resolve(request.authorization, material));
  if (request.cookie !== null) header('cookie', resolve(request.cookie, material));
  if (request.contentType !== null) header('content-type', request.contentType);
  // Placeholders resolve in extra headers too (a DPoP header holding a real JWT); an unknown one stays as it is.
  for (const [name, value] of request.extra) header(name, resolve(value, material));
  let payload: Buffer = Buffer.alloc(0);
  if (body !== null) {
    if (request.chunked) {
      header('transfer-encoding', 'chunked');
      payload = Buffer.concat([...(body.length ? [Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n')] : []), Buffer.from('0\r\n\r\n')]);
    } else {
      header('content-length', String(body.length));
      payload = body;
    }
  }
  const bytes = Buffer.concat([...lines.flatMap((l) => [l, Buffer.from('\r\n')]), Buffer.from('\r\n'), payload]);
  let pathname = '';
  let state: string | undefined;
  try {
    // node:http hands the target over as Latin-1; the router parses it with URL, as here. A raw
    // CR or LF ends the request line there (node reads the rest as a header of an HTTP/0.9-style
    // request), while URL would drop it and read on.
    const url = new URL(target.toString('latin1').split(/[\r\n]/)[0] as string, 'http://127.0.0.1');
    pathname = url.pathname;
    const states = url.searchParams.getAll('state');
    state = states.length === 1 ? states[0] : undefined;
  } catch {}
  const head = bytes.subarray(0, Math.min(bytes.length, 600)).toString('latin1');
  return { request, bytes, pathname, state, hasAuthorization: request.authorization !== null, summary: JSON.stringify(head.replace(/[^\r\n]{80,}/g, (s) => `${s.slice(0, 80)}…(${s.length})`)) };
}
