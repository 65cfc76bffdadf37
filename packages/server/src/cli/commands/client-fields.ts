/** The registration fields `client create` and `client update` share: their flags, checks and display. */
import { readFileSync } from 'node:fs';
import { formatScope, OAuthError, parseScope } from '@tessera/core';
import { redirectUriProblem } from '../../rfc6749/redirect-uri.js';
import { checkedJwks, checkedJwksUri } from '../../rfc7523/client-jwks.js';
import { SIGNING_ALGS } from '../../lifecycle/keys.js';
import { readSealingKey } from '../../secrets.js';
import type { ServerConfig } from '../../config.js';
import { resourceProblem } from '../../rfc8707/resource.js';
import { AUTH_METHODS, clientNameProblem, type FieldNames, GRANT_TYPES, registrationProblem, TOKEN_FORMATS } from '../../lifecycle/client-rules.js';
import type { Actor } from '../../lifecycle/context.js';
import type { LifecycleEngine } from '../../lifecycle/engine.js';
import type { ClientAuthMethod, ClientRecord } from '../../store/types.js';
import { CommandError, oneOf, UsageError } from '../args.js';
import { fields, iso } from '../io.js';

export { AUTH_METHODS, GRANT_TYPES, TOKEN_FORMATS };

/** The client as shown by every command; the secret is added by `create` only. */
export function clientJson(c: ClientRecord) {
  return {
    client_id: c.id,
    name: c.name,
    token_endpoint_auth_method: c.authMethod,
    grant_types: c.grantTypes,
    redirect_uris: c.redirectUris,
    post_logout_redirect_uris: c.postLogoutRedirectUris,
    ...(c.authMethod === 'private_key_jwt' ? { jwks: c.jwks === null ? null : JSON.parse(c.jwks), jwks_uri: c.jwksUri } : {}),
    scope: c.scope,
    resources: c.resources,
    exchange_audiences: c.exchangeAudiences,
    token_format: c.tokenFormat,
    id_token_signed_response_alg: c.idTokenSignedResponseAlg,
    access_ttl: c.accessTtl,
    refresh_ttl: c.refreshTtl,
    dpop_bound_access_tokens: c.dpopBoundAccessTokens,
    created_at: iso(c.createdAt),
  };
}

/** client_id first, then client_secret, then the settings: the order a reader wants. */
export function withSecretSecond({ client_id, client_secret, ...rest }: ReturnType<typeof clientJson> & { client_secret?: string }) {
  return client_secret === undefined ? { client_id, ...rest } : { client_id, client_secret, ...rest };
}

interface NewSecret {
  client_id: string;
  client_secret: string;
  /** When the old secret stops working: null when it already has. */
  previous_secret_expires_at: string | null;
}
type RotatedSecret = NewSecret | (NewSecret & { revoked_tokens: number; revoked_grants: number });

/**
 * Gives a client a new secret, then, with `revoke`, revokes what it holds (after the rotation, so
 * a token issued with the old secret meanwhile goes too): the answer of `client rotate-secret
 * --json` and of the admin API's POST /clients/{id}/secret. Undefined if the client is gone.
 * The caller has checked secretRotationProblem first.
 */
export async function rotateClientSecret(engine: LifecycleEngine, id: string, graceSeconds: number, revoke: boolean, by: Actor): Promise<RotatedSecret | undefined> {
  const secret = await engine.rotateClientSecret(id, by, graceSeconds);
  if (secret === undefined) return undefined;
  const revoked = revoke ? await engine.revoke({ client: id }, { ...by, reason: 'client secret rotated' }) : undefined;
  return {
    client_id: id,
    client_secret: secret,
    previous_secret_expires_at: graceSeconds > 0 ? new Date(Date.now() + graceSeconds * 1000).toISOString() : null,
    ...(revoked ? { revoked_tokens: revoked.tokens, revoked_grants: revoked.grants } : {}),
  };
}

export function clientText(c: ClientRecord, config: ServerConfig, secret: string | undefined): string {
  const ttl = (own: number | null, server: number) => (own === null ? `server default (${server} s)` : `${own} s`);
  return fields([
    ['client_id', c.id],
    ...(secret === undefined ? [] : [['client_secret', secret] as const]),
    ['name', c.name],
    ['token_endpoint_auth_method', c.authMethod],
    ['grant_types', c.grantTypes.join(' ')],
    ['redirect_uris', c.redirectUris.join(' ') || '-'],
    ['post_logout_redirect_uris', c.postLogoutRedirectUris.join(' ') || '-'],
    ...(c.authMethod === 'private_key_jwt' ? [['client keys', keysText(c)] as const] : []),
    ['scope', c.scope],
    ['resources', c.resources.join(' ') || '-'],
    ['exchange_audiences', c.exchangeAudiences.join(' ') || '-'],
    ['token_format', c.tokenFormat],
    ['id_token_signed_response_alg', c.idTokenSignedResponseAlg],
    ['access_ttl', ttl(c.accessTtl, config.accessTokenTtl)],
    ['refresh_ttl', ttl(c.refreshTtl, config.refreshTokenTtl)],
    ['dpop_bound_access_tokens', c.dpopBoundAccessTokens ? 'yes: every token request needs a DPoP proof' : 'no'],
    ['created_at', iso(c.createdAt)],
  ]);
}

export function authMethodOf(flag: string | undefined, isPublic: boolean): ClientAuthMethod {
  const method = flag === undefined ? undefined : oneOf('--auth-method', flag, AUTH_METHODS);
  if (isPublic && method !== undefined && method !== 'none') {
    throw new UsageError(`--public means --auth-method none; it conflicts with --auth-method ${method}`);
  }
  return isPublic ? 'none' : (method ?? 'client_secret_basic');
}

