/**
 * Redirection-based authorization (RFC 5849 §2): the answers of the temporary credentials
 * (§2.1) and token credentials (§2.3) endpoints, the resource owner authorization URL (§2.2)
 * and the callback that comes back from it.
 */
import { ConfigurationError, InvalidResponseError, OAuthResponseError } from '../errors.js';
import { pairsOf } from './base-string.js';

/** Temporary or token credentials, as the server sent them (extra parameters included), like requests-oauthlib's token dict. */
export interface OAuth1Token {
  oauth_token: string;
  oauth_token_secret: string;
  [extension: string]: string;
}

/** What the callback carries after the resource owner's approval (§2.2). */
export interface OAuth1AuthorizationResponse {
  oauth_token: string;
  oauth_verifier: string;
}

/**
 * §2.1, §2.3: 200 with an application/x-www-form-urlencoded body holding oauth_token and
 * oauth_token_secret; for temporary credentials also oauth_callback_confirmed=true. Anything
 * else is an error; the server's own error, when it states one, becomes an OAuthResponseError.
 */
export async function processCredentialsResponse(response: Response, step: 'temporary' | 'token'): Promise<OAuth1Token> {
  if (response.status !== 200) return rejectResponse(response);
  const body = new URLSearchParams(await response.text());
  const single = (name: string): string | undefined => {
    const all = body.getAll(name);
    if (all.length > 1) throw new InvalidResponseError(`the ${step} credentials response repeats '${name}'`, response.status);
    return all[0];
  };
  const token = single('oauth_token');
  const secret = single('oauth_token_secret');
  if (!token) throw new InvalidResponseError(`the ${step} credentials response has no oauth_token`, response.status);
  if (secret === undefined) throw new InvalidResponseError(`the ${step} credentials response has no oauth_token_secret`, response.status);
  // §2.1: oauth_callback_confirmed MUST be present and "true" (it tells RFC 5849 servers from OAuth Core 1.0 ones, open to session fixation).
  if (step === 'temporary' && single('oauth_callback_confirmed') !== 'true') {
    throw new InvalidResponseError('the temporary credentials response does not confirm the callback (oauth_callback_confirmed=true, RFC 5849 §2.1)', response.status);
  }
  return { ...Object.fromEntries(pairsOf(body)), oauth_token: token, oauth_token_secret: secret };
}

/**
 * RFC 5849 leaves error bodies open: oauthlib sends form-encoded `error`/`error_description`,
 * servers following the OAuth Problem Reporting extension `oauth_problem`/`oauth_problem_advice`,
 * some JSON. Any of these becomes an OAuthResponseError; anything else an InvalidResponseError.
 */
async function rejectResponse(response: Response): Promise<never> {
  const text = await response.text().catch(() => '');
  let fields: Record<string, unknown> = Object.fromEntries(pairsOf(new URLSearchParams(text)));
  if (response.headers.get('content-type')?.includes('json')) {
    try {
      const parsed: unknown = JSON.parse(text);
      fields = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
    } catch {
      fields = {};
    }
  }
  const field = (name: string) => (typeof fields[name] === 'string' && fields[name] !== '' ? (fields[name] as string) : undefined);
  const error = field('error') ?? field('oauth_problem');
  if (error === undefined) throw new InvalidResponseError(`unexpected HTTP ${response.status}`, response.status);
  throw new OAuthResponseError(
    { error, error_description: field('error_description') ?? field('oauth_problem_advice'), error_uri: field('error_uri') },
    response.status,
    response.headers.get('www-authenticate') ?? undefined,
  );
}

/** §2.2: the resource owner authorization endpoint with the temporary credentials' oauth_token in its query. */
export function buildResourceOwnerAuthorizationUrl(endpoint: string | URL, oauthToken: string, parameters: Record<string, string> = {}): URL {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new ConfigurationError('the authorization endpoint is not an absolute URL');
  }
  for (const [name, value] of Object.entries(parameters)) url.searchParams.set(name, value);
  url.searchParams.set('oauth_token', oauthToken);
  return url;
}

/**
 * §2.2: the callback URL carries oauth_token and oauth_verifier, each once. When the session
 * holds the temporary credentials, the callback must name them: a callback for another
 * authorization (an attacker's, injected) is refused before its verifier is used.
 */
export function parseAuthorizationCallback(callback: string | URL, expectedToken: string | undefined): OAuth1AuthorizationResponse {
  let params: URLSearchParams;
  try {
    params = new URL(callback).searchParams;
  } catch {
    throw new InvalidResponseError('the callback is not an absolute URL');
  }
  const single = (name: string): string => {
    const all = params.getAll(name);
    if (all.length > 1) throw new InvalidResponseError(`the callback repeats '${name}'`);
    if (!all[0]) throw new InvalidResponseError(`the callback has no ${name} (RFC 5849 §2.2)`);
    return all[0];
  };
  const oauthToken = single('oauth_token');
  if (expectedToken !== undefined && oauthToken !== expectedToken) {
    throw new InvalidResponseError("the callback's oauth_token is not this session's temporary credentials");
  }
  return { oauth_token: oauthToken, oauth_verifier: single('oauth_verifier') };
}
