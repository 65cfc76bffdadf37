/**
 * OAuth1Session against a provider no one here wrote: oauthlib's RFC 5849 endpoints
 * (test/interop/oauthlib_oauth1_server.py, on the system Python). The whole flow (temporary
 * credentials → authorization → token credentials → signed GET and form POST) for every signature
 * method oauthlib supports and every parameter placement, then the signature base string's hard
 * cases, which oauthlib must rebuild byte for byte from what it received to accept the signature.
 * oauthlib also refuses: a wrong secret, a replayed nonce, a changed request.
 */
import { inspect } from 'node:util';
import {
  ConfigurationError,
  NetworkError,
  OAuth1Session,
  type OAuth1SessionOptions,
  OAuthResponseError,
  type ParameterPlacement,
  type SignatureMethod,
  signRequest,
} from '@tessera/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CALLBACK_URI,
  CLIENT_KEY,
  CLIENT_SECRET,
  type OAuthlibServer,
  PLAIN_CLIENT_KEY,
  PLAIN_CLIENT_SECRET,
  rsaSha1KeyPair,
  startOAuthlibServer,
} from './oauthlib-oauth1.js';

let server: OAuthlibServer;
let keys: Awaited<ReturnType<typeof rsaSha1KeyPair>>;

beforeAll(async () => {
  keys = await rsaSha1KeyPair();
  server = await startOAuthlibServer(keys.publicPem);
});

afterAll(async () => {
  await server?.stop();
});

interface Verified {
  valid: boolean;
  method: string;
  path: string;
  client_key: string;
  token: string;
  signature_method: string;
  oauth_in: string[];
  params: [string, string][];
  log?: Record<string, boolean>;
}

const sorted = (pairs: [string, string][]) => [...pairs].sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));

async function verified(response: Response): Promise<Verified> {
  const body = (await response.json()) as Verified;
  expect({ status: response.status, log: body.log, stderr: server.stderr() }).toEqual({ status: 200, log: undefined, stderr: '' });
  return { ...body, params: sorted(body.params) };
}

function session(signatureMethod: SignatureMethod, placement: ParameterPlacement, extra: Partial<OAuth1SessionOptions> = {}): OAuth1Session {
  const secrets = signatureMethod === 'RSA-SHA1' ? { rsaKey: keys.privateKey } : { clientSecret: CLIENT_SECRET };
  return new OAuth1Session({ clientKey: CLIENT_KEY, ...secrets, signatureMethod, placement, callbackUri: CALLBACK_URI, ...extra });
}

/** §2: temporary credentials, the user's approval (oauthlib's authorize endpoint approves at once), token credentials. */
async function signIn(s: OAuth1Session) {
  const temporary = await s.fetchRequestToken(`${server.url}/initiate`);
  const approval = await fetch(s.authorizationUrl(`${server.url}/authorize`), { redirect: 'manual' });
  expect(approval.status).toBe(302);
  const callback = approval.headers.get('location') as string;
  expect(callback.startsWith(`${CALLBACK_URI}?`)).toBe(true);
  const authorized = s.parseAuthorizationResponse(callback);
  const token = await s.fetchAccessToken(`${server.url}/token`);
  return { temporary, authorized, token };
}

