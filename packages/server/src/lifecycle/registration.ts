/**
 * Dynamic client registration (RFC 7591) and its management (RFC 7592): initial access tokens
 * that gate /register, and the registration access token each registered client gets. Both are
 * shown once and stored as SHA-256 hashes (secrets.ts).
 */
import { hashesEqual, hashSecret, randomSecret } from '../secrets.js';
import type { ClientRecord } from '../store/types.js';
import type { Actor, EngineContext } from './context.js';
import { PREFIX } from './mint.js';
import { createdAudit, type NewClient, newClient } from './principals.js';

/** `tessera client initial-token`: a one-time token that lets one client register, valid for `expiresIn` seconds. */
export async function mintInitialAccessToken(ctx: EngineContext, expiresIn: number, by: Actor): Promise<{ value: string; expiresAt: number }> {
  const value = randomSecret(PREFIX.initialAccess);
  const createdAt = ctx.now();
  const expiresAt = createdAt + expiresIn * 1000;
  await ctx.store.createInitialAccessToken({ hash: hashSecret(value), createdAt, expiresAt }, [
    { event: 'registration.initial_token_created', ...by, data: { expires_at: expiresAt } },
  ]);
  return { value, expiresAt };
}

export interface Registered {
  client: ClientRecord;
  secret?: string;
  registrationToken: string;
}

/**
 * RFC 7591 §3.2.1: creates the client with a registration access token (RFC 7592 §3), both
 * returned once. With `initialToken` (the registration gate) the token is spent in the same
 * transaction; undefined, and nothing stored, when it is unknown, expired or already spent.
 */
export async function registerClient(ctx: EngineContext, input: NewClient, by: Actor, initialToken?: string): Promise<Registered | undefined> {
  const registrationToken = randomSecret(PREFIX.registration);
  const made = newClient(ctx, { ...input, registrationTokenHash: hashSecret(registrationToken) });
  const spend = initialToken === undefined ? undefined : { hash: hashSecret(initialToken), at: made.client.createdAt };
  const audit = createdAudit(made.client, by, { registered: spend === undefined ? 'open' : 'initial access token' });
  if ((await ctx.store.createClient(made.client, audit, spend)) !== 'created') return undefined;
  return { ...made, registrationToken };
}

/** RFC 7592 §3: the token matches the client's registration access token (constant time); clients made by the CLI have none. */
export function registrationTokenMatches(client: ClientRecord, value: string): boolean {
  if (client.registrationTokenHash === null) return false;
  return hashesEqual(hashSecret(value), client.registrationTokenHash);
}
