/**
 * Token exchange (RFC 8693): a client trades an access token Tessera issued (the subject token)
 * for a new access token, for the same subject, another audience and at most the same scope;
 * with an actor token, the new token says who acts for the subject (§4.1 `act`).
 *
 * Policy (README "Token exchange (RFC 8693)"): the client must be registered for the grant type
 * (operators only: /register refuses it) and confidential. It may exchange a token issued to
 * itself, or one whose audience is among its exchange audiences (`client create
 * --exchange-audience`): a resource server exchanging a token sent to it. Its resources (`client
 * create --resource`) only say which audiences it may ask the new token for, as in any token
 * request: being allowed to call an API never lets a client exchange every token sent to that API.
 * An actor token must be one issued to the exchanging client itself. The new token belongs to the
 * subject token's grant and family, so revoking either (or the user) revokes it, and it never
 * outlives the subject token.
 */
import { formatScope, isSubset, OAuthError, parseScope } from '@tessera/core';
import type { Act } from '../rfc9068/access-token.js';
import type { ClientRecord, TokenRecord } from '../store/types.js';
import type { Actor, EngineContext } from './context.js';
import { asChecked, credentialChanged } from './credentials.js';
import { findToken, subjectOf } from './find-token.js';
import { type Issued, issued, issuedEvent, mintAccess } from './mint.js';

/** RFC 8693 §3: the token type identifiers Tessera takes and issues. */
export const TOKEN_TYPES = {
  accessToken: 'urn:ietf:params:oauth:token-type:access_token',
  /** RFC 8693 §3: a JWT; Tessera's JWT access tokens are exchanged under it too. */
  jwt: 'urn:ietf:params:oauth:token-type:jwt',
} as const;

/** One exchange as the token endpoint read it. */
export interface ExchangeRequest {
  subjectToken: string;
  subjectTokenType: string;
  actorToken?: string | undefined;
  actorTokenType?: string | undefined;
  /** The scope asked for (RFC 8693 §2.1); none: the subject token's, within the client's. */
  scope?: ReadonlySet<string> | undefined;
  /** The one resource or audience (RFC 8707, RFC 8693 §2.1) the new token is for, allowed for the client; none: the default audience. */
  audience?: string | undefined;
  /** The DPoP key (RFC 9449) of the request's proof, which the new token is bound to; null: a bearer token. */
  jkt: string | null;
}

/**
 * RFC 8693 §2.2.2: a subject or actor token that is invalid for any reason, or unacceptable by
 * policy, is answered invalid_request (not invalid_grant).
 */
const refused = (description: string) => new OAuthError('invalid_request', description);

/** The live access token a presented value is, of the type the request says; throws invalid_request. */
async function liveAccessToken(ctx: EngineContext, value: string, type: string, name: 'subject_token' | 'actor_token'): Promise<TokenRecord> {
  if (type !== TOKEN_TYPES.accessToken && type !== TOKEN_TYPES.jwt) {
    throw refused(`${name}_type must be ${TOKEN_TYPES.accessToken} or ${TOKEN_TYPES.jwt}: this server exchanges the access tokens it issued`);
  }
  const token = await findToken(ctx, value);
  // Refresh tokens are never exchanged: one would outlive the access it stands for.
  if (token?.kind !== 'access') throw refused(`${name} is not an access token issued by this server`);
  if (type === TOKEN_TYPES.jwt && token.format !== 'jwt') throw refused(`${name} is not a JWT; name its type ${TOKEN_TYPES.accessToken}`);
  if (token.revokedAt !== null || token.expiresAt <= ctx.now()) throw refused(`${name} has expired or was revoked`);
  return token;
}