describe('the whole flow, for each signature method and placement', () => {
  const methods: SignatureMethod[] = ['HMAC-SHA1', 'HMAC-SHA256', 'RSA-SHA1', 'PLAINTEXT'];
  const placements: ParameterPlacement[] = ['header', 'query', 'body'];

  it.each(methods.flatMap((m) => placements.map((p) => [m, p] as const)))(
    '%s, parameters in the %s: temporary credentials (callback confirmed) → authorization → token credentials → signed GET and form POST',
    async (method, placement) => {
      // PLAINTEXT in the query or body: the client whose secret oauthlib's double decoding cannot spoil (see oauthlib-oauth1.ts).
      const plain = method === 'PLAINTEXT' && placement !== 'header';
      const clientKey = plain ? PLAIN_CLIENT_KEY : CLIENT_KEY;
      const s = session(method, placement, plain ? { clientKey, clientSecret: PLAIN_CLIENT_SECRET } : {});
      const { temporary, authorized, token } = await signIn(s);
      expect(temporary.oauth_callback_confirmed).toBe('true');
      expect(authorized.oauth_token).toBe(temporary.oauth_token);
      expect(token.oauth_token).not.toBe(temporary.oauth_token);
      expect(s.getToken()).toEqual(token);

      const post = await verified(await s.fetch(`${server.url}/resource/photos`, { method: 'POST', body: new URLSearchParams({ title: 'Summer 2024', tag: 'sea' }) }));
      expect(post).toMatchObject({ method: 'POST', client_key: clientKey, token: token.oauth_token, signature_method: method, oauth_in: [placement] });
      expect(post.params).toEqual([['tag', 'sea'], ['title', 'Summer 2024']]);

      const get = s.fetch(`${server.url}/resource/photos?file=vacation.jpg&size=original`);
      if (placement === 'body') {
        // §3.5.2: a GET has no body to carry them.
        await expect(get).rejects.toBeInstanceOf(ConfigurationError);
      } else {
        expect(await verified(await get)).toMatchObject({ method: 'GET', path: '/resource/photos', params: [['file', 'vacation.jpg'], ['size', 'original']], oauth_in: [placement] });
      }
    },
  );

  it('the temporary credentials of one flow are spent: the token request cannot be made twice (§2.3)', async () => {
    const s = session('HMAC-SHA1', 'header');
    await s.fetchRequestToken(`${server.url}/initiate`);
    const temporary = s.getToken()!;
    const callback = (await fetch(s.authorizationUrl(`${server.url}/authorize`), { redirect: 'manual' })).headers.get('location') as string;
    const { oauth_verifier } = s.parseAuthorizationResponse(callback);
    await s.fetchAccessToken(`${server.url}/token`);
    const again = session('HMAC-SHA1', 'header', { token: temporary.oauth_token, tokenSecret: temporary.oauth_token_secret });
    await expect(again.fetchAccessToken(`${server.url}/token`, oauth_verifier)).rejects.toMatchObject({ code: 'ERR_INVALID_RESPONSE', status: 401 });
  });

  it('a web app that starts the flow in one request and ends it in another: a new session with the temporary credentials and the verifier', async () => {
    const first = session('HMAC-SHA256', 'header');
    const temporary = await first.fetchRequestToken(`${server.url}/initiate`);
    const callback = (await fetch(first.authorizationUrl(`${server.url}/authorize`), { redirect: 'manual' })).headers.get('location') as string;
    const second = session('HMAC-SHA256', 'header', { token: temporary.oauth_token, tokenSecret: temporary.oauth_token_secret });
    second.parseAuthorizationResponse(callback);
    const token = await second.fetchAccessToken(`${server.url}/token`);
    const resumed = session('HMAC-SHA256', 'query', { token: token.oauth_token, tokenSecret: token.oauth_token_secret });
    expect(await verified(await resumed.fetch(`${server.url}/resource/me`))).toMatchObject({ token: token.oauth_token });
  });

  it('RSA-SHA1 with the private key as PKCS #8 PEM, and an Authorization header realm the server knows', async () => {
    const s = session('RSA-SHA1', 'header', { rsaKey: keys.privatePem, realm: 'photos' });
    await signIn(s);
    expect(await verified(await s.fetch(`${server.url}/resource/photos`))).toMatchObject({ signature_method: 'RSA-SHA1' });
  });

  it('without oauth_version (it is OPTIONAL, §3.1) the signature still verifies', async () => {
    const s = session('HMAC-SHA1', 'query', { includeVersion: false });
    await signIn(s);
    expect(await verified(await s.fetch(`${server.url}/resource/photos`))).toMatchObject({ valid: true });
  });
});

