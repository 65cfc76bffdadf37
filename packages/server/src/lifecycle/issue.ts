/**
 * Tokens issued straight from a grant: client credentials (RFC 6749 §4.4), the resource owner's
 * password (§4.3, legacy) and the implicit grant (§4.2, legacy). Codes are codes.ts, refresh is
 * rotate-refresh.ts.
 */
import { randomId } from '../secrets.js';
import type { ClientRecord, GrantRecord, SessionRecord, UserRecord } from '../store/types.js';
import type { Actor, EngineContext } from './context.js';
import { asChecked, credentialChanged, grantRevoked, SessionEnded, throughSession } from './credentials.js';
import { GRANT_CONFLICT, newGrant, widenedScope, withGrant } from './grants.js';
import { type Issued, issued, issuedEvent, mintAccess, mintRefresh, refreshBinding } from './mint.js';

/** A bound on remembered client grants, past which they are forgotten and looked up again. */
const CLIENT_GRANTS_MAX = 10_000;

/** RFC 6749 §4.4: client credentials get an access token only (§4.4.3: no refresh token); `jkt`: its DPoP key (RFC 9449) or null; `resource` its audience (RFC 8707). */
export async function issueClientCredentials(
  ctx: EngineContext, client: ClientRecord, scope: string, by: Actor, jkt: string | null = null, resource?: string,
): Promise<Issued> {
  // The client's own grant, remembered from its last token. The store checks in the write that
  // the grant is still live, so a grant revoked since (by any process) costs one retry, never a
  // token: the retry finds or creates the live grant as on a first request.
  const known = ctx.clientGrants.get(client.id);
  if (known) {
    const done = await clientCredentialsWith(ctx, client, scope, known, by, jkt, resource);
    // No conflict is possible here: an existing grant is not written.
    if (done && done !== GRANT_CONFLICT) return done;
    ctx.clientGrants.delete(client.id);
  }
  const done = await withGrant(ctx, client.id, null, (existing) => clientCredentialsWith(ctx, client, scope, existing, by, jkt, resource));
  if (!done) throw grantRevoked();
  return done;
}

/** Issues on `existing` (or on a new grant); undefined if the store found the grant revoked. */
async function clientCredentialsWith(
  ctx: EngineContext, client: ClientRecord, scope: string, existing: GrantRecord | undefined, by: Actor, jkt: string | null, resource: string | undefined,
): Promise<Issued | undefined | typeof GRANT_CONFLICT> {
  const now = ctx.now();
  // The client's own grant covers what it registered; each token carries what was asked for.
  const grant = existing ?? newGrant(client.id, null, client.scope, now);
  const access = await mintAccess(ctx, client, grant, null, null, null, scope, now, { audience: resource ?? null, jkt });
  const checked = asChecked(client);
  const stored = await ctx.store.issueTokens([access.record], [issuedEvent(access.record, by)], existing ? undefined : grant, checked);
  if (stored === 'credential-changed') throw credentialChanged(checked);
  if (stored === 'conflict') return GRANT_CONFLICT;
  if (stored === 'grant-revoked') return undefined;
  if (ctx.clientGrants.size >= CLIENT_GRANTS_MAX) ctx.clientGrants.clear();
  ctx.clientGrants.set(client.id, grant);
  return issued(access, undefined);
}

/**
 * RFC 6749 §4.3 (legacy): the resource owner's password, checked by the caller against `user`
 * as read then: the tokens are written only if the password (and the client's secret) did not
 * change meanwhile.
 */
export function issuePassword(
  ctx: EngineContext, client: ClientRecord, user: UserRecord, scope: string, by: Actor, jkt: string | null = null, resource?: string,
): Promise<Issued> {
  return withGrant(ctx, client.id, user.id, (existing) => passwordWith(ctx, client, user, scope, existing, by, jkt, resource));
}

async function passwordWith(
  ctx: EngineContext, client: ClientRecord, user: UserRecord, scope: string, existing: GrantRecord | undefined, by: Actor, jkt: string | null,
  resource: string | undefined,
): Promise<Issued | typeof GRANT_CONFLICT> {
  const now = ctx.now();
  const grantScope = widenedScope(existing, scope.split(' ').filter(Boolean));
  const grant: GrantRecord = existing ? { ...existing, scope: grantScope } : newGrant(client.id, user.id, grantScope, now);
  const family = randomId();
  const access = await mintAccess(ctx, client, grant, user, family, null, scope, now, { audience: resource ?? null, jkt });
  const refresh = client.grantTypes.includes('refresh_token') ? mintRefresh(ctx, client, grant, user.id, family, null, scope, now, null, refreshBinding(client, jkt)) : undefined;
  const records = refresh ? [access.record, refresh.record] : [access.record];
  const checked = asChecked(client, user);
  const stored = await ctx.store.issueTokens(records, records.map((r) => issuedEvent(r, by)), grant, checked);
  if (stored === 'credential-changed') throw credentialChanged(checked);
  if (stored === 'conflict') return GRANT_CONFLICT;
  if (stored === 'grant-revoked') throw grantRevoked();
  return issued(access, refresh);
}

/**
 * RFC 6749 §4.2 (legacy implicit): an access token straight from the authorization endpoint, to
 * the user signed in through `session`; throws SessionEnded, storing nothing, if it ended.
 */
export async function issueImplicit(
  ctx: EngineContext, client: ClientRecord, user: UserRecord, grant: GrantRecord, scope: string, by: Actor, session: SessionRecord, resource?: string,
): Promise<Issued> {
  const now = ctx.now();
  const access = await mintAccess(ctx, client, grant, user, null, null, scope, now, { audience: resource ?? null });
  const stored = await ctx.store.issueTokens([access.record], [issuedEvent(access.record, by)], undefined, throughSession(user, session));
  if (stored === 'credential-changed') throw new SessionEnded();
  if (stored === 'grant-revoked') throw grantRevoked();
  return issued(access, undefined);
}
