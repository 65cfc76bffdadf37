/**
 * Admin tokens: the credentials of the admin API (`tessera admin token create`). Made like an
 * opaque token (secrets.secretFor: the row's id, then 256 random bits), returned once, stored as
 * a SHA-256 and compared in constant time; audited by name, never by value.
 */
import { hashesEqual, hashSecret, idInSecret, randomId, secretFor } from '../secrets.js';
import type { AdminTokenRecord } from '../store/types.js';
import type { Actor, EngineContext } from './context.js';
import { PREFIX } from './mint.js';

export interface NewAdminToken {
  name: string;
  readOnly: boolean;
  /** Null: it never expires. */
  expiresAt: number | null;
}

/** The actor of everything done with an admin token: its name, never its value. */
export const adminActor = (token: Pick<AdminTokenRecord, 'name'>): string => `admin:${token.name}`;

/** A new admin token, returned once with its record; undefined (nothing stored) when the name is taken. */
export async function createAdminToken(ctx: EngineContext, input: NewAdminToken, by: Actor): Promise<{ value: string; token: AdminTokenRecord } | undefined> {
  const id = randomId();
  const value = secretFor(PREFIX.admin, id);
  const token: AdminTokenRecord = { id, name: input.name, hash: hashSecret(value), readOnly: input.readOnly, createdAt: ctx.now(), expiresAt: input.expiresAt, revokedAt: null };
  const audit = { event: 'admin_token.created', ...by, data: { name: token.name, read_only: token.readOnly, expires_at: token.expiresAt } };
  return (await ctx.store.createAdminToken(token, [audit])) === 'created' ? { value, token } : undefined;
}

/** The live admin token a presented value is: found by the id it carries, its hash compared in constant time. */
export async function adminTokenFor(ctx: EngineContext, value: string): Promise<AdminTokenRecord | undefined> {
  const id = value.startsWith(PREFIX.admin) ? idInSecret(value) : undefined;
  const token = id === undefined ? undefined : await liveAdminToken(ctx, id);
  return token && hashesEqual(hashSecret(value), token.hash) ? token : undefined;
}

/** The admin token with this id if it is live (unrevoked, unexpired): a console session checks its token so on every request. */
export async function liveAdminToken(ctx: EngineContext, id: string): Promise<AdminTokenRecord | undefined> {
  const token = await ctx.store.getAdminToken(id);
  if (!token || token.revokedAt !== null || (token.expiresAt !== null && token.expiresAt <= ctx.now())) return undefined;
  return token;
}

/** Revokes an admin token named by its name or id; false if there is none live. */
export async function revokeAdminToken(ctx: EngineContext, nameOrId: string, by: Actor): Promise<AdminTokenRecord | undefined> {
  const token = (await ctx.store.listAdminTokens()).find((t) => t.name === nameOrId || t.id === nameOrId);
  if (!token || token.revokedAt !== null) return undefined;
  const audit = { event: 'admin_token.revoked', ...by, data: { name: token.name } };
  return (await ctx.store.revokeAdminToken(token.id, ctx.now(), [audit])) ? token : undefined;
}
