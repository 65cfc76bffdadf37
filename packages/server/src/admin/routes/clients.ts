/**
 * /clients: registered clients, with the rules `tessera client create|update` keeps
 * (lifecycle/client-rules.ts, and the same field checks), shown as `client show --json` shows them.
 */
import { formatScope, parseScope } from '@tessera/core';
import { z } from 'zod';
import type { HandlerParts } from '../../app.js';
import { clientJson, rotateClientSecret, withSecretSecond } from '../../cli/commands/client-fields.js';
import {
  AUTH_METHODS, clientNameProblem, type FieldNames, GRANT_TYPES, MAX_SECRET_GRACE, MAX_TOKEN_TTL, registrationProblem, secretRotationProblem, TOKEN_FORMATS,
} from '../../lifecycle/client-rules.js';
import { SIGNING_ALGS } from '../../lifecycle/keys.js';
import type { NewClient } from '../../lifecycle/principals.js';
import { redirectUriProblem } from '../../rfc6749/redirect-uri.js';
import { checkedJwks, checkedJwksUri } from '../../rfc7523/client-jwks.js';
import { resourceProblem } from '../../rfc8707/resource.js';
import type { ClientChanges } from '../../store/types.js';
import { decodeCursor, principalPage } from '../cursor.js';
import { Problem } from '../problem.js';
import { route } from '../route.js';
import { pageOf, paging, revoked, search, time } from '../schemas.js';

/** The JSON names of the fields the shared rules mention. */
const API_NAMES: FieldNames = { redirectUris: 'redirect_uris', grantTypes: 'grant_types', exchangeAudiences: 'exchange_audiences', noExchangeAudiences: '"exchange_audiences": []', keys: 'jwks and jwks_uri' };

/** A string that `problem` finds nothing wrong with (its answer is the issue's message). */
const checked = (problem: (v: string) => string | undefined, base = z.string()) =>
  base.superRefine((v, ctx) => {
    const p = problem(v);
    if (p !== undefined) ctx.addIssue({ code: 'custom', message: p });
  });

/** RFC 6749 §3.3 scope tokens, stored sorted (as the CLI stores them). */
const scope = z.string().transform((v, ctx) => {
  try {
    const scopes = parseScope(v);
    if (scopes.size > 0) return formatScope(scopes);
  } catch {}
  ctx.addIssue({ code: 'custom', message: 'must be space-separated scope tokens (RFC 6749 §3.3), at least one' });
  return z.NEVER;
});

const jwksUri = checked((v) => {
  try {
    checkedJwksUri(v);
    return undefined;
  } catch (err) {
    return `jwks_uri ${(err as Error).message}`;
  }
});

const fields = {
  name: checked((v) => clientNameProblem(v, 'name'), z.string().trim()),
  grant_types: z.array(z.enum(GRANT_TYPES)).min(1),
  redirect_uris: z.array(checked(redirectUriProblem)),
  post_logout_redirect_uris: z.array(checked(redirectUriProblem)),
  scope,
  resources: z.array(checked(resourceProblem)),
  exchange_audiences: z.array(checked(resourceProblem)),
  token_format: z.enum(TOKEN_FORMATS),
  access_ttl: z.number().int().min(1).max(MAX_TOKEN_TTL).nullable(),
  refresh_ttl: z.number().int().min(1).max(MAX_TOKEN_TTL).nullable(),
  id_token_signed_response_alg: z.enum(SIGNING_ALGS),
  jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).loose().describe('private_key_jwt: the public keys, a JWK Set'),
  jwks_uri: jwksUri.describe('private_key_jwt: where the JWK Set is fetched'),
  dpop_bound_access_tokens: z.boolean(),
};

const createBody = z.strictObject({
  name: fields.name,
  grant_types: fields.grant_types,
  scope: fields.scope,
  token_endpoint_auth_method: z.enum(AUTH_METHODS).default('client_secret_basic'),
  redirect_uris: fields.redirect_uris.default([]),
  post_logout_redirect_uris: fields.post_logout_redirect_uris.default([]),
  resources: fields.resources.default([]),
  exchange_audiences: fields.exchange_audiences.default([]),
  token_format: fields.token_format.default('opaque'),
  access_ttl: fields.access_ttl.default(null),
  refresh_ttl: fields.refresh_ttl.default(null),
  id_token_signed_response_alg: fields.id_token_signed_response_alg.default('RS256'),
  jwks: fields.jwks.optional(),
  jwks_uri: fields.jwks_uri.optional(),
  dpop_bound_access_tokens: fields.dpop_bound_access_tokens.default(false),
});

