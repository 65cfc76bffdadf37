/** `tessera client create|list|show|rotate-secret|delete`: registered OAuth clients (RFC 6749 §2). */
import { formatScope, OAuthError, parseScope } from '@tessera/core';
import type { ServerConfig } from '../../config.js';
import type { ClientAuthMethod, ClientRecord, GrantType, TokenFormat } from '../../store/types.js';
import { CommandError, EXIT, list, need, oneOf, parse, positiveInt, repeated, UsageError, type Command } from '../args.js';
import { fields, iso, plural, print, printJson, shortIso, table, withTessera } from '../io.js';

const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials', 'password', 'implicit'] as const satisfies readonly GrantType[];
const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'] as const satisfies readonly ClientAuthMethod[];
const TOKEN_FORMATS = ['opaque', 'jwt'] as const satisfies readonly TokenFormat[];
/** Grants that send the browser back to the client (RFC 6749 §3.1.2). */
const REDIRECTING: readonly GrantType[] = ['authorization_code', 'implicit'];

const create: Command = {
  name: 'client create',
  synopsis: `--name N --grant-type G … [--redirect-uri U …] --scope "a b" [--auth-method M] [--public]
       [--token-format opaque|jwt] [--access-ttl S] [--refresh-ttl S] [--post-logout-redirect-uri U …]`,
  summary: 'register a client; prints its client_id and client_secret (shown once)',
  help: `  --name N            a name for people
  --grant-type G      repeatable or comma-separated: ${GRANT_TYPES.join(', ')}
  --redirect-uri U    an absolute URI without fragment (RFC 6749 §3.1.2), taken whole (a comma is
                      part of it); repeat the flag for several. Needed for authorization_code and
                      implicit
  --scope "a b"       the scopes the client may ask for, space-separated
  --auth-method M     ${AUTH_METHODS.join(', ')} (default client_secret_basic)
  --public            a public client (auth method none, no secret; RFC 6749 §2.1)
  --token-format F    opaque or jwt (RFC 9068) access tokens (default opaque)
  --access-ttl S      access token lifetime in seconds (default: the server's)
  --refresh-ttl S     refresh token lifetime in seconds (default: the server's)
  --post-logout-redirect-uri U
                      where /end_session may send the browser after sign-out (OpenID Connect
                      RP-Initiated Logout 1.0); an absolute URI, repeatable like --redirect-uri`,
  async run(argv) {
    const { values, db } = parse(argv, {
      name: { type: 'string' },
      'grant-type': { type: 'string', multiple: true },
      'redirect-uri': { type: 'string', multiple: true },
      scope: { type: 'string' },
      'auth-method': { type: 'string' },
      public: { type: 'boolean' },
      'token-format': { type: 'string' },
      'access-ttl': { type: 'string' },
      'refresh-ttl': { type: 'string' },
      'post-logout-redirect-uri': { type: 'string', multiple: true },
    });
    const name = need(values.name, '--name').trim();
    if (name === '') throw new UsageError('--name must not be empty');
    const grantTypes = list(values['grant-type']).map((g) => oneOf('--grant-type', g, GRANT_TYPES));
    if (grantTypes.length === 0) throw new UsageError('missing required option --grant-type');
    // Never split at commas: a comma is legal inside a URI (RFC 3986 §2.2), so splitting would
    // register `https://evil.example/` from `https://app.example/cb?next=x,https://evil.example/`.
    const redirectUris = [...new Set(repeated(values['redirect-uri']).map((u) => redirectUri(u)))];
    const postLogoutRedirectUris = [...new Set(repeated(values['post-logout-redirect-uri']).map((u) => redirectUri(u, '--post-logout-redirect-uri')))];
    const scope = scopeOf(need(values.scope, '--scope'));
    const authMethod = authMethodOf(values['auth-method'], values.public === true);
    const tokenFormat = oneOf('--token-format', values['token-format'] ?? 'opaque', TOKEN_FORMATS);
    const accessTtl = values['access-ttl'] === undefined ? null : positiveInt('--access-ttl', values['access-ttl']);
    const refreshTtl = values['refresh-ttl'] === undefined ? null : positiveInt('--refresh-ttl', values['refresh-ttl']);

    const redirecting = grantTypes.filter((g) => REDIRECTING.includes(g));
    if (redirecting.length > 0 && redirectUris.length === 0) {
      throw new UsageError(`${redirecting.join(' and ')} ${redirecting.length === 1 ? 'needs' : 'need'} at least one --redirect-uri`);
    }
    // RFC 6749 §4.4: only confidential clients may use client_credentials.
    if (authMethod === 'none' && grantTypes.includes('client_credentials')) {
      throw new UsageError('a public client cannot use client_credentials (it has no secret to authenticate with)');
    }

    return withTessera(db, 'create', async ({ engine, config }) => {
      const { client, secret } = await engine.createClient(
        { name, authMethod, grantTypes, redirectUris, postLogoutRedirectUris, scope, tokenFormat, accessTtl, refreshTtl },
        { actor: 'cli' },
      );
      const shown = { ...clientJson(client), ...(secret === undefined ? {} : { client_secret: secret }) };
      if (values.json) {
        printJson(withSecretSecond(shown));
      } else {
        print(`Created client '${client.name}'.`);
        print(clientText(client, config, secret));
        if (secret !== undefined) print('\nThe client_secret is shown only this once: store it now. Tessera keeps only its hash.');
      }
      return EXIT.ok;
    });
  },
};

