/** `tessera client create|list|show|update|rotate-secret|delete|initial-token`: registered OAuth clients (RFC 6749 §2). */
import { CommandError, count, EXIT, list, need, oneOf, parse, repeated, UsageError, type Command } from '../args.js';
import { plural, print, printJson, shortIso, table, withTessera } from '../io.js';
import { initialToken } from './client-initial-token.js';
import { rotateSecret, update } from './client-update.js';
import { MAX_TOKEN_TTL } from '../../lifecycle/client-rules.js';
import {
  AUTH_METHODS, authMethodOf, checkRegistration, clientJson, clientName, clientKeysOf, clientText, EXCHANGE_AUDIENCE_HELP, GRANT_TYPES, ID_TOKEN_ALG_HELP, idTokenAlgOf, KEYS_HELP,
  needSealingKey, redirectUri, REQUIRE_DPOP_HELP, RESOURCE_HELP, resourcesOf, scopeOf, TOKEN_FORMATS, withSecretSecond,
} from './client-fields.js';

const create: Command = {
  name: 'client create',
  synopsis: `--name N --grant-type G … [--redirect-uri U …] --scope "a b" [--auth-method M] [--public]
       [--token-format opaque|jwt] [--access-ttl S] [--refresh-ttl S] [--jwks FILE | --jwks-uri URL]
       [--post-logout-redirect-uri U …] [--id-token-alg RS256|ES256] [--resource URI …] [--exchange-audience URI …]
       [--require-dpop]`,
  summary: 'register a client; prints its client_id and client_secret (shown once)',
  help: `  --name N            a name for people
  --grant-type G      repeatable or comma-separated: ${GRANT_TYPES.join(', ')}
  --redirect-uri U    an absolute URI without fragment (RFC 6749 §3.1.2), taken whole (a comma is
                      part of it); repeat the flag for several. Needed for authorization_code and
                      implicit
  --scope "a b"       the scopes the client may ask for, space-separated
${RESOURCE_HELP}
${EXCHANGE_AUDIENCE_HELP}
  --auth-method M     ${AUTH_METHODS.join(', ')} (default client_secret_basic);
                      private_key_jwt (RFC 7523) has no secret and needs --jwks or --jwks-uri;
                      client_secret_jwt needs the server's clientSecretKeyFile setting
  --public            a public client (auth method none, no secret; RFC 6749 §2.1)
  --token-format F    opaque or jwt (RFC 9068) access tokens (default opaque)
  --access-ttl S      access token lifetime in seconds (default: the server's)
  --refresh-ttl S     refresh token lifetime in seconds (default: the server's)
  --post-logout-redirect-uri U
                      where /end_session may send the browser after sign-out (OpenID Connect
                      RP-Initiated Logout 1.0); an absolute URI, repeatable like --redirect-uri
${ID_TOKEN_ALG_HELP}
${KEYS_HELP}
${REQUIRE_DPOP_HELP}`,
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
      jwks: { type: 'string' },
      'jwks-uri': { type: 'string' },
      'post-logout-redirect-uri': { type: 'string', multiple: true },
      'id-token-alg': { type: 'string' },
      'require-dpop': { type: 'boolean' },
      resource: { type: 'string', multiple: true },
      'exchange-audience': { type: 'string', multiple: true },
    });
    const name = clientName(need(values.name, '--name'));
    const grantTypes = list(values['grant-type']).map((g) => oneOf('--grant-type', g, GRANT_TYPES));
    if (grantTypes.length === 0) throw new UsageError('missing required option --grant-type');
    // Never split at commas: a comma is legal inside a URI (RFC 3986 §2.2), so splitting would
    // register `https://evil.example/` from `https://app.example/cb?next=x,https://evil.example/`.
    const redirectUris = [...new Set(repeated(values['redirect-uri']).map((u) => redirectUri(u)))];
    const postLogoutRedirectUris = [...new Set(repeated(values['post-logout-redirect-uri']).map((u) => redirectUri(u, '--post-logout-redirect-uri')))];
    const scope = scopeOf(need(values.scope, '--scope'));
    const resources = resourcesOf(repeated(values.resource));
    const exchangeAudiences = resourcesOf(repeated(values['exchange-audience']), '--exchange-audience');
    const authMethod = authMethodOf(values['auth-method'], values.public === true);
    const tokenFormat = oneOf('--token-format', values['token-format'] ?? 'opaque', TOKEN_FORMATS);
    const accessTtl = values['access-ttl'] === undefined ? null : count('--access-ttl', values['access-ttl'], MAX_TOKEN_TTL);
    const refreshTtl = values['refresh-ttl'] === undefined ? null : count('--refresh-ttl', values['refresh-ttl'], MAX_TOKEN_TTL);
    const idTokenSignedResponseAlg = idTokenAlgOf(values['id-token-alg'] ?? 'RS256');

    const keys = await clientKeysOf(values.jwks, values['jwks-uri']);
    checkRegistration({ authMethod, grantTypes, redirectUris, exchangeAudiences, jwks: keys?.jwks ?? null, jwksUri: keys?.jwksUri ?? null, registrationTokenHash: null });
    if (authMethod === 'client_secret_jwt') needSealingKey(db.config);

    return withTessera(db, 'create', async ({ engine, config }) => {
      const { client, secret } = await engine.createClient(
        {
          name, authMethod, grantTypes, redirectUris, postLogoutRedirectUris, scope, resources, exchangeAudiences, tokenFormat, idTokenSignedResponseAlg, accessTtl, refreshTtl,
          dpopBoundAccessTokens: values['require-dpop'] === true, ...keys,
        },
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

export const clientCommands: readonly Command[] = [create, listCommand, show, update, rotateSecret, remove, initialToken];

