/**
 * Grants: one live grant per (client, user), found or created here, and widened by consent. Every
 * token belongs to a grant, so revoking the grant revokes them all.
 */
import { formatScope } from '@tessera/core';
import { randomId } from '../secrets.js';
import type { ClientRecord, GrantRecord, SessionRecord, UserRecord } from '../store/types.js';
import type { Actor, EngineContext } from './context.js';
import { SessionEnded, throughSession } from './credentials.js';

/** A new live grant of the client to the user (`userId` null: the client's own, for client_credentials). */
export const newGrant = (clientId: string, userId: string | null, scope: string, createdAt: number): GrantRecord =>
  ({ id: randomId(), clientId, userId, scope, createdAt, revokedAt: null });

/** The grant's scope with `scopes` added: consent widens a grant, never narrows it. */
export const widenedScope = (existing: GrantRecord | undefined, scopes: Iterable<string>): string =>
  formatScope(new Set([...(existing?.scope.split(' ').filter(Boolean) ?? []), ...scopes]));

/** The user's standing grant to the client, if it covers every requested scope. */
export async function consentCovers(ctx: EngineContext, client: ClientRecord, user: UserRecord, scopes: ReadonlySet<string>): Promise<GrantRecord | undefined> {
  const grant = await ctx.store.findGrant(client.id, user.id);
  if (!grant) return undefined;
  const granted = new Set(grant.scope.split(' '));
  for (const s of scopes) if (!granted.has(s)) return undefined;
  return grant;
}

/**
 * Records consent given through `session`: creates the grant or widens it to include the
 * scopes. Throws SessionEnded, storing nothing, if the session ended meanwhile.
 */
export function recordConsent(
  ctx: EngineContext, client: ClientRecord, user: UserRecord, scopes: ReadonlySet<string>, by: Actor, session: SessionRecord,
): Promise<GrantRecord> {
  return withGrant(ctx, client.id, user.id, (existing) => saveConsent(ctx, client, user, scopes, existing, by, session));
}

async function saveConsent(
  ctx: EngineContext, client: ClientRecord, user: UserRecord, scopes: ReadonlySet<string>, existing: GrantRecord | undefined, by: Actor, session: SessionRecord,
): Promise<GrantRecord> {
  const scope = widenedScope(existing, scopes);
  const grant: GrantRecord = existing ? { ...existing, scope } : newGrant(client.id, user.id, scope, ctx.now());
  const saved = await ctx.store.saveGrant(grant, [
    { event: existing ? 'grant.widened' : 'grant.created', ...by, clientId: client.id, userId: user.id, grantId: grant.id, data: { scope } },
  ], throughSession(user, session));
  if (saved === 'credential-changed') throw new SessionEnded();
  if (saved === 'conflict') throw new GrantConflict();
  return grant;
}

/**
 * Thrown by a `use` of withGrant whose new grant the store refused ('conflict'): another process
 * wrote the pair's live grant first. withGrant then runs `use` again with that grant.
 */
export class GrantConflict extends Error {
  constructor() {
    super('another process created the live grant of this client and user first');
  }
}

/**
 * Runs `use` with the live grant of (client, user), or with none, in which case `use` writes a
 * new one. Only one new grant per pair is written at a time: requests that find none while the
 * first is being written wait for it, then use it (otherwise concurrent first requests would
 * each create a grant, and revoking "the" grant would miss the others' tokens). Across processes
 * the store keeps the pair's live grant unique: a `use` that lost that race throws GrantConflict
 * and runs again with the winner's grant.
 */
export async function withGrant<T>(
  ctx: EngineContext, clientId: string, userId: string | null, use: (existing: GrantRecord | undefined) => Promise<T>,
): Promise<T> {
  const key = `${clientId} ${userId ?? ''}`;
  for (;;) {
    const pending = ctx.creatingGrant.get(key);
    if (pending) {
      await pending;
      continue;
    }
    const existing = await ctx.store.findGrant(clientId, userId);
    if (existing) return use(existing);
    // Another request may have started creating it while we looked.
    if (ctx.creatingGrant.has(key)) continue;
    const creating = use(undefined);
    const settled = creating.then(() => undefined, () => undefined);
    ctx.creatingGrant.set(key, settled);
    try {
      return await creating;
    } catch (err) {
      if (err instanceof GrantConflict) continue;
      throw err;
    } finally {
      ctx.creatingGrant.delete(key);
    }
  }
}