/** --name, trimmed: the admin API's rule for client names (lifecycle/client-rules.ts). */
export function clientName(value: string): string {
  const name = value.trim();
  const problem = clientNameProblem(name, '--name');
  if (problem !== undefined) throw new UsageError(problem);
  return name;
}

/** RFC 6749 §3.1.2 (rfc6749/redirect-uri.ts says what a redirection endpoint must be). */
export function redirectUri(value: string, flag = '--redirect-uri'): string {
  const problem = redirectUriProblem(value);
  if (problem !== undefined) throw new UsageError(`${flag} ${problem}; got '${value}'`);
  return value;
}

/** RFC 6749 §3.3 scope tokens; stored sorted, the way the engine formats scopes. */
export function scopeOf(value: string): string {
  let scopes: Set<string>;
  try {
    scopes = parseScope(value);
  } catch (err) {
    if (err instanceof OAuthError) throw new UsageError(`--scope: ${err.error_description ?? 'malformed scope'}`);
    throw err;
  }
  if (scopes.size === 0) throw new UsageError('--scope must name at least one scope');
  return formatScope(scopes);
}

export const RESOURCE_HELP = `  --resource URI      a resource indicator (RFC 8707) the client may ask tokens for, besides the
                      server's resources setting: an absolute URI without fragment, repeatable`;

export const EXCHANGE_AUDIENCE_HELP = `  --exchange-audience URI
                      token exchange (RFC 8693), for clients with its grant type only: the client
                      may exchange the tokens whose audience is this URI (a resource server
                      exchanging the tokens sent to it), besides its own; an absolute URI
                      without fragment, repeatable. --resource does not allow this`;

/** `--resource URI` (or `--exchange-audience URI`), repeatable, never split at commas (a URI may hold one). */
export function resourcesOf(values: string[], flag = '--resource'): string[] {
  for (const value of values) {
    const problem = resourceProblem(value);
    if (problem !== undefined) throw new UsageError(`${flag} ${problem}; got '${value}'`);
  }
  return [...new Set(values)];
}

/** The field names the command line uses in the shared registration rules (lifecycle/client-rules.ts). */
const CLI_NAMES: FieldNames = { redirectUris: '--redirect-uri', grantTypes: '--grant-type', exchangeAudiences: '--exchange-audience', noExchangeAudiences: '--exchange-audience none', keys: '--jwks and --jwks-uri' };

/** The rules `client create` and `client update` share with the admin API, on the registration as it would be stored. */
export function checkRegistration(c: Parameters<typeof registrationProblem>[0]): void {
  const problem = registrationProblem(c, CLI_NAMES);
  if (problem !== undefined) throw new UsageError(problem);
}

export const ID_TOKEN_ALG_HELP = `  --id-token-alg A    what its ID Tokens are signed with: ${SIGNING_ALGS.join(' or ')}
                      (OpenID Connect id_token_signed_response_alg; default RS256)`;

/** `--id-token-alg A`: OpenID Connect Dynamic Client Registration 1.0 §2 id_token_signed_response_alg. */
export const idTokenAlgOf = (value: string) => oneOf('--id-token-alg', value, SIGNING_ALGS);

function keysText(c: ClientRecord): string {
  if (c.jwksUri !== null) return `jwks_uri ${c.jwksUri}`;
  const n = c.jwks === null ? 0 : (JSON.parse(c.jwks) as { keys: unknown[] }).keys.length;
  return `inline JWK Set (${n} key${n === 1 ? '' : 's'})`;
}

export const REQUIRE_DPOP_HELP = `  --require-dpop      every token request of the client must carry a DPoP proof (RFC 9449 §5.2
                      dpop_bound_access_tokens), so its access tokens are always DPoP-bound`;

export const KEYS_HELP = `  --jwks FILE         private_key_jwt: a file holding the client's public keys, a JWK Set
                      (RSA, EC or OKP keys; never private ones)
  --jwks-uri URL      private_key_jwt: where the server fetches the client's JWK Set (https, or
                      http on a loopback address); fetched again for a kid it does not know`;

/**
 * `--jwks FILE` or `--jwks-uri URL`, exactly one, for a private_key_jwt client (RFC 7523 §2.2);
 * undefined when neither is given.
 */
export async function clientKeysOf(file: string | undefined, uri: string | undefined): Promise<Pick<ClientRecord, 'jwks' | 'jwksUri'> | undefined> {
  if (file !== undefined && uri !== undefined) throw new UsageError('give --jwks FILE or --jwks-uri URL, not both');
  if (uri !== undefined) {
    try {
      return { jwks: null, jwksUri: checkedJwksUri(uri) };
    } catch (err) {
      throw new UsageError(`--jwks-uri ${(err as Error).message}; got '${uri}'`);
    }
  }
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--jwks: cannot read '${file}' (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    return { jwks: await checkedJwks(text), jwksUri: null };
  } catch (err) {
    throw new UsageError(`--jwks '${file}': ${(err as Error).message}`);
  }
}

/**
 * client_secret_jwt (and webhooks: `what`) needs the key that seals its secret (setting clientSecretKeyFile): checked
 * before anything is written, so a missing or unreadable key file is a clear message, not a crash.
 */
export function needSealingKey(config: Partial<ServerConfig>, what = 'client_secret_jwt needs the key that seals client secrets'): void {
  const path = config.clientSecretKeyFile;
  if (path === undefined || path === '') {
    throw new UsageError(`${what}: set TESSERA_CLIENT_SECRET_KEY_FILE (or clientSecretKeyFile in the config file) to a file made by \`openssl rand -base64 32\`, mode 600`);
  }
  try {
    readSealingKey(path);
  } catch (err) {
    throw new CommandError((err as Error).message);
  }
}