/** Each field given replaces that field whole (as `client update`); the auth method never changes. */
const updateBody = z.strictObject({
  name: fields.name.optional(),
  grant_types: fields.grant_types.optional(),
  scope: fields.scope.optional(),
  redirect_uris: fields.redirect_uris.optional(),
  post_logout_redirect_uris: fields.post_logout_redirect_uris.optional(),
  resources: fields.resources.optional(),
  exchange_audiences: fields.exchange_audiences.optional(),
  token_format: fields.token_format.optional(),
  access_ttl: fields.access_ttl.optional(),
  refresh_ttl: fields.refresh_ttl.optional(),
  id_token_signed_response_alg: fields.id_token_signed_response_alg.optional(),
  jwks: fields.jwks.optional(),
  jwks_uri: fields.jwks_uri.optional(),
  dpop_bound_access_tokens: fields.dpop_bound_access_tokens.optional(),
});

/** Both optional: an empty body (or none) rotates with no grace and revokes nothing, as `client rotate-secret ID`. */
const rotateBody = z.strictObject({
  grace: z.number().int().min(0).max(MAX_SECRET_GRACE).default(0)
    .describe('seconds the old secret keeps working, so the client can be redeployed with the new one first (0: it stops now; not for client_secret_jwt)'),
  revoke: z.boolean().default(false).describe('also revoke every grant and token the client holds, after the rotation'),
}).optional();

const client = z.object({
  client_id: z.string(), name: z.string(), token_endpoint_auth_method: z.enum(AUTH_METHODS), grant_types: z.array(z.string()), redirect_uris: z.array(z.string()),
  post_logout_redirect_uris: z.array(z.string()), jwks: z.unknown().optional(), jwks_uri: z.string().nullable().optional(), scope: z.string(), resources: z.array(z.string()),
  exchange_audiences: z.array(z.string()), token_format: z.enum(TOKEN_FORMATS), id_token_signed_response_alg: z.enum(SIGNING_ALGS), access_ttl: z.number().nullable(),
  refresh_ttl: z.number().nullable(), dpop_bound_access_tokens: z.boolean(), created_at: z.string(),
});

/** The client's keys, checked as `--jwks FILE` is (a JWK Set of public keys); 422 otherwise. */
async function keysOf(body: { jwks?: object | undefined; jwks_uri?: string | undefined }): Promise<{ jwks?: string | null; jwksUri?: string | null }> {
  if (body.jwks !== undefined && body.jwks_uri !== undefined) throw new Problem(422, 'give jwks or jwks_uri, not both');
  if (body.jwks_uri !== undefined) return { jwks: null, jwksUri: checkedJwksUri(body.jwks_uri) };
  if (body.jwks === undefined) return {};
  try {
    return { jwks: await checkedJwks(JSON.stringify(body.jwks)), jwksUri: null };
  } catch (err) {
    throw new Problem(422, `jwks: ${(err as Error).message}`, [{ pointer: '/body/jwks', detail: (err as Error).message }]);
  }
}

function rules(c: Parameters<typeof registrationProblem>[0]): void {
  const problem = registrationProblem(c, API_NAMES);
  if (problem !== undefined) throw new Problem(422, problem);
}

const notFound = (id: string) => new Problem(404, `no client with id '${id.slice(0, 128)}'`);

/** A client_secret_jwt secret is sealed with the server's key: without one, a 422 saying so (never a 500). */
function needSealingKey(tessera: HandlerParts): void {
  if (tessera.config.clientSecretKeyFile === '') throw new Problem(422, 'client_secret_jwt needs the server setting clientSecretKeyFile (the key that seals client secrets)');
}

