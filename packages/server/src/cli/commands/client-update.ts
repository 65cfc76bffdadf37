/**
 * `tessera client update|rotate-secret`: change a registered client in place. Its client_id never
 * changes, and its tokens and grants stay valid unless `--revoke` asks otherwise.
 */
import type { ClientChanges, ClientRecord } from '../../store/types.js';
import { MAX_SECRET_GRACE, MAX_TOKEN_TTL, secretRotationProblem } from '../../lifecycle/client-rules.js';
import { CommandError, count, EXIT, list, oneOf, parse, repeated, UsageError, type Command } from '../args.js';
import { fields, plural, print, printJson, withTessera } from '../io.js';
import {
  checkRegistration, clientJson, clientKeysOf, clientName, clientText, GRANT_TYPES, ID_TOKEN_ALG_HELP, idTokenAlgOf, KEYS_HELP, needSealingKey,
  redirectUri, REQUIRE_DPOP_HELP, resourcesOf, rotateClientSecret, scopeOf, TOKEN_FORMATS,
} from './client-fields.js';

const REVOKE_HELP = `  --revoke            also revoke every grant and token the client holds (as \`tessera token
                      revoke --client ID\`), in a second step after the change`;

export const update: Command = {
  name: 'client update',
  synopsis: `ID [--name N] [--grant-type G …] [--redirect-uri U …] [--post-logout-redirect-uri U …] [--scope "a b"] [--resource URI … | --resource none]
       [--exchange-audience URI … | --exchange-audience none] [--token-format opaque|jwt]
       [--access-ttl S|default] [--refresh-ttl S|default] [--id-token-alg RS256|ES256] [--jwks FILE | --jwks-uri URL] [--require-dpop | --no-require-dpop]
       [--revoke] [--json]`,
  summary: "change a client's registration; its client_id, secret, tokens and grants stay",
  help: `  Each flag given replaces that field whole (the flags of \`client create\`); the others stay.
  --grant-type G      the new list of grant types: repeatable or comma-separated
  --redirect-uri U    the new list of redirect URIs: repeat the flag for several
  --post-logout-redirect-uri U
                      the new list of URIs /end_session may send the browser to after sign-out
  --resource URI      the new list of resource indicators (RFC 8707) the client may ask tokens
                      for: repeat the flag for several; --resource none for none (the server's
                      resources setting only)
  --exchange-audience URI
                      the new list of audiences whose tokens the client may exchange (RFC 8693;
                      clients registered for token exchange only): repeat the flag for several;
                      --exchange-audience none for none (its own tokens only)
  --access-ttl S      seconds, or 'default' for the server's
  --refresh-ttl S     seconds, or 'default' for the server's
${ID_TOKEN_ALG_HELP}
${KEYS_HELP}
                      (either replaces the keys registered before, inline or by URI; a
                      client registered at /register keeps its rule: https to a host name,
                      fetched from public addresses only)
${REQUIRE_DPOP_HELP}
  --no-require-dpop   DPoP proofs become optional again (a token request with one still gets
                      DPoP-bound tokens)
${REVOKE_HELP}
  Tokens already issued keep the scope and lifetime they were issued with until they expire or
  are revoked, even when the change narrows the client's scopes or grant types: new requests
  (refreshes included) follow the new registration. Use --revoke to end them now.`,
  async run(argv) {
    const { values, args, db } = parse(argv, {
      name: { type: 'string' },
      'grant-type': { type: 'string', multiple: true },
      'redirect-uri': { type: 'string', multiple: true },
      'post-logout-redirect-uri': { type: 'string', multiple: true },
      scope: { type: 'string' },
      'token-format': { type: 'string' },
      'access-ttl': { type: 'string' },
      'refresh-ttl': { type: 'string' },
      'id-token-alg': { type: 'string' },
      resource: { type: 'string', multiple: true },
      'exchange-audience': { type: 'string', multiple: true },
      jwks: { type: 'string' },
      'jwks-uri': { type: 'string' },
      'require-dpop': { type: 'boolean' },
      'no-require-dpop': { type: 'boolean' },
      revoke: { type: 'boolean' },
    }, ['ID']);
    const changes: ClientChanges = {};
    if (values.name !== undefined) {
      changes.name = clientName(values.name);
    }
    if (values['grant-type'] !== undefined) {
      changes.grantTypes = list(values['grant-type']).map((g) => oneOf('--grant-type', g, GRANT_TYPES));
      if (changes.grantTypes.length === 0) throw new UsageError('--grant-type must name at least one grant type');
    }
    if (values['redirect-uri'] !== undefined) changes.redirectUris = [...new Set(repeated(values['redirect-uri']).map((u) => redirectUri(u)))];
    if (values['post-logout-redirect-uri'] !== undefined) {
      changes.postLogoutRedirectUris = [...new Set(repeated(values['post-logout-redirect-uri']).map((u) => redirectUri(u, '--post-logout-redirect-uri')))];
    }
    if (values.scope !== undefined) changes.scope = scopeOf(values.scope);
    if (values.resource !== undefined) {
      const named = repeated(values.resource);
      changes.resources = named.length === 1 && named[0] === 'none' ? [] : resourcesOf(named);
    }
    if (values['exchange-audience'] !== undefined) {
      const named = repeated(values['exchange-audience']);
      changes.exchangeAudiences = named.length === 1 && named[0] === 'none' ? [] : resourcesOf(named, '--exchange-audience');
    }
    if (values['token-format'] !== undefined) changes.tokenFormat = oneOf('--token-format', values['token-format'], TOKEN_FORMATS);
    if (values['access-ttl'] !== undefined) changes.accessTtl = ttlOf('--access-ttl', values['access-ttl']);
    if (values['refresh-ttl'] !== undefined) changes.refreshTtl = ttlOf('--refresh-ttl', values['refresh-ttl']);
    if (values['id-token-alg'] !== undefined) changes.idTokenSignedResponseAlg = idTokenAlgOf(values['id-token-alg']);
    Object.assign(changes, await clientKeysOf(values.jwks, values['jwks-uri']));
    if (values['require-dpop'] && values['no-require-dpop']) throw new UsageError('give --require-dpop or --no-require-dpop, not both');
    if (values['require-dpop'] || values['no-require-dpop']) changes.dpopBoundAccessTokens = values['require-dpop'] === true;
    if (Object.keys(changes).length === 0 && values.revoke !== true) throw new UsageError('nothing to change: give at least one field to change, or --revoke');

    return withTessera(db, 'existing', async ({ engine, store, config }) => {
      const current = await store.getClient(args.ID);
      if (!current) throw new CommandError(`no client with id '${args.ID}'`);
      checkRegistration({ ...current, ...changes });
      let client: ClientRecord | undefined = current;
      if (Object.keys(changes).length > 0) client = await engine.updateClient(current.id, changes, { actor: 'cli' });
      // Deleted between the read and the write.
      if (!client) throw new CommandError(`no client with id '${args.ID}'`);
      // After the change: a token issued under the old registration meanwhile is revoked too.
      const revoked = values.revoke === true ? await engine.revoke({ client: client.id }, { actor: 'cli', reason: 'client updated' }) : undefined;
      if (values.json) {
        printJson({ ...clientJson(client), ...(revoked ? { revoked_tokens: revoked.tokens, revoked_grants: revoked.grants } : {}) });
      } else {
        print(`Updated client '${client.name}'.`);
        print(clientText(client, config, undefined));
        if (revoked) print(`\nRevoked ${plural(revoked.tokens, 'token')} and ${plural(revoked.grants, 'grant')}.`);
      }
      return EXIT.ok;
    });
  },
};

