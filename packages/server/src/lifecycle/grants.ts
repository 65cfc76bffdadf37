/**
 * Grants: one live grant per (client, user), found or created here, and widened by consent. Every
 * token belongs to a grant, so revoking the grant revokes them all.
 */
import { formatScope, isSubset } from '@tessera/core';
import { randomId } from '../secrets.js';
import type { AuditInput, ClientRecord, GrantRecord, SessionRecord, UserRecord } from '../store/types.js';
import type { Actor, EngineContext } from './context.js';
import { grantRevoked, SessionEnded, throughSession } from './credentials.js';

/** A new live grant of the client to the user (`userId` null: the client's own, for client_credentials). */
export const newGrant = (clientId: string, userId: string | null, scope: string, createdAt: number, resources: string[] = []): GrantRecord =>
  ({ id: randomId(), clientId, userId, scope, resources, createdAt, revokedAt: null });

/** The grant's resources (RFC 8707) with `resources` added, in the order first authorized. */
const widenedResources = (existing: GrantRecord | undefined, resources: Iterable<string>): string[] =>
  [...new Set([...(existing?.resources ?? []), ...resources])];

/** The grant's scope with `scopes` added: consent widens a grant, never narrows it. */
export const widenedScope = (existing: GrantRecord | undefined, scopes: Iterable<string>): string =>
  formatScope(new Set([...(existing?.scope.split(' ').filter(Boolean) ?? []), ...scopes]));

/** The user's standing grant to the client, if it covers every requested scope and resource (RFC 8707). */
export async function consentCovers(
  ctx: EngineContext, client: ClientRecord, user: UserRecord, scopes: ReadonlySet<string>, resources: readonly string[] = [],
): Promise<GrantRecord | undefined> {
  const grant = await ctx.store.findGrant(client.id, user.id);
  if (!grant) return undefined;
  return isSubset(scopes, new Set(grant.scope.split(' '))) && isSubset(resources, new Set(grant.resources)) ? grant : undefined;
}

/**
 * Records consent given through `session`: creates the grant or widens it to include the
 * scopes and resources. Throws SessionEnded, storing nothing, if the session ended meanwhile.
 */
export function recordConsent(
  ctx: EngineContext, client: ClientRecord, user: UserRecord, scopes: ReadonlySet<string>, by: Actor, session: SessionRecord, resources: readonly string[] = [],
): Promise<GrantRecord> {
  return withGrant(ctx, client.id, user.id, (existing) => saveConsent(ctx, client, user, scopes, resources, existing, by, session));
}

/**
 * Consent to `scopes` given on top of the pair's live grant `existing` (none: a new grant): the
 * grant as it is to be stored, widened, and the audit record of the change, for the caller to
 * write in one transaction (saveGrant, or decideDeviceCode with a device approval).
 */
export function consentGrant(
  ctx: EngineContext, client: ClientRecord, user: UserRecord, scopes: ReadonlySet<string>, existing: GrantRecord | undefined, by: Actor,
  resources: readonly string[] = [],
): { grant: GrantRecord; audit: AuditInput } {
  const scope = widenedScope(existing, scopes);
  const all = widenedResources(existing, resources);
  const grant: GrantRecord = existing ? { ...existing, scope, resources: all } : newGrant(client.id, user.id, scope, ctx.now(), all);
  const data = { scope, ...(all.length === 0 ? {} : { resources: all }) };
  return { grant, audit: { event: existing ? 'grant.widened' : 'grant.created', ...by, clientId: client.id, userId: user.id, grantId: grant.id, data } };
}

async function saveConsent(
  ctx: EngineContext, client: ClientRecord, user: UserRecord, scopes: ReadonlySet<string>, resources: readonly string[], existing: GrantRecord | undefined, by: Actor,
  session: SessionRecord,
): Promise<GrantRecord | typeof GRANT_CONFLICT> {
  const { grant, audit } = consentGrant(ctx, client, user, scopes, existing, by, resources);
  const saved = await ctx.store.saveGrant(grant, [audit], throughSession(user, session));
  if (saved === 'credential-changed') throw new SessionEnded();
  if (saved === 'conflict') return GRANT_CONFLICT;
  return grant;
}

/** What a write of a new grant answers when its (client, user) pair got a live grant first (withGrant). */
export const GRANT_CONFLICT = Symbol('grant conflict');
/** How often withGrant looks again for the pair's grant after a conflict before giving up. */
const GRANT_ATTEMPTS = 5;

/**
 * Runs `use` with the live grant of (client, user), or with none, in which case `use` writes a
 * new one. The store keeps one live grant per pair (a second one would escape revoking "the"
 * grant): when a concurrent request, in any process, wrote the pair's grant first (or revoked the
 * one `use` was given), `use` answers GRANT_CONFLICT, having stored nothing, and runs again with
 * the grant that is live now.
 */
export async function withGrant<T>(
  ctx: EngineContext, clientId: string, userId: string | null, use: (existing: GrantRecord | undefined) => Promise<T | typeof GRANT_CONFLICT>,
): Promise<T> {
  for (let attempt = 0; attempt < GRANT_ATTEMPTS; attempt++) {
    const result = await use(await ctx.store.findGrant(clientId, userId));
    if (result !== GRANT_CONFLICT) return result;
  }
  // Each winner was revoked before we could find it: give up as on a revoked grant.
  throw grantRevoked();
}
