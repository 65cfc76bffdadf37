/**
 * Authorization codes (RFC 6749 §4.1): issued single-use to a signed-in user, redeemed once for
 * tokens; a code presented again revokes what it produced.
 */
import { OAuthError } from '@tessera/core';
import { hashSecret, idInSecret, randomId, secretFor } from '../secrets.js';
import type { ClientRecord, CodeRecord, GrantRecord, SessionRecord, UserRecord } from '../store/types.js';
import type { Actor, EngineContext } from './context.js';
import { asChecked, credentialChanged, grantRevoked, SessionEnded, throughSession } from './credentials.js';
import { rowFor } from './find-token.js';
import { type Issued, isOpenId, issued, mintForUser, PREFIX } from './mint.js';
import { revoke } from './revoke.js';

/** What the authorization request asked a code to carry. */
export interface CodeParams {
  scope: string;
  /** RFC 8707 §2.1: the resources the request named, which the token request may narrow to one of. */
  resources: string[];
  redirectUri: string;
  codeChallenge: string | null;
  codeChallengeMethod: 'S256' | 'plain' | null;
  /** OpenID Connect Core §3.1.2.1: echoed in the id_token. */
  nonce: string | null;
  /** RFC 9449 §10: the request's dpop_jkt (or the key of the proof at PAR), or null. */
  dpopJkt: string | null;
}

/**
 * Issues a single-use authorization code (RFC 6749 §4.1.2), living ≤ config.codeTtl seconds, to
 * the user signed in through `session`; throws SessionEnded, storing nothing, if it ended.
 */
export async function issueCode(
  ctx: EngineContext, client: ClientRecord, user: UserRecord, grant: GrantRecord, params: CodeParams, by: Actor, session: SessionRecord,
): Promise<string> {
  const id = randomId();
  const value = secretFor(PREFIX.code, id);
  const now = ctx.now();
  const code: CodeRecord = {
    id,
    hash: hashSecret(value),
    grantId: grant.id,
    clientId: client.id,
    userId: user.id,
    scope: params.scope,
    resources: params.resources,
    redirectUri: params.redirectUri,
    codeChallenge: params.codeChallenge,
    codeChallengeMethod: params.codeChallengeMethod,
    nonce: params.nonce,
    // OpenID Connect Core §2 auth_time: when the user signed in, which is when the session began.
    authTime: session.createdAt,
    issuedAt: now,
    expiresAt: now + ctx.config.codeTtl * 1000,
    redeemedAt: null,
    dpopJkt: params.dpopJkt,
  };
  const created = await ctx.store.createCode(code, [
    { event: 'code.issued', ...by, clientId: client.id, userId: user.id, grantId: grant.id, tokenId: code.id },
  ], throughSession(user, session));
  if (created === 'credential-changed') throw new SessionEnded();
  return value;
}

/**
 * Redeems a code for tokens. `check` applies the protocol's checks (redirect_uri, PKCE, the DPoP
 * key) to the code before it is spent; `jkt` is the token request's DPoP key (RFC 9449), or null.
 */
export async function redeemCode(
  ctx: EngineContext, client: ClientRecord, value: string, check: (code: CodeRecord) => void, by: Actor, jkt: string | null = null, resource?: string,
): Promise<Issued> {
  const code = await rowFor(value, idInSecret(value), (id) => ctx.store.getCode(id));
  const now = ctx.now();
  // RFC 6749 §4.1.3: the code must have been issued to this client.
  if (!code || code.clientId !== client.id) throw new OAuthError('invalid_grant', 'authorization code is invalid');
  if (code.redeemedAt !== null) return codeReplayed(ctx, code, by);
  if (code.expiresAt <= now) throw new OAuthError('invalid_grant', 'authorization code has expired');
  check(code);
  // RFC 8707 §2.2: the token request may narrow to a resource the authorization request named, never another.
  if (resource !== undefined && !code.resources.includes(resource)) {
    throw new OAuthError('invalid_target', 'the resource was not named in the authorization request');
  }
  const [grant, user] = await Promise.all([ctx.store.getGrant(code.grantId), ctx.store.getUser(code.userId)]);
  if (!grant || grant.revokedAt !== null || !user) throw new OAuthError('invalid_grant', 'the grant behind this code was revoked');
  // One family per code, named by it: a replay of the code revokes what it produced.
  // The refresh token keeps the sign-in time: its refreshes' id_tokens carry it (OIDC Core §12.2).
  const { access, refresh, records, audit } = await mintForUser(ctx, client, grant, user, code.id, code.scope, now, code.authTime,
    { event: 'code.redeemed', ...by, clientId: client.id, userId: user.id, grantId: grant.id, tokenId: code.id }, by, jkt, resource ?? null);
  const checked = asChecked(client);
  const claim = await ctx.store.redeemCode(code.id, now, records, audit, checked);
  if (claim === 'credential-changed') throw credentialChanged(checked);
  if (claim === 'grant-revoked') throw grantRevoked();
  if (claim === 'already-used') return codeReplayed(ctx, code, by);
  const done = issued(access, refresh);
  if (isOpenId(code.scope)) done.authentication = { userId: user.id, authTime: code.authTime, nonce: code.nonce };
  return done;
}

/** RFC 6749 §4.1.2: a code used twice is refused, and the tokens issued from it are revoked. */
async function codeReplayed(ctx: EngineContext, code: CodeRecord, by: Actor): Promise<never> {
  const reason = 'authorization code replayed';
  // The detection record carries the reason too: an auditor reads it on its own.
  await revoke(ctx, { family: code.id, grant: code.grantId }, { ...by, reason }, {
    event: 'code.replayed', ...by, reason, clientId: code.clientId, userId: code.userId, grantId: code.grantId, tokenId: code.id,
  });
  throw new OAuthError('invalid_grant', 'authorization code was already used');
}