export const rotateSecret: Command = {
  name: 'client rotate-secret',
  synopsis: 'ID [--grace SECONDS] [--revoke] [--json]',
  summary: 'give a confidential client a new client_secret (shown once); the old one stops at once or after --grace',
  help: `  --grace SECONDS     the old secret keeps working this long, so the client can be redeployed
                      with the new one first (default 0: it fails from now on, also for requests
                      already checked with it and still in flight). Rotating again ends the
                      grace of the secret before. Not for client_secret_jwt clients.
${REVOKE_HELP}
  Tokens issued before stay valid unless --revoke.`,
  async run(argv) {
    const { values, args, db } = parse(argv, { grace: { type: 'string' }, revoke: { type: 'boolean' } }, ['ID']);
    const grace = values.grace === undefined || values.grace === '0' ? 0 : count('--grace', values.grace, MAX_SECRET_GRACE);
    return withTessera(db, 'existing', async ({ engine, store }) => {
      const client = await store.getClient(args.ID);
      if (!client) throw new CommandError(`no client with id '${args.ID}'`);
      const problem = secretRotationProblem(client, grace, '--grace');
      if (problem) throw problem.kind === 'no-grace' ? new UsageError(problem.detail) : new CommandError(problem.detail);
      if (client.authMethod === 'client_secret_jwt') needSealingKey(db.config);
      const rotated = await rotateClientSecret(engine, client.id, grace, values.revoke === true, { actor: 'cli' });
      // Deleted between the read and the write.
      if (rotated === undefined) throw new CommandError(`no client with id '${args.ID}'`);
      if (values.json) {
        printJson(rotated);
      } else {
        const until = rotated.previous_secret_expires_at;
        print(fields([['client_id', rotated.client_id], ['client_secret', rotated.client_secret]]));
        print(`\nThe client_secret is shown only this once: store it now. ${until ? `The old secret keeps working until ${until}.` : 'The old secret no longer works.'}`);
        if ('revoked_tokens' in rotated) print(`Revoked ${plural(rotated.revoked_tokens, 'token')} and ${plural(rotated.revoked_grants, 'grant')}.`);
      }
      return EXIT.ok;
    });
  },
};

function ttlOf(label: string, value: string): number | null {
  return value === 'default' ? null : count(label, value, MAX_TOKEN_TTL);
}