const listCommand: Command = {
  name: 'client list',
  synopsis: '[--json]',
  summary: 'list registered clients (never their secrets)',
  async run(argv) {
    const { values, db } = parse(argv, {});
    return withTessera(db, 'existing', async ({ store }) => {
      const clients = await store.listClients();
      if (values.json) {
        printJson(clients.map(clientJson));
      } else {
        const rows = clients.map((c) => [
          c.id, c.name, c.authMethod, c.grantTypes.join(','), c.scope, c.tokenFormat, shortIso(c.createdAt),
        ]);
        print(table(['client_id', 'name', 'auth_method', 'grant_types', 'scope', 'format', 'created_at'], rows, 'No clients yet.'));
      }
      return EXIT.ok;
    });
  },
};

const show: Command = {
  name: 'client show',
  synopsis: 'ID [--json]',
  summary: "show one client's settings (never its secret)",
  async run(argv) {
    const { values, args, db } = parse(argv, {}, ['ID']);
    return withTessera(db, 'existing', async ({ store, config }) => {
      const client = await store.getClient(args.ID);
      if (!client) throw new CommandError(`no client with id '${args.ID}'`);
      if (values.json) printJson(clientJson(client));
      else print(clientText(client, config, undefined));
      return EXIT.ok;
    });
  },
};

const rotateSecret: Command = {
  name: 'client rotate-secret',
  synopsis: 'ID [--json]',
  summary: 'give a confidential client a new client_secret (shown once); the old one stops working at once',
  help: `  The old secret fails from now on, also for requests already checked with it and still in
  flight. Tokens issued before stay valid: end them with \`tessera token revoke --client ID\`.`,
  async run(argv) {
    const { values, args, db } = parse(argv, {}, ['ID']);
    return withTessera(db, 'existing', async ({ engine, store }) => {
      const client = await store.getClient(args.ID);
      if (!client) throw new CommandError(`no client with id '${args.ID}'`);
      if (client.authMethod === 'none') throw new CommandError(`client ${args.ID} is public (auth method none): it has no secret to rotate`);
      const secret = await engine.rotateClientSecret(client.id, { actor: 'cli' });
      // Deleted between the read and the write.
      if (secret === undefined) throw new CommandError(`no client with id '${args.ID}'`);
      if (values.json) {
        printJson({ client_id: client.id, client_secret: secret });
      } else {
        print(fields([['client_id', client.id], ['client_secret', secret]]));
        print('\nThe client_secret is shown only this once: store it now. The old secret no longer works.');
      }
      return EXIT.ok;
    });
  },
};

