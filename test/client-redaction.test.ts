/**
 * No token, secret or code ever shows in what gets logged (issue 12): the message, String(),
 * util.inspect (deep, hidden properties too) and JSON of a session, of what holds a token set,
 * and of every error class the client exports, each made where it would carry a credential.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { FileTokenStore } from '@tessera/client/file-store';
import * as client from '@tessera/client';
import {
  ClientError,
  clientSecretBasic,
  clientSecretPost,
  ConfigurationError,
  IdTokenError,
  InvalidResponseError,
  IssuerMismatchError,
  MemoryTokenStore,
  MissingTokenError,
  NetworkError,
  OAuth2Session,
  ReauthenticationRequiredError,
  RefreshOutcomeUnknownError,
  StateMismatchError,
  TokenLockError,
  TokenStoreError,
  processTokenResponse,
  validateAuthorizationResponse,
} from '@tessera/client';
import { expect, it } from 'vitest';
import { signIn } from './client/tessera.js';
import { REDIRECT_URI, useServer } from './flows.js';

const h = useServer();

/** Every way an object ends up in a log. */
function renderings(value: object): string[] {
  const out = [String(value), inspect(value, { depth: Number.POSITIVE_INFINITY, showHidden: true }), JSON.stringify(value) ?? ''];
  if (value instanceof Error) out.push(value.message, value.stack ?? '');
  return out;
}

function expectNoSecret(value: object, secrets: string[]): void {
  for (const text of renderings(value)) for (const secret of secrets) expect(text, `${value.constructor.name} shows a secret`).not.toContain(secret);
}

it('a signed-in session, mid-authorization, with a client secret and secret headers: none of them shows', async () => {
  const c = await h.codeClient();
  const store = new MemoryTokenStore();
  const session = new OAuth2Session({
    issuer: h.server.url,
    clientId: c.id,
    clientAuth: clientSecretBasic(c.secret as string),
    redirectUri: REDIRECT_URI,
    scope: 'read',
    store,
    headers: { 'x-api-key': 'api-key-9f8e7d6c5b4a39281706f5e4' },
  });
  const token = await signIn(h, session);
  const pending = await session.authorizationUrl();
  const secrets = [c.secret as string, token.access_token, token.refresh_token as string, pending.codeVerifier, pending.state, 'api-key-9f8e7d6c5b4a39281706f5e4'];
  expectNoSecret(session, secrets);
  expectNoSecret(store, secrets);
  // What it does show: enough to tell sessions apart.
  expect(JSON.parse(JSON.stringify(session))).toEqual({ client_id: c.id, issuer: h.server.url, token: { key: c.id, holds: true } });
  expect(String(session)).toBe(`[OAuth2Session ${c.id}]`);
});

it('every error class, made where it would carry a token, secret or code, shows none of them', async () => {
  const c = await h.codeClient();
  const session = new OAuth2Session({ issuer: h.server.url, clientId: c.id, clientAuth: clientSecretBasic(c.secret as string), redirectUri: REDIRECT_URI });
  const token = await signIn(h, session);
  const code = 'tsc_0192f3e1c4a87b6d.Xq3vJk9LmN2pR5sT8wY1zA4bC7dE0fG3hI6jK9lM2n';
  const secrets = [token.access_token, token.refresh_token as string, code, c.secret as string];
  const as = await session.metadata();

  // A server whose error_description echoes the refresh token it refused.
  const refused = (await processTokenResponse(
    new Response(JSON.stringify({ error: 'invalid_grant', error_description: `refresh token ${token.refresh_token} was revoked` }), { status: 400, headers: { 'content-type': 'application/json' } }),
  ).catch((e: unknown) => e)) as client.OAuthResponseError;
  // A callback whose error_description repeats the code.
  const callback = (() => {
    try {
      validateAuthorizationResponse(as, `${REDIRECT_URI}?error=access_denied&error_description=${encodeURIComponent(`code ${code} denied`)}&iss=${encodeURIComponent(as.issuer)}`, undefined);
    } catch (err) {
      return err as Error;
    }
    throw new Error('no error');
  })();
  // URLs with credentials in them: in the query, and as userinfo.
  const insecure = (await session.fetch(`http://api.example/data?access_token=${token.access_token}`).catch((e: unknown) => e)) as Error;
  const withUserinfo = (await session.fetch(`https://user:${c.secret}@api.example/data`).catch((e: unknown) => e)) as Error;
  expect(withUserinfo).toBeInstanceOf(ConfigurationError);
  expectNoSecret(withUserinfo, secrets);
  const network = new NetworkError(`http://127.0.0.1:1/token?code=${code}`, new Error('connect ECONNREFUSED 127.0.0.1:1'));
  // A tokens.json missing one quote: JSON.parse's own message quotes the text there, a token.
  const dir = mkdtempSync(join(tmpdir(), 'tessera-redaction-'));
  const file = join(dir, 'tokens.json');
  writeFileSync(file, JSON.stringify({ [c.id]: token }).replace(`"${token.refresh_token}`, `${token.refresh_token}`));
  const unreadable = (await new FileTokenStore(file).get(c.id).catch((e: unknown) => e)) as Error;
  rmSync(dir, { recursive: true, force: true });
  expect(unreadable).toBeInstanceOf(TokenStoreError);
  expect(unreadable.message).toContain(file);
  // Not even the few characters a parser's message would quote.
  for (const text of renderings(unreadable)) expect(text).not.toContain((token.refresh_token as string).slice(0, 6));

  const made: Record<string, Error> = {
    OAuthResponseError: refused,
    ReauthenticationRequiredError: new ReauthenticationRequiredError(refused as client.OAuthResponseError),
    AuthorizationResponseError: callback,
    NetworkError: network,
    RefreshOutcomeUnknownError: new RefreshOutcomeUnknownError(network),
    ConfigurationError: insecure,
    InvalidResponseError: new InvalidResponseError('unexpected HTTP 502', 502),
    StateMismatchError: new StateMismatchError('state does not match the authorization request'),
    IssuerMismatchError: new IssuerMismatchError('the authorization response comes from https://evil.example, not https://auth.example'),
    MissingTokenError: new MissingTokenError('refresh_token'),
    IdTokenError: new IdTokenError('ID Token nonce does not match the one sent', 'nonce'),
    TokenLockError: new TokenLockError('the lock file stayed held for 60000 ms'),
    TokenStoreError: unreadable,
  };
  expect(refused).toBeInstanceOf(client.OAuthResponseError);
  expect(callback).toBeInstanceOf(client.AuthorizationResponseError);
  expect(insecure).toBeInstanceOf(ConfigurationError);
  // Every error class the package exports is covered here: a new one must be added.
  const exported = Object.entries(client).filter(([, v]) => typeof v === 'function' && v.prototype instanceof ClientError).map(([name]) => name);
  expect(Object.keys(made).sort()).toEqual(exported.sort());
  for (const [name, err] of Object.entries(made)) {
    expect(err.constructor.name).toBe(name);
    expectNoSecret(err, secrets);
  }
  // What is kept is still useful.
  expect(refused.message).toBe('invalid_grant: refresh token [redacted] was revoked');
  expect(insecure.message).toContain('http://api.example/data');
  expect(network.url).toBe('http://127.0.0.1:1/token');
});