/** RFC 8693 §2.1–2.2: the exchange, issued on the subject token's grant and family and audited in the same write. */
export async function exchangeToken(ctx: EngineContext, client: ClientRecord, request: ExchangeRequest, by: Actor): Promise<Issued> {
  const subject = await liveAccessToken(ctx, request.subjectToken, request.subjectTokenType, 'subject_token');
  // A token issued to this client, or one sent to an audience this client may exchange tokens of
  // (never merely one of its resources, which it may only ask tokens for).
  const mayExchange = subject.clientId === client.id || (subject.audience !== null && client.exchangeAudiences.includes(subject.audience));
  if (!mayExchange) throw refused('this client may not exchange the subject_token: it was issued to another client, for an audience that is not among this client\'s exchange audiences');
  // RFC 9449 §1, §7.2: a DPoP-bound token is of use only with its key. Exchanged without a proof of
  // that key, it would come back as a bearer token (or bound to another key) and the binding would be lost.
  if (subject.dpopJkt !== null && request.jkt !== subject.dpopJkt) throw refused('the subject_token is DPoP-bound: send a DPoP proof of its key');

  // RFC 8693 §2.1: actor_token_type is REQUIRED with actor_token and MUST NOT be sent without it.
  if ((request.actorToken === undefined) !== (request.actorTokenType === undefined)) throw refused('actor_token and actor_token_type go together');
  let actor: TokenRecord | undefined;
  if (request.actorToken !== undefined && request.actorTokenType !== undefined) {
    actor = await liveAccessToken(ctx, request.actorToken, request.actorTokenType, 'actor_token');
    // The client names itself (or a user of its own) as the actor, never another client.
    if (actor.clientId !== client.id) throw refused('the actor_token must have been issued to this client');
    // And on a grant of this client: a token it exchanged from another client's (a user's sent to
    // it, say) is issued to it too, but its subject never signed in to it, so it names no actor here.
    if ((await ctx.store.getGrant(actor.grantId))?.clientId !== client.id) {
      throw refused('the actor_token must stand for this client or a user signed in to it, not a token it exchanged');
    }
    if (actor.dpopJkt !== null && request.jkt !== actor.dpopJkt) throw refused('the actor_token is DPoP-bound: send a DPoP proof of its key');
  }

  // RFC 8693 §2.1 scope: within the subject token's (§1.1: a token exchange never widens access),
  // and within the client's registered scopes.
  const subjectScopes = parseScope(subject.scope);
  const registered = parseScope(client.scope);
  if (request.scope !== undefined && !isSubset(request.scope, subjectScopes)) throw new OAuthError('invalid_scope', 'the requested scope exceeds the subject token\'s');
  if (request.scope !== undefined && !isSubset(request.scope, registered)) throw new OAuthError('invalid_scope', 'the requested scope exceeds the scopes registered for this client');
  const scopes = [...(request.scope ?? subjectScopes)].filter((s) => registered.has(s));
  if (scopes.length === 0) throw new OAuthError('invalid_scope', 'none of the subject token\'s scopes is registered for this client');
  const scope = formatScope(scopes);

  const [grant, user] = await Promise.all([
    ctx.store.getGrant(subject.grantId),
    subject.userId === null ? undefined : ctx.store.getUser(subject.userId),
  ]);
  if (!grant || grant.revokedAt !== null || (subject.userId !== null && !user)) throw refused('subject_token has expired or was revoked');
  // RFC 8707 §2.2: a token on a user's grant to this very client reaches only the resources the user
  // authorized, as its refresh would (rotate-refresh.ts); exchanging it is no way around the consent.
  // A token sent to this client from another client's grant is what exchange is for, and goes on.
  if (request.audience !== undefined && grant.clientId === client.id && grant.userId !== null && !grant.resources.includes(request.audience)) {
    throw new OAuthError('invalid_target', 'the user did not authorize this resource for this client');
  }

  // RFC 8693 §4.1: the actor, with the earlier actors of a delegated subject token nested in it;
  // impersonation keeps the subject token's own act, so no chain of delegation is lost.
  const earlier = subject.act === null ? undefined : (JSON.parse(subject.act) as Act);
  const act: Act | null = actor
    ? { sub: await subjectOf(ctx, actor), client_id: actor.clientId, ...(earlier ? { act: earlier } : {}) }
    : (earlier ?? null);
  const now = ctx.now();
  const access = await mintAccess(ctx, client, grant, user ?? null, subject.familyId, null, scope, now, {
    audience: request.audience ?? null, act, exchangedFrom: subject.id, notAfter: subject.expiresAt, jkt: request.jkt,
  });
  // No token value in the audit log: the tokens by id.
  const event = {
    event: 'token.exchanged', ...by, clientId: client.id, userId: subject.userId, grantId: grant.id, tokenId: access.record.id,
    data: {
      subject: subject.id, subject_client: subject.clientId, ...(actor ? { actor: actor.id } : {}), scope,
      ...(request.audience === undefined ? {} : { aud: request.audience }),
    },
  };
  const checked = asChecked(client);
  // On the subject's grant, which the store checks is still live at the commit.
  const stored = await ctx.store.issueTokens([access.record], [event, issuedEvent(access.record, by)], undefined, checked);
  if (stored === 'credential-changed') throw credentialChanged(checked);
  if (stored !== 'issued') throw refused('subject_token has expired or was revoked');
  // RFC 8693 §2.2.1: no refresh token; the issued type is an access token (a JWT one too).
  return { ...issued(access, undefined), issuedTokenType: TOKEN_TYPES.accessToken };
}