export const clientRoutes = [
  route({
    method: 'GET', path: '/clients', tag: 'clients', summary: 'list clients, oldest first (never their secrets); q searches their names and client_ids', status: 200,
    query: z.strictObject({ q: search, ...paging }), response: pageOf(client),
    async handle({ query, tessera }) {
      const afterId = query.cursor === undefined ? undefined : decodeCursor(query.cursor, 'string');
      const shown = principalPage(await tessera.store.pageClients({ afterId, q: query.q, limit: query.limit + 1 }), query.limit);
      return { items: shown.items.map(clientJson), next_cursor: shown.next_cursor };
    },
  }),
  route({
    method: 'POST', path: '/clients', tag: 'clients', summary: 'register a client; the answer carries its client_secret, shown this once', status: 201,
    body: createBody, response: client.extend({ client_secret: z.string().optional() }),
    async handle({ body, by, tessera }) {
      const keys = await keysOf(body);
      const input: NewClient = {
        name: body.name, authMethod: body.token_endpoint_auth_method, grantTypes: body.grant_types, redirectUris: [...new Set(body.redirect_uris)],
        postLogoutRedirectUris: [...new Set(body.post_logout_redirect_uris)], scope: body.scope, resources: [...new Set(body.resources)],
        exchangeAudiences: [...new Set(body.exchange_audiences)], tokenFormat: body.token_format, idTokenSignedResponseAlg: body.id_token_signed_response_alg,
        accessTtl: body.access_ttl, refreshTtl: body.refresh_ttl, dpopBoundAccessTokens: body.dpop_bound_access_tokens, ...keys,
      };
      rules({ ...input, exchangeAudiences: input.exchangeAudiences ?? [], jwks: input.jwks ?? null, jwksUri: input.jwksUri ?? null, registrationTokenHash: null });
      if (input.authMethod === 'client_secret_jwt') needSealingKey(tessera);
      const { client: made, secret } = await tessera.engine.createClient(input, by);
      return withSecretSecond({ ...clientJson(made), ...(secret === undefined ? {} : { client_secret: secret }) });
    },
  }),
  route({
    method: 'GET', path: '/clients/{id}', tag: 'clients', summary: "one client's registration (never its secret)", status: 200, response: client,
    async handle({ params, tessera }) {
      const found = await tessera.store.getClient(params.id as string);
      if (!found) throw notFound(params.id as string);
      return clientJson(found);
    },
  }),
  route({
    method: 'PATCH', path: '/clients/{id}', tag: 'clients', status: 200, body: updateBody, response: client,
    summary: "change a client's registration; each field given replaces that field whole. Its client_id, secret, tokens and grants stay",
    async handle({ params, body, by, tessera }) {
      const id = params.id as string;
      const current = await tessera.store.getClient(id);
      if (!current) throw notFound(id);
      const changes: ClientChanges = {
        name: body.name, grantTypes: body.grant_types, scope: body.scope, redirectUris: body.redirect_uris && [...new Set(body.redirect_uris)],
        postLogoutRedirectUris: body.post_logout_redirect_uris && [...new Set(body.post_logout_redirect_uris)], resources: body.resources && [...new Set(body.resources)],
        exchangeAudiences: body.exchange_audiences && [...new Set(body.exchange_audiences)], tokenFormat: body.token_format, accessTtl: body.access_ttl,
        refreshTtl: body.refresh_ttl, idTokenSignedResponseAlg: body.id_token_signed_response_alg, dpopBoundAccessTokens: body.dpop_bound_access_tokens,
        ...(await keysOf(body)),
      };
      for (const key of Object.keys(changes) as Array<keyof ClientChanges>) if (changes[key] === undefined) delete changes[key];
      if (Object.keys(changes).length === 0) throw new Problem(400, 'nothing to change: give at least one field');
      rules({ ...current, ...changes });
      const updated = await tessera.engine.updateClient(id, changes, by);
      if (!updated) throw notFound(id);
      return clientJson(updated);
    },
  }),
  route({
    method: 'POST', path: '/clients/{id}/secret', tag: 'clients', status: 200, body: rotateBody,
    summary: 'give a confidential client a new client_secret, in this answer only (as `tessera client rotate-secret`); 409 for a client without a secret',
    response: z.object({ client_id: z.string(), client_secret: z.string(), previous_secret_expires_at: time.nullable(), ...revoked.partial().shape }),
    async handle({ params, body = { grace: 0, revoke: false }, by, tessera }) {
      const id = params.id as string;
      const current = await tessera.store.getClient(id);
      if (!current) throw notFound(id);
      const problem = secretRotationProblem(current, body.grace, 'grace');
      if (problem) throw new Problem(problem.kind === 'no-secret' ? 409 : 422, problem.detail, problem.kind === 'no-grace' ? [{ pointer: '/body/grace', detail: problem.detail }] : undefined);
      if (current.authMethod === 'client_secret_jwt') needSealingKey(tessera);
      const rotated = await rotateClientSecret(tessera.engine, id, body.grace, body.revoke, by);
      // Deleted between the read and the write.
      if (!rotated) throw notFound(id);
      return rotated;
    },
  }),
  route({
    method: 'DELETE', path: '/clients/{id}', tag: 'clients', summary: 'delete a client and revoke every grant and token issued to it', status: 200,
    response: revoked.extend({ client_id: z.string(), deleted: z.literal(true) }),
    async handle({ params, by, tessera }) {
      const id = params.id as string;
      const result = await tessera.engine.deleteClient(id, by);
      if (!result) throw notFound(id);
      return { client_id: id, deleted: true, revoked_tokens: result.tokens, revoked_grants: result.grants };
    },
  }),
];