describe('the signature base string\'s hard cases, which oauthlib must rebuild from the request it received', () => {
  let token: { oauth_token: string; oauth_token_secret: string };

  beforeAll(async () => {
    ({ token } = await signIn(session('HMAC-SHA1', 'header')));
  });

  // Repeated names (also with the same value), empty values, a name without "=", "+" as a space
  // and %2B as a plus, reserved characters raw and encoded, non-ASCII in names and values.
  const QUERY = [
    'a=1&a=2&a=1&empty=&flag&plus=a+b&encoded=%2B%26%3D%25%23',
    "&raw=:/?@!$'()*,;~",
    '&sp%20ace=x%20y&caf%C3%A9=%E2%82%AC%F0%9F%98%80&list%5B%5D=1&list%5B%5D=0',
  ].join('');
  const QUERY_PARAMS: [string, string][] = [
    ['a', '1'], ['a', '2'], ['a', '1'], ['empty', ''], ['flag', ''], ['plus', 'a b'], ['encoded', '+&=%#'],
    ['raw', ":/?@!$'()*,;~"], ['sp ace', 'x y'], ['café', '€😀'], ['list[]', '1'], ['list[]', '0'],
  ];
  const FORM_PARAMS: [string, string][] = [
    ['a', '1'], ['a', '1'], ['empty', ''], ['reserved', ":/?#[]@!$&'()*+,;=% \"<>\\^`{|}"], ['ключ', 'значение 😀'], ['emoji😀', ''],
  ];
  // Reserved and non-ASCII characters in the path: fetch sends é and the space percent-encoded, the rest as they are.
  const PATH = "/resource/café/a b/!*'()~:@$,;=+&/%2F";
  const SENT_PATH = "/resource/caf%C3%A9/a%20b/!*'()~:@$,;=+&/%2F";

  it.each(['header', 'query', 'body'] as const)('parameters in the %s: a GET (not for body) and a form POST with all of them verify', async (placement) => {
    const s = session('HMAC-SHA1', placement, { token: token.oauth_token, tokenSecret: token.oauth_token_secret });
    if (placement !== 'body') {
      const get = await verified(await s.fetch(`${server.url}${PATH}?${QUERY}`));
      expect({ path: get.path, params: get.params }).toEqual({ path: SENT_PATH, params: sorted(QUERY_PARAMS) });
    }
    const post = await verified(await s.fetch(`${server.url}${PATH}?${QUERY}`, { method: 'POST', body: new URLSearchParams(FORM_PARAMS) }));
    expect({ path: post.path, params: post.params, oauth_in: post.oauth_in }).toEqual({ path: SENT_PATH, params: sorted([...QUERY_PARAMS, ...FORM_PARAMS]), oauth_in: [placement] });
  });

  it('an explicit non-default port is in the base string URI, an uppercase scheme is not (the default ports 80/443: test/client-oauth1.test.ts)', async () => {
    const s = session('HMAC-SHA256', 'header', { token: token.oauth_token, tokenSecret: token.oauth_token_secret });
    const url = server.url.replace('http://', 'HTTP://');
    expect(await verified(await s.fetch(`${url}/resource/r%20v/X?id=123`))).toMatchObject({ path: '/resource/r%20v/X', params: [['id', '123']] });
  });

  it('a PUT with a JSON body: the body is not signed (§3.4.1.3.1), the signature still verifies', async () => {
    const s = session('RSA-SHA1', 'header', { token: token.oauth_token });
    const res = await s.fetch(`${server.url}/resource/doc?v=2`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    expect(await verified(res)).toMatchObject({ method: 'PUT', params: [['v', '2']] });
  });

  it('oauthlib is not just accepting: a wrong client secret, a replayed request and a changed request are each refused', async () => {
    const wrong = new OAuth1Session({ clientKey: CLIENT_KEY, clientSecret: 'not the secret', callbackUri: CALLBACK_URI });
    await expect(wrong.fetchRequestToken(`${server.url}/initiate`)).rejects.toMatchObject({ code: 'ERR_INVALID_RESPONSE', status: 401 });
    const credentials = { clientKey: CLIENT_KEY, clientSecret: CLIENT_SECRET, token: token.oauth_token, tokenSecret: token.oauth_token_secret, signatureMethod: 'HMAC-SHA1' } as const;
    const signed = await signRequest(new Request(`${server.url}/resource/photos?size=original`), credentials);
    expect((await fetch(signed.clone())).status).toBe(200);
    // §3.2: a nonce is used once.
    expect((await fetch(signed.clone())).status).toBe(401);
    const changed = await signRequest(new Request(`${server.url}/resource/photos?size=original`), credentials);
    expect((await fetch(new Request(changed.url.replace('original', 'thumb'), { headers: changed.headers }))).status).toBe(401);
  });

  it('a realm the server does not know: oauthlib\'s error body becomes an OAuthResponseError', async () => {
    const err = await session('HMAC-SHA1', 'header', { realm: 'movies' }).fetchRequestToken(`${server.url}/initiate`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OAuthResponseError);
    expect(err).toMatchObject({ error: 'invalid_request', status: 400 });
  });
});

describe('no secret, token or signature shows', () => {
  it('JSON.stringify, String(), util.inspect of a signed-in session, and the errors of failed steps, show no client secret, token, token secret or signature', async () => {
    const signatures: string[] = [];
    const s = session('HMAC-SHA1', 'query', {
      fetch: async (input, init) => {
        const request = new Request(input, init);
        const signature = new URL(request.url).searchParams.get('oauth_signature');
        if (signature !== null) signatures.push(signature);
        return fetch(request);
      },
    });
    const { temporary, token } = await signIn(s);
    const secrets = [CLIENT_SECRET, temporary.oauth_token, temporary.oauth_token_secret, token.oauth_token, token.oauth_token_secret, ...signatures];
    expect(signatures.length).toBe(2);

    const shown: string[] = [JSON.stringify(s), String(s), `${s}`, inspect(s, { showHidden: true, depth: null, getters: true })];
    // A network failure while the token and the signature are in the query: the error names the URL as given.
    const offline = session('HMAC-SHA1', 'query', {
      token: token.oauth_token, tokenSecret: token.oauth_token_secret, fetch: async () => { throw new TypeError('connection reset'); },
    });
    const failures = (await Promise.all([
      offline.fetch(`${server.url}/resource/photos`).catch((e: Error) => e),
      offline.fetchAccessToken(`${server.url}/token`, 'verifier').catch((e: Error) => e),
      session('PLAINTEXT', 'query', { token: token.oauth_token, tokenSecret: 'wrong' }).fetchAccessToken(`${server.url}/token`, 'v').catch((e: Error) => e),
      s.fetch('http://api.example/not-loopback').catch((e: Error) => e),
      s.fetch(`${server.url}/resource/photos?oauth_token=${token.oauth_token}`).catch((e: Error) => e),
    ])) as Error[];
    expect(failures.map((e) => e.constructor)).toEqual([NetworkError, NetworkError, OAuthResponseError, ConfigurationError, ConfigurationError]);
    for (const e of failures) shown.push(e.message, String(e), inspect(e), JSON.stringify(e));

    expect(shown.join('\n')).toContain(CLIENT_KEY);
    for (const text of shown) {
      for (const secret of secrets) {
        expect(text).not.toContain(secret);
        expect(text).not.toContain(encodeURIComponent(secret));
      }
    }
  });
});
