import { OAuthError, parseScope, required } from '@tessera/core';
import { TOKEN_TYPES } from '../lifecycle/exchange.js';
import type { TokenGrant } from '../rfc6749/grants/types.js';
import { TOKEN_EXCHANGE_GRANT } from '../store/types.js';

/**
 * RFC 8693 §2.1: a token exchange at the token endpoint. The rules of who may exchange what are
 * the engine's (lifecycle/exchange.ts); here the request is read.
 */
export const tokenExchange: TokenGrant = {
  grantType: TOKEN_EXCHANGE_GRANT,
  // `audience` is read from the body: RFC 8693 §2.1 lets it repeat.
  params: ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'requested_token_type', 'scope'],
  handle({ engine, client, params, body, by, resource, jkt }) {
    // The exchanging client is authenticated (RFC 8693 §2.1 uses §3.2 client authentication): it has credentials.
    if (client.authMethod === 'none') throw new OAuthError('unauthorized_client', 'public clients cannot exchange tokens');
    // RFC 8693 §2.2.2: a requested token type the server cannot issue is invalid_request; it issues access tokens only.
    if (params.requested_token_type !== undefined && params.requested_token_type !== TOKEN_TYPES.accessToken) {
      throw new OAuthError('invalid_request', `requested_token_type must be ${TOKEN_TYPES.accessToken}`);
    }
    return engine.exchangeToken(client, {
      subjectToken: required(params.subject_token, 'subject_token'),
      subjectTokenType: required(params.subject_token_type, 'subject_token_type'),
      actorToken: params.actor_token,
      actorTokenType: params.actor_token_type,
      scope: params.scope === undefined ? undefined : parseScope(params.scope),
      audience: audienceOf(engine.allowedResources(client), oneAudience(body), resource),
      // RFC 9449 §5: DPoP applies to every grant: a proof binds the exchanged token too.
      jkt,
    }, by);
  },
};

/**
 * RFC 8693 §2.1: `audience` may be repeated, each naming a target; Tessera's access tokens have one
 * audience, so a request naming two is one the server cannot serve: invalid_target (§2.2.2), as
 * for two resources (rfc8707/resource.ts oneResource). Sent without a value: omitted.
 */
function oneAudience(body: URLSearchParams): string | undefined {
  const named = [...new Set(body.getAll('audience').filter((a) => a !== ''))];
  if (named.length > 1) throw new OAuthError('invalid_target', 'name at most one audience per token request: each access token has one audience');
  return named[0];
}

/**
 * RFC 8693 §2.1: `audience` names the target by a logical name, `resource` by its URI; Tessera's
 * audiences are the resources a client may ask for, so either names one of those, and both
 * together name the same one (an access token here has one audience).
 */
function audienceOf(allowed: ReadonlySet<string>, audience: string | undefined, resource: string | undefined): string | undefined {
  // RFC 8693 §2.2.2: a target the server will not issue a token for is invalid_target.
  if (audience !== undefined && !allowed.has(audience)) throw new OAuthError('invalid_target', 'the audience is not one this client may ask tokens for');
  if (audience !== undefined && resource !== undefined && audience !== resource) {
    throw new OAuthError('invalid_target', 'name one target: resource and audience differ, and each access token has one audience');
  }
  return resource ?? audience;
}
