/**
 * Clients and users: created, changed and deleted with an audit record in the same write. A
 * deletion or a password change revokes what the principal held, atomically, then tells
 * subscribers.
 */
import { hashesEqual, hashPassword, hashSecret, openSealedSecret, randomId, randomSecret, sealSecret } from '../secrets.js';
import type { ClientChanges, ClientRecord, RevocationResult, UserProfile, UserRecord } from '../store/types.js';
import type { Actor, EngineContext } from './context.js';
import { PREFIX } from './mint.js';

/** What a new client is registered with; the engine adds its id, secret and creation time. */
export type NewClient = Omit<ClientRecord, 'id' | 'secretHash' | 'previousSecretHash' | 'previousSecretExpiresAt' | 'createdAt' | 'jwks' | 'jwksUri' | 'sealedSecret'
  | 'postLogoutRedirectUris' | 'registrationTokenHash' | 'idTokenSignedResponseAlg' | 'dpopBoundAccessTokens' | 'resources' | 'exchangeAudiences'>
  & Partial<Pick<ClientRecord, 'jwks' | 'jwksUri' | 'postLogoutRedirectUris' | 'registrationTokenHash' | 'idTokenSignedResponseAlg' | 'dpopBoundAccessTokens' | 'resources' | 'exchangeAudiences'>>;

/** Methods that authenticate with a client_secret Tessera generates (and stores hashed). */
const SECRET_METHODS: ReadonlySet<ClientRecord['authMethod']> = new Set(['client_secret_basic', 'client_secret_post', 'client_secret_jwt']);

/** Creates a client; the secret (≥ 256 bits, generated here) is returned once and stored hashed. */
export async function createClient(ctx: EngineContext, input: NewClient, by: Actor): Promise<{ client: ClientRecord; secret?: string }> {
  const made = newClient(ctx, input);
  await ctx.store.createClient(made.client, createdAudit(made.client, by));
  return made;
}

/** The audit record of a new client: its name, and whether it registered itself (RFC 7591). */
export function createdAudit(client: ClientRecord, by: Actor, data: Record<string, unknown> = {}) {
  return { event: 'client.created', ...by, clientId: client.id, data: { name: client.name, ...data } };
}

/** A new client's record, with its id and secret (returned once, stored as a hash); not stored yet. */
export function newClient(ctx: EngineContext, input: NewClient): { client: ClientRecord; secret?: string } {
  const secret = SECRET_METHODS.has(input.authMethod) ? randomSecret(PREFIX.clientSecret) : undefined;
  const id = randomId();
  const client: ClientRecord = {
    ...input,
    jwks: input.jwks ?? null,
    jwksUri: input.jwksUri ?? null,
    registrationTokenHash: input.registrationTokenHash ?? null,
    sealedSecret: input.authMethod === 'client_secret_jwt' && secret !== undefined ? sealSecret(sealingKeyOf(ctx), secret, id) : null,
    postLogoutRedirectUris: input.postLogoutRedirectUris ?? [],
    resources: input.resources ?? [],
    exchangeAudiences: input.exchangeAudiences ?? [],
    // OpenID Connect Dynamic Client Registration 1.0 §2: RS256 when not registered.
    idTokenSignedResponseAlg: input.idTokenSignedResponseAlg ?? 'RS256',
    dpopBoundAccessTokens: input.dpopBoundAccessTokens ?? false,
    id,
    secretHash: secret === undefined ? null : hashSecret(secret),
    previousSecretHash: null,
    previousSecretExpiresAt: null,
    createdAt: ctx.now(),
  };
  return secret === undefined ? { client } : { client, secret };
}

/**
 * Gives a confidential client a new secret, returned once and stored hashed. Without a grace
 * period the old one stops working at the commit, also for requests checked with it and still in
 * flight (their writes are conditional on it); with one it keeps working until `graceSeconds`
 * have passed (a secret replaced earlier stops at once). Tokens already issued stay valid
 * (`token revoke --client` ends them).
 */
export async function rotateClientSecret(ctx: EngineContext, id: string, graceSeconds: number, by: Actor): Promise<string | undefined> {
  const secret = randomSecret(PREFIX.clientSecret);
  const until = graceSeconds > 0 ? ctx.now() + graceSeconds * 1000 : undefined;
  const audit = { event: 'client.secret_rotated', ...by, clientId: id, data: { grace_seconds: graceSeconds } };
  const sealed = (await ctx.store.getClient(id))?.authMethod === 'client_secret_jwt' ? sealSecret(sealingKeyOf(ctx), secret, id) : undefined;
  const done = await ctx.store.setClientSecret(id, hashSecret(secret), [audit], until, sealed);
  return done ? secret : undefined;
}

/**
 * Changes a client's registration (never its client_id or secret). Tokens and grants already
 * issued stay as they are: new requests follow the new registration. The audit record names the
 * fields changed, never a secret (a JWK Set holds public keys only).
 */
export async function updateClient(ctx: EngineContext, id: string, changes: ClientChanges, by: Actor): Promise<ClientRecord | undefined> {
  const fields = Object.keys(changes).filter((k) => changes[k as keyof ClientChanges] !== undefined).sort();
  return ctx.store.updateClient(id, changes, [{ event: 'client.updated', ...by, clientId: id, data: { fields } }]);
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

/**
 * Constant-time check of a client secret against its stored SHA-256, or against the previous
 * secret's while its grace period lasts. Both comparisons always run, so the time taken does not
 * tell which one matched.
 */
export function clientSecretMatches(client: ClientRecord, secret: string, now: number): boolean {
  if (client.secretHash === null) return false;
  const hashed = hashSecret(secret);
  const current = hashesEqual(hashed, client.secretHash);
  const inGrace = client.previousSecretHash !== null && client.previousSecretExpiresAt !== null && client.previousSecretExpiresAt > now;
  const previous = hashesEqual(hashed, client.previousSecretHash ?? client.secretHash);
  return current || (inGrace && previous);
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

/** The key sealing client_secret_jwt secrets; without one, such a client cannot be made. */
function sealingKeyOf(ctx: EngineContext): Buffer {
  const key = ctx.sealingKey();
  if (!key) throw new Error('client_secret_jwt needs the clientSecretKeyFile setting (the key that seals its secret)');
  return key;
}

/**
 * A client_secret_jwt client's secret, the HMAC key of its assertions (OpenID Connect Core §9:
 * the UTF-8 octets of the client_secret); undefined when the server has no sealing key or the
 * sealed value does not open under it (another key, or altered).
 */
export function clientSecretOf(ctx: EngineContext, client: ClientRecord): Uint8Array | undefined {
  const key = ctx.sealingKey();
  if (!key || client.sealedSecret === null) return undefined;
  const secret = openSealedSecret(key, client.sealedSecret, client.id);
  return secret === undefined ? undefined : new TextEncoder().encode(secret);
}
