/**
 * RFC 6749 §6 with rotation (RFC 9700 §4.14.2): a refresh token is consumed and a new pair issued;
 * a consumed token presented again (past the grace period) revokes its whole family.
 */
import { OAuthError, formatScope, isSubset } from '@tessera/core';
import type { ClientRecord, TokenRecord } from '../store/types.js';
import type { Actor, EngineContext } from './context.js';
import { asChecked, credentialChanged, grantRevoked } from './credentials.js';
import { findToken } from './find-token.js';
import { type Issued, isOpenId, issued, mintAccess, mintRefresh, refreshBinding, rotatedEvent } from './mint.js';
import { revoke } from './revoke.js';

/** `jkt`: the token request's DPoP key (RFC 9449), or null; a bound refresh token needs its own key. */
export async function rotateRefresh(
  ctx: EngineContext, client: ClientRecord, value: string, requested: ReadonlySet<string> | undefined, by: Actor, jkt: string | null = null, resource?: string,
): Promise<Issued> {
  const old = await findToken(ctx, value);
  const now = ctx.now();
  if (old?.kind !== 'refresh' || old.clientId !== client.id) throw new OAuthError('invalid_grant', 'refresh token is invalid');
  if (old.revokedAt !== null) throw new OAuthError('invalid_grant', 'refresh token was revoked');
  // RFC 9449 §5: a refresh token bound to a DPoP key (a public client's) is used with a proof of that key;
  // checked before reuse detection, so a stolen bound token without its key cannot revoke the family.
  if (old.dpopJkt !== null && old.dpopJkt !== jkt) {
    throw new OAuthError('invalid_dpop_proof', jkt === null ? 'the refresh token is DPoP-bound: send a DPoP proof of its key' : 'the DPoP proof is not of the key the refresh token is bound to');
  }
  const graceSince = ctx.config.refreshReuseGrace > 0 ? now - ctx.config.refreshReuseGrace * 1000 : null;
  if (old.consumedAt !== null && (graceSince === null || old.consumedAt < graceSince)) return refreshReused(ctx, old, by);
  if (old.expiresAt <= now) throw new OAuthError('invalid_grant', 'refresh token has expired');

  // RFC 6749 §6: the requested scope MUST NOT include any scope not originally granted.
  if (requested && !isSubset(requested, new Set(old.scope.split(' ').filter(Boolean)))) {
    throw new OAuthError('invalid_scope', 'the requested scope exceeds the scope originally granted');
  }
  // A client whose registered scopes were narrowed since (`client update`) gets access tokens
  // within its scopes as they are now; the refresh token keeps its own (RFC 6749 §6: identical).
  const registered = new Set(client.scope.split(' ').filter(Boolean));
  const within = [...(requested ?? old.scope.split(' ').filter(Boolean))].filter((s) => registered.has(s));
  if (within.length === 0) throw new OAuthError('invalid_scope', 'none of the granted scopes is still registered for this client');
  const accessScope = formatScope(new Set(within));

  const [grant, user] = await Promise.all([
    ctx.store.getGrant(old.grantId),
    old.userId === null ? undefined : ctx.store.getUser(old.userId),
  ]);
  if (!grant || grant.revokedAt !== null || (old.userId !== null && !user)) throw new OAuthError('invalid_grant', 'the grant was revoked');
  // RFC 8707 §2.2: a refresh may ask an access token for any resource the grant was authorized
  // for (downscoping to it), never one outside them.
  if (resource !== undefined && !grant.resources.includes(resource)) throw new OAuthError('invalid_target', 'the resource was not authorized for this grant');
  const access = await mintAccess(ctx, client, grant, user ?? null, old.familyId, old.id, accessScope, now, { audience: resource ?? null, jkt });
  // RFC 6749 §6: a new refresh token keeps the scope of the one it replaces; it keeps the sign-in
  // time too, for the id_token of every later refresh (OpenID Connect Core §12.2); a bound one keeps its key.
  const refresh = mintRefresh(ctx, client, grant, old.userId, old.familyId, old.id, old.scope, now, old.authTime, refreshBinding(client, jkt));
  const checked = asChecked(client);
  // The audit record says whether the token was unconsumed when claimed, so each claim asks for
  // exactly that: unconsumed first (as read), then, if a concurrent request consumed it meanwhile,
  // again as a retry within the grace period (RFC 9700 §4.14.2's benign retry).
  const claim = async (inGrace: boolean) =>
    ctx.store.rotateRefresh(old.id, now, inGrace ? graceSince : null, [access.record, refresh.record], [rotatedEvent(old, access.record, refresh.record, inGrace, by)], checked);
  let claimed = await claim(old.consumedAt !== null);
  if (claimed === 'already-used' && old.consumedAt === null && graceSince !== null) claimed = await claim(true);
  if (claimed === 'credential-changed') throw credentialChanged(checked);
  if (claimed === 'grant-revoked') throw grantRevoked();
  if (claimed === 'already-used') return refreshReused(ctx, old, by);
  const done = issued(access, refresh);
  // OpenID Connect Core §12.2: a refresh of an openid authorization may return a new id_token. Its
  // auth_time MUST be the original authentication's (omitted when the token predates keeping it);
  // it SHOULD NOT have a nonce, even when the original id_token had one.
  if (old.userId !== null && isOpenId(accessScope)) done.authentication = { userId: old.userId, authTime: old.authTime, nonce: null };
  return done;
}

/** RFC 9700 §4.14.2: a refresh token used twice revokes its family. */
async function refreshReused(ctx: EngineContext, old: TokenRecord, by: Actor): Promise<never> {
  const reason = 'refresh token reused';
  await revoke(ctx, { family: old.familyId, grant: old.grantId }, { ...by, reason }, {
    event: 'token.reuse_detected', ...by, reason, clientId: old.clientId, userId: old.userId, grantId: old.grantId, tokenId: old.id, data: { family: old.familyId },
  });
  throw new OAuthError('invalid_grant', 'refresh token was already used');
}
