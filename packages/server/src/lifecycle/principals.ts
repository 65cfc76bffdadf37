/**
 * Clients and users: created, changed and deleted with an audit record in the same write. A
 * deletion or a password change revokes what the principal held, atomically, then tells
 * subscribers.
 */
import { hashesEqual, hashPassword, hashSecret, randomId, randomSecret } from '../secrets.js';
import type { ClientRecord, RevocationResult, UserProfile, UserRecord } from '../store/types.js';
import type { Actor, EngineContext } from './context.js';
import { PREFIX } from './mint.js';

/** What a new client is registered with; the engine adds its id, secret and creation time. */
export type NewClient = Omit<ClientRecord, 'id' | 'secretHash' | 'createdAt' | 'postLogoutRedirectUris'> & { postLogoutRedirectUris?: string[] };

/** Creates a client; the secret (≥ 256 bits, generated here) is returned once and stored hashed. */
export async function createClient(ctx: EngineContext, input: NewClient, by: Actor): Promise<{ client: ClientRecord; secret?: string }> {
  const secret = input.authMethod === 'none' ? undefined : randomSecret(PREFIX.clientSecret);
  const client: ClientRecord = {
    ...input,
    postLogoutRedirectUris: input.postLogoutRedirectUris ?? [],
    id: randomId(),
    secretHash: secret === undefined ? null : hashSecret(secret),
    createdAt: ctx.now(),
  };
  await ctx.store.createClient(client, { event: 'client.created', ...by, clientId: client.id, data: { name: client.name } });
  return secret === undefined ? { client } : { client, secret };
}

/**
 * Gives a confidential client a new secret, returned once and stored hashed. The old one stops
 * working at the commit, also for requests checked with it and still in flight (their writes
 * are conditional on it); tokens already issued stay valid (`token revoke --client` ends them).
 */
export async function rotateClientSecret(ctx: EngineContext, id: string, by: Actor): Promise<string | undefined> {
  const secret = randomSecret(PREFIX.clientSecret);
  const done = await ctx.store.setClientSecret(id, hashSecret(secret), [{ event: 'client.secret_rotated', ...by, clientId: id }]);
  return done ? secret : undefined;
}

export async function deleteClient(ctx: EngineContext, id: string, by: Actor): Promise<RevocationResult | undefined> {
  const at = ctx.now();
  const result = await ctx.store.deleteClient(id, at, [
    { event: 'client.deleted', ...by, clientId: id },
    { event: 'token.revoked', ...by, clientId: id, reason: by.reason ?? 'client deleted' },
  ]);
  if (result) ctx.emitRevoked({ client: id }, result, at, by.reason ?? 'client deleted');
  return result;
}

/** Constant-time check of a client secret against its stored SHA-256. */
export function clientSecretMatches(client: ClientRecord, secret: string): boolean {
  return client.secretHash !== null && hashesEqual(hashSecret(secret), client.secretHash);
}

/** No profile: OpenID Connect claims absent, email not verified. */
export const NO_PROFILE: UserProfile = { name: null, email: null, emailVerified: false };

export async function createUser(ctx: EngineContext, username: string, password: string, by: Actor, profile: UserProfile = NO_PROFILE): Promise<UserRecord> {
  const user: UserRecord = { id: randomId(), username, passwordHash: await hashPassword(password), ...profile, createdAt: ctx.now() };
  await ctx.store.createUser(user, { event: 'user.created', ...by, userId: user.id, data: profileAudit(NO_PROFILE, profile) });
  return user;
}

/**
 * Replaces a user's OpenID Connect profile; false if there is no such user. Audited with the names
 * of the fields that changed, not their values (personal data stays out of the log).
 */
export async function setUserProfile(ctx: EngineContext, user: UserRecord, profile: UserProfile, by: Actor): Promise<boolean> {
  return ctx.store.setUserProfile(user.id, profile, [{ event: 'user.updated', ...by, userId: user.id, data: profileAudit(user, profile) }]);
}

function profileAudit(before: UserProfile, after: UserProfile): { changed: string[] } {
  const changed: string[] = [];
  if (before.name !== after.name) changed.push('name');
  if (before.email !== after.email) changed.push('email');
  if (before.emailVerified !== after.emailVerified) changed.push('email_verified');
  return { changed };
}

export async function deleteUser(ctx: EngineContext, id: string, by: Actor): Promise<RevocationResult | undefined> {
  const at = ctx.now();
  const result = await ctx.store.deleteUser(id, at, [
    { event: 'user.deleted', ...by, userId: id },
    { event: 'token.revoked', ...by, userId: id, reason: by.reason ?? 'user deleted' },
  ]);
  if (result) ctx.emitRevoked({ user: id }, result, at, by.reason ?? 'user deleted');
  return result;
}

/** A password change revokes the user's grants: sessions on other devices must log in again. */
export async function setPassword(ctx: EngineContext, id: string, password: string, by: Actor): Promise<RevocationResult | undefined> {
  const at = ctx.now();
  const result = await ctx.store.setPassword(id, await hashPassword(password), at, [
    { event: 'user.password_changed', ...by, userId: id },
    { event: 'token.revoked', ...by, userId: id, reason: by.reason ?? 'password changed' },
  ]);
  if (result) ctx.emitRevoked({ user: id }, result, at, by.reason ?? 'password changed');
  return result;
}