it('the session blanks what it sent in an error about that request: the refresh token in a refusal', async () => {
  const c = await h.codeClient();
  const session = new OAuth2Session({ issuer: h.server.url, clientId: c.id, clientAuth: clientSecretBasic(c.secret as string), redirectUri: REDIRECT_URI });
  const token = await signIn(h, session);
  await h.revoke(c, token.refresh_token as string, 'refresh_token');
  const err = await session.refresh().catch((e: unknown) => e as Error);
  expect(err).toBeInstanceOf(ReauthenticationRequiredError);
  expectNoSecret(err, [token.refresh_token as string, token.access_token]);
});

/** A session on a server (an injected fetch) whose every endpoint answers `answer` with what it was sent. */
function echoing(answer: (sent: URLSearchParams, authorization: string) => { status: number; body: object; headers?: Record<string, string> }, auth = clientSecretBasic('correct-horse-battery-staple')) {
  const fake: typeof fetch = async (_input, init) => {
    const { status, body, headers } = answer(new URLSearchParams(String(init?.body)), new Headers(init?.headers).get('authorization') ?? '');
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
  };
  const as = 'https://as.example';
  return new OAuth2Session({
    server: { issuer: as, token_endpoint: `${as}/token`, revocation_endpoint: `${as}/revoke`, introspection_endpoint: `${as}/introspect` },
    clientId: 'app',
    clientAuth: auth,
    fetch: fake,
    retry: { retries: 0 },
  });
}

it('what the request sent is blanked by value, however short: the client secret (client_secret_post, client_secret_basic) and the token given to revoke() and introspect()', async () => {
  const secret = 'correct-horse-battery-staple';
  const echo = (sent: URLSearchParams, authorization: string) => ({
    status: 400,
    body: { error: 'invalid_request', error_description: `got ${sent.get('client_secret')} ${sent.get('token')} ${atob(authorization.replace(/^Basic /, '') || '')}` },
  });
  const post = await echoing(echo, clientSecretPost(secret)).clientCredentials().catch((e: unknown) => e as Error);
  expect(post).toMatchObject({ code: 'ERR_OAUTH_RESPONSE' });
  expectNoSecret(post, [secret]);
  const basic = echoing(echo);
  expectNoSecret(await basic.clientCredentials().catch((e: unknown) => e as Error), [secret]);
  expectNoSecret((await basic.revoke('at_Shorty_99', 'access_token').catch((e: unknown) => e)) as Error, ['at_Shorty_99', secret]);
  expectNoSecret(await basic.introspect('at_Shorty_99').catch((e: unknown) => e as Error), ['at_Shorty_99', secret]);
});

it('error_uri and WWW-Authenticate are blanked like error_description, and so is the cause of a RefreshOutcomeUnknownError', async () => {
  const short = 'rt_Shorty_77';
  const long = 'Zq3vN8kT0pWm5xYb2cRj7HsLd4fGa9eUo1iKtQwErTy';
  for (const refresh_token of [short, long]) {
    const refused = echoing((sent) => ({
      status: 400,
      body: { error: 'invalid_grant', error_uri: `https://as.example/errors?token=${sent.get('refresh_token')}` },
      headers: { 'www-authenticate': `Basic error="invalid_client", error_description="token ${sent.get('refresh_token')}"` },
    }));
    await refused.setToken({ access_token: 'at', token_type: 'Bearer', refresh_token });
    const err = await refused.refresh().catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(ReauthenticationRequiredError);
    expectNoSecret(err, [refresh_token]);
  }
  const lost = echoing((sent) => ({ status: 500, body: { error: 'server_error', error_description: `failed refreshing ${sent.get('refresh_token')}` } }));
  await lost.setToken({ access_token: 'at', token_type: 'Bearer', refresh_token: short });
  const err = await lost.refresh().catch((e: unknown) => e as Error);
  expect(err).toBeInstanceOf(RefreshOutcomeUnknownError);
  expectNoSecret(err, [short]);
});