const remove: Command = {
  name: 'client delete',
  synopsis: 'ID [--json]',
  summary: 'delete a client and revoke every grant and token issued to it',
  async run(argv) {
    const { values, args, db } = parse(argv, {}, ['ID']);
    return withTessera(db, 'existing', async ({ engine }) => {
      const result = await engine.deleteClient(args.ID, { actor: 'cli' });
      if (!result) throw new CommandError(`no client with id '${args.ID}'`);
      if (values.json) {
        printJson({ client_id: args.ID, deleted: true, revoked_tokens: result.tokens, revoked_grants: result.grants });
      } else {
        print(`Deleted client ${args.ID}; revoked ${plural(result.tokens, 'token')} and ${plural(result.grants, 'grant')}.`);
      }
      return EXIT.ok;
    });
  },
};

export const clientCommands: readonly Command[] = [create, listCommand, show, rotateSecret, remove];

/** The client as shown by every command; the secret is added by `create` only. */
export function clientJson(c: ClientRecord) {
  return {
    client_id: c.id,
    name: c.name,
    token_endpoint_auth_method: c.authMethod,
    grant_types: c.grantTypes,
    redirect_uris: c.redirectUris,
    post_logout_redirect_uris: c.postLogoutRedirectUris,
    scope: c.scope,
    token_format: c.tokenFormat,
    access_ttl: c.accessTtl,
    refresh_ttl: c.refreshTtl,
    created_at: iso(c.createdAt),
  };
}

/** client_id first, then client_secret, then the settings: the order a reader wants. */
function withSecretSecond({ client_id, client_secret, ...rest }: ReturnType<typeof clientJson> & { client_secret?: string }) {
  return client_secret === undefined ? { client_id, ...rest } : { client_id, client_secret, ...rest };
}

function clientText(c: ClientRecord, config: ServerConfig, secret: string | undefined): string {
  const ttl = (own: number | null, server: number) => (own === null ? `server default (${server} s)` : `${own} s`);
  return fields([
    ['client_id', c.id],
    ...(secret === undefined ? [] : [['client_secret', secret] as const]),
    ['name', c.name],
    ['token_endpoint_auth_method', c.authMethod],
    ['grant_types', c.grantTypes.join(' ')],
    ['redirect_uris', c.redirectUris.join(' ') || '-'],
    ['post_logout_redirect_uris', c.postLogoutRedirectUris.join(' ') || '-'],
    ['scope', c.scope],
    ['token_format', c.tokenFormat],
    ['access_ttl', ttl(c.accessTtl, config.accessTokenTtl)],
    ['refresh_ttl', ttl(c.refreshTtl, config.refreshTokenTtl)],
    ['created_at', iso(c.createdAt)],
  ]);
}

function authMethodOf(flag: string | undefined, isPublic: boolean): ClientAuthMethod {
  const method = flag === undefined ? undefined : oneOf('--auth-method', flag, AUTH_METHODS);
  if (isPublic && method !== undefined && method !== 'none') {
    throw new UsageError(`--public means --auth-method none; it conflicts with --auth-method ${method}`);
  }
  return isPublic ? 'none' : (method ?? 'client_secret_basic');
}

/** Schemes a browser would run or read locally instead of handing the code to a client. */
const UNSAFE_SCHEMES = new Set(['javascript:', 'data:', 'vbscript:', 'file:', 'blob:']);

/** RFC 6749 §3.1.2: the redirection endpoint MUST be an absolute URI and MUST NOT have a fragment. */
function redirectUri(value: string, flag = '--redirect-uri'): string {
  if (value.includes('#')) throw new UsageError(`${flag} must not have a fragment (RFC 6749 §3.1.2); got '${value}'`);
  // RFC 3986 §4.3: an absolute URI has a scheme; spaces and control characters are not URI characters.
  if (!URL.canParse(value) || !/^[a-z][a-z0-9+.-]*:/i.test(value) || /[\s\p{Cc}]/u.test(value)) {
    throw new UsageError(`${flag} must be an absolute URI such as https://app.example/callback; got '${value}'`);
  }
  const url = new URL(value);
  if (UNSAFE_SCHEMES.has(url.protocol)) throw new UsageError(`${flag} must not use the ${url.protocol} scheme; got '${value}'`);
  if ((url.protocol === 'http:' || url.protocol === 'https:') && url.hostname === '') {
    throw new UsageError(`${flag} must name a host; got '${value}'`);
  }
  return value;
}

/** RFC 6749 §3.3 scope tokens; stored sorted, the way the engine formats scopes. */
function scopeOf(value: string): string {
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
